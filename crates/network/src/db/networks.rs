//! `networks`, with their segment (`network_type`, `physical_network`,
//! `segmentation_id`) in the same row: one segment per network, its
//! uniqueness held by `segment_key`.

use serde_json::Value;
use store::sqlx::{self, Row};
use store::{AnyRow, Db, flag};

use super::{Conn, get_bool, get_json, json_text, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct NetworkRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub mtu: i64,
    pub port_security_enabled: bool,
    pub network_type: String,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<i64>,
    pub availability_zone_hints: Vec<String>,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl NetworkRow {
    /// The key that makes a segment unique: a VNI, or a flat network's
    /// physical network; local networks have none.
    pub fn segment_key(&self) -> Option<String> {
        match (self.network_type.as_str(), &self.physical_network, self.segmentation_id) {
            ("flat", Some(phys), _) => Some(format!("flat:{phys}")),
            (t, _, Some(id)) => Some(format!("{t}:{id}")),
            _ => None,
        }
    }
}

const COLUMNS: &str = "id, project_id, name, description, admin_state_up, shared, router_external, mtu, \
                       port_security_enabled, network_type, physical_network, segmentation_id, \
                       availability_zone_hints, revision_number, created_at, updated_at";

fn row(r: &AnyRow) -> Result<NetworkRow> {
    let hints = match get_json(r, "availability_zone_hints")? {
        Value::Array(a) => a.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    Ok(NetworkRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        admin_state_up: get_bool(r, "admin_state_up")?,
        shared: get_bool(r, "shared")?,
        external: get_bool(r, "router_external")?,
        mtu: r.try_get("mtu")?,
        port_security_enabled: get_bool(r, "port_security_enabled")?,
        network_type: r.try_get("network_type")?,
        physical_network: r.try_get("physical_network")?,
        segmentation_id: r.try_get("segmentation_id")?,
        availability_zone_hints: hints,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get(db: &Db, c: &mut Conn, id: &str) -> Result<Option<NetworkRow>> {
    let q = format!("SELECT {COLUMNS} FROM networks WHERE id = ?");
    let r = sqlx::query(db.sql(&q)).bind(id).fetch_optional(&mut *c).await?;
    r.as_ref().map(row).transpose()
}

/// Every network (`visible_to` None), or those of a project plus the
/// shared and external ones.
pub async fn list(db: &Db, c: &mut Conn, visible_to: Option<&str>) -> Result<Vec<NetworkRow>> {
    let rows = match visible_to {
        None => {
            let q = format!("SELECT {COLUMNS} FROM networks");
            sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?
        }
        Some(p) => {
            let q = format!("SELECT {COLUMNS} FROM networks WHERE project_id = ? OR shared = 1 OR router_external = 1");
            sqlx::query(db.sql(&q)).bind(p).fetch_all(&mut *c).await?
        }
    };
    rows.iter().map(row).collect()
}

pub async fn insert(db: &Db, c: &mut Conn, n: &NetworkRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO networks (id, project_id, name, description, admin_state_up, shared, router_external, mtu, \
         port_security_enabled, network_type, physical_network, segmentation_id, segment_key, \
         availability_zone_hints, allocation_lock, revision_number, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
    ))
    .bind(&n.id)
    .bind(&n.project_id)
    .bind(&n.name)
    .bind(&n.description)
    .bind(flag(n.admin_state_up))
    .bind(flag(n.shared))
    .bind(flag(n.external))
    .bind(n.mtu)
    .bind(flag(n.port_security_enabled))
    .bind(&n.network_type)
    .bind(n.physical_network.as_deref())
    .bind(n.segmentation_id)
    .bind(n.segment_key())
    .bind(json_text(&Value::from(n.availability_zone_hints.clone())))
    .bind(n.revision_number)
    .bind(n.created_at)
    .bind(n.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Writes the mutable attributes and bumps the revision.
pub async fn update(db: &Db, c: &mut Conn, n: &NetworkRow) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE networks SET name = ?, description = ?, admin_state_up = ?, shared = ?, router_external = ?, \
         mtu = ?, port_security_enabled = ?, revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
    ))
    .bind(&n.name)
    .bind(&n.description)
    .bind(flag(n.admin_state_up))
    .bind(flag(n.shared))
    .bind(flag(n.external))
    .bind(n.mtu)
    .bind(flag(n.port_security_enabled))
    .bind(now())
    .bind(&n.id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// A change that is not the network's own (a tag, a subnet): a new
/// revision.
pub async fn bump_revision(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("UPDATE networks SET revision_number = revision_number + 1, updated_at = ? WHERE id = ?"))
        .bind(now())
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Takes the network's allocation lock for the rest of the transaction;
/// false when the network is gone. Must be the transaction's first
/// statement, so that MySQL's snapshot is taken after the lock.
pub async fn lock(db: &Db, c: &mut Conn, id: &str) -> Result<bool> {
    let r = sqlx::query(db.sql("UPDATE networks SET allocation_lock = allocation_lock + 1 WHERE id = ?"))
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn delete(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM networks WHERE id = ?"))
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The segmentation ids taken by networks of `network_type`.
pub async fn used_segmentation_ids(db: &Db, c: &mut Conn, network_type: &str) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        db.sql("SELECT segmentation_id FROM networks WHERE network_type = ? AND segmentation_id IS NOT NULL"),
    )
    .bind(network_type)
    .fetch_all(&mut *c)
    .await?)
}
