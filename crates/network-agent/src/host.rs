//! Everything that touches the kernel: namespaces, links, addresses and
//! routes through iproute2's `ip` (reading state with `ip -json`),
//! per-namespace sysctls and nftables rulesets (`sysctl`, `nft -f` under
//! `ip netns exec`), the root namespace's iptables filter rules
//! (`iptables-save`, `iptables-restore --noflush`), and the processes the
//! data plane runs in namespaces.
//!
//! Every operation is idempotent: creating what exists and deleting what
//! is gone succeed, so that an agent started again over a half-built host
//! converges instead of failing or duplicating. Existence is checked by
//! reading state first rather than by matching `ip`'s error messages.
//!
//! `netns` arguments are namespace names (`None` is the root namespace).
//! Forking `ip` costs a few milliseconds per call; netlink (the
//! `rtnetlink` crate) is the faster road when an agent syncs thousands of
//! ports.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::process::Command;

use crate::Error;

/// A network interface as `ip -json -details link show` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub mac: Option<String>,
    pub mtu: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// The bridge it is attached to.
    pub master: Option<String>,
    /// `bridge`, `veth`, `tun`; `None` for physical devices and `lo`.
    pub kind: Option<String>,
}

#[derive(Deserialize)]
struct LinkJson {
    ifname: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    mtu: u32,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    master: Option<String>,
    #[serde(default)]
    linkinfo: Option<LinkInfoJson>,
}

#[derive(Deserialize)]
struct LinkInfoJson {
    #[serde(default)]
    info_kind: Option<String>,
}

impl From<LinkJson> for Link {
    fn from(j: LinkJson) -> Link {
        Link {
            up: j.flags.iter().any(|f| f == "UP"),
            name: j.ifname,
            mac: j.address,
            mtu: j.mtu,
            master: j.master,
            kind: j.linkinfo.and_then(|i| i.info_kind),
        }
    }
}

/// What [`link_set`] changes; `None` leaves an attribute as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkSettings<'a> {
    pub mac: Option<&'a str>,
    pub mtu: Option<u32>,
    /// The bridge to attach to.
    pub master: Option<&'a str>,
    pub up: bool,
}

/// Runs `ip` with `args` (in `netns` when given); its stdout, or an error
/// carrying the command line and stderr.
async fn ip(netns: Option<&str>, args: &[&str]) -> Result<String, Error> {
    let mut full: Vec<&str> = Vec::with_capacity(args.len() + 2);
    if let Some(ns) = netns {
        full.extend(["-n", ns]);
    }
    full.extend(args);
    run("ip", &full).await
}

/// Runs `program` to completion; its stdout, or an error carrying the
/// command line and stderr.
async fn run(program: &str, args: &[&str]) -> Result<String, Error> {
    let command = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| Error::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Parses `ip -json` output; iproute2 prints nothing at all for some empty
/// lists (`ip -json netns list`).
fn parse_json<T: for<'de> Deserialize<'de>>(command: &str, text: &str) -> Result<Vec<T>, Error> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|source| Error::Output {
        command: command.to_owned(),
        source,
    })
}

// ---- namespaces ----

pub async fn netns_list() -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct Netns {
        name: String,
    }
    let text = ip(None, &["-json", "netns", "list"]).await?;
    let list: Vec<Netns> = parse_json("ip -json netns list", &text)?;
    Ok(list.into_iter().map(|n| n.name).collect())
}

pub async fn netns_exists(name: &str) -> Result<bool, Error> {
    Ok(netns_list().await?.iter().any(|n| n == name))
}

/// Creates the namespace, with its loopback up.
pub async fn netns_add(name: &str) -> Result<(), Error> {
    if !netns_exists(name).await? {
        ip(None, &["netns", "add", name]).await?;
    }
    ip(Some(name), &["link", "set", "lo", "up"]).await?;
    Ok(())
}

/// Deletes the namespace. Its devices go with it once no process holds it
/// any longer: stop the namespace's processes first.
pub async fn netns_delete(name: &str) -> Result<(), Error> {
    if netns_exists(name).await? {
        ip(None, &["netns", "delete", name]).await?;
    }
    Ok(())
}

/// The processes running in the namespace (none when it does not exist).
pub async fn netns_pids(name: &str) -> Result<Vec<u32>, Error> {
    if !netns_exists(name).await? {
        return Ok(Vec::new());
    }
    let text = ip(None, &["netns", "pids", name]).await?;
    Ok(text.split_whitespace().filter_map(|p| p.parse().ok()).collect())
}

// ---- links ----

/// The interface named `name`, if it exists in `netns`.
pub async fn link(netns: Option<&str>, name: &str) -> Result<Option<Link>, Error> {
    Ok(links(netns, "").await?.into_iter().find(|l| l.name == name))
}

/// The interfaces in `netns` whose names start with `prefix`.
pub async fn links(netns: Option<&str>, prefix: &str) -> Result<Vec<Link>, Error> {
    let text = ip(netns, &["-json", "-details", "link", "show"]).await?;
    let list: Vec<LinkJson> = parse_json("ip -json -details link show", &text)?;
    Ok(list
        .into_iter()
        .filter(|l| l.ifname.starts_with(prefix))
        .map(Link::from)
        .collect())
}

/// Creates a Linux bridge in the root namespace with spanning tree off and
/// no forwarding delay (as Neutron's linuxbridge agent sets them: ports
/// forward as soon as they are attached).
pub async fn bridge_add(name: &str) -> Result<(), Error> {
    if link(None, name).await?.is_none() {
        ip(
            None,
            &[
                "link",
                "add",
                name,
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ],
        )
        .await?;
    }
    Ok(())
}

/// Creates a veth pair: `name` in the root namespace, `peer` in
/// `peer_netns` (created there directly, so the peer's name never clashes
/// with a root-namespace interface). Ok when `name` exists: a veth's ends
/// are created and destroyed together.
pub async fn veth_add(name: &str, peer: &str, peer_netns: Option<&str>) -> Result<(), Error> {
    if link(None, name).await?.is_some() {
        return Ok(());
    }
    let mut args = vec!["link", "add", name, "type", "veth", "peer", "name", peer];
    if let Some(ns) = peer_netns {
        args.extend(["netns", ns]);
    }
    ip(None, &args).await?;
    Ok(())
}

/// Creates a persistent tap device for QEMU to open (`-netdev
/// tap,ifname=…,script=no`).
pub async fn tap_add(name: &str) -> Result<(), Error> {
    if link(None, name).await?.is_none() {
        ip(None, &["tuntap", "add", "dev", name, "mode", "tap"]).await?;
    }
    Ok(())
}

/// Deletes an interface (a veth's peer goes with it).
pub async fn link_delete(netns: Option<&str>, name: &str) -> Result<(), Error> {
    if let Some(ns) = netns
        && !netns_exists(ns).await?
    {
        return Ok(());
    }
    if link(netns, name).await?.is_some() {
        ip(netns, &["link", "delete", "dev", name]).await?;
    }
    Ok(())
}

/// Moves a root-namespace interface into `netns`; Ok when it is there
/// already.
pub async fn link_set_netns(name: &str, netns: &str) -> Result<(), Error> {
    if link(None, name).await?.is_some() {
        ip(None, &["link", "set", "dev", name, "netns", netns]).await?;
        return Ok(());
    }
    if link(Some(netns), name).await?.is_some() {
        return Ok(());
    }
    Err(Error::Command {
        command: format!("ip link set dev {name} netns {netns}"),
        stderr: format!("no interface {name} in the root namespace or in {netns}"),
    })
}

/// Sets MAC, MTU, bridge and up state in one command (setting what is
/// already so is a no-op for the kernel).
pub async fn link_set(netns: Option<&str>, name: &str, settings: &LinkSettings<'_>) -> Result<(), Error> {
    let mtu = settings.mtu.map(|m| m.to_string());
    let mut args = vec!["link", "set", "dev", name];
    if let Some(mac) = settings.mac {
        args.extend(["address", mac]);
    }
    if let Some(mtu) = &mtu {
        args.extend(["mtu", mtu.as_str()]);
    }
    if let Some(master) = settings.master {
        args.extend(["master", master]);
    }
    if settings.up {
        args.push("up");
    }
    ip(netns, &args).await?;
    Ok(())
}

// ---- addresses and routes ----

/// The IPv4 addresses on `dev`, as `address/prefix`.
pub async fn ipv4_addresses(netns: Option<&str>, dev: &str) -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct AddrInfo {
        family: String,
        local: String,
        prefixlen: u8,
    }
    #[derive(Deserialize)]
    struct Iface {
        #[serde(default)]
        addr_info: Vec<AddrInfo>,
    }
    let text = ip(netns, &["-json", "address", "show", "dev", dev]).await?;
    let list: Vec<Iface> = parse_json("ip -json address show", &text)?;
    Ok(list
        .into_iter()
        .flat_map(|i| i.addr_info)
        .filter(|a| a.family == "inet")
        .map(|a| format!("{}/{}", a.local, a.prefixlen))
        .collect())
}

/// Adds `cidr` (`10.0.0.2/24`) to `dev`; `replace` makes it a no-op when
/// the address is there.
pub async fn address_add(netns: Option<&str>, dev: &str, cidr: &str) -> Result<(), Error> {
    ip(netns, &["address", "replace", cidr, "dev", dev]).await?;
    Ok(())
}

pub async fn address_delete(netns: Option<&str>, dev: &str, cidr: &str) -> Result<(), Error> {
    if ipv4_addresses(netns, dev).await?.iter().any(|a| a == cidr) {
        ip(netns, &["address", "delete", cidr, "dev", dev]).await?;
    }
    Ok(())
}

/// Adds or replaces the route to `destination` (`default` or a CIDR).
pub async fn route_replace(netns: Option<&str>, destination: &str, via: Option<&str>, dev: &str) -> Result<(), Error> {
    let mut args = vec!["route", "replace", destination];
    if let Some(via) = via {
        args.extend(["via", via]);
    }
    args.extend(["dev", dev]);
    ip(netns, &args).await?;
    Ok(())
}

/// A route of the main table, as `ip -json route show` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `default`, or a CIDR (`10.0.0.0/24`, `10.0.0.5/32`: iproute2's bare
    /// host address is given its `/32`).
    pub destination: String,
    pub gateway: Option<String>,
    pub dev: Option<String>,
}

/// The IPv4 routes of `netns`'s main table.
pub async fn routes(netns: Option<&str>) -> Result<Vec<Route>, Error> {
    #[derive(Deserialize)]
    struct RouteJson {
        dst: String,
        #[serde(default)]
        gateway: Option<String>,
        #[serde(default)]
        dev: Option<String>,
    }
    let text = ip(netns, &["-json", "-4", "route", "show"]).await?;
    let list: Vec<RouteJson> = parse_json("ip -json -4 route show", &text)?;
    Ok(list
        .into_iter()
        .map(|r| Route {
            destination: if r.dst == "default" || r.dst.contains('/') {
                r.dst
            } else {
                format!("{}/32", r.dst)
            },
            gateway: r.gateway,
            dev: r.dev,
        })
        .collect())
}

/// Deletes the route to `destination` (`default` or a CIDR); Ok when there
/// is none.
pub async fn route_delete(netns: Option<&str>, destination: &str) -> Result<(), Error> {
    if routes(netns).await?.iter().any(|r| r.destination == destination) {
        ip(netns, &["route", "delete", destination]).await?;
    }
    Ok(())
}

// ---- sysctl and nftables ----

/// Sets a sysctl inside `netns` (`net.ipv4.ip_forward`, `1`): the
/// `net.*` keys are per namespace.
pub async fn sysctl_set(netns: &str, key: &str, value: &str) -> Result<(), Error> {
    let assignment = format!("{key}={value}");
    run("ip", &["netns", "exec", netns, "sysctl", "-q", "-w", &assignment]).await?;
    Ok(())
}

/// Applies an `nft -f` script inside `netns`. nft applies a script as one
/// transaction: all of it or, on any error, none of it — so a script that
/// deletes a table and declares it again replaces it atomically.
pub async fn nft_apply(netns: &str, script: &str) -> Result<(), Error> {
    run_with_stdin("ip", &["netns", "exec", netns, "nft", "-f", "-"], script).await?;
    Ok(())
}

/// Runs `program` with `input` on its stdin, to completion; its stdout, or
/// an error carrying the command line and stderr.
async fn run_with_stdin(program: &str, args: &[&str], input: &str) -> Result<String, Error> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;

    let command = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let spawn_error = |source| Error::Spawn {
        command: command.clone(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).await.map_err(spawn_error)?;
        // Dropped here: the program reads to end of file.
    }
    let out = child.wait_with_output().await.map_err(spawn_error)?;
    if !out.status.success() {
        return Err(Error::Command {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

// ---- iptables (root namespace) ----

/// One table of the root namespace's IPv4 iptables ruleset, as
/// `iptables-save -t <table>` prints it.
pub async fn iptables_save(table: &str) -> Result<String, Error> {
    run("iptables-save", &["-t", table]).await
}

/// Applies an `iptables-restore` script to the root namespace without
/// flushing what it does not name (`--noflush`): one transaction, all of
/// it or, on any error, none of it. Declaring a chain (`:name - [0:0]`)
/// creates it, or empties it when it exists. `-w` waits for the xtables
/// lock that legacy iptables users take.
pub async fn iptables_restore(script: &str) -> Result<(), Error> {
    run_with_stdin("iptables-restore", &["--noflush", "-w", "10"], script).await?;
    Ok(())
}

// ---- processes ----

/// Runs a daemon in `netns` (`ip netns exec`) and waits for its starting
/// process to return: the daemon must fork itself away and write a pid
/// file, as dnsmasq does.
pub async fn run_daemon_in_netns(netns: &str, program: &str, args: &[String]) -> Result<(), Error> {
    let mut full: Vec<&str> = vec!["netns", "exec", netns, program];
    full.extend(args.iter().map(String::as_str));
    run("ip", &full).await?;
    Ok(())
}

/// A process's argument vector, `None` when it is gone or a zombie.
pub fn process_cmdline(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesized command name, which may itself
    // contain spaces and parentheses.
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Sends SIGHUP.
pub fn reload(pid: u32) -> Result<(), Error> {
    signal(pid, rustix::process::Signal::HUP)
}

fn signal(pid: u32, signal: rustix::process::Signal) -> Result<(), Error> {
    let Some(target) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return Ok(());
    };
    match rustix::process::kill_process(target, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(Error::Signal { pid, source: e.into() }),
    }
}

/// Ends a process: SIGTERM, then SIGKILL if it is still there after
/// `grace`; returns once it is gone (or a zombie, which holds nothing).
pub async fn stop_process(pid: u32, grace: Duration) -> Result<(), Error> {
    signal(pid, rustix::process::Signal::TERM)?;
    let deadline = Instant::now() + grace;
    while process_cmdline(pid).is_some() {
        if Instant::now() >= deadline {
            signal(pid, rustix::process::Signal::KILL)?;
            // SIGKILL cannot be ignored; the kernel needs a moment.
            for _ in 0..100 {
                if process_cmdline(pid).is_none() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            return Err(Error::Signal {
                pid,
                source: std::io::Error::other("still running after SIGKILL"),
            });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}
