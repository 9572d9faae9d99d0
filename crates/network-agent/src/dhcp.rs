//! DHCP: one dnsmasq per network, in the network's `qdhcp-<network id>`
//! namespace, as Neutron's DHCP agent runs it.
//!
//! The DHCP port is a veth: `tap<port>` attached to the network's bridge,
//! `ns-<port>` in the namespace holding the port's MAC and addresses.
//! dnsmasq listens only there (`--bind-interfaces`), serves only the
//! addresses written in its hosts file (`static` ranges, one per subnet,
//! tagged `subnet-<id>`), and no DNS (`--port=0`).
//!
//! Files live in `<state dir>/<network id>/`, with Neutron's names:
//! `host` (one `<mac>,host-<ip>.openstacklocal,<ip>` line per port
//! address), `opts` (router, DNS servers and classless static routes per
//! subnet tag), `leases`, `pid`. The state dir's path must be readable by
//! the user dnsmasq drops its privileges to: it reads `host` and `opts`
//! again on SIGHUP.
//!
//! [`Dhcp::sync`] compares the wanted state with what runs: the command
//! line of the running dnsmasq (read from `/proc`, found by its pid file)
//! and the files' contents. Same command line, changed files: SIGHUP
//! (dnsmasq reads hosts and options again). Changed command line (ranges,
//! MTU, interface): restart. No dnsmasq: start. So an agent started again
//! over the same state dir adopts the dnsmasq it started before.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::host::{self, LinkSettings};
use crate::spec::{Ipv4Cidr, NetworkSpec, SubnetSpec};
use crate::{Error, names};

/// Neutron's `dhcp_lease_duration` default.
const LEASE_SECONDS: u32 = 86_400;
/// Neutron's `dns_domain` default: guests' host names end with it.
const DOMAIN: &str = "openstacklocal";
/// How long dnsmasq has to end on SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a freshly started dnsmasq has to write its pid file.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`Dhcp::sync`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpOutcome {
    /// No IPv4 subnet of the network has DHCP enabled: nothing runs.
    Disabled,
    Started,
    /// Hosts or options changed: dnsmasq was sent SIGHUP.
    Reloaded,
    /// Its command line changed: dnsmasq was stopped and started again.
    Restarted,
    Unchanged,
}

/// The DHCP servers of this host.
#[derive(Debug, Clone)]
pub struct Dhcp {
    state_dir: PathBuf,
    dnsmasq: String,
}

impl Dhcp {
    /// Keeps each network's files in `state_dir/<network id>/`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Dhcp {
        Dhcp {
            state_dir: state_dir.into(),
            dnsmasq: "dnsmasq".to_owned(),
        }
    }

    fn network_dir(&self, network_id: &str) -> PathBuf {
        self.state_dir.join(network_id)
    }

    /// Makes the network's DHCP server what `spec` says; the network's
    /// bridge must exist. With no DHCP-enabled IPv4 subnet, removes it.
    pub async fn sync(&self, spec: &NetworkSpec) -> Result<DhcpOutcome, Error> {
        names::check_id("network", &spec.id)?;
        let subnets = spec.dhcp_subnets()?;
        if subnets.is_empty() {
            self.remove(&spec.id).await?;
            return Ok(DhcpOutcome::Disabled);
        }
        let port = spec
            .dhcp_port
            .as_ref()
            .ok_or_else(|| Error::InvalidSpec(format!("network {} has DHCP subnets but no DHCP port", spec.id)))?;
        names::check_id("port", &port.id)?;
        let addresses = dhcp_port_addresses(spec, &subnets)?;

        let netns = names::dhcp_namespace(&spec.id);
        let outer = names::tap(&port.id);
        let inner = names::dhcp_interface(&port.id);
        host::netns_add(&netns).await?;
        // A DHCP port replaced by another leaves its veth behind.
        for stale in host::links(Some(&netns), "ns-").await? {
            if stale.name != inner {
                host::link_delete(Some(&netns), &stale.name).await?;
            }
        }
        host::veth_add(&outer, &inner, Some(&netns)).await?;
        let bridge = names::bridge(&spec.id);
        host::link_set(
            None,
            &outer,
            &LinkSettings {
                mtu: Some(spec.mtu),
                master: Some(&bridge),
                up: true,
                ..LinkSettings::default()
            },
        )
        .await?;
        host::link_set(
            Some(&netns),
            &inner,
            &LinkSettings {
                mac: Some(&port.mac),
                mtu: Some(spec.mtu),
                up: true,
                ..LinkSettings::default()
            },
        )
        .await?;
        for address in &addresses {
            host::address_add(Some(&netns), &inner, address).await?;
        }
        for stale in host::ipv4_addresses(Some(&netns), &inner).await? {
            if !addresses.contains(&stale) {
                host::address_delete(Some(&netns), &inner, &stale).await?;
            }
        }

        let dir = self.network_dir(&spec.id);
        create_dir(&dir)?;
        let files_changed = write_if_changed(&dir.join("host"), &hosts_file(spec, &subnets))?
            | write_if_changed(&dir.join("opts"), &opts_file(&subnets))?;
        let args = self.args(spec, &subnets, &inner, &dir);

        match self.running(&spec.id) {
            Some((pid, cmdline)) if cmdline.get(1..) == Some(&args[..]) => {
                if files_changed {
                    host::reload(pid)?;
                    tracing::info!(network_id = %spec.id, pid, "dnsmasq reloaded");
                    Ok(DhcpOutcome::Reloaded)
                } else {
                    Ok(DhcpOutcome::Unchanged)
                }
            }
            Some((pid, _)) => {
                host::stop_process(pid, STOP_GRACE).await?;
                self.start(&spec.id, &netns, &args).await?;
                Ok(DhcpOutcome::Restarted)
            }
            None => {
                self.start(&spec.id, &netns, &args).await?;
                Ok(DhcpOutcome::Started)
            }
        }
    }

    /// Stops the network's dnsmasq and deletes its namespace, veth and
    /// files; Ok when they are gone already.
    pub async fn remove(&self, network_id: &str) -> Result<(), Error> {
        names::check_id("network", network_id)?;
        if let Some((pid, _)) = self.running(network_id) {
            host::stop_process(pid, STOP_GRACE).await?;
        }
        let netns = names::dhcp_namespace(network_id);
        // A dnsmasq whose pid file is lost still holds the namespace open.
        for pid in host::netns_pids(&netns).await? {
            if host::process_cmdline(pid).is_some_and(|c| is_dnsmasq(&c)) {
                host::stop_process(pid, STOP_GRACE).await?;
            }
        }
        if host::netns_exists(&netns).await? {
            // Deleted explicitly: a namespace's devices are destroyed
            // asynchronously after it is, and the bridge end would linger.
            for link in host::links(Some(&netns), "ns-").await? {
                host::link_delete(Some(&netns), &link.name).await?;
            }
        }
        host::netns_delete(&netns).await?;
        let dir = self.network_dir(network_id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { path: dir, source }),
        }
    }

    /// The network's dnsmasq and its argument vector, if it runs: the pid
    /// in its pid file, when that process is a dnsmasq using this pid file
    /// (a pid file can outlive its process, and pids are reused).
    fn running(&self, network_id: &str) -> Option<(u32, Vec<String>)> {
        let pid_file = self.network_dir(network_id).join("pid");
        let pid: u32 = std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()?;
        let cmdline = host::process_cmdline(pid)?;
        let own = format!("--pid-file={}", pid_file.display());
        (is_dnsmasq(&cmdline) && cmdline.contains(&own)).then_some((pid, cmdline))
    }

    async fn start(&self, network_id: &str, netns: &str, args: &[String]) -> Result<(), Error> {
        host::run_daemon_in_netns(netns, &self.dnsmasq, args).await?;
        // dnsmasq's first process returns once the daemon is set up; the
        // pid file is written by then, but wait rather than assume.
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some((pid, _)) = self.running(network_id) {
                tracing::info!(network_id, pid, "dnsmasq started");
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::DaemonNotRunning {
                    what: format!("dnsmasq for network {network_id}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// dnsmasq's arguments (after the program name), Neutron's flags.
    fn args(
        &self,
        spec: &NetworkSpec,
        subnets: &[(&SubnetSpec, Ipv4Cidr)],
        interface: &str,
        dir: &Path,
    ) -> Vec<String> {
        let path = |name: &str| dir.join(name).display().to_string();
        let mut args = vec![
            "--no-hosts".to_owned(),
            "--no-resolv".to_owned(),
            "--port=0".to_owned(),
            "--bind-interfaces".to_owned(),
            format!("--interface={interface}"),
            format!("--pid-file={}", path("pid")),
            format!("--dhcp-hostsfile={}", path("host")),
            format!("--dhcp-optsfile={}", path("opts")),
            format!("--dhcp-leasefile={}", path("leases")),
            format!("--domain={DOMAIN}"),
            "--conf-file=/dev/null".to_owned(),
        ];
        for (subnet, cidr) in subnets {
            args.push(format!(
                "--dhcp-range=set:{},{},static,{},{LEASE_SECONDS}s",
                tag(subnet),
                cidr.network(),
                cidr.netmask()
            ));
        }
        let lease_max: u64 = subnets.iter().map(|(_, c)| c.size()).sum();
        args.push(format!("--dhcp-lease-max={}", lease_max.min(1 << 24)));
        // Forced: guests do not ask for the MTU, and a wrong one breaks
        // VXLAN networks silently (Neutron forces it the same way).
        args.push(format!("--dhcp-option-force=option:mtu,{}", spec.mtu));
        args
    }
}

fn is_dnsmasq(cmdline: &[String]) -> bool {
    cmdline
        .first()
        .is_some_and(|argv0| Path::new(argv0).file_name().is_some_and(|n| n == "dnsmasq"))
}

fn tag(subnet: &SubnetSpec) -> String {
    format!("subnet-{}", subnet.id)
}

/// The DHCP port's address on each DHCP subnet, as `address/prefix`.
fn dhcp_port_addresses(spec: &NetworkSpec, subnets: &[(&SubnetSpec, Ipv4Cidr)]) -> Result<Vec<String>, Error> {
    let port = spec.dhcp_port.as_ref().expect("checked by the caller");
    subnets
        .iter()
        .map(|(subnet, cidr)| {
            port.fixed_ips
                .iter()
                .find_map(|f| match f.ip_address {
                    IpAddr::V4(ip) if f.subnet_id == subnet.id && cidr.contains(ip) => {
                        Some(format!("{ip}/{}", cidr.prefix_len))
                    }
                    _ => None,
                })
                .ok_or_else(|| {
                    Error::InvalidSpec(format!(
                        "DHCP port {} has no address on subnet {} ({cidr})",
                        port.id, subnet.id
                    ))
                })
        })
        .collect()
}

/// `--dhcp-hostsfile`: one line per IPv4 address of a port on a DHCP
/// subnet (Neutron's format).
fn hosts_file(spec: &NetworkSpec, subnets: &[(&SubnetSpec, Ipv4Cidr)]) -> String {
    let mut out = String::new();
    for port in &spec.ports {
        for fixed in &port.fixed_ips {
            let IpAddr::V4(ip) = fixed.ip_address else { continue };
            if !subnets.iter().any(|(s, c)| s.id == fixed.subnet_id && c.contains(ip)) {
                continue;
            }
            let host = ip.to_string().replace('.', "-");
            out.push_str(&format!(
                "{},host-{host}.{DOMAIN},{ip}\n",
                port.mac.to_ascii_lowercase()
            ));
        }
    }
    out
}

/// `--dhcp-optsfile`: router, DNS servers and classless static routes per
/// subnet tag.
fn opts_file(subnets: &[(&SubnetSpec, Ipv4Cidr)]) -> String {
    let mut out = String::new();
    for (subnet, _) in subnets {
        let tag = tag(subnet);
        let gateway = match subnet.gateway_ip {
            Some(IpAddr::V4(gw)) => Some(gw),
            _ => None,
        };
        match gateway {
            Some(gw) => out.push_str(&format!("tag:{tag},option:router,{gw}\n")),
            // Without this dnsmasq offers its own address as the router.
            None => out.push_str(&format!("tag:{tag},option:router\n")),
        }
        let dns: Vec<String> = subnet
            .dns_nameservers
            .iter()
            .filter(|d| d.is_ipv4())
            .map(|d| d.to_string())
            .collect();
        if !dns.is_empty() {
            out.push_str(&format!("tag:{tag},option:dns-server,{}\n", dns.join(",")));
        }
        let mut routes: Vec<String> = subnet
            .host_routes
            .iter()
            .filter(|r| r.nexthop.is_ipv4() && !r.destination.contains(':'))
            .map(|r| format!("{},{}", r.destination, r.nexthop))
            .collect();
        if !routes.is_empty() {
            // A client that takes option 121 ignores option 3 (RFC 3442):
            // the default route must be among the static routes.
            if let Some(gw) = gateway {
                routes.push(format!("0.0.0.0/0,{gw}"));
            }
            out.push_str(&format!(
                "tag:{tag},option:classless-static-route,{}\n",
                routes.join(",")
            ));
        }
    }
    out
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })
}

/// Writes `content` unless the file holds it already; whether it wrote.
/// Written whole to a temporary file and renamed, so that dnsmasq never
/// reads half a file.
fn write_if_changed(path: &Path, content: &str) -> Result<bool, Error> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(false);
    }
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DhcpPortSpec, FixedIp, HostRoute, PortSpec};

    const NET: &str = "11111111-2222-3333-4444-555555555555";

    fn spec() -> NetworkSpec {
        let fixed = |ip: &str| FixedIp {
            subnet_id: "sub-aaaaaaaaaaaa".into(),
            ip_address: ip.parse().unwrap(),
        };
        NetworkSpec {
            id: NET.into(),
            mtu: 1450,
            subnets: vec![SubnetSpec {
                id: "sub-aaaaaaaaaaaa".into(),
                cidr: "10.9.8.0/24".into(),
                gateway_ip: Some("10.9.8.1".parse().unwrap()),
                dns_nameservers: vec!["10.9.9.9".parse().unwrap()],
                host_routes: vec![HostRoute {
                    destination: "10.200.0.0/16".into(),
                    nexthop: "10.9.8.254".parse().unwrap(),
                }],
                enable_dhcp: true,
            }],
            dhcp_port: Some(DhcpPortSpec {
                id: "dhcp-port-0000000".into(),
                mac: "fa:16:3e:00:00:02".into(),
                fixed_ips: vec![fixed("10.9.8.2")],
            }),
            ports: vec![PortSpec {
                id: "port-1-00000000".into(),
                mac: "FA:16:3E:00:00:10".into(),
                fixed_ips: vec![fixed("10.9.8.10")],
            }],
        }
    }

    #[test]
    fn files_have_neutrons_format() {
        let spec = spec();
        let subnets = spec.dhcp_subnets().unwrap();
        assert_eq!(
            hosts_file(&spec, &subnets),
            "fa:16:3e:00:00:10,host-10-9-8-10.openstacklocal,10.9.8.10\n"
        );
        assert_eq!(
            opts_file(&subnets),
            "tag:subnet-sub-aaaaaaaaaaaa,option:router,10.9.8.1\n\
             tag:subnet-sub-aaaaaaaaaaaa,option:dns-server,10.9.9.9\n\
             tag:subnet-sub-aaaaaaaaaaaa,option:classless-static-route,10.200.0.0/16,10.9.8.254,0.0.0.0/0,10.9.8.1\n"
        );
        assert_eq!(dhcp_port_addresses(&spec, &subnets).unwrap(), ["10.9.8.2/24"]);
    }

    #[test]
    fn command_line_has_neutrons_flags() {
        let spec = spec();
        let subnets = spec.dhcp_subnets().unwrap();
        let args = Dhcp::new("/s").args(&spec, &subnets, "ns-dhcp-port-0", Path::new("/s/n"));
        for expected in [
            "--no-hosts",
            "--no-resolv",
            "--port=0",
            "--bind-interfaces",
            "--interface=ns-dhcp-port-0",
            "--dhcp-range=set:subnet-sub-aaaaaaaaaaaa,10.9.8.0,static,255.255.255.0,86400s",
            "--dhcp-hostsfile=/s/n/host",
            "--dhcp-optsfile=/s/n/opts",
            "--dhcp-leasefile=/s/n/leases",
            "--pid-file=/s/n/pid",
            "--conf-file=/dev/null",
            "--dhcp-option-force=option:mtu,1450",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} missing from {args:?}");
        }
    }

    #[test]
    fn a_subnet_without_gateway_offers_no_router() {
        let mut spec = spec();
        spec.subnets[0].gateway_ip = None;
        spec.subnets[0].host_routes.clear();
        let subnets = spec.dhcp_subnets().unwrap();
        assert!(opts_file(&subnets).starts_with("tag:subnet-sub-aaaaaaaaaaaa,option:router\n"));
    }

    #[test]
    fn a_dhcp_port_without_an_address_on_a_dhcp_subnet_is_refused() {
        let mut spec = spec();
        spec.dhcp_port.as_mut().unwrap().fixed_ips.clear();
        let subnets = spec.dhcp_subnets().unwrap();
        assert!(matches!(
            dhcp_port_addresses(&spec, &subnets),
            Err(Error::InvalidSpec(_))
        ));
    }
}
