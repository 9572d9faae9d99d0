//! The placement service in `oxistack up`: Placement 1.x on port 8778,
//! its database, registered in the catalog as `placement`.

use anyhow::Context;

use super::{Served, Site};

pub const PLACEMENT_PORT: u16 = 8778;

pub async fn placement(site: &Site) -> anyhow::Result<Served> {
    let url = site.url(PLACEMENT_PORT);
    let config = ::placement::PlacementConfig::new(url.clone());
    let service = ::placement::Placement::start(config, site.db("placement").await?, site.token_auth())
        .await
        .context("starting the placement service")?;
    site.identity
        .register_service("placement", "placement", &site.region, &url)
        .await
        .context("registering the placement service in the catalog")?;
    Ok(Served {
        name: "placement",
        port: PLACEMENT_PORT + site.port_offset,
        router: service.router(),
    })
}
