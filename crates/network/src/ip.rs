//! Address arithmetic for subnets: CIDRs, ranges, the default allocation
//! pools and EUI-64 addresses, as Neutron computes them with `netaddr`.
//! Addresses of both families are handled as `u128` so that one piece of
//! code serves IPv4 and IPv6.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// 4 or 6.
pub fn version(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() { 4 } else { 6 }
}

pub fn to_u128(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(*v4)),
        IpAddr::V6(v6) => u128::from(*v6),
    }
}

pub fn from_u128(n: u128, version: u8) -> IpAddr {
    if version == 4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

/// Parses an address in the canonical spellings (`10.0.0.1`, `fd00::1`);
/// IPv4 with leading zeros is refused, as Neutron does.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// A network: its first address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: u128,
    prefix: u8,
    version: u8,
}

/// Why a CIDR was refused; the text is Neutron's `validate_subnet` reason.
#[derive(Debug, PartialEq, Eq)]
pub enum CidrError {
    Invalid(String),
    /// Host bits set in an IPv4 CIDR, or no prefix: the suggested form.
    NotRecommended {
        given: String,
        suggested: String,
    },
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::Invalid(s) => write!(f, "'{s}' is not a valid IP subnet"),
            CidrError::NotRecommended { given, suggested } => {
                write!(f, "'{given}' isn't a recommended CIDR, use '{suggested}' instead")
            }
        }
    }
}

impl Cidr {
    /// Parses `addr/prefix` as Neutron validates subnet CIDRs: an IPv4 CIDR
    /// must be written in its canonical form (no host bits), an IPv6 one is
    /// normalized.
    pub fn parse_strict(s: &str) -> Result<Cidr, CidrError> {
        let lenient = Cidr::parse_lenient(s).ok_or_else(|| CidrError::Invalid(s.to_owned()))?;
        if !s.contains('/') || (lenient.version == 4 && lenient.to_string() != s) {
            return Err(CidrError::NotRecommended {
                given: s.to_owned(),
                suggested: lenient.to_string(),
            });
        }
        Ok(lenient)
    }

    /// Parses `addr/prefix` or a bare address (a host prefix), dropping host
    /// bits — how Neutron reads `remote_ip_prefix` and address pairs.
    pub fn parse_lenient(s: &str) -> Option<Cidr> {
        if s.trim() != s || s.is_empty() {
            return None;
        }
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip = parse_ip(addr)?;
        let version = version(&ip);
        let max = if version == 4 { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        if prefix > max {
            return None;
        }
        Some(Cidr {
            network: to_u128(&ip) & mask(prefix, version),
            prefix,
            version,
        })
    }

    pub fn version(&self) -> u8 {
        self.version
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn first(&self) -> u128 {
        self.network
    }

    pub fn last(&self) -> u128 {
        self.network | !mask(self.prefix, self.version) & all_ones(self.version)
    }

    pub fn network_address(&self) -> IpAddr {
        from_u128(self.network, self.version)
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        version(ip) == self.version && (self.first()..=self.last()).contains(&to_u128(ip))
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.version == other.version && self.first() <= other.last() && other.first() <= self.last()
    }

    /// Whether `ip` may be a port's address on this subnet (neutron's
    /// `check_subnet_ip`): inside, and for IPv4 neither the network nor the
    /// broadcast address.
    pub fn valid_host(&self, ip: &IpAddr) -> bool {
        if !self.contains(ip) {
            return false;
        }
        let n = to_u128(ip);
        if self.version == 4 && self.prefix <= 30 {
            n != self.first() && n != self.last()
        } else {
            true
        }
    }

    /// Whether `ip` may be the gateway: outside the subnet anything goes
    /// (Neutron cannot check it), inside it may not be the IPv4 network or
    /// broadcast address.
    pub fn valid_gateway(&self, ip: &IpAddr) -> bool {
        let n = to_u128(ip);
        !(self.contains(ip) && self.version == 4 && (n == self.first() || n == self.last()))
    }

    /// Neutron's default gateway: the first address after the network's.
    pub fn default_gateway(&self) -> Option<IpAddr> {
        (self.last() > self.first()).then(|| from_u128(self.first() + 1, self.version))
    }

    /// Neutron's `generate_pools`: the usable addresses (without the IPv4
    /// network and broadcast addresses of prefixes up to /30, and without
    /// the IPv6 subnet-router anycast address), minus the gateway.
    pub fn default_pools(&self, gateway: Option<&IpAddr>) -> Vec<IpRange> {
        let (first, last) = (self.first(), self.last());
        if first == last {
            return vec![IpRange::new(first, last, self.version)];
        }
        let (lo, hi) = match self.version {
            4 if self.prefix <= 30 => (first + 1, last - 1),
            4 => (first, last),
            _ => (first + 1, last),
        };
        let whole = IpRange::new(lo, hi, self.version);
        match gateway {
            Some(g) if version(g) == self.version => whole.without(to_u128(g)),
            _ => vec![whole],
        }
    }

    /// The EUI-64 address of `mac` in this (/64) prefix, as SLAAC computes it.
    pub fn eui64(&self, mac: &[u8; 6]) -> IpAddr {
        let iid = u64::from_be_bytes([mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]]);
        from_u128(self.network | u128::from(iid), 6)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network_address(), self.prefix)
    }
}

fn all_ones(version: u8) -> u128 {
    if version == 4 { u128::from(u32::MAX) } else { u128::MAX }
}

fn mask(prefix: u8, version: u8) -> u128 {
    let bits: u32 = if version == 4 { 32 } else { 128 };
    let host = bits - u32::from(prefix);
    if host >= 128 {
        0
    } else {
        (all_ones(version) >> host << host) & all_ones(version)
    }
}

/// An inclusive range of addresses, an allocation pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    pub start: u128,
    pub end: u128,
    pub version: u8,
}

impl IpRange {
    pub fn new(start: u128, end: u128, version: u8) -> IpRange {
        IpRange { start, end, version }
    }

    pub fn start_ip(&self) -> IpAddr {
        from_u128(self.start, self.version)
    }

    pub fn end_ip(&self) -> IpAddr {
        from_u128(self.end, self.version)
    }

    pub fn contains(&self, n: u128) -> bool {
        (self.start..=self.end).contains(&n)
    }

    pub fn overlaps(&self, other: &IpRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// How many addresses; saturates for huge IPv6 ranges.
    pub fn size(&self) -> u128 {
        (self.end - self.start).saturating_add(1)
    }

    /// This range minus one address: zero, one or two ranges.
    fn without(&self, n: u128) -> Vec<IpRange> {
        if !self.contains(n) {
            return vec![*self];
        }
        let mut out = Vec::new();
        if n > self.start {
            out.push(IpRange::new(self.start, n - 1, self.version));
        }
        if n < self.end {
            out.push(IpRange::new(n + 1, self.end, self.version));
        }
        out
    }
}

impl fmt::Display for IpRange {
    /// netaddr's spelling, which Neutron puts in its messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start_ip(), self.end_ip())
    }
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with `-`), any case; the canonical
/// lower-case colon form and the bytes.
pub fn parse_mac(s: &str) -> Option<(String, [u8; 6])> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let mut bytes = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        bytes[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some((format_mac(&bytes), bytes))
}

pub fn format_mac(b: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn strict_cidrs_as_neutron_validates_them() {
        assert_eq!(Cidr::parse_strict("10.0.0.0/24").unwrap().to_string(), "10.0.0.0/24");
        let e = Cidr::parse_strict("10.0.0.1/24").unwrap_err();
        assert_eq!(
            e.to_string(),
            "'10.0.0.1/24' isn't a recommended CIDR, use '10.0.0.0/24' instead"
        );
        assert!(matches!(
            Cidr::parse_strict("10.0.0.1"),
            Err(CidrError::NotRecommended { .. })
        ));
        assert!(matches!(Cidr::parse_strict("10.0.0.0/33"), Err(CidrError::Invalid(_))));
        assert!(matches!(Cidr::parse_strict("nonsense"), Err(CidrError::Invalid(_))));
        assert!(matches!(Cidr::parse_strict(" 10.0.0.0/24"), Err(CidrError::Invalid(_))));
        assert_eq!(
            Cidr::parse_strict("2001:db8::1/64").unwrap().to_string(),
            "2001:db8::/64"
        );
        assert_eq!(Cidr::parse_lenient("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
    }

    #[test]
    fn default_pools_follow_generate_pools() {
        let c = Cidr::parse_strict("10.0.0.0/24").unwrap();
        let gw = c.default_gateway().unwrap();
        assert_eq!(gw, ip("10.0.0.1"));
        let pools = c.default_pools(Some(&gw));
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].to_string(), "10.0.0.2-10.0.0.254");
        let pools = c.default_pools(Some(&ip("10.0.0.100")));
        assert_eq!(pools.len(), 2);
        assert_eq!(pools[1].to_string(), "10.0.0.101-10.0.0.254");
        let c = Cidr::parse_strict("10.0.0.0/31").unwrap();
        assert_eq!(c.default_pools(None)[0].to_string(), "10.0.0.0-10.0.0.1");
        let c = Cidr::parse_strict("fd00::/64").unwrap();
        let gw = c.default_gateway().unwrap();
        assert_eq!(
            c.default_pools(Some(&gw))[0].to_string(),
            "fd00::2-fd00::ffff:ffff:ffff:ffff"
        );
    }

    #[test]
    fn hosts_gateways_and_overlaps() {
        let c = Cidr::parse_strict("192.168.1.0/24").unwrap();
        assert!(c.valid_host(&ip("192.168.1.7")));
        assert!(!c.valid_host(&ip("192.168.1.0")));
        assert!(!c.valid_host(&ip("192.168.1.255")));
        assert!(!c.valid_host(&ip("192.168.2.1")));
        assert!(!c.valid_host(&ip("fd00::1")));
        assert!(c.valid_gateway(&ip("10.9.9.9")));
        assert!(!c.valid_gateway(&ip("192.168.1.255")));
        let d = Cidr::parse_strict("192.168.0.0/16").unwrap();
        assert!(c.overlaps(&d) && d.overlaps(&c));
        assert!(!c.overlaps(&Cidr::parse_strict("192.168.2.0/24").unwrap()));
    }

    #[test]
    fn macs_and_eui64() {
        let (mac, bytes) = parse_mac("FA:16:3E:00:11:22").unwrap();
        assert_eq!(mac, "fa:16:3e:00:11:22");
        assert!(parse_mac("fa:16:3e:00:11").is_none());
        assert!(parse_mac("zz:16:3e:00:11:22").is_none());
        let c = Cidr::parse_strict("2001:db8::/64").unwrap();
        assert_eq!(c.eui64(&bytes), ip("2001:db8::f816:3eff:fe00:1122"));
    }
}
