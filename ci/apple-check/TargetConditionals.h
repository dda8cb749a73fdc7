/* Stand-in for the macOS SDK's TargetConditionals.h, used only by .ci/run's
 * `cargo check --target *-apple-darwin` on Linux, where no Apple SDK exists.
 * ring (rustls' crypto provider) compiles C from its build script even for a
 * check; with -nostdlibinc and RING_CORE_NOSTDLIBINC it needs libc for nothing
 * and the SDK for this header alone. The objects are never linked or run: a
 * real macOS build uses the SDK's own header. */
#ifndef TRIPLINE_CHECK_TARGET_CONDITIONALS_H
#define TRIPLINE_CHECK_TARGET_CONDITIONALS_H
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#endif
