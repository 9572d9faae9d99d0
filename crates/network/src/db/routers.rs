//! `routers`, the ports attached to them (`router_ports`: the gateway
//! and the interfaces, kept apart from the ports' own `device_id`, which
//! a client may rewrite) and their extra routes (`router_routes`).

use store::sqlx::{self, Row};
use store::{AnyRow, Db, flag};

use super::{Conn, get_bool, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct RouterRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub status: String,
    pub enable_snat: bool,
    pub gw_port_id: Option<String>,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, project_id, name, description, admin_state_up, status, enable_snat, gw_port_id, \
                       revision_number, created_at, updated_at";

fn row(r: &AnyRow) -> Result<RouterRow> {
    Ok(RouterRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        admin_state_up: get_bool(r, "admin_state_up")?,
        status: r.try_get("status")?,
        enable_snat: get_bool(r, "enable_snat")?,
        gw_port_id: r.try_get("gw_port_id")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get(db: &Db, c: &mut Conn, id: &str) -> Result<Option<RouterRow>> {
    let q = format!("SELECT {COLUMNS} FROM routers WHERE id = ?");
    let r = sqlx::query(db.sql(&q)).bind(id).fetch_optional(&mut *c).await?;
    r.as_ref().map(row).transpose()
}

/// Every router (`project` None), or a project's.
pub async fn list(db: &Db, c: &mut Conn, project: Option<&str>) -> Result<Vec<RouterRow>> {
    let rows = match project {
        None => {
            let q = format!("SELECT {COLUMNS} FROM routers");
            sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?
        }
        Some(p) => {
            let q = format!("SELECT {COLUMNS} FROM routers WHERE project_id = ?");
            sqlx::query(db.sql(&q)).bind(p).fetch_all(&mut *c).await?
        }
    };
    rows.iter().map(row).collect()
}

pub async fn insert(db: &Db, c: &mut Conn, r: &RouterRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO routers (id, project_id, name, description, admin_state_up, status, enable_snat, gw_port_id, \
         revision_number, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.name)
    .bind(&r.description)
    .bind(flag(r.admin_state_up))
    .bind(&r.status)
    .bind(flag(r.enable_snat))
    .bind(r.gw_port_id.as_deref())
    .bind(r.revision_number)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Writes the mutable attributes and bumps the revision; false when the
/// router is gone.
pub async fn update(db: &Db, c: &mut Conn, r: &RouterRow) -> Result<bool> {
    let done = sqlx::query(db.sql(
        "UPDATE routers SET name = ?, description = ?, admin_state_up = ?, enable_snat = ?, gw_port_id = ?, \
         revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
    ))
    .bind(&r.name)
    .bind(&r.description)
    .bind(flag(r.admin_state_up))
    .bind(flag(r.enable_snat))
    .bind(r.gw_port_id.as_deref())
    .bind(now())
    .bind(&r.id)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A new revision for a change that is not the row's own (an interface,
/// a tag). Also serializes the writers of one router: false when gone.
pub async fn bump_revision(db: &Db, c: &mut Conn, id: &str) -> Result<bool> {
    let done =
        sqlx::query(db.sql("UPDATE routers SET revision_number = revision_number + 1, updated_at = ? WHERE id = ?"))
            .bind(now())
            .bind(id)
            .execute(&mut *c)
            .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    for q in [
        "DELETE FROM router_routes WHERE router_id = ?",
        "DELETE FROM router_ports WHERE router_id = ?",
        "DELETE FROM routers WHERE id = ?",
    ] {
        sqlx::query(db.sql(q)).bind(id).execute(&mut *c).await?;
    }
    Ok(())
}

// --- attached ports -------------------------------------------------------------

/// `(port_id, port_type)` of a router's ports.
pub async fn ports_of(db: &Db, c: &mut Conn, router_id: &str) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(db.sql("SELECT port_id, port_type FROM router_ports WHERE router_id = ? ORDER BY port_id"))
        .bind(router_id)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("port_id")?, r.try_get("port_type")?)))
        .collect()
}

/// The router a port is attached to, with the port's type.
pub async fn router_of_port(db: &Db, c: &mut Conn, port_id: &str) -> Result<Option<(String, String)>> {
    let r = sqlx::query(db.sql("SELECT router_id, port_type FROM router_ports WHERE port_id = ?"))
        .bind(port_id)
        .fetch_optional(&mut *c)
        .await?;
    r.map(|r| Ok((r.try_get("router_id")?, r.try_get("port_type")?)))
        .transpose()
}

/// `(router_id, port_id)` of every attachment of `port_type` whose port is
/// on `network_id`.
pub async fn attached_on_network(
    db: &Db,
    c: &mut Conn,
    network_id: &str,
    port_type: &str,
) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(db.sql(
        "SELECT rp.router_id, rp.port_id FROM router_ports rp JOIN ports p ON p.id = rp.port_id \
         WHERE p.network_id = ? AND rp.port_type = ? ORDER BY rp.router_id, rp.port_id",
    ))
    .bind(network_id)
    .bind(port_type)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("router_id")?, r.try_get("port_id")?)))
        .collect()
}

pub async fn attach(db: &Db, c: &mut Conn, router_id: &str, port_id: &str, port_type: &str) -> Result<()> {
    sqlx::query(db.sql("INSERT INTO router_ports (port_id, router_id, port_type) VALUES (?, ?, ?)"))
        .bind(port_id)
        .bind(router_id)
        .bind(port_type)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn detach(db: &Db, c: &mut Conn, port_id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM router_ports WHERE port_id = ?"))
        .bind(port_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

// --- extra routes ----------------------------------------------------------------

/// `(destination, nexthop)` of a router, in a stable order.
pub async fn routes_of(db: &Db, c: &mut Conn, router_id: &str) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        db.sql("SELECT destination, nexthop FROM router_routes WHERE router_id = ? ORDER BY destination, nexthop"),
    )
    .bind(router_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("destination")?, r.try_get("nexthop")?)))
        .collect()
}

/// Every router's routes, by router id.
pub async fn all_routes(db: &Db, c: &mut Conn) -> Result<std::collections::HashMap<String, Vec<(String, String)>>> {
    let rows =
        sqlx::query(db.sql("SELECT router_id, destination, nexthop FROM router_routes ORDER BY destination, nexthop"))
            .fetch_all(&mut *c)
            .await?;
    let mut out: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for r in rows {
        out.entry(r.try_get("router_id")?)
            .or_default()
            .push((r.try_get("destination")?, r.try_get("nexthop")?));
    }
    Ok(out)
}

pub async fn set_routes(db: &Db, c: &mut Conn, router_id: &str, routes: &[(String, String)]) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM router_routes WHERE router_id = ?"))
        .bind(router_id)
        .execute(&mut *c)
        .await?;
    for (dest, hop) in routes {
        sqlx::query(db.sql("INSERT INTO router_routes (router_id, destination, nexthop) VALUES (?, ?, ?)"))
            .bind(router_id)
            .bind(dest)
            .bind(hop)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}
