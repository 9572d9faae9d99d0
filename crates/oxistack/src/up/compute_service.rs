//! The compute service in `oxistack up`: Nova's API on port 8774, its
//! database, the conductor on the site's bus, its own service user `nova`
//! (password kept in the data directory as `nova-password`) for
//! placement, the default flavors, registered in the catalog as `compute`
//! at `{url}/v2.1`. Starts after placement, image and network, which it
//! calls.

use anyhow::Context;

use super::{Served, Site};

pub const COMPUTE_PORT: u16 = 8774;

fn service_password(site: &Site) -> anyhow::Result<String> {
    let file = site.dir.join("nova-password");
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

pub async fn compute(site: &Site, controller_host: &str) -> anyhow::Result<Served> {
    let url = site.url(COMPUTE_PORT);
    let password = service_password(site)?;
    site.identity
        .ensure_service_user("nova", &password)
        .await
        .context("creating the compute service user")?;
    let creds = ::compute::config::ServiceCredentials {
        auth_url: site.identity.base_url().to_owned(),
        username: "nova".into(),
        password,
        user_domain_name: "Default".into(),
        project_name: "service".into(),
        project_domain_name: "Default".into(),
    };
    let mut config = ::compute::ComputeConfig::new(
        url.clone(),
        site.url(super::placement_service::PLACEMENT_PORT),
        site.url(super::image_service::IMAGE_PORT),
        creds,
    );
    config.service_down_time = site.service_down_time;
    config.controller_host = controller_host.to_owned();
    // Servers get Neutron ports from the network service `up` serves too;
    // the network agent on the compute agent's host plugs their taps.
    config.network_url = Some(site.url(super::network_service::NETWORK_PORT));
    // Block storage is served by the same `up` (Nova's `[cinder]`).
    config.volume_url = Some(site.url(super::block_storage_service::BLOCK_STORAGE_PORT));
    let service = ::compute::Compute::start(config, site.db("compute").await?, site.token_auth(), site.bus.clone())
        .await
        .context("starting the compute service")?;
    service
        .ensure_default_flavors()
        .await
        .context("creating the default flavors")?;
    site.identity
        .register_service("compute", "nova", &site.region, &format!("{url}/v2.1"))
        .await
        .context("registering the compute service in the catalog")?;
    Ok(Served {
        name: "compute",
        port: COMPUTE_PORT + site.port_offset,
        router: service.router(),
    })
}
