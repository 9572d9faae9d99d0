//! Block storage in `oxistack up`: Cinder v3 on port 8776, its database,
//! the scheduler on the site's bus, registered in the catalog as
//! `block-storage` and `volumev3` (`cinderv3`) at
//! `{url}/v3/%(project_id)s`, as Cinder registers itself; and a volume
//! agent `<host>@file` with the file driver under
//! `<data dir>/block-storage`, run next to the local compute agent.
//! Its service user `cinder` (password kept in the data directory as
//! `cinder-password`) tells compute of extended attached volumes
//! (Cinder's `[nova]` section).

use std::sync::Arc;

use anyhow::Context;

use super::{Served, Site};

pub const BLOCK_STORAGE_PORT: u16 = 8776;

fn service_password(site: &Site) -> anyhow::Result<String> {
    let file = site.dir.join("cinder-password");
    if let Ok(p) = std::fs::read_to_string(&file) {
        return Ok(p.trim().to_owned());
    }
    use rand::Rng;
    let p: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    super::write_private(&file, &p)?;
    Ok(p)
}

pub async fn block_storage(site: &Site, controller_host: &str) -> anyhow::Result<Served> {
    let url = site.url(BLOCK_STORAGE_PORT);
    let mut config = ::block_storage::BlockStorageConfig::new(url.clone(), site.url(super::image_service::IMAGE_PORT));
    config.service_down_time = site.service_down_time;
    config.controller_host = controller_host.to_owned();
    let password = service_password(site)?;
    site.identity
        .ensure_service_user("cinder", &password)
        .await
        .context("creating the block-storage service user")?;
    config.service_credentials = Some(::block_storage::config::ServiceCredentials {
        auth_url: site.identity.base_url().to_owned(),
        username: "cinder".into(),
        password,
        user_domain_name: "Default".into(),
        project_name: "service".into(),
        project_domain_name: "Default".into(),
    });
    // Compute is served by the same `up`.
    config.compute_url = Some(site.url(super::compute_service::COMPUTE_PORT));
    let service = ::block_storage::BlockStorage::start(
        config,
        site.db("block-storage").await?,
        site.token_auth(),
        site.bus.clone(),
    )
    .await
    .context("starting the block-storage service")?;
    let endpoint = format!("{url}/v3/%(project_id)s");
    for (kind, name) in [("block-storage", "cinder"), ("volumev3", "cinderv3")] {
        site.identity
            .register_service(kind, name, &site.region, &endpoint)
            .await
            .context("registering block storage in the catalog")?;
    }
    Ok(Served {
        name: "block-storage",
        port: BLOCK_STORAGE_PORT + site.port_offset,
        router: service.router(),
    })
}

/// The volume agent of this node: `<node>@file`, volumes as files under
/// `<data dir>/block-storage`.
pub async fn start_volume_agent(site: &Site, node: &str) -> anyhow::Result<::block_storage::agent::Agent> {
    let root = site.dir.join("block-storage");
    // The compute agent of this node connects as `node`.
    let driver = ::block_storage::agent::driver::file::FileDriver::open(&root)
        .with_context(|| format!("opening the file volume driver at {}", root.display()))?
        .also_local(node);
    let config = ::block_storage::agent::AgentConfig::new(node, "file");
    ::block_storage::agent::Agent::start(config, site.bus.clone(), Arc::new(driver))
        .await
        .context("starting the volume agent")
}
