//! `oxistack serve`: the scale-out mode. One node runs the roles it is
//! given (`controller`, `compute`), reading an oslo.config-style INI file
//! as an OpenStack operator would write it:
//!
//! ```ini
//! [DEFAULT]
//! host = compute-1                    # default: the machine's hostname
//! state_path = /var/lib/oxistack      # keys, stores, admin password
//! transport_url = rabbit://guest:guest@10.0.0.1:5672/
//! my_ip = 10.0.0.1                    # the address put in the catalog
//! bind_host = 0.0.0.0
//! port_offset = 0
//! report_interval = 10                # agents' heartbeat, seconds
//! service_down_time = 60              # a service silent this long is down
//! instance_usage_audit = false        # compute: record the monthly usage audit
//!
//! [database]
//! connection = postgresql://nova:secret@10.0.0.1:5432/oxistack
//!
//! [identity]
//! admin_password = …                  # default: state_path/admin-password
//! password_hash_rounds = 12
//!
//! instances_path = /var/lib/oxistack/instances   # qemu guests' disks
//! shutdown_timeout = 60               # seconds a guest has to power off
//! cpu_allocation_ratio = 4.0          # overcommit, as Nova's initial_* defaults
//! ram_allocation_ratio = 1.0
//! disk_allocation_ratio = 1.0
//! reserved_host_memory_mb = 512       # kept for the host; also
//!                                     # reserved_host_cpus, reserved_host_disk_mb
//!
//! [compute]
//! driver = fake                       # or qemu
//! fake_delay_ms = 0                   # how long each fake guest operation
//!                                     # (spawn, destroy, reboot, …) takes
//!
//! [libvirt]
//! virt_type = qemu                    # qemu (TCG) or kvm
//! ```
//!
//! A controller serves every API (as `oxistack up` does) against the
//! database and the message bus of the file; a compute node runs only the
//! compute agent, which needs nothing but the bus. Every service's tables
//! live in the one `[database]`; their names do not collide.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::up::ComputeDriver;
use clap::{Args, ValueEnum};

#[derive(Args)]
pub struct ServeArgs {
    /// The configuration file (INI, oslo.config style).
    #[arg(long, short = 'c', env = "OXISTACK_CONFIG")]
    config: PathBuf,
    /// The roles this node runs, comma-separated; default `[DEFAULT] roles`.
    #[arg(long, value_delimiter = ',')]
    roles: Vec<Role>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    Controller,
    Compute,
}

/// The settings of one node, read from its file.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub roles: Vec<Role>,
    pub host: String,
    pub state_path: PathBuf,
    pub transport_url: String,
    pub my_ip: String,
    pub bind_host: String,
    pub port_offset: u16,
    pub report_interval: Duration,
    pub service_down_time: Duration,
    pub database: Option<String>,
    pub admin_password: Option<String>,
    pub password_hash_rounds: u32,
    /// `[compute] driver` with its settings.
    pub compute_driver: ComputeDriver,
    /// Overcommit ratios and reserved resources of this compute node.
    pub allocation: compute_agent::rpc::AllocationSettings,
    /// `[DEFAULT] instance_usage_audit` (Nova's default: off).
    pub instance_usage_audit: bool,
}

fn get<'a>(ini: &'a ini::Ini, section: Option<&str>, key: &str) -> Option<&'a str> {
    ini.section(section)
        .and_then(|s| s.get(key))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(ini: &ini::Ini, section: Option<&str>, key: &str, default: T) -> anyhow::Result<T> {
    let value = match section {
        Some("DEFAULT") => get(ini, section, key).or_else(|| get(ini, None, key)),
        _ => get(ini, section, key),
    };
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("[{}] {key} = {v:?} is not a number", section.unwrap_or("DEFAULT"))),
    }
}

impl NodeConfig {
    pub fn parse(text: &str, cli_roles: &[Role]) -> anyhow::Result<NodeConfig> {
        let ini = ini::Ini::load_from_str(text).context("the configuration file is not valid INI")?;
        let default = Some("DEFAULT");
        let default_section = default;
        // rust-ini puts keys before any section header in the general
        // section; oslo.config files name it [DEFAULT].
        let def = |key: &str| get(&ini, default, key).or_else(|| get(&ini, None, key));
        let roles = if cli_roles.is_empty() {
            let named = def("roles").context("no roles: pass --roles or set [DEFAULT] roles")?;
            named
                .split(',')
                .map(|r| Role::from_str(r.trim(), true).map_err(|_| anyhow::anyhow!("unknown role {r:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?
        } else {
            cli_roles.to_vec()
        };
        let host = match def("host") {
            Some(h) => h.to_owned(),
            None => hostname()?,
        };
        let secs = |key: &str, default: u64| -> anyhow::Result<Duration> {
            let v = match def(key) {
                None => default,
                Some(v) => v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("[DEFAULT] {key} = {v:?} is not a number"))?,
            };
            Ok(Duration::from_secs(v))
        };
        let config = NodeConfig {
            host,
            state_path: PathBuf::from(def("state_path").unwrap_or("/var/lib/oxistack")),
            transport_url: def("transport_url").unwrap_or("inproc://").to_owned(),
            my_ip: def("my_ip").unwrap_or("127.0.0.1").to_owned(),
            bind_host: def("bind_host").unwrap_or("0.0.0.0").to_owned(),
            port_offset: match def("port_offset") {
                None => 0,
                Some(v) => v.parse().context("[DEFAULT] port_offset is not a port number")?,
            },
            report_interval: secs("report_interval", 10)?,
            service_down_time: secs("service_down_time", 60)?,
            instance_usage_audit: match def("instance_usage_audit").map(str::to_ascii_lowercase).as_deref() {
                None | Some("false" | "0" | "no" | "off") => false,
                Some("true" | "1" | "yes" | "on") => true,
                Some(v) => anyhow::bail!("[DEFAULT] instance_usage_audit = {v:?} is not a boolean"),
            },
            database: get(&ini, Some("database"), "connection").map(str::to_owned),
            admin_password: get(&ini, Some("identity"), "admin_password").map(str::to_owned),
            password_hash_rounds: number(&ini, Some("identity"), "password_hash_rounds", 12)?,
            compute_driver: match get(&ini, Some("compute"), "driver").unwrap_or("fake") {
                // fake_delay_ms: how long every fake operation takes (a slow
                // hypervisor, for scale and fault tests).
                "fake" => ComputeDriver::Fake {
                    delay: Duration::from_millis(number(&ini, Some("compute"), "fake_delay_ms", 0)?),
                },
                "qemu" | "libvirt.LibvirtDriver" => ComputeDriver::Qemu {
                    virt_type: get(&ini, Some("libvirt"), "virt_type")
                        .unwrap_or("qemu")
                        .parse()
                        .map_err(|e| anyhow::anyhow!("[libvirt] {e}"))?,
                    instances_path: def("instances_path").map(PathBuf::from),
                    shutdown_timeout: match def("shutdown_timeout") {
                        None => None,
                        Some(_) => Some(secs("shutdown_timeout", 60)?),
                    },
                },
                other => bail!("[compute] driver = {other:?}: expected fake or qemu"),
            },
            allocation: {
                let d = compute_agent::rpc::AllocationSettings::default();
                let n = |key: &str, default: f64| number(&ini, default_section, key, default);
                let a = compute_agent::rpc::AllocationSettings {
                    cpu_allocation_ratio: n("cpu_allocation_ratio", d.cpu_allocation_ratio)?,
                    ram_allocation_ratio: n("ram_allocation_ratio", d.ram_allocation_ratio)?,
                    disk_allocation_ratio: n("disk_allocation_ratio", d.disk_allocation_ratio)?,
                    reserved_host_cpus: number(&ini, default_section, "reserved_host_cpus", d.reserved_host_cpus)?,
                    reserved_host_memory_mb: number(
                        &ini,
                        default_section,
                        "reserved_host_memory_mb",
                        d.reserved_host_memory_mb,
                    )?,
                    reserved_host_disk_mb: number(
                        &ini,
                        default_section,
                        "reserved_host_disk_mb",
                        d.reserved_host_disk_mb,
                    )?,
                };
                a.validate().map_err(|e| anyhow::anyhow!("[DEFAULT] {e}"))?;
                a
            },
            roles,
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.roles.is_empty() {
            bail!("no roles to run");
        }
        if self.roles.contains(&Role::Controller) && self.database.is_none() {
            bail!("a controller needs [database] connection (postgresql://… or mysql://…)");
        }
        let separate = self.roles.len() == 1 || !self.roles.contains(&Role::Controller);
        if separate && self.transport_url == "inproc://" {
            bail!("nodes in separate processes need a shared bus: set [DEFAULT] transport_url = rabbit://…");
        }
        Ok(())
    }
}

pub(crate) fn hostname() -> anyhow::Result<String> {
    let name =
        std::fs::read_to_string("/proc/sys/kernel/hostname").context("reading the hostname; set [DEFAULT] host")?;
    Ok(name.trim().to_owned())
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config).with_context(|| format!("reading {}", args.config.display()))?;
    let node = NodeConfig::parse(&text, &args.roles).with_context(|| format!("in {}", args.config.display()))?;
    std::fs::create_dir_all(&node.state_path).with_context(|| format!("creating {}", node.state_path.display()))?;
    tracing::info!(host = %node.host, roles = ?node.roles, "serving");
    run_node(node).await
}

async fn run_node(node: NodeConfig) -> anyhow::Result<()> {
    let bus = bus::Bus::connect(&node.transport_url)
        .await
        .context("connecting to the message bus")?;
    let compute = node.roles.contains(&Role::Compute).then(|| crate::up::LocalCompute {
        host: node.host.clone(),
        report_interval: node.report_interval,
        driver: node.compute_driver.clone(),
        allocation: node.allocation.clone(),
        instance_usage_audit: node.instance_usage_audit,
    });
    if node.roles.contains(&Role::Controller) {
        return crate::up::run_controller(crate::up::Controller {
            host: node.host.clone(),
            dir: node.state_path.clone(),
            bind: node.bind_host.clone(),
            public_host: Some(node.my_ip.clone()),
            port_offset: node.port_offset,
            database: node.database.clone(),
            admin_password: node.admin_password.clone(),
            password_hash_rounds: node.password_hash_rounds,
            identity_policy_file: None,
            image_store_dir: None,
            image_conversion_format: None,
            bus,
            service_down_time: node.service_down_time,
            local_compute: compute,
            with_test_image: false,
            // the scale-out network role is not built yet (issue 6)
            network_agent: false,
        })
        .await;
    }
    // A compute node: only the agent.
    let compute = compute.context("no role to run")?;
    let agent = crate::up::start_agent(&node.state_path, bus, &compute).await?;
    tracing::info!(host = %compute.host, "compute agent running");
    crate::up::shutdown_signal().await;
    agent.stop();
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_oslo_style_file() {
        let c = NodeConfig::parse(
            "[DEFAULT]\nhost = c1\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\nreport_interval = 2\n\
             roles = compute\ncpu_allocation_ratio = 16\nreserved_host_memory_mb = 2048\n\
             [compute]\ndriver = fake\nfake_delay_ms = 1500\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.allocation.cpu_allocation_ratio, 16.0);
        assert_eq!(c.allocation.ram_allocation_ratio, 1.0, "Nova's default");
        assert_eq!(c.allocation.reserved_host_memory_mb, 2048);
        assert_eq!(c.host, "c1");
        assert_eq!(c.roles, vec![Role::Compute]);
        assert_eq!(c.report_interval, Duration::from_secs(2));
        assert_eq!(c.service_down_time, Duration::from_secs(60));
        assert!(!c.instance_usage_audit, "Nova's default");
        assert_eq!(
            c.compute_driver,
            ComputeDriver::Fake {
                delay: Duration::from_millis(1500)
            }
        );
    }

    #[test]
    fn refuses_what_cannot_work() {
        let no_db = NodeConfig::parse("[DEFAULT]\ntransport_url = rabbit://h/\n", &[Role::Controller]);
        assert!(no_db.unwrap_err().to_string().contains("[database] connection"));
        let no_bus = NodeConfig::parse("[DEFAULT]\nhost = c\n", &[Role::Compute]);
        assert!(no_bus.unwrap_err().to_string().contains("transport_url"));
        let bad = NodeConfig::parse("[DEFAULT]\nroles = storage\n", &[]);
        assert!(bad.unwrap_err().to_string().contains("unknown role"));
        let bad = NodeConfig::parse(
            "[DEFAULT]\nreport_interval = soon\ntransport_url = rabbit://h/\n",
            &[Role::Compute],
        );
        assert!(bad.unwrap_err().to_string().contains("report_interval"));
        let bad = NodeConfig::parse(
            "[DEFAULT]\nram_allocation_ratio = 0\ntransport_url = rabbit://h/\n",
            &[Role::Compute],
        );
        assert!(bad.unwrap_err().to_string().contains("ram_allocation_ratio"));
        let bad = NodeConfig::parse(
            "[DEFAULT]\ninstance_usage_audit = sometimes\ntransport_url = rabbit://h/\n",
            &[Role::Compute],
        );
        assert!(bad.unwrap_err().to_string().contains("instance_usage_audit"));
        let on = NodeConfig::parse(
            "[DEFAULT]\ninstance_usage_audit = True\ntransport_url = rabbit://h/\n",
            &[Role::Compute],
        );
        assert!(on.unwrap().instance_usage_audit);
    }
}
