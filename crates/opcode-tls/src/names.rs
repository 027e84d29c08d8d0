//! The names and addresses this machine is reached by: what a leaf certificate must cover.
//!
//! Loopback (`127.0.0.1`, `::1`, `localhost`), the host name (and `<host>.local`, its mDNS name), and
//! every address of an interface that is up, except link-local ones (a browser cannot use their zone).

use std::fmt;
use std::net::IpAddr;

/// A name a certificate is valid for: an IP address or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostName {
    /// An IP address (an `iPAddress` subject alternative name).
    Ip(IpAddr),
    /// A DNS name, lowercase (a `dNSName` subject alternative name).
    Dns(String),
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostName::Ip(ip) => write!(f, "{ip}"),
            HostName::Dns(name) => f.write_str(name),
        }
    }
}

impl From<IpAddr> for HostName {
    fn from(ip: IpAddr) -> Self {
        HostName::Ip(ip)
    }
}

/// Every name this machine is reached by, loopback first, without duplicates. Reads the interfaces and
/// the host name now (a laptop that changes networks gets a fresh leaf at the next start).
pub fn machine_names() -> Vec<HostName> {
    let mut names = vec![
        HostName::Ip(IpAddr::from([127, 0, 0, 1])),
        HostName::Ip(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        HostName::Dns("localhost".into()),
    ];
    if let Ok(host) = nix::unistd::gethostname() {
        if let Some(host) = host.to_str().map(str::to_ascii_lowercase).filter(|h| valid_dns_name(h)) {
            if host != "localhost" {
                if !host.contains('.') {
                    names.push(HostName::Dns(format!("{host}.local")));
                }
                names.push(HostName::Dns(host));
            }
        }
    }
    names.extend(interface_addresses().into_iter().map(HostName::Ip));
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The addresses of interfaces that are up, except loopback and link-local ones.
pub(crate) fn interface_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    let mut out = Vec::new();
    for ifaddr in addrs {
        if !ifaddr.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
            continue;
        }
        let Some(address) = ifaddr.address else { continue };
        let ip = if let Some(v4) = address.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = address.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        let link_local = match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
        if !ip.is_loopback() && !ip.is_unspecified() && !link_local && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// Letters, digits, `-` and `.`, in labels of 1 to 63 characters.
fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_comes_first_and_nothing_twice() {
        let names = machine_names();
        assert_eq!(names[0], HostName::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(names[1], HostName::Ip("::1".parse().unwrap()));
        assert_eq!(names[2], HostName::Dns("localhost".into()));
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        for ip in interface_addresses() {
            assert!(names.contains(&HostName::Ip(ip)), "{ip} is covered");
        }
    }

    #[test]
    fn dns_names_are_checked() {
        assert!(valid_dns_name("mybox.local"));
        assert!(!valid_dns_name("my box"));
        assert!(!valid_dns_name("-x"));
        assert!(!valid_dns_name("a..b"));
    }
}
