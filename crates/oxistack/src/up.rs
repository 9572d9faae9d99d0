//! `oxistack up`: the all-in-one cloud.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rand::Rng;
use tokio::net::TcpListener;

mod block_storage_service;
mod compute_service;
mod image_service;
pub mod network_service;
mod placement_service;
pub mod test_image;

#[derive(Args)]
pub struct UpArgs {
    /// Where state lives: databases, keys, stores (default
    /// `$XDG_DATA_HOME/oxistack` or `~/.local/share/oxistack`).
    #[arg(long, env = "OXISTACK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address every service listens on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Added to every service's standard port (identity 5000, …), to run a
    /// second cloud beside a first.
    #[arg(long, default_value_t = 0)]
    port_offset: u16,
    /// The admin's password; default: the one stored in the data directory,
    /// or a new random one, printed once.
    #[arg(long, env = "OXISTACK_ADMIN_PASSWORD")]
    admin_password: Option<String>,
    /// Database URL for every service (`postgresql://…`, `mysql://…`);
    /// default: one SQLite file per service in the data directory.
    #[arg(long)]
    database: Option<String>,
    /// bcrypt cost for passwords (`[identity] password_hash_rounds`).
    #[arg(long, default_value_t = 12)]
    password_hash_rounds: u32,
    /// An oslo.policy YAML file overriding identity's default rules.
    #[arg(long)]
    identity_policy_file: Option<PathBuf>,
    /// Where the image service keeps image data (default
    /// `<data dir>/image/images`).
    #[arg(long)]
    image_store_dir: Option<PathBuf>,
    /// Convert qcow2 images to this format on import (`raw`), as Glance's
    /// image conversion plugin does; default: no conversion.
    #[arg(long, value_parser = ["raw"])]
    image_conversion_format: Option<String>,
    /// The hypervisor driver of the compute agent in this process: `fake`
    /// (no guests, instant) or `qemu` (real guests); default `qemu` with
    /// `--with-test-image`, else the one of the last start on this data
    /// directory (so its guests are found again), else `fake`.
    #[arg(long, value_parser = ["fake", "qemu"])]
    compute_driver: Option<String>,
    /// `qemu` runs guests under TCG (emulation, works everywhere) or `kvm`.
    #[arg(long, default_value = "qemu", value_parser = ["qemu", "kvm"])]
    virt_type: String,
    /// Build the CirrOS-like test guest (from Debian packages, cached in
    /// the data directory) and upload it as the public image
    /// `oxistack-test`, with a flavor that fits it.
    #[arg(long)]
    with_test_image: bool,
    /// Virtual CPUs the scheduler may place per host CPU (Nova's
    /// `cpu_allocation_ratio`).
    #[arg(long, default_value_t = 4.0)]
    cpu_allocation_ratio: f64,
    /// Guest RAM per host RAM (Nova's `ram_allocation_ratio`).
    #[arg(long, default_value_t = 1.0)]
    ram_allocation_ratio: f64,
    /// RAM kept for the host itself, never given to guests (Nova's
    /// `reserved_host_memory_mb`).
    #[arg(long, default_value_t = 512)]
    reserved_host_memory_mb: u64,
    /// Run no network agent: networks, ports and routers stay rows
    /// (ports `DOWN`), and the host's bridges, namespaces and firewall are
    /// left alone — for a machine where another agent owns them.
    #[arg(long)]
    no_network_agent: bool,
}

pub const IDENTITY_PORT: u16 = 5000;

pub fn data_dir(arg: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match arg {
        Some(d) => d,
        None => match std::env::var_os("XDG_DATA_HOME") {
            Some(x) => PathBuf::from(x).join("oxistack"),
            None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set; pass --data-dir")?)
                .join(".local/share/oxistack"),
        },
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(std::fs::canonicalize(&dir)?)
}

pub fn database_url(dir: &Path, database: Option<&str>, service: &str) -> String {
    match database {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", dir.join(format!("{service}.db")).display()),
    }
}

/// The services that keep a database, by the name of its SQLite file.
pub const DATABASES: &[&str] = &[
    "identity",
    "image",
    "object-storage",
    "placement",
    "compute",
    "network",
    "block-storage",
];

/// Applies the migrations of `service` (one of [`DATABASES`]).
pub async fn migrate(service: &str, db: &store::Db) -> anyhow::Result<()> {
    match service {
        "identity" => identity::db::migrate(db).await?,
        "image" => image::migrate(db).await?,
        "placement" => placement::migrate(db).await?,
        "compute" => compute::migrate(db).await?,
        "object-storage" => object_storage::migrate(db).await?,
        "network" => network::migrate(db).await?,
        "block-storage" => block_storage::migrate(db).await?,
        other => anyhow::bail!("no service {other} keeps a database"),
    }
    Ok(())
}

/// The driver given (kept in the data directory), or `qemu` for the test
/// image, or the one kept from an earlier start: restarting `oxistack up`
/// without its flags must not hand running guests to the fake driver.
fn compute_driver_choice(dir: &Path, given: Option<String>, with_test_image: bool) -> anyhow::Result<String> {
    let file = dir.join("compute-driver");
    let chosen = match given {
        Some(d) => d,
        None if with_test_image => "qemu".to_owned(),
        None => match std::fs::read_to_string(&file) {
            Ok(kept) => return Ok(kept.trim().to_owned()),
            Err(_) => "fake".to_owned(),
        },
    };
    std::fs::write(&file, &chosen).with_context(|| format!("writing {}", file.display()))?;
    Ok(chosen)
}

/// The password given, or the one kept from an earlier start, or a new one.
fn admin_password(dir: &Path, given: Option<String>) -> anyhow::Result<(String, bool)> {
    let file = dir.join("admin-password");
    if let Some(p) = given {
        write_private(&file, &p)?;
        return Ok((p, false));
    }
    if let Ok(p) = std::fs::read_to_string(&file) {
        return Ok((p.trim().to_owned(), false));
    }
    let p: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    write_private(&file, &p)?;
    Ok((p, true))
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn write_client_config(dir: &Path, auth_url: &str, password: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let clouds = dir.join("clouds.yaml");
    write_private(
        &clouds,
        &format!(
            "clouds:\n  oxistack:\n    auth:\n      auth_url: {}\n      username: admin\n      password: {}\n      \
             project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    \
             region_name: RegionOne\n    interface: public\n    identity_api_version: 3\n",
            yaml_quote(auth_url),
            yaml_quote(password)
        ),
    )?;
    let openrc = dir.join("openrc");
    write_private(
        &openrc,
        &format!(
            "export OS_AUTH_URL={}\nexport OS_IDENTITY_API_VERSION=3\nexport OS_USERNAME=admin\n\
             export OS_PASSWORD={}\nexport OS_PROJECT_NAME=admin\nexport OS_USER_DOMAIN_NAME=Default\n\
             export OS_PROJECT_DOMAIN_NAME=Default\nexport OS_REGION_NAME=RegionOne\nexport OS_INTERFACE=public\n",
            shell_quote(auth_url),
            shell_quote(password)
        ),
    )?;
    Ok((clouds, openrc))
}

pub(crate) async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Picks up rotated Fernet keys without a restart.
fn watch_keys(identity: identity::Identity, dir: PathBuf) {
    tokio::spawn(async move {
        let stamp = |d: &Path| std::fs::metadata(d).and_then(|m| m.modified()).ok();
        let mut last = stamp(&dir);
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            let now = stamp(&dir);
            if now != last {
                last = now;
                match identity.reload_keys() {
                    Ok(()) => tracing::info!("fernet keys reloaded"),
                    Err(e) => tracing::error!(error = %e, "fernet keys could not be reloaded"),
                }
            }
        }
    });
}

/// What a service needs from `up` to start: where state lives, where to
/// listen, and the identity service (for tokens and the catalog).
pub struct Site {
    pub dir: PathBuf,
    pub bind: String,
    /// The host clients reach the services at.
    pub public_host: String,
    pub port_offset: u16,
    /// The `--database` URL, if one was given.
    pub database: Option<String>,
    pub region: String,
    pub identity: identity::Identity,
    /// The message bus between the services and their agents.
    pub bus: bus::Bus,
    /// A compute service silent this long is `down`.
    pub service_down_time: Duration,
}

impl Site {
    /// `http://host:port` of a service whose standard port is `port`.
    pub fn url(&self, port: u16) -> String {
        format!("http://{}:{}", self.public_host, port + self.port_offset)
    }

    /// The database of `service`: its own SQLite file, or `--database`.
    pub async fn db(&self, service: &str) -> anyhow::Result<store::Db> {
        let url = database_url(&self.dir, self.database.as_deref(), service);
        store::Db::connect(&url)
            .await
            .with_context(|| format!("opening the {service} database"))
    }

    /// Token validation for a service's router: in process, by identity.
    pub fn token_auth(&self) -> api::TokenAuth {
        let validator: std::sync::Arc<dyn api::TokenValidator> = std::sync::Arc::new(self.identity.clone());
        api::TokenAuth::new(validator, self.identity.base_url())
    }
}

/// A service ready to serve: its router and its port (offset applied).
pub struct Served {
    pub name: &'static str,
    pub port: u16,
    pub router: axum::Router,
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let dir = data_dir(args.data_dir)?;
    let host = crate::serve::hostname()?;
    let qemu = ComputeDriver::Qemu {
        virt_type: args.virt_type.parse().map_err(anyhow::Error::msg)?,
        instances_path: None,
        shutdown_timeout: None,
    };
    run_controller(Controller {
        host: host.clone(),
        dir: dir.clone(),
        bind: args.bind,
        public_host: None,
        port_offset: args.port_offset,
        database: args.database,
        admin_password: args.admin_password,
        password_hash_rounds: args.password_hash_rounds,
        identity_policy_file: args.identity_policy_file,
        image_store_dir: args.image_store_dir,
        image_conversion_format: args.image_conversion_format,
        bus: bus::Bus::in_process(),
        service_down_time: compute_agent::rpc::SERVICE_DOWN_TIME,
        local_compute: Some(LocalCompute {
            host,
            report_interval: compute_agent::rpc::REPORT_INTERVAL,
            driver: match compute_driver_choice(&dir, args.compute_driver, args.with_test_image)?.as_str() {
                "qemu" => qemu,
                _ => ComputeDriver::Fake { delay: Duration::ZERO },
            },
            allocation: compute_agent::rpc::AllocationSettings {
                cpu_allocation_ratio: args.cpu_allocation_ratio,
                ram_allocation_ratio: args.ram_allocation_ratio,
                reserved_host_memory_mb: args.reserved_host_memory_mb,
                ..Default::default()
            },
            // On in the all-in-one cloud (Nova's default is off), so that
            // `os-instance_usage_audit_log` has records to show.
            instance_usage_audit: true,
        }),
        with_test_image: args.with_test_image,
        network_agent: !args.no_network_agent,
    })
    .await
}

/// What a controller runs with: `oxistack up` fills it from its flags (an
/// in-process bus, a compute agent in the same process), `oxistack serve`
/// from its configuration file.
pub struct Controller {
    /// This node's name (the controller's services in `os-services`).
    pub host: String,
    pub dir: PathBuf,
    pub bind: String,
    /// The host put in the catalog; default: the bind address (or
    /// 127.0.0.1 when binding every address).
    pub public_host: Option<String>,
    pub port_offset: u16,
    pub database: Option<String>,
    pub admin_password: Option<String>,
    pub password_hash_rounds: u32,
    pub identity_policy_file: Option<PathBuf>,
    pub image_store_dir: Option<PathBuf>,
    pub image_conversion_format: Option<String>,
    pub bus: bus::Bus,
    /// A compute service silent this long is `down`.
    pub service_down_time: Duration,
    /// A compute agent to run in this process too.
    pub local_compute: Option<LocalCompute>,
    /// Upload the test guest image once the services listen.
    pub with_test_image: bool,
    /// Run a network agent in this process (for the compute agent's host,
    /// else for this node).
    pub network_agent: bool,
}

/// The compute agent of a node.
pub struct LocalCompute {
    pub host: String,
    pub report_interval: Duration,
    pub driver: ComputeDriver,
    pub allocation: compute_agent::rpc::AllocationSettings,
    /// Nova's `instance_usage_audit`.
    pub instance_usage_audit: bool,
}

/// The hypervisor driver of a compute agent, with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum ComputeDriver {
    /// No guests; every operation takes `delay`.
    Fake { delay: Duration },
    /// QEMU guests; paths default to `<state>/instances`.
    Qemu {
        virt_type: compute_agent::driver::qemu::VirtType,
        instances_path: Option<PathBuf>,
        shutdown_timeout: Option<Duration>,
    },
}

/// Serves every API of the cloud until SIGTERM or Ctrl-C.
pub async fn run_controller(args: Controller) -> anyhow::Result<()> {
    let dir = args.dir;
    let (password, generated) = admin_password(&dir, args.admin_password)?;
    let identity_port = IDENTITY_PORT
        .checked_add(args.port_offset)
        .context("--port-offset too large")?;
    let public_host = match args.public_host {
        Some(h) => h,
        None if args.bind == "0.0.0.0" || args.bind == "::" => "127.0.0.1".to_owned(),
        None => args.bind.clone(),
    };
    let identity_url = format!("http://{public_host}:{identity_port}");

    let db = store::Db::connect(&database_url(&dir, args.database.as_deref(), "identity"))
        .await
        .context("opening the identity database")?;
    let mut config = identity::IdentityConfig::new(identity_url.clone(), dir.join("fernet-keys"));
    config.password_hash_rounds = args.password_hash_rounds;
    config.policy_file = args.identity_policy_file;
    let identity = identity::Identity::start(config, db)
        .await
        .context("starting identity")?;
    identity
        .bootstrap(&identity::BootstrapSpec::new(password.clone()))
        .await
        .context("bootstrapping identity")?;
    watch_keys(identity.clone(), dir.join("fernet-keys"));

    let site = Site {
        dir: dir.clone(),
        bind: args.bind.clone(),
        public_host,
        port_offset: args.port_offset,
        database: args.database.clone(),
        region: "RegionOne".into(),
        identity: identity.clone(),
        bus: args.bus.clone(),
        service_down_time: args.service_down_time,
    };
    // Every service of the cloud: identity first, then one line each.
    let services = vec![
        Served {
            name: "identity",
            port: identity_port,
            router: identity.router(),
        },
        object_storage(&site).await?,
        image_service::image(
            &site,
            args.image_store_dir.clone(),
            args.image_conversion_format.clone(),
        )
        .await?,
        placement_service::placement(&site).await?,
        network_service::network(&site).await?,
        // after placement and image, which it calls
        compute_service::compute(&site, &args.host).await?,
        // after image, which it calls
        block_storage_service::block_storage(&site, &args.host).await?,
    ];
    let _agent = match &args.local_compute {
        Some(local) => Some(start_agent(&site.dir, site.bus.clone(), local).await?),
        None => None,
    };
    let _network_agent = if args.network_agent {
        // Ports are bound to the compute agent's host, as Nova binds them.
        let host = args
            .local_compute
            .as_ref()
            .map_or(args.host.as_str(), |l| l.host.as_str());
        let agent = network_service::start_agent(&site, host).await?;
        // A port is plugged by the network agent whose host is the port's
        // `binding:host_id`, which compute sets to the compute agent's host.
        if let Some(local) = &args.local_compute
            && agent.host() != local.host
        {
            anyhow::bail!(
                "the network agent's host {:?} is not the compute agent's {:?}: ports would never be plugged",
                agent.host(),
                local.host
            );
        }
        Some(agent)
    } else {
        None
    };
    // The volume agent runs on the node that runs the compute agent.
    let _volume_agent = match &args.local_compute {
        Some(local) => Some(block_storage_service::start_volume_agent(&site, &local.host).await?),
        None => None,
    };

    let mut listeners = Vec::new();
    for s in services {
        let listener = TcpListener::bind((site.bind.as_str(), s.port))
            .await
            .with_context(|| format!("binding {} to {}:{}", s.name, site.bind, s.port))?;
        tracing::info!(service = s.name, url = %site.url(s.port - site.port_offset), "listening");
        listeners.push((s, listener));
    }
    let (clouds, openrc) = write_client_config(&dir, &format!("{identity_url}/v3"), &password)?;
    let mut test_image = None;
    if args.with_test_image {
        let (dir, image_url, compute_url) = (dir.join("test-image"), site.url(9292), site.url(8774));
        let (identity_url, password) = (identity_url.clone(), password.clone());
        test_image = Some(tokio::spawn(async move {
            test_image::install(&dir, &identity_url, &password, &image_url, &compute_url).await
        }));
    }
    if generated {
        println!(
            "admin password (also stored in {}): {password}",
            dir.join("admin-password").display()
        );
    }
    println!(
        "oxistack is up. To use the openstack CLI (or `source {}`):",
        openrc.display()
    );
    println!("export OS_CLIENT_CONFIG_FILE={}", clouds.display());
    println!("export OS_CLOUD=oxistack");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for (s, listener) in listeners {
        let mut stopped = stopped.clone();
        servers.spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|v| *v).await;
            };
            (s.name, api::serve(listener, s.router, shutdown).await)
        });
    }
    if let Some(install) = test_image {
        // The services answer from here on; the upload goes through them.
        match install.await {
            Ok(Ok(())) => println!(
                "test image ready: openstack server create --image {} …",
                test_image::IMAGE_NAME
            ),
            Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "the test image could not be installed"),
            Err(e) => tracing::error!(error = %e, "the test image installer failed"),
        }
    }
    shutdown_signal().await;
    let _ = stop.send(true);
    while let Some(done) = servers.join_next().await {
        if let Ok((name, Err(e))) = done {
            tracing::error!(service = name, error = %e, "server failed");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// A compute agent in this process, its guests (or the fake driver's
/// record of them) kept under `state_path` so a restart finds them again.
pub async fn start_agent(
    state_path: &Path,
    bus: bus::Bus,
    local: &LocalCompute,
) -> anyhow::Result<compute_agent::Agent> {
    let state = state_path.join("compute");
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let driver: std::sync::Arc<dyn compute_agent::Driver> = match &local.driver {
        ComputeDriver::Fake { delay } => std::sync::Arc::new(
            compute_agent::FakeDriver::persistent(state.join("fake-guests"))
                .context("opening the fake driver's state")?
                .with_node(local.host.clone())
                .with_delay(*delay),
        ),
        ComputeDriver::Qemu {
            virt_type,
            instances_path,
            shutdown_timeout,
        } => {
            let path = instances_path.clone().unwrap_or_else(|| state_path.join("instances"));
            let mut config = compute_agent::QemuConfig::new(path, local.host.clone());
            config.virt_type = *virt_type;
            if let Some(t) = shutdown_timeout {
                config.shutdown_timeout = *t;
            }
            std::sync::Arc::new(
                compute_agent::QemuDriver::new(config)
                    .await
                    .context("starting the qemu driver")?,
            )
        }
    };
    let mut config = compute_agent::AgentConfig::new(local.host.clone());
    config.report_interval = local.report_interval;
    config.allocation = local.allocation.clone();
    config.instance_usage_audit = local.instance_usage_audit;
    compute_agent::Agent::start(config, bus, driver)
        .await
        .context("starting the compute agent")
}

/// Object storage (Swift proxy and servers, one device under the data
/// directory or the devices of its ring; expirer, replicator, auditor) on
/// port 8080, registered as `object-store`.
async fn object_storage(site: &Site) -> anyhow::Result<Served> {
    let dir = site.dir.join("object-storage");
    let mut config = object_storage::ObjectStorageConfig::new(dir.join("d0"));
    // The operator's ring (`oxistack manage ring`), when there is one.
    config.ring_file = Some(object_storage::ObjectStorageConfig::default_ring_file(&dir));
    let service = object_storage::ObjectStorage::start(config, site.db("object-storage").await?)
        .await
        .context("starting object storage")?;
    let url = format!("{}/v1/AUTH_%(project_id)s", site.url(object_storage::PORT));
    site.identity
        .register_service("object-store", "swift", &site.region, &url)
        .await
        .context("registering object storage in the catalog")?;
    service.spawn_background();
    Ok(Served {
        name: "object-storage",
        port: object_storage::PORT + site.port_offset,
        router: service.router(site.token_auth()),
    })
}

#[cfg(test)]
mod tests {
    use super::compute_driver_choice;

    #[test]
    fn a_restart_without_flags_keeps_the_driver_of_the_last_start() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(compute_driver_choice(dir.path(), None, false).unwrap(), "fake");
        assert_eq!(compute_driver_choice(dir.path(), None, true).unwrap(), "qemu");
        assert_eq!(compute_driver_choice(dir.path(), None, false).unwrap(), "qemu");
        assert_eq!(
            compute_driver_choice(dir.path(), Some("fake".into()), false).unwrap(),
            "fake"
        );
        assert_eq!(compute_driver_choice(dir.path(), None, false).unwrap(), "fake");
    }
}
