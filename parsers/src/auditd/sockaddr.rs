//! SOCKADDR `saddr=` decoding: hex of a `struct sockaddr` as the syscall saw it.
//!
//! * `sa_family` is a host-endian `u16`: little-endian on x86/arm64, big-endian
//!   on ppc64/s390x (laurel `record-bind-ipv4-bigendian.txt`). The caller
//!   passes the endianness from the SYSCALL `arch=`; without one, the byte
//!   order that gives a known family wins (little-endian first).
//! * Ports are network order (big-endian) on every host.
//! * AF_UNIX paths end at the first NUL; an abstract socket (first path byte
//!   NUL) is shown as `@name`, as `ss` and laurel do.
//! * Other families (netlink, packet, ...) keep only the family.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A decoded socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    /// AF_INET / AF_INET6 with port.
    Inet {
        /// The address. IPv4-mapped IPv6 addresses are kept as IPv6 here.
        ip: IpAddr,
        /// The port (host order).
        port: u16,
    },
    /// AF_UNIX: a path, or `@name` for an abstract socket; empty when unnamed.
    Unix(String),
    /// Any other family, by number.
    Other(u16),
}

impl SockAddr {
    /// Family name as auditd interprets it (`inet`, `inet6`, `local`, `netlink`, ...).
    pub fn family_name(&self) -> String {
        match self {
            SockAddr::Inet {
                ip: IpAddr::V4(_), ..
            } => "inet".into(),
            SockAddr::Inet {
                ip: IpAddr::V6(_), ..
            } => "inet6".into(),
            SockAddr::Unix(_) => "local".into(),
            SockAddr::Other(f) => family_name(*f).map_or_else(|| f.to_string(), str::to_string),
        }
    }
}

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

fn family_name(f: u16) -> Option<&'static str> {
    Some(match f {
        0 => "unspec",
        1 => "local",
        2 => "inet",
        4 => "ipx",
        5 => "appletalk",
        9 => "x25",
        10 => "inet6",
        16 => "netlink",
        17 => "packet",
        29 => "can",
        31 => "bluetooth",
        38 => "alg",
        40 => "vsock",
        44 => "xdp",
        _ => return None,
    })
}

/// Decodes `saddr` bytes. `big_endian`: `Some(true)` for a big-endian host,
/// `None` to guess. Returns `None` for fewer than two bytes or a truncated
/// inet address.
pub fn decode(b: &[u8], big_endian: Option<bool>) -> Option<SockAddr> {
    if b.len() < 2 {
        return None;
    }
    let le = u16::from_le_bytes([b[0], b[1]]);
    let be = u16::from_be_bytes([b[0], b[1]]);
    let family = match big_endian {
        Some(true) => be,
        Some(false) => le,
        None if family_name(le).is_some() => le,
        None if family_name(be).is_some() => be,
        None => le,
    };
    match family {
        AF_INET => {
            if b.len() < 8 {
                return None;
            }
            Some(SockAddr::Inet {
                ip: IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])),
                port: u16::from_be_bytes([b[2], b[3]]),
            })
        }
        AF_INET6 => {
            if b.len() < 24 {
                return None;
            }
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            Some(SockAddr::Inet {
                ip: IpAddr::V6(Ipv6Addr::from(a)),
                port: u16::from_be_bytes([b[2], b[3]]),
            })
        }
        AF_UNIX => {
            let path = &b[2..];
            let s = if path.first() == Some(&0) {
                let name = &path[1..];
                let end = name.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
                format!("@{}", String::from_utf8_lossy(&name[..end]))
            } else {
                let end = memchr::memchr(0, path).unwrap_or(path.len());
                String::from_utf8_lossy(&path[..end]).into_owned()
            };
            Some(SockAddr::Unix(s))
        }
        other => Some(SockAddr::Other(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auditd::line::hex_decode;

    fn d(hex: &str, be: Option<bool>) -> Option<SockAddr> {
        decode(&hex_decode(hex.as_bytes()).unwrap(), be)
    }

    #[test]
    fn ipv4_imds() {
        assert_eq!(
            d("02000050A9FEA9FE0000000000000000", Some(false)),
            Some(SockAddr::Inet {
                ip: "169.254.169.254".parse().unwrap(),
                port: 80
            })
        );
    }

    #[test]
    fn ipv6_loopback() {
        let s = d(
            "0A002BCB000000000000000000000000000000000000000100000000",
            None,
        )
        .unwrap();
        assert_eq!(
            s,
            SockAddr::Inet {
                ip: "::1".parse().unwrap(),
                port: 11211
            }
        );
        assert_eq!(s.family_name(), "inet6");
    }

    #[test]
    fn big_endian_host() {
        // laurel record-bind-ipv4-bigendian.txt (ppc64): 0.0.0.0:55555
        let want = SockAddr::Inet {
            ip: "0.0.0.0".parse().unwrap(),
            port: 55555,
        };
        assert_eq!(
            d("0002D903000000000000000000000000", Some(true)),
            Some(want.clone())
        );
        assert_eq!(d("0002D903000000000000000000000000", None), Some(want));
    }

    #[test]
    fn unix_paths() {
        assert_eq!(
            d("01007075626C69632F7069636B757000000000", None),
            Some(SockAddr::Unix("public/pickup".into()))
        );
        assert_eq!(
            d("0100002F746D702F782E736F636B0000", None),
            Some(SockAddr::Unix("@/tmp/x.sock".into()))
        );
    }

    #[test]
    fn netlink_and_short() {
        let s = d("100000000000000000000000", None).unwrap();
        assert_eq!(s, SockAddr::Other(16));
        assert_eq!(s.family_name(), "netlink");
        assert_eq!(d("02", None), None);
        assert_eq!(d("0200", None), None);
        assert_eq!(d("0A00", None), None);
    }
}
