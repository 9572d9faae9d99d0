//! `ports`, their `ip_allocations` and `port_security_groups`.

use std::collections::HashMap;

use serde_json::Value;
use store::sqlx::{self, Row};
use store::{AnyRow, Db, flag, placeholders};

use super::{Conn, get_bool, get_json, json_text, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct PortRow {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub mac_address: String,
    pub admin_state_up: bool,
    pub status: String,
    pub device_id: String,
    pub device_owner: String,
    pub port_security_enabled: bool,
    /// `(ip_address, mac_address)` pairs.
    pub allowed_address_pairs: Vec<(String, String)>,
    pub binding_host_id: String,
    pub binding_vnic_type: String,
    pub binding_profile: Value,
    pub dns_name: String,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// `(subnet_id, ip_address)`, read from `ip_allocations`.
    pub fixed_ips: Vec<(String, String)>,
    /// Read from `port_security_groups`.
    pub security_groups: Vec<String>,
}

const COLUMNS: &str = "p.id, p.project_id, p.network_id, p.name, p.description, p.mac_address, p.admin_state_up, \
                       p.status, p.device_id, p.device_owner, p.port_security_enabled, p.allowed_address_pairs, \
                       p.binding_host_id, p.binding_vnic_type, p.binding_profile, p.dns_name, p.revision_number, \
                       p.created_at, p.updated_at";

fn row(r: &AnyRow) -> Result<PortRow> {
    let pairs = get_json(r, "allowed_address_pairs")?
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let s = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
                    (s("ip_address"), s("mac_address"))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PortRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        network_id: r.try_get("network_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        mac_address: r.try_get("mac_address")?,
        admin_state_up: get_bool(r, "admin_state_up")?,
        status: r.try_get("status")?,
        device_id: r.try_get("device_id")?,
        device_owner: r.try_get("device_owner")?,
        port_security_enabled: get_bool(r, "port_security_enabled")?,
        allowed_address_pairs: pairs,
        binding_host_id: r.try_get("binding_host_id")?,
        binding_vnic_type: r.try_get("binding_vnic_type")?,
        binding_profile: get_json(r, "binding_profile")?,
        dns_name: r.try_get("dns_name")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        fixed_ips: Vec::new(),
        security_groups: Vec::new(),
    })
}

fn pairs_json(p: &PortRow) -> String {
    json_text(&Value::from(
        p.allowed_address_pairs
            .iter()
            .map(|(ip, mac)| serde_json::json!({"ip_address": ip, "mac_address": mac}))
            .collect::<Vec<_>>(),
    ))
}

/// Fills `fixed_ips` and `security_groups` of `ports`.
async fn attach(db: &Db, c: &mut Conn, ports: &mut [PortRow]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let mut ips: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in ports.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(|p| p.id.as_str()).collect();
        let q = format!(
            "SELECT port_id, subnet_id, ip_address FROM ip_allocations WHERE port_id IN ({})",
            placeholders(ids.len())
        );
        let q = db.sql(&q);
        let mut query = sqlx::query(q);
        for id in &ids {
            query = query.bind(*id);
        }
        for r in query.fetch_all(&mut *c).await? {
            ips.entry(r.try_get("port_id")?)
                .or_default()
                .push((r.try_get("subnet_id")?, r.try_get("ip_address")?));
        }
        let q = format!(
            "SELECT port_id, security_group_id FROM port_security_groups WHERE port_id IN ({})",
            placeholders(ids.len())
        );
        let q = db.sql(&q);
        let mut query = sqlx::query(q);
        for id in &ids {
            query = query.bind(*id);
        }
        for r in query.fetch_all(&mut *c).await? {
            groups
                .entry(r.try_get("port_id")?)
                .or_default()
                .push(r.try_get("security_group_id")?);
        }
    }
    for p in ports {
        p.fixed_ips = ips.remove(&p.id).unwrap_or_default();
        p.security_groups = groups.remove(&p.id).unwrap_or_default();
        p.security_groups.sort();
    }
    Ok(())
}

pub async fn get(db: &Db, c: &mut Conn, id: &str) -> Result<Option<PortRow>> {
    let q = format!("SELECT {COLUMNS} FROM ports p WHERE p.id = ?");
    let Some(r) = sqlx::query(db.sql(&q)).bind(id).fetch_optional(&mut *c).await? else {
        return Ok(None);
    };
    let mut ports = vec![row(&r)?];
    attach(db, c, &mut ports).await?;
    Ok(ports.pop())
}

/// Every port (`visible_to` None), or a project's plus the ports on its
/// networks.
pub async fn list(db: &Db, c: &mut Conn, visible_to: Option<&str>) -> Result<Vec<PortRow>> {
    let rows = match visible_to {
        None => {
            let q = format!("SELECT {COLUMNS} FROM ports p");
            sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?
        }
        Some(project) => {
            let q = format!(
                "SELECT {COLUMNS} FROM ports p JOIN networks n ON n.id = p.network_id \
                 WHERE p.project_id = ? OR n.project_id = ?"
            );
            sqlx::query(db.sql(&q))
                .bind(project)
                .bind(project)
                .fetch_all(&mut *c)
                .await?
        }
    };
    let mut ports = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
    attach(db, c, &mut ports).await?;
    Ok(ports)
}

pub async fn of_network(db: &Db, c: &mut Conn, network_id: &str) -> Result<Vec<PortRow>> {
    let q = format!("SELECT {COLUMNS} FROM ports p WHERE p.network_id = ?");
    let rows = sqlx::query(db.sql(&q)).bind(network_id).fetch_all(&mut *c).await?;
    let mut ports = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
    attach(db, c, &mut ports).await?;
    Ok(ports)
}

pub async fn mac_in_use(db: &Db, c: &mut Conn, network_id: &str, mac: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM ports WHERE network_id = ? AND mac_address = ?"))
        .bind(network_id)
        .bind(mac)
        .fetch_one(&mut *c)
        .await?;
    Ok(n > 0)
}

pub async fn insert(db: &Db, c: &mut Conn, p: &PortRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO ports (id, project_id, network_id, name, description, mac_address, admin_state_up, status, \
         device_id, device_owner, port_security_enabled, allowed_address_pairs, binding_host_id, \
         binding_vnic_type, binding_profile, dns_name, revision_number, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&p.id)
    .bind(&p.project_id)
    .bind(&p.network_id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.mac_address)
    .bind(flag(p.admin_state_up))
    .bind(&p.status)
    .bind(&p.device_id)
    .bind(&p.device_owner)
    .bind(flag(p.port_security_enabled))
    .bind(pairs_json(p))
    .bind(&p.binding_host_id)
    .bind(&p.binding_vnic_type)
    .bind(json_text(&p.binding_profile))
    .bind(&p.dns_name)
    .bind(p.revision_number)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Writes the mutable attributes and bumps the revision.
pub async fn update(db: &Db, c: &mut Conn, p: &PortRow) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE ports SET name = ?, description = ?, mac_address = ?, admin_state_up = ?, device_id = ?, \
         device_owner = ?, port_security_enabled = ?, allowed_address_pairs = ?, binding_host_id = ?, \
         binding_vnic_type = ?, binding_profile = ?, dns_name = ?, revision_number = revision_number + 1, \
         updated_at = ? WHERE id = ?",
    ))
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.mac_address)
    .bind(flag(p.admin_state_up))
    .bind(&p.device_id)
    .bind(&p.device_owner)
    .bind(flag(p.port_security_enabled))
    .bind(pairs_json(p))
    .bind(&p.binding_host_id)
    .bind(&p.binding_vnic_type)
    .bind(json_text(&p.binding_profile))
    .bind(&p.dns_name)
    .bind(now())
    .bind(&p.id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn bump_revision(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("UPDATE ports SET revision_number = revision_number + 1, updated_at = ? WHERE id = ?"))
        .bind(now())
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Removes a port with its addresses and group memberships.
pub async fn delete(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    for q in [
        "DELETE FROM ip_allocations WHERE port_id = ?",
        "DELETE FROM port_security_groups WHERE port_id = ?",
        "DELETE FROM ports WHERE id = ?",
    ] {
        sqlx::query(db.sql(q)).bind(id).execute(&mut *c).await?;
    }
    Ok(())
}

// --- addresses ---------------------------------------------------------------

/// The addresses taken on a network: `(subnet_id, ip_address, port_id)`.
pub async fn allocations_on_network(db: &Db, c: &mut Conn, network_id: &str) -> Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(db.sql("SELECT subnet_id, ip_address, port_id FROM ip_allocations WHERE network_id = ?"))
        .bind(network_id)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("subnet_id")?, r.try_get("ip_address")?, r.try_get("port_id")?)))
        .collect()
}

pub async fn insert_allocation(
    db: &Db,
    c: &mut Conn,
    subnet_id: &str,
    ip: &str,
    port_id: &str,
    network_id: &str,
) -> Result<()> {
    sqlx::query(db.sql("INSERT INTO ip_allocations (subnet_id, ip_address, port_id, network_id) VALUES (?, ?, ?, ?)"))
        .bind(subnet_id)
        .bind(ip)
        .bind(port_id)
        .bind(network_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn delete_allocation(db: &Db, c: &mut Conn, subnet_id: &str, ip: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM ip_allocations WHERE subnet_id = ? AND ip_address = ?"))
        .bind(subnet_id)
        .bind(ip)
        .execute(&mut *c)
        .await?;
    Ok(())
}

// --- security groups of ports ---------------------------------------------------

pub async fn set_security_groups(db: &Db, c: &mut Conn, port_id: &str, groups: &[String]) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM port_security_groups WHERE port_id = ?"))
        .bind(port_id)
        .execute(&mut *c)
        .await?;
    for g in groups {
        sqlx::query(db.sql("INSERT INTO port_security_groups (port_id, security_group_id) VALUES (?, ?)"))
            .bind(port_id)
            .bind(g)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn count_using_group(db: &Db, c: &mut Conn, group_id: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM port_security_groups WHERE security_group_id = ?"))
            .bind(group_id)
            .fetch_one(&mut *c)
            .await?,
    )
}

/// How many addresses each subnet has handed out, by subnet id.
pub async fn allocation_counts(db: &Db, c: &mut Conn) -> Result<HashMap<String, i64>> {
    let rows = sqlx::query(db.sql("SELECT subnet_id, COUNT(*) AS used FROM ip_allocations GROUP BY subnet_id"))
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("subnet_id")?, r.try_get("used")?)))
        .collect()
}
