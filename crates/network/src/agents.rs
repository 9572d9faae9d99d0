//! Agents: the network agents known to the service, each kept by its
//! heartbeats (`report_state` on the bus, see [`crate::rpc`]), as
//! Neutron's `agents` table. One agent process reports three rows —
//! "Linux bridge agent", "DHCP agent" and "L3 agent" — because it does
//! those three agents' jobs and clients filter agents by these types
//! (`openstack network agent list --agent-type dhcp`). An agent is
//! `alive` when its last heartbeat is younger than `agent_down_time`.
//!
//! `admin_state_up` and `description` are the operator's to change; the
//! state an agent builds does not depend on them yet (Neutron's schedulers
//! skip agents that are administratively down; there is no scheduler here:
//! each agent serves DHCP and routers for its own host).

use std::time::Duration;

use serde_json::Value;

use crate::db::agents::{self as q, AgentRow};
use crate::db::now;
use crate::error::{NetworkError, Result};
use crate::{Network, db};

pub use network_agent::rpc::AgentState;

/// An agent as the API shows it.
#[derive(Clone, Debug)]
pub struct Agent {
    pub row: AgentRow,
    pub alive: bool,
}

#[derive(Clone, Debug, Default)]
pub struct AgentChanges {
    pub admin_state_up: Option<bool>,
    pub description: Option<String>,
}

fn not_found(id: &str) -> NetworkError {
    NetworkError::not_found("AgentNotFound", format!("Agent {id} could not be found."))
}

fn shown(n: &Network, row: AgentRow) -> Agent {
    let alive = is_alive(now(), row.heartbeat_timestamp, n.config.agent_down_time);
    Agent { row, alive }
}

/// Whether a heartbeat at `heartbeat` (µs) is recent enough at `now`.
pub fn is_alive(now: i64, heartbeat: i64, down_time: Duration) -> bool {
    let down_time = i64::try_from(down_time.as_micros()).unwrap_or(i64::MAX);
    now.saturating_sub(heartbeat) < down_time
}

/// Records a heartbeat: the agent's row is made on its first report and
/// refreshed on each; `start_flag` moves `started_at`.
pub async fn report(n: &Network, state: &AgentState) -> Result<()> {
    if state.host.is_empty() || state.agent_type.is_empty() {
        return Err(NetworkError::bad(
            "InvalidInput",
            "report_state needs a host and an agent_type",
        ));
    }
    let configurations = match &state.configurations {
        Value::Null => Value::Object(Default::default()),
        v => v.clone(),
    };
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        let t = now();
        match q::of_type_and_host(&n.db, &mut tx, &state.agent_type, &state.host).await? {
            Some(mut row) => {
                row.binary.clone_from(&state.binary);
                row.topic.clone_from(&state.topic);
                row.configurations = configurations.clone();
                row.heartbeat_timestamp = t;
                if state.start_flag {
                    row.started_at = t;
                }
                q::update(&n.db, &mut tx, &row).await?;
            }
            None => {
                let row = AgentRow {
                    id: uuid::Uuid::new_v4().to_string(),
                    agent_type: state.agent_type.clone(),
                    binary: state.binary.clone(),
                    topic: state.topic.clone(),
                    host: state.host.clone(),
                    admin_state_up: true,
                    description: String::new(),
                    configurations: configurations.clone(),
                    created_at: t,
                    started_at: t,
                    heartbeat_timestamp: t,
                };
                // Two first reports racing: the loser's insert hits the
                // unique key and its next try updates.
                q::insert(&n.db, &mut tx, &row).await.map_err(|e| match e {
                    NetworkError::Store(store::StoreError::Conflict(_)) => NetworkError::Retry("agent"),
                    other => other,
                })?;
            }
        }
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub async fn list(n: &Network) -> Result<Vec<Agent>> {
    let mut c = n.reader().await?;
    Ok(q::list(&n.db, &mut c).await?.into_iter().map(|r| shown(n, r)).collect())
}

pub async fn get(n: &Network, id: &str) -> Result<Agent> {
    let mut c = n.reader().await?;
    let row = q::get(&n.db, &mut c, id).await?.ok_or_else(|| not_found(id))?;
    Ok(shown(n, row))
}

pub async fn update(n: &Network, id: &str, ch: AgentChanges) -> Result<Agent> {
    let mut tx = n.begin().await?;
    let mut row = q::get(&n.db, &mut tx, id).await?.ok_or_else(|| not_found(id))?;
    if let Some(up) = ch.admin_state_up {
        row.admin_state_up = up;
    }
    if let Some(d) = ch.description {
        row.description = d;
    }
    q::update(&n.db, &mut tx, &row).await?;
    tx.commit().await?;
    Ok(shown(n, row))
}

/// Forgets an agent; a live one comes back with its next heartbeat, as in
/// Neutron.
pub async fn delete(n: &Network, id: &str) -> Result<()> {
    let mut tx = n.begin().await?;
    if !q::delete(&n.db, &mut tx, id).await? {
        return Err(not_found(id));
    }
    tx.commit().await?;
    Ok(())
}

/// Sets the status agents report for ports bound to `host` (and routers'
/// ports): `up` become `ACTIVE`, `down` become `DOWN`. Ports bound
/// elsewhere (or gone) are left alone, so that an agent cannot flip
/// another host's ports. Returns how
/// many changed.
pub async fn set_port_status(n: &Network, host: &str, up: &[String], down: &[String]) -> Result<usize> {
    let mut tx = n.begin().await?;
    let mut changed = 0;
    for (ids, status) in [
        (up, network_agent::rpc::PORT_ACTIVE),
        (down, network_agent::rpc::PORT_DOWN),
    ] {
        for id in ids {
            let Some(port) = db::ports::get(&n.db, &mut tx, id).await? else {
                continue;
            };
            // Router ports are bound to no host: the one L3 agent reports
            // them (there is no router scheduler binding them).
            let routers_port = port.binding_host_id.is_empty() && port.device_owner.starts_with("network:router");
            if port.binding_host_id != host && !routers_port {
                tracing::debug!(port_id = %id, host, "status report for a port bound elsewhere ignored");
                continue;
            }
            if q::set_port_status(&n.db, &mut tx, id, status).await? {
                changed += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(changed)
}

/// Sets the floating IPs of the routers an agent built `ACTIVE` and of
/// those it failed `DOWN`, and unassociated ones `DOWN` (Neutron's L3
/// agent reports the same through `update_floatingip_statuses`). How many
/// changed.
pub async fn set_floating_ip_status(n: &Network, routers_up: &[String], routers_down: &[String]) -> Result<u64> {
    let mut tx = n.begin().await?;
    let mut changed = 0;
    for (ids, status) in [(routers_up, "ACTIVE"), (routers_down, "DOWN")] {
        for id in ids {
            changed += q::set_router_floating_ip_status(&n.db, &mut tx, id, status).await?;
        }
    }
    changed += q::set_unassociated_floating_ips_down(&n.db, &mut tx).await?;
    tx.commit().await?;
    Ok(changed)
}

/// How long an agent may stay silent and still be `alive`: Neutron's
/// `agent_down_time`.
pub fn default_down_time() -> Duration {
    network_agent::rpc::AGENT_DOWN_TIME
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_means_a_heartbeat_within_agent_down_time() {
        let down = Duration::from_secs(75);
        let now = 1_000_000_000;
        assert!(is_alive(now, now, down));
        assert!(is_alive(now, now - 74_999_999, down));
        assert!(!is_alive(now, now - 75_000_000, down));
        assert!(!is_alive(now, 0, down));
    }
}
