//! `subnets`; allocation pools, DNS servers and host routes as JSON text.

use serde_json::{Value, json};
use store::sqlx::{self, Row};
use store::{AnyRow, Db, flag};

use super::{Conn, get_bool, get_json, json_text, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct SubnetRow {
    pub id: String,
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub ip_version: u8,
    pub cidr: String,
    pub gateway_ip: Option<String>,
    pub enable_dhcp: bool,
    pub ipv6_ra_mode: Option<String>,
    pub ipv6_address_mode: Option<String>,
    /// `(start, end)` pairs.
    pub allocation_pools: Vec<(String, String)>,
    pub dns_nameservers: Vec<String>,
    /// `(destination, nexthop)` pairs.
    pub host_routes: Vec<(String, String)>,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "s.id, s.project_id, s.network_id, s.name, s.description, s.ip_version, s.cidr, \
                       s.gateway_ip, s.enable_dhcp, s.ipv6_ra_mode, s.ipv6_address_mode, s.allocation_pools, \
                       s.dns_nameservers, s.host_routes, s.revision_number, s.created_at, s.updated_at";

fn pairs(v: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    v.as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    let s = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
                    (s(a), s(b))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn row(r: &AnyRow) -> Result<SubnetRow> {
    let dns = get_json(r, "dns_nameservers")?
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Ok(SubnetRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        network_id: r.try_get("network_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        ip_version: if r.try_get::<i64, _>("ip_version")? == 6 { 6 } else { 4 },
        cidr: r.try_get("cidr")?,
        gateway_ip: r.try_get("gateway_ip")?,
        enable_dhcp: get_bool(r, "enable_dhcp")?,
        ipv6_ra_mode: r.try_get("ipv6_ra_mode")?,
        ipv6_address_mode: r.try_get("ipv6_address_mode")?,
        allocation_pools: pairs(&get_json(r, "allocation_pools")?, "start", "end"),
        dns_nameservers: dns,
        host_routes: pairs(&get_json(r, "host_routes")?, "destination", "nexthop"),
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn pools_json(s: &SubnetRow) -> String {
    json_text(&Value::from(
        s.allocation_pools
            .iter()
            .map(|(a, b)| json!({"start": a, "end": b}))
            .collect::<Vec<_>>(),
    ))
}

fn routes_json(s: &SubnetRow) -> String {
    json_text(&Value::from(
        s.host_routes
            .iter()
            .map(|(d, n)| json!({"destination": d, "nexthop": n}))
            .collect::<Vec<_>>(),
    ))
}

pub async fn get(db: &Db, c: &mut Conn, id: &str) -> Result<Option<SubnetRow>> {
    let q = format!("SELECT {COLUMNS} FROM subnets s WHERE s.id = ?");
    let r = sqlx::query(db.sql(&q)).bind(id).fetch_optional(&mut *c).await?;
    r.as_ref().map(row).transpose()
}

/// Every subnet (`visible_to` None), or a project's plus those on shared
/// and external networks.
pub async fn list(db: &Db, c: &mut Conn, visible_to: Option<&str>) -> Result<Vec<SubnetRow>> {
    let rows = match visible_to {
        None => {
            let q = format!("SELECT {COLUMNS} FROM subnets s");
            sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?
        }
        Some(p) => {
            let q = format!(
                "SELECT {COLUMNS} FROM subnets s JOIN networks n ON n.id = s.network_id \
                 WHERE s.project_id = ? OR n.shared = 1 OR n.router_external = 1"
            );
            sqlx::query(db.sql(&q)).bind(p).fetch_all(&mut *c).await?
        }
    };
    rows.iter().map(row).collect()
}

/// The subnets of a network, oldest first (the order Neutron allocates in).
pub async fn of_network(db: &Db, c: &mut Conn, network_id: &str) -> Result<Vec<SubnetRow>> {
    let q = format!("SELECT {COLUMNS} FROM subnets s WHERE s.network_id = ? ORDER BY s.created_at, s.id");
    let rows = sqlx::query(db.sql(&q)).bind(network_id).fetch_all(&mut *c).await?;
    rows.iter().map(row).collect()
}

/// Subnet ids per network, for rendering networks.
pub async fn ids_by_network(db: &Db, c: &mut Conn) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(db.sql("SELECT network_id, id FROM subnets ORDER BY created_at, id"))
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("network_id")?, r.try_get("id")?)))
        .collect()
}

pub async fn insert(db: &Db, c: &mut Conn, s: &SubnetRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO subnets (id, project_id, network_id, name, description, ip_version, cidr, gateway_ip, \
         enable_dhcp, ipv6_ra_mode, ipv6_address_mode, allocation_pools, dns_nameservers, host_routes, \
         revision_number, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&s.id)
    .bind(&s.project_id)
    .bind(&s.network_id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(i64::from(s.ip_version))
    .bind(&s.cidr)
    .bind(s.gateway_ip.as_deref())
    .bind(flag(s.enable_dhcp))
    .bind(s.ipv6_ra_mode.as_deref())
    .bind(s.ipv6_address_mode.as_deref())
    .bind(pools_json(s))
    .bind(json_text(&Value::from(s.dns_nameservers.clone())))
    .bind(routes_json(s))
    .bind(s.revision_number)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Writes the mutable attributes and bumps the revision.
pub async fn update(db: &Db, c: &mut Conn, s: &SubnetRow) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE subnets SET name = ?, description = ?, gateway_ip = ?, enable_dhcp = ?, allocation_pools = ?, \
         dns_nameservers = ?, host_routes = ?, revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
    ))
    .bind(&s.name)
    .bind(&s.description)
    .bind(s.gateway_ip.as_deref())
    .bind(flag(s.enable_dhcp))
    .bind(pools_json(s))
    .bind(json_text(&Value::from(s.dns_nameservers.clone())))
    .bind(routes_json(s))
    .bind(now())
    .bind(&s.id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn bump_revision(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("UPDATE subnets SET revision_number = revision_number + 1, updated_at = ? WHERE id = ?"))
        .bind(now())
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM subnets WHERE id = ?"))
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
