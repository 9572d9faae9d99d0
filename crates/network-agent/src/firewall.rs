//! Security groups: stateful filtering of the guests' bridged IPv4
//! traffic, as Neutron's iptables firewall driver
//! (`neutron/agent/linux/iptables_firewall.py`) does it on a linuxbridge
//! host.
//!
//! The bridge hands its IP packets to iptables (`br_netfilter`, with
//! `net.bridge.bridge-nf-call-iptables=1`), so a packet bridged between
//! two taps crosses the root namespace's `FORWARD` chain once, with
//! `-m physdev` naming the tap it came in by and the tap it goes out by,
//! and conntrack sees it: replies of a flow the rules allowed are allowed
//! back. (nftables' bridge family has no conntrack on every kernel, which
//! is why this is iptables.) The chains, all named `<prefix>-…` (prefix
//! [`DEFAULT_PREFIX`] unless given):
//! - `<prefix>-FORWARD`, jumped to from the top of `FORWARD`: for every
//!   port's tap, both directions, a jump to `<prefix>-sg-chain`;
//! - `<prefix>-INPUT`, jumped to from the top of `INPUT`: packets from a
//!   secured port's tap to the host itself go through its egress chain;
//! - `<prefix>-sg-chain`: for each port with port security, packets out by
//!   its tap (to the guest) go through its ingress chain `<prefix>-i<port>`
//!   and packets in by its tap (from the guest) through its egress chain
//!   `<prefix>-o<port>`; a chain that allows RETURNs, so a packet between
//!   two secured guests passes both; what is left is ACCEPTed — ports with
//!   port security off reach this without any check;
//! - `<prefix>-i<port>`: established and related packets return, DHCP
//!   server replies (udp 67→68) return, invalid ones are dropped, then the
//!   ingress rules, then `<prefix>-sg-fallback` (DROP);
//! - `<prefix>-o<port>`: DHCP discovery from 0.0.0.0 returns; then
//!   anti-spoofing, `<prefix>-s<port>`: only the port's MAC with its fixed
//!   IPs (and its allowed address pairs) return, everything else is
//!   dropped; DHCP client traffic returns, DHCP server traffic from the
//!   guest is dropped, established and related packets return, invalid ones
//!   are dropped, then the egress rules, then the fallback.
//!
//! A remote group is one rule per member address (no ipset), the port's own
//! addresses left out, as Neutron does without ipset.
//!
//! [`Firewall::sync`] declares all of this whole, each time, in one
//! `iptables-restore --noflush` transaction: every chain of ours is
//! declared (created, or emptied) and filled, chains of ours that are no
//! longer wanted (removed ports) are emptied and deleted, and the jumps
//! from `FORWARD`/`INPUT` are added when missing — so syncing twice, or
//! from a restarted agent, leaves the same rules once, a failed sync
//! leaves the previous ones, and chains and rules that are not ours are
//! never changed. [`Firewall::remove`] deletes the jumps and every chain
//! of ours.
//!
//! Not done (Neutron does some of it): IPv6 rules (rules with ethertype
//! IPv6 and IPv6 addresses are skipped: guests' IPv6 traffic is not
//! filtered at all); ipsets for remote groups; ARP spoofing protection
//! (ebtables in Neutron's linuxbridge agent); conntrack zones per network
//! and flushing the conntrack entries of flows a removed rule allowed
//! (they last until they end or time out); source port ranges; stateless
//! security groups.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use crate::spec::{Direction, Ethertype, Ipv4Cidr, PortFirewall, Protocol, SecurityGroupRule};
use crate::{Error, host, names};

/// The chain prefix of an agent's chains.
pub const DEFAULT_PREFIX: &str = "oxi";

/// iptables chain names are at most 28 bytes; ours are the prefix plus at
/// most 12 (`-sg-fallback`).
const MAX_PREFIX_LEN: usize = 16;

/// How much of a port id goes into its chains' names, as Neutron does.
const PORT_CHARS_IN_CHAIN: usize = 10;

/// A chain of ours and its rules (`iptables` arguments after `-A <chain>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub rules: Vec<String>,
}

/// The security groups of this host's ports. Keeps no state: everything
/// derives from the ports given and the kernel's ruleset, so a fresh
/// instance (an agent restarted) converges like the old one.
#[derive(Debug, Clone)]
pub struct Firewall {
    prefix: String,
}

impl Default for Firewall {
    fn default() -> Firewall {
        Firewall::new()
    }
}

impl Firewall {
    /// The agent's firewall: chains `oxi-…`.
    pub fn new() -> Firewall {
        Firewall {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }

    /// A firewall whose chains are `<prefix>-…` (letters and digits, at
    /// most 16): two firewalls with different prefixes never touch each
    /// other's chains.
    pub fn with_prefix(prefix: &str) -> Result<Firewall, Error> {
        check_prefix(prefix)?;
        Ok(Firewall {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Makes our chains filter exactly `ports` (all the ports of this
    /// host): see the module doc. Retries when the ruleset changed between
    /// reading it and applying ours (another program's transaction).
    pub async fn sync(&self, ports: &[PortFirewall]) -> Result<(), Error> {
        let chains = chains(&self.prefix, ports)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let saved = host::iptables_save("filter").await?;
            let script = sync_script(&self.prefix, &chains, &saved);
            match host::iptables_restore(&script).await {
                Ok(()) => break,
                Err(e) if attempt < 3 => {
                    tracing::warn!(error = %e, "iptables-restore failed; reading the ruleset again");
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(ports = ports.len(), chains = chains.len(), "security groups synced");
        Ok(())
    }

    /// Deletes the jumps to our chains and all of our chains; Ok when they
    /// are gone already.
    pub async fn remove(&self) -> Result<(), Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let saved = host::iptables_save("filter").await?;
            let Some(script) = removal_script(&self.prefix, &saved) else {
                return Ok(());
            };
            match host::iptables_restore(&script).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 3 => {
                    tracing::warn!(error = %e, "iptables-restore failed; reading the ruleset again");
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn check_prefix(prefix: &str) -> Result<(), Error> {
    if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::InvalidSpec(format!(
            "chain prefix {prefix:?}: expected 1 to {MAX_PREFIX_LEN} letters or digits"
        )));
    }
    Ok(())
}

/// Our chains for `ports`, in the order they are declared: the pure
/// heart of [`Firewall::sync`].
pub fn chains(prefix: &str, ports: &[PortFirewall]) -> Result<Vec<Chain>, Error> {
    check_prefix(prefix)?;
    let fallback = format!("{prefix}-sg-fallback");
    let sg_chain = format!("{prefix}-sg-chain");
    let mut forward = Vec::new();
    let mut input = Vec::new();
    let mut dispatch = Vec::new();
    let mut per_port = Vec::new();
    let mut seen_chains = HashSet::new();
    let mut seen_taps = HashSet::new();

    for port in ports {
        names::check_id("port", &port.port_id)?;
        check_ifname(&port.tap)?;
        if !seen_taps.insert(port.tap.as_str()) {
            return Err(Error::InvalidSpec(format!("tap {} given twice", port.tap)));
        }
        let short = &port.port_id[..PORT_CHARS_IN_CHAIN];
        if !seen_chains.insert(short) {
            return Err(Error::InvalidSpec(format!(
                "two ports share the first {PORT_CHARS_IN_CHAIN} characters {short:?} of their ids"
            )));
        }
        let tap = &port.tap;
        forward.push(format!(
            "-m physdev --physdev-out {tap} --physdev-is-bridged -j {sg_chain}"
        ));
        forward.push(format!(
            "-m physdev --physdev-in {tap} --physdev-is-bridged -j {sg_chain}"
        ));
        if !port.port_security_enabled {
            continue;
        }
        let ingress = format!("{prefix}-i{short}");
        let egress = format!("{prefix}-o{short}");
        let spoof = format!("{prefix}-s{short}");
        dispatch.push(format!(
            "-m physdev --physdev-out {tap} --physdev-is-bridged -j {ingress}"
        ));
        dispatch.push(format!(
            "-m physdev --physdev-in {tap} --physdev-is-bridged -j {egress}"
        ));
        // To the host itself: not bridged.
        input.push(format!("-m physdev --physdev-in {tap} -j {egress}"));

        let own: Vec<Ipv4Addr> = port
            .fixed_ips
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(_) => None,
            })
            .collect();

        let mut ingress_rules = vec![
            "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN".to_owned(),
            "-p udp -m udp --sport 67 --dport 68 -j RETURN".to_owned(),
            "-m conntrack --ctstate INVALID -j DROP".to_owned(),
        ];
        let mut egress_rules = vec![
            "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -j RETURN".to_owned(),
            format!("-j {spoof}"),
            "-p udp -m udp --sport 68 --dport 67 -j RETURN".to_owned(),
            "-p udp -m udp --sport 67 --dport 68 -j DROP".to_owned(),
            "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN".to_owned(),
            "-m conntrack --ctstate INVALID -j DROP".to_owned(),
        ];
        for rule in &port.rules {
            let target = match rule.direction {
                Direction::Ingress => &mut ingress_rules,
                Direction::Egress => &mut egress_rules,
            };
            target.extend(
                rule_lines(rule, &own)
                    .map_err(|e| Error::InvalidSpec(format!("port {}: security group rule: {e}", port.port_id)))?,
            );
        }
        ingress_rules.push(format!("-j {fallback}"));
        egress_rules.push(format!("-j {fallback}"));

        per_port.push(Chain {
            name: spoof,
            rules: spoof_lines(port, &own)?,
        });
        per_port.push(Chain {
            name: ingress,
            rules: ingress_rules,
        });
        per_port.push(Chain {
            name: egress,
            rules: egress_rules,
        });
    }
    dispatch.push("-j ACCEPT".to_owned());

    let mut out = vec![
        Chain {
            name: format!("{prefix}-FORWARD"),
            rules: forward,
        },
        Chain {
            name: format!("{prefix}-INPUT"),
            rules: input,
        },
        Chain {
            name: sg_chain,
            rules: dispatch,
        },
        Chain {
            name: fallback,
            rules: vec!["-j DROP".to_owned()],
        },
    ];
    out.extend(per_port);
    Ok(out)
}

/// The anti-spoofing chain's rules: the port's MAC with each of its IPv4
/// addresses, each allowed address pair, then drop. A port without any
/// IPv4 address may send from any address with its MAC (as Neutron).
fn spoof_lines(port: &PortFirewall, own: &[Ipv4Addr]) -> Result<Vec<String>, Error> {
    let mac = iptables_mac(&port.mac)?;
    let mut out = Vec::new();
    for pair in &port.allowed_address_pairs {
        let Some(cidr) = ipv4_prefix(&pair.ip_address)? else {
            continue;
        };
        let pair_mac = match &pair.mac_address {
            Some(m) => iptables_mac(m)?,
            None => mac.clone(),
        };
        out.push(format!("-s {cidr} -m mac --mac-source {pair_mac} -j RETURN"));
    }
    for ip in own {
        out.push(format!("-s {ip}/32 -m mac --mac-source {mac} -j RETURN"));
    }
    if own.is_empty() {
        out.push(format!("-m mac --mac-source {mac} -j RETURN"));
    }
    out.push("-j DROP".to_owned());
    Ok(out)
}

/// The `iptables` lines of one rule: none for IPv6 rules (not handled) or
/// a remote group without (other) members, one per remote group member
/// otherwise.
fn rule_lines(rule: &SecurityGroupRule, own: &[Ipv4Addr]) -> Result<Vec<String>, String> {
    if rule.ethertype == Ethertype::IPv6 {
        return Ok(Vec::new());
    }
    let peer_flag = match rule.direction {
        Direction::Ingress => "-s",
        Direction::Egress => "-d",
    };
    let peers: Vec<Option<String>> = match (&rule.remote_group_ips, &rule.remote_ip_prefix) {
        (Some(_), Some(_)) => return Err("both a remote group and a remote prefix".to_owned()),
        (Some(members), None) => members
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(v4) if !own.contains(v4) => Some(Some(format!("{v4}/32"))),
                _ => None,
            })
            .collect(),
        (None, Some(prefix)) => match ipv4_prefix(prefix).map_err(|e| e.to_string())? {
            None => return Err(format!("remote prefix {prefix} is not IPv4")),
            Some(c) if c.prefix_len == 0 => vec![None],
            Some(c) => vec![Some(c.to_string())],
        },
        (None, None) => vec![None],
    };
    let protocol = protocol_args(rule)?;
    Ok(peers
        .into_iter()
        .map(|peer| {
            let mut line = String::new();
            if let Some(peer) = peer {
                line.push_str(&format!("{peer_flag} {peer} "));
            }
            line.push_str(&protocol);
            line.push_str("-j RETURN");
            line
        })
        .collect())
}

/// `-p …` and the port or ICMP type match, with a trailing space (or
/// nothing for any protocol).
fn protocol_args(rule: &SecurityGroupRule) -> Result<String, String> {
    let protocol = match rule.protocol {
        None => {
            if rule.port_range_min.is_some() || rule.port_range_max.is_some() {
                return Err("a port range needs a protocol".to_owned());
            }
            return Ok(String::new());
        }
        Some(Protocol::Number(6)) => Protocol::Tcp,
        Some(Protocol::Number(17)) => Protocol::Udp,
        Some(Protocol::Number(1)) => Protocol::Icmp,
        Some(p) => p,
    };
    match protocol {
        Protocol::Tcp | Protocol::Udp => {
            let name = if protocol == Protocol::Tcp { "tcp" } else { "udp" };
            match (rule.port_range_min, rule.port_range_max) {
                (None, _) => Ok(format!("-p {name} -m {name} ")),
                (Some(min), max) => {
                    let max = max.unwrap_or(min);
                    if max < min {
                        return Err(format!("port range {min}-{max}"));
                    }
                    if min == max {
                        Ok(format!("-p {name} -m {name} --dport {min} "))
                    } else {
                        Ok(format!("-p {name} -m {name} --dport {min}:{max} "))
                    }
                }
            }
        }
        Protocol::Icmp => match (rule.port_range_min, rule.port_range_max) {
            (None, None) => Ok("-p icmp ".to_owned()),
            (None, Some(_)) => Err("an ICMP code needs a type".to_owned()),
            (Some(t), code) => {
                if t > 255 || code.is_some_and(|c| c > 255) {
                    return Err("ICMP type and code are 0 to 255".to_owned());
                }
                match code {
                    None => Ok(format!("-p icmp -m icmp --icmp-type {t} ")),
                    Some(c) => Ok(format!("-p icmp -m icmp --icmp-type {t}/{c} ")),
                }
            }
        },
        Protocol::Number(n) => {
            if rule.port_range_min.is_some() || rule.port_range_max.is_some() {
                return Err(format!("a port range with protocol {n}"));
            }
            Ok(format!("-p {n} "))
        }
    }
}

/// `10.0.0.5` or `10.0.0.0/24` as a CIDR with its host bits clear (as
/// iptables shows it); `None` for IPv6.
fn ipv4_prefix(text: &str) -> Result<Option<Ipv4Cidr>, Error> {
    if text.contains(':') {
        return Ok(None);
    }
    let cidr: Ipv4Cidr = if text.contains('/') {
        text.parse()?
    } else {
        let addr: Ipv4Addr = text
            .parse()
            .map_err(|_| Error::InvalidSpec(format!("{text:?} is not an IPv4 address")))?;
        Ipv4Cidr { addr, prefix_len: 32 }
    };
    Ok(Some(Ipv4Cidr {
        addr: cidr.network(),
        prefix_len: cidr.prefix_len,
    }))
}

/// A MAC as iptables prints it: upper case.
fn iptables_mac(mac: &str) -> Result<String, Error> {
    let bytes: Vec<&str> = mac.split(':').collect();
    if bytes.len() != 6 || !bytes.iter().all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok()) {
        return Err(Error::InvalidSpec(format!("{mac:?} is not a MAC address")));
    }
    Ok(mac.to_ascii_uppercase())
}

/// Tap names go into rules: what an interface name may be, and nothing
/// iptables-restore would read as syntax.
fn check_ifname(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSpec(format!("{name:?} is not an interface name")))
    }
}

/// The chains named in an `iptables-save` listing whose names start with
/// `<prefix>-`.
pub fn saved_chains(prefix: &str, saved: &str) -> Vec<String> {
    let ours = format!("{prefix}-");
    saved
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with(&ours))
        .map(str::to_owned)
        .collect()
}

/// The saved rules of chains that are not ours jumping to a chain of ours
/// (`-A FORWARD -j oxi-FORWARD`), as saved.
fn saved_jumps(prefix: &str, saved: &str) -> Vec<String> {
    let ours = format!("{prefix}-");
    saved
        .lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some("-A")
                && words.next().is_some_and(|chain| !chain.starts_with(&ours))
                && l.split_whitespace()
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|w| (w[0] == "-j" || w[0] == "-g") && w[1].starts_with(&ours))
        })
        .map(str::to_owned)
        .collect()
}

/// The `iptables-restore --noflush` script that makes our chains be
/// `chains`, given the current ruleset `saved`.
pub fn sync_script(prefix: &str, chains: &[Chain], saved: &str) -> String {
    let wanted: HashSet<&str> = chains.iter().map(|c| c.name.as_str()).collect();
    let stale: Vec<String> = saved_chains(prefix, saved)
        .into_iter()
        .filter(|c| !wanted.contains(c.as_str()))
        .collect();
    let jumps = saved_jumps(prefix, saved);
    let mut script = String::from("*filter\n");
    for chain in chains {
        script.push_str(&format!(":{} - [0:0]\n", chain.name));
    }
    for chain in &stale {
        script.push_str(&format!(":{chain} - [0:0]\n"));
    }
    // Jumps from elsewhere to stale chains, and duplicates of ours.
    let entries = [
        ("FORWARD", format!("{prefix}-FORWARD")),
        ("INPUT", format!("{prefix}-INPUT")),
    ];
    let mut kept = HashSet::new();
    for jump in &jumps {
        let expected = entries.iter().any(|(from, to)| *jump == format!("-A {from} -j {to}"));
        if !expected || !kept.insert(jump.as_str()) {
            script.push_str(&format!("-D{}\n", &jump[2..]));
        }
    }
    for chain in chains {
        for rule in &chain.rules {
            script.push_str(&format!("-A {} {rule}\n", chain.name));
        }
    }
    for chain in &stale {
        script.push_str(&format!("-X {chain}\n"));
    }
    for (from, to) in &entries {
        if !kept.contains(format!("-A {from} -j {to}").as_str()) {
            script.push_str(&format!("-I {from} 1 -j {to}\n"));
        }
    }
    script.push_str("COMMIT\n");
    script
}

/// The `iptables-restore --noflush` script that deletes our chains and
/// every jump to them, given the current ruleset `saved`; `None` when
/// there is nothing of ours.
pub fn removal_script(prefix: &str, saved: &str) -> Option<String> {
    let chains = saved_chains(prefix, saved);
    let jumps = saved_jumps(prefix, saved);
    if chains.is_empty() && jumps.is_empty() {
        return None;
    }
    let mut script = String::from("*filter\n");
    for chain in &chains {
        script.push_str(&format!(":{chain} - [0:0]\n"));
    }
    for jump in &jumps {
        script.push_str(&format!("-D{}\n", &jump[2..]));
    }
    for chain in &chains {
        script.push_str(&format!("-X {chain}\n"));
    }
    script.push_str("COMMIT\n");
    Some(script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::AddressPair;

    const PORT_A: &str = "aaaaaaaa-1111-4000-8000-000000000001";
    const PORT_B: &str = "bbbbbbbb-2222-4000-8000-000000000002";

    fn rule(direction: Direction) -> SecurityGroupRule {
        SecurityGroupRule {
            direction,
            ethertype: Ethertype::IPv4,
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_ips: None,
        }
    }

    fn port(id: &str, ip: &str, rules: Vec<SecurityGroupRule>) -> PortFirewall {
        PortFirewall {
            port_id: id.to_owned(),
            tap: names::tap(id),
            mac: "fa:16:3e:00:00:01".to_owned(),
            fixed_ips: vec![ip.parse().unwrap()],
            port_security_enabled: true,
            allowed_address_pairs: Vec::new(),
            rules,
        }
    }

    fn chain<'a>(chains: &'a [Chain], name: &str) -> &'a [String] {
        &chains.iter().find(|c| c.name == name).unwrap().rules
    }

    #[test]
    fn a_default_group_port_gets_neutrons_layout() {
        let members: Vec<IpAddr> = vec!["10.0.0.5".parse().unwrap(), "10.0.0.6".parse().unwrap()];
        let ingress = SecurityGroupRule {
            remote_group_ips: Some(members),
            ..rule(Direction::Ingress)
        };
        let chains = chains(
            "oxi",
            &[port(PORT_A, "10.0.0.5", vec![rule(Direction::Egress), ingress])],
        )
        .unwrap();
        let names: Vec<&str> = chains.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "oxi-FORWARD",
                "oxi-INPUT",
                "oxi-sg-chain",
                "oxi-sg-fallback",
                "oxi-saaaaaaaa-1",
                "oxi-iaaaaaaaa-1",
                "oxi-oaaaaaaaa-1"
            ]
        );
        assert_eq!(
            chain(&chains, "oxi-FORWARD"),
            [
                "-m physdev --physdev-out tapaaaaaaaa-11 --physdev-is-bridged -j oxi-sg-chain",
                "-m physdev --physdev-in tapaaaaaaaa-11 --physdev-is-bridged -j oxi-sg-chain",
            ]
        );
        assert_eq!(
            chain(&chains, "oxi-sg-chain"),
            [
                "-m physdev --physdev-out tapaaaaaaaa-11 --physdev-is-bridged -j oxi-iaaaaaaaa-1",
                "-m physdev --physdev-in tapaaaaaaaa-11 --physdev-is-bridged -j oxi-oaaaaaaaa-1",
                "-j ACCEPT",
            ]
        );
        assert_eq!(
            chain(&chains, "oxi-INPUT"),
            ["-m physdev --physdev-in tapaaaaaaaa-11 -j oxi-oaaaaaaaa-1"]
        );
        // The port's own address is left out of its remote group.
        assert_eq!(
            chain(&chains, "oxi-iaaaaaaaa-1"),
            [
                "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
                "-p udp -m udp --sport 67 --dport 68 -j RETURN",
                "-m conntrack --ctstate INVALID -j DROP",
                "-s 10.0.0.6/32 -j RETURN",
                "-j oxi-sg-fallback",
            ]
        );
        assert_eq!(
            chain(&chains, "oxi-oaaaaaaaa-1"),
            [
                "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -j RETURN",
                "-j oxi-saaaaaaaa-1",
                "-p udp -m udp --sport 68 --dport 67 -j RETURN",
                "-p udp -m udp --sport 67 --dport 68 -j DROP",
                "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
                "-m conntrack --ctstate INVALID -j DROP",
                "-j RETURN",
                "-j oxi-sg-fallback",
            ]
        );
        assert_eq!(
            chain(&chains, "oxi-saaaaaaaa-1"),
            [
                "-s 10.0.0.5/32 -m mac --mac-source FA:16:3E:00:00:01 -j RETURN",
                "-j DROP"
            ]
        );
        assert_eq!(chain(&chains, "oxi-sg-fallback"), ["-j DROP"]);
    }

    #[test]
    fn protocols_ports_and_prefixes() {
        let lines = |r: SecurityGroupRule| rule_lines(&r, &[]).unwrap();
        let tcp = SecurityGroupRule {
            protocol: Some(Protocol::Tcp),
            port_range_min: Some(22),
            port_range_max: Some(22),
            remote_ip_prefix: Some("10.1.2.3/24".to_owned()),
            ..rule(Direction::Ingress)
        };
        assert_eq!(lines(tcp), ["-s 10.1.2.0/24 -p tcp -m tcp --dport 22 -j RETURN"]);
        let udp = SecurityGroupRule {
            protocol: Some(Protocol::Number(17)),
            port_range_min: Some(1000),
            port_range_max: Some(2000),
            remote_ip_prefix: Some("192.168.0.0/16".to_owned()),
            ..rule(Direction::Egress)
        };
        assert_eq!(
            lines(udp),
            ["-d 192.168.0.0/16 -p udp -m udp --dport 1000:2000 -j RETURN"]
        );
        let icmp = SecurityGroupRule {
            protocol: Some(Protocol::Icmp),
            port_range_min: Some(8),
            port_range_max: Some(0),
            remote_ip_prefix: Some("0.0.0.0/0".to_owned()),
            ..rule(Direction::Ingress)
        };
        assert_eq!(lines(icmp), ["-p icmp -m icmp --icmp-type 8/0 -j RETURN"]);
        let gre = SecurityGroupRule {
            protocol: Some(Protocol::Number(47)),
            ..rule(Direction::Ingress)
        };
        assert_eq!(lines(gre), ["-p 47 -j RETURN"]);
        let v6 = SecurityGroupRule {
            ethertype: Ethertype::IPv6,
            ..rule(Direction::Ingress)
        };
        assert!(lines(v6).is_empty());
        let empty_group = SecurityGroupRule {
            remote_group_ips: Some(Vec::new()),
            ..rule(Direction::Ingress)
        };
        assert!(lines(empty_group).is_empty());

        let bad = [
            SecurityGroupRule {
                port_range_min: Some(80),
                ..rule(Direction::Ingress)
            },
            SecurityGroupRule {
                protocol: Some(Protocol::Tcp),
                port_range_min: Some(90),
                port_range_max: Some(80),
                ..rule(Direction::Ingress)
            },
            SecurityGroupRule {
                protocol: Some(Protocol::Icmp),
                port_range_min: Some(300),
                ..rule(Direction::Ingress)
            },
            SecurityGroupRule {
                remote_ip_prefix: Some("10.0.0.0/8".to_owned()),
                remote_group_ips: Some(Vec::new()),
                ..rule(Direction::Ingress)
            },
            SecurityGroupRule {
                remote_ip_prefix: Some("2001:db8::/64".to_owned()),
                ..rule(Direction::Ingress)
            },
        ];
        for r in bad {
            assert!(rule_lines(&r, &[]).is_err(), "{r:?}");
        }
    }

    #[test]
    fn address_pairs_and_port_security_off() {
        let mut a = port(PORT_A, "10.0.0.5", Vec::new());
        a.allowed_address_pairs = vec![
            AddressPair {
                ip_address: "10.0.9.0/24".to_owned(),
                mac_address: None,
            },
            AddressPair {
                ip_address: "10.0.8.8".to_owned(),
                mac_address: Some("fa:16:3e:aa:bb:cc".to_owned()),
            },
            AddressPair {
                ip_address: "2001:db8::1".to_owned(),
                mac_address: None,
            },
        ];
        let mut b = port(PORT_B, "10.0.0.6", Vec::new());
        b.port_security_enabled = false;
        let chains = chains("oxi", &[a, b]).unwrap();
        assert_eq!(
            chain(&chains, "oxi-saaaaaaaa-1"),
            [
                "-s 10.0.9.0/24 -m mac --mac-source FA:16:3E:00:00:01 -j RETURN",
                "-s 10.0.8.8/32 -m mac --mac-source FA:16:3E:AA:BB:CC -j RETURN",
                "-s 10.0.0.5/32 -m mac --mac-source FA:16:3E:00:00:01 -j RETURN",
                "-j DROP",
            ]
        );
        // B has no chains of its own and is only sent to the final accept.
        assert!(!chains.iter().any(|c| c.name.contains("bbbbbbbb")));
        assert_eq!(chain(&chains, "oxi-FORWARD").len(), 4);
        assert_eq!(chain(&chains, "oxi-sg-chain").len(), 3);

        let mut no_ip = port(PORT_A, "10.0.0.5", Vec::new());
        no_ip.fixed_ips.clear();
        let chains = super::chains("oxi", &[no_ip]).unwrap();
        assert_eq!(
            chain(&chains, "oxi-saaaaaaaa-1"),
            ["-m mac --mac-source FA:16:3E:00:00:01 -j RETURN", "-j DROP"]
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        let ok = port(PORT_A, "10.0.0.5", Vec::new());
        assert!(chains("oxi", std::slice::from_ref(&ok)).is_ok());
        assert!(chains("oxi-x", std::slice::from_ref(&ok)).is_err());
        assert!(chains("", std::slice::from_ref(&ok)).is_err());
        let mut bad_tap = ok.clone();
        bad_tap.tap = "tap x\n-A".to_owned();
        assert!(chains("oxi", &[bad_tap]).is_err());
        let mut bad_mac = ok.clone();
        bad_mac.mac = "fa:16:3e:00:00".to_owned();
        assert!(chains("oxi", &[bad_mac]).is_err());
        let mut twin = ok.clone();
        twin.port_id = "aaaaaaaa-1999-4000-8000-000000000001".to_owned();
        twin.tap = "tapother".to_owned();
        assert!(chains("oxi", &[ok.clone(), twin]).is_err());
        assert!(chains("oxi", &[ok.clone(), ok]).is_err());
    }

    const SAVED: &str = "\
# Generated by iptables-save
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:oxi-FORWARD - [0:0]
:oxi-INPUT - [0:0]
:oxi-sg-chain - [0:0]
:oxi-iaaaaaaaa-1 - [0:0]
:oxiabc-FORWARD - [0:0]
:other - [0:0]
-A INPUT -j oxi-INPUT
-A FORWARD -j oxi-FORWARD
-A FORWARD -j oxiabc-FORWARD
-A FORWARD -j oxi-FORWARD
-A FORWARD -m physdev --physdev-in tapx --physdev-is-bridged -j oxi-sg-chain
-A FORWARD -j other
-A oxi-sg-chain -j oxi-iaaaaaaaa-1
COMMIT
";

    #[test]
    fn sync_replaces_our_chains_and_nothing_else() {
        let wanted = chains("oxi", &[port(PORT_B, "10.0.0.6", Vec::new())]).unwrap();
        let script = sync_script("oxi", &wanted, SAVED);
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(lines.first(), Some(&"*filter"));
        assert_eq!(lines.last(), Some(&"COMMIT"));
        // Every wanted chain declared (created or emptied), the stale one
        // emptied and deleted after the chains that jumped to it.
        for c in &wanted {
            assert!(lines.contains(&format!(":{} - [0:0]", c.name).as_str()));
        }
        let declared = lines.iter().position(|l| *l == ":oxi-iaaaaaaaa-1 - [0:0]").unwrap();
        let deleted = lines.iter().position(|l| *l == "-X oxi-iaaaaaaaa-1").unwrap();
        assert!(declared < deleted);
        // The duplicate top jump and the stray one go; one of each stays,
        // none is added again.
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("-D "))
                .copied()
                .collect::<Vec<_>>(),
            [
                "-D FORWARD -j oxi-FORWARD",
                "-D FORWARD -m physdev --physdev-in tapx --physdev-is-bridged -j oxi-sg-chain"
            ]
        );
        assert!(!lines.iter().any(|l| l.starts_with("-I ")));
        // Others' chains are never named.
        assert!(!script.contains("oxiabc") && !script.contains("other"));

        let fresh = sync_script("oxi", &wanted, "*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n");
        assert!(fresh.contains("-I FORWARD 1 -j oxi-FORWARD\n"));
        assert!(fresh.contains("-I INPUT 1 -j oxi-INPUT\n"));
        assert!(!fresh.contains("-X ") && !fresh.contains("-D "));
    }

    #[test]
    fn removal_deletes_our_chains_and_jumps_only() {
        let script = removal_script("oxi", SAVED).unwrap();
        assert_eq!(
            script,
            "*filter\n\
             :oxi-FORWARD - [0:0]\n:oxi-INPUT - [0:0]\n:oxi-sg-chain - [0:0]\n:oxi-iaaaaaaaa-1 - [0:0]\n\
             -D INPUT -j oxi-INPUT\n-D FORWARD -j oxi-FORWARD\n-D FORWARD -j oxi-FORWARD\n\
             -D FORWARD -m physdev --physdev-in tapx --physdev-is-bridged -j oxi-sg-chain\n\
             -X oxi-FORWARD\n-X oxi-INPUT\n-X oxi-sg-chain\n-X oxi-iaaaaaaaa-1\n\
             COMMIT\n"
        );
        assert_eq!(removal_script("oxiabc", SAVED).unwrap().matches("-X ").count(), 1);
        assert!(removal_script("nobody", SAVED).is_none());
    }
}
