//! The network service in `oxistack up`: Neutron v2.0 on port 9696, its
//! database, registered in the catalog as `network` (`neutron`) at the
//! unversioned root, as Neutron registers it: clients discover `v2.0`
//! from there. It answers its agents on the bus (topic `network`); the
//! agent of this node, when `up` runs one, is started by [`start_agent`].

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Served, Site};

pub const NETWORK_PORT: u16 = 9696;

pub async fn network(site: &Site) -> anyhow::Result<Served> {
    let url = site.url(NETWORK_PORT);
    let config = ::network::NetworkConfig::new(url.clone());
    let service = ::network::Network::start(config, site.db("network").await?, site.token_auth())
        .await
        .context("starting the network service")?;
    service
        .serve_agents(site.bus.clone())
        .await
        .context("starting the network RPC server on the bus")?;
    site.identity
        .register_service("network", "neutron", &site.region, &url)
        .await
        .context("registering the network service in the catalog")?;
    Ok(Served {
        name: "network",
        port: NETWORK_PORT + site.port_offset,
        router: service.router(),
    })
}

/// The network agent of this node: bridges, taps, dnsmasq, routers and
/// security groups for the ports bound to `host`.
pub async fn start_agent(site: &Site, host: &str) -> anyhow::Result<network_agent::NetworkAgent> {
    let config = network_agent::AgentConfig::new(host, agent_state_dir(&site.dir));
    network_agent::NetworkAgent::start(config, site.bus.clone())
        .await
        .context("starting the network agent")
}

/// Where the network agent of the cloud in `data_dir` keeps dnsmasq's
/// files: in the data directory, or under /run when other users cannot
/// reach it, since dnsmasq drops root and must still re-read them on a
/// reload. The agent keeps no record of its own, so losing /run at a
/// reboot loses nothing.
pub fn agent_state_dir(data_dir: &Path) -> PathBuf {
    if network_agent::agent::closed_dir(data_dir).is_none() {
        return data_dir.join("network-agent");
    }
    let mut digest = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(data_dir, &mut digest);
    PathBuf::from(format!(
        "/run/oxistack/network-agent-{:016x}",
        std::hash::Hasher::finish(&digest)
    ))
}
