/*
 * bcryptprimitives.dll shim for Wine 8 (Debian 12), which lacks ProcessPrng.
 * Rust's std (>= 1.78) imports ProcessPrng from bcryptprimitives.dll for its
 * random numbers (HashMap seeds); without it every Rust .exe fails to load
 * under Wine 8. This DLL exports ProcessPrng and fills the buffer with
 * RtlGenRandom (advapi32!SystemFunction036). Built and installed by .ci/run;
 * used only to run the Windows test suite under Wine, never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
