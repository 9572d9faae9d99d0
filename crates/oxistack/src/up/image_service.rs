//! The image service in `oxistack up`: Glance v2 on port 9292, its
//! database, a filesystem store under the data directory (or
//! `--image-store-dir`), quotas from identity's unified limits, registered
//! in the catalog as `image`.

use std::sync::Arc;

use anyhow::Context;

use super::{Served, Site};

pub const IMAGE_PORT: u16 = 9292;

pub async fn image(
    site: &Site,
    store_dir: Option<std::path::PathBuf>,
    convert_to: Option<String>,
) -> anyhow::Result<Served> {
    let url = site.url(IMAGE_PORT);
    let mut config = ::image::ImageConfig::new(url.clone(), site.dir.join("image"));
    if let Some(dir) = store_dir {
        config.store_dir = dir;
    }
    config.convert_to = convert_to;
    let limits: Arc<dyn ::image::quota::LimitSource> = Arc::new(::image::quota::IdentityLimits {
        identity: site.identity.clone(),
        region: Some(site.region.clone()),
    });
    let service = ::image::Image::start(config, site.db("image").await?, site.token_auth(), Some(limits))
        .await
        .context("starting the image service")?;
    site.identity
        .register_service("image", "glance", &site.region, &url)
        .await
        .context("registering the image service in the catalog")?;
    Ok(Served {
        name: "image",
        port: IMAGE_PORT + site.port_offset,
        router: service.router(),
    })
}
