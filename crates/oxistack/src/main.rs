//! The `oxistack` binary: the one composition root of the cloud.
//!
//! - `oxistack up` — every service of the cloud in one process on embedded
//!   defaults (SQLite in a data directory), bootstrapped on first start, with
//!   a `clouds.yaml` and an `openrc` written for the `openstack` CLI;
//! - `oxistack serve --config FILE --roles controller|compute` — one node
//!   of a scale-out cloud (PostgreSQL or MariaDB, RabbitMQ);
//! - `oxistack manage …` — the operator's one-off jobs (`db-sync`,
//!   `fernet-setup`, `fernet-rotate`), as `keystone-manage` has them, and
//!   `ring`, as `swift-ring-builder`.
//!
//! Services are wired here and nowhere else: each service crate exposes a
//! constructor and a router, and this file decides which run, on which port,
//! against which database.

mod ring;
mod serve;
mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "oxistack", version, about = "An OpenStack-compatible cloud in one binary")]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the all-in-one cloud on embedded defaults.
    Up(up::UpArgs),
    /// Run this node's roles (controller, compute) of a scale-out cloud,
    /// configured by an INI file: PostgreSQL or MariaDB, RabbitMQ.
    Serve(serve::ServeArgs),
    /// Operator jobs: database migrations, Fernet keys.
    Manage {
        #[command(subcommand)]
        job: ManageJob,
    },
}

#[derive(Subcommand)]
enum ManageJob {
    /// Apply the database migrations of every service (each its own SQLite
    /// file, or all in `--database`).
    DbSync {
        #[arg(long, env = "OXISTACK_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Database URL (default: SQLite files in the data directory).
        #[arg(long)]
        database: Option<String>,
    },
    /// Create the Fernet key repository if it has no keys.
    FernetSetup {
        #[arg(long, env = "OXISTACK_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Rotate the Fernet keys: the staged key becomes primary. A running
    /// cloud picks the new keys up within 30 seconds.
    FernetRotate {
        #[arg(long, env = "OXISTACK_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// `[fernet_tokens] max_active_keys`
        #[arg(long, default_value_t = 3)]
        max_active_keys: usize,
    },
    /// Remove what network agents built on this host — router and DHCP
    /// namespaces with their dnsmasq, `brq` bridges and their taps, the
    /// security group chains — as Neutron's netns-cleanup and
    /// linuxbridge-cleanup do. Run it with the cloud stopped; guests on
    /// those bridges lose their network.
    NetworkCleanup {
        #[arg(long, env = "OXISTACK_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// The object ring (swift-ring-builder): create, add, set-weight,
    /// remove, rebalance, show.
    Ring {
        #[arg(long, env = "OXISTACK_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// Default `<data dir>/object-storage/object.ring.json`.
        #[arg(long, global = true)]
        ring_file: Option<PathBuf>,
        #[command(subcommand)]
        job: ring::RingJob,
    },
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Manage { job } => manage(job).await,
        }
    })
}

async fn manage(job: ManageJob) -> anyhow::Result<()> {
    match job {
        ManageJob::DbSync { data_dir, database } => {
            let dir = up::data_dir(data_dir)?;
            for service in up::DATABASES {
                let db = store::Db::connect(&up::database_url(&dir, database.as_deref(), service)).await?;
                up::migrate(service, &db).await?;
                println!("{service}: database up to date");
            }
        }
        ManageJob::FernetSetup { data_dir } => {
            let dir = up::data_dir(data_dir)?;
            identity::token::fernet_keys::KeyRepository::new(dir.join("fernet-keys")).setup()?;
            println!("fernet keys ready in {}", dir.join("fernet-keys").display());
        }
        ManageJob::FernetRotate {
            data_dir,
            max_active_keys,
        } => {
            let dir = up::data_dir(data_dir)?;
            let repo = identity::token::fernet_keys::KeyRepository::new(dir.join("fernet-keys"));
            repo.setup()?;
            repo.rotate(max_active_keys)?;
            println!("fernet keys rotated in {}", dir.join("fernet-keys").display());
        }
        ManageJob::NetworkCleanup { data_dir } => {
            let dir = up::data_dir(data_dir)?;
            let state_dir = up::network_service::agent_state_dir(&dir);
            let removed = network_agent::clean_host(&state_dir, None).await?;
            println!("removed {} namespaces, bridges and taps", removed.len());
        }
        ManageJob::Ring {
            data_dir,
            ring_file,
            job,
        } => {
            let file = match ring_file {
                Some(f) => f,
                None => ring::ring_file(&up::data_dir(data_dir)?),
            };
            ring::run(&file, job)?;
        }
    }
    Ok(())
}
