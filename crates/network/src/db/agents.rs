//! `agents` (one row per agent type and host, kept up to date by their
//! heartbeats) and the `status` of ports and floating IPs, which agents
//! report.

use serde_json::Value;
use store::sqlx::{self, Row};
use store::{AnyRow, Db, flag};

use super::{Conn, get_bool, get_json, json_text, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct AgentRow {
    pub id: String,
    pub agent_type: String,
    pub binary: String,
    pub topic: String,
    pub host: String,
    pub admin_state_up: bool,
    pub description: String,
    pub configurations: Value,
    pub created_at: i64,
    pub started_at: i64,
    pub heartbeat_timestamp: i64,
}

// `binary` is a keyword of MySQL, hence `binary_name`.
const COLUMNS: &str = "id, agent_type, binary_name, topic, host, admin_state_up, description, configurations, \
                       created_at, started_at, heartbeat_timestamp";

fn row(r: &AnyRow) -> Result<AgentRow> {
    Ok(AgentRow {
        id: r.try_get("id")?,
        agent_type: r.try_get("agent_type")?,
        binary: r.try_get("binary_name")?,
        topic: r.try_get("topic")?,
        host: r.try_get("host")?,
        admin_state_up: get_bool(r, "admin_state_up")?,
        description: r.try_get("description")?,
        configurations: get_json(r, "configurations")?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        heartbeat_timestamp: r.try_get("heartbeat_timestamp")?,
    })
}

pub async fn get(db: &Db, c: &mut Conn, id: &str) -> Result<Option<AgentRow>> {
    let q = format!("SELECT {COLUMNS} FROM agents WHERE id = ?");
    let r = sqlx::query(db.sql(&q)).bind(id).fetch_optional(&mut *c).await?;
    r.as_ref().map(row).transpose()
}

pub async fn of_type_and_host(db: &Db, c: &mut Conn, agent_type: &str, host: &str) -> Result<Option<AgentRow>> {
    let q = format!("SELECT {COLUMNS} FROM agents WHERE agent_type = ? AND host = ?");
    let r = sqlx::query(db.sql(&q))
        .bind(agent_type)
        .bind(host)
        .fetch_optional(&mut *c)
        .await?;
    r.as_ref().map(row).transpose()
}

pub async fn list(db: &Db, c: &mut Conn) -> Result<Vec<AgentRow>> {
    let q = format!("SELECT {COLUMNS} FROM agents ORDER BY host, agent_type");
    let rows = sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?;
    rows.iter().map(row).collect()
}

pub async fn insert(db: &Db, c: &mut Conn, a: &AgentRow) -> Result<()> {
    let q = format!("INSERT INTO agents ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    sqlx::query(db.sql(&q))
        .bind(&a.id)
        .bind(&a.agent_type)
        .bind(&a.binary)
        .bind(&a.topic)
        .bind(&a.host)
        .bind(flag(a.admin_state_up))
        .bind(&a.description)
        .bind(json_text(&a.configurations))
        .bind(a.created_at)
        .bind(a.started_at)
        .bind(a.heartbeat_timestamp)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Writes every column but the id, the type, the host and `created_at`.
pub async fn update(db: &Db, c: &mut Conn, a: &AgentRow) -> Result<()> {
    let q = "UPDATE agents SET binary_name = ?, topic = ?, admin_state_up = ?, description = ?, configurations = ?, \
             started_at = ?, heartbeat_timestamp = ? WHERE id = ?";
    sqlx::query(db.sql(q))
        .bind(&a.binary)
        .bind(&a.topic)
        .bind(flag(a.admin_state_up))
        .bind(&a.description)
        .bind(json_text(&a.configurations))
        .bind(a.started_at)
        .bind(a.heartbeat_timestamp)
        .bind(&a.id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Whether there was such an agent.
pub async fn delete(db: &Db, c: &mut Conn, id: &str) -> Result<bool> {
    let done = sqlx::query(db.sql("DELETE FROM agents WHERE id = ?"))
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Sets a port's status; a change bumps its revision, as Neutron's does.
/// Whether the port changed.
pub async fn set_port_status(db: &Db, c: &mut Conn, port_id: &str, status: &str) -> Result<bool> {
    let q = "UPDATE ports SET status = ?, revision_number = revision_number + 1, updated_at = ? \
             WHERE id = ? AND status <> ?";
    let done = sqlx::query(db.sql(q))
        .bind(status)
        .bind(now())
        .bind(port_id)
        .bind(status)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Sets the status of the floating IPs a router carries (associated ones);
/// a change bumps the revision. How many changed.
pub async fn set_router_floating_ip_status(db: &Db, c: &mut Conn, router_id: &str, status: &str) -> Result<u64> {
    let q = "UPDATE floatingips SET status = ?, revision_number = revision_number + 1, updated_at = ? \
             WHERE router_id = ? AND status <> ?";
    let done = sqlx::query(db.sql(q))
        .bind(status)
        .bind(now())
        .bind(router_id)
        .bind(status)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected())
}

/// Floating IPs no longer associated are `DOWN`. How many changed.
pub async fn set_unassociated_floating_ips_down(db: &Db, c: &mut Conn) -> Result<u64> {
    let q = "UPDATE floatingips SET status = 'DOWN', revision_number = revision_number + 1, updated_at = ? \
             WHERE router_id IS NULL AND status <> 'DOWN'";
    let done = sqlx::query(db.sql(q)).bind(now()).execute(&mut *c).await?;
    Ok(done.rows_affected())
}
