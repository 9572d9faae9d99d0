//! `floatingips`: an address on an external network (held by a port of
//! the service, `floating_port_id`) and the fixed address it is
//! associated with. The unique key on `(floating_network_id,
//! fixed_port_id, fixed_ip_address)` keeps one fixed address from getting
//! two floating addresses of one network.

use store::AnyRow;
use store::Db;
use store::sqlx::{self, Row};

use super::{Conn, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct FloatingIpRow {
    pub id: String,
    pub project_id: String,
    pub floating_network_id: String,
    pub floating_ip_address: String,
    pub floating_port_id: String,
    pub fixed_port_id: Option<String>,
    pub fixed_ip_address: Option<String>,
    pub router_id: Option<String>,
    pub status: String,
    pub description: String,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, project_id, floating_network_id, floating_ip_address, floating_port_id, fixed_port_id, \
                       fixed_ip_address, router_id, status, description, revision_number, created_at, updated_at";

fn row(r: &AnyRow) -> Result<FloatingIpRow> {
    Ok(FloatingIpRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        floating_network_id: r.try_get("floating_network_id")?,
        floating_ip_address: r.try_get("floating_ip_address")?,
        floating_port_id: r.try_get("floating_port_id")?,
        fixed_port_id: r.try_get("fixed_port_id")?,
        fixed_ip_address: r.try_get("fixed_ip_address")?,
        router_id: r.try_get("router_id")?,
        status: r.try_get("status")?,
        description: r.try_get("description")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get(db: &Db, c: &mut Conn, id: &str) -> Result<Option<FloatingIpRow>> {
    let q = format!("SELECT {COLUMNS} FROM floatingips WHERE id = ?");
    let r = sqlx::query(db.sql(&q)).bind(id).fetch_optional(&mut *c).await?;
    r.as_ref().map(row).transpose()
}

/// Every floating IP (`project` None), or a project's.
pub async fn list(db: &Db, c: &mut Conn, project: Option<&str>) -> Result<Vec<FloatingIpRow>> {
    let rows = match project {
        None => {
            let q = format!("SELECT {COLUMNS} FROM floatingips");
            sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?
        }
        Some(p) => {
            let q = format!("SELECT {COLUMNS} FROM floatingips WHERE project_id = ?");
            sqlx::query(db.sql(&q)).bind(p).fetch_all(&mut *c).await?
        }
    };
    rows.iter().map(row).collect()
}

/// The floating IPs whose `column` (one of ours) equals `value`.
async fn by(db: &Db, c: &mut Conn, column: &'static str, value: &str) -> Result<Vec<FloatingIpRow>> {
    let q = format!("SELECT {COLUMNS} FROM floatingips WHERE {column} = ? ORDER BY id");
    let rows = sqlx::query(db.sql(&q)).bind(value).fetch_all(&mut *c).await?;
    rows.iter().map(row).collect()
}

pub async fn of_fixed_port(db: &Db, c: &mut Conn, port_id: &str) -> Result<Vec<FloatingIpRow>> {
    by(db, c, "fixed_port_id", port_id).await
}

pub async fn of_router(db: &Db, c: &mut Conn, router_id: &str) -> Result<Vec<FloatingIpRow>> {
    by(db, c, "router_id", router_id).await
}

pub async fn of_floating_port(db: &Db, c: &mut Conn, port_id: &str) -> Result<Option<FloatingIpRow>> {
    Ok(by(db, c, "floating_port_id", port_id).await?.pop())
}

pub async fn insert(db: &Db, c: &mut Conn, f: &FloatingIpRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO floatingips (id, project_id, floating_network_id, floating_ip_address, floating_port_id, \
         fixed_port_id, fixed_ip_address, router_id, status, description, revision_number, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&f.id)
    .bind(&f.project_id)
    .bind(&f.floating_network_id)
    .bind(&f.floating_ip_address)
    .bind(&f.floating_port_id)
    .bind(f.fixed_port_id.as_deref())
    .bind(f.fixed_ip_address.as_deref())
    .bind(f.router_id.as_deref())
    .bind(&f.status)
    .bind(&f.description)
    .bind(f.revision_number)
    .bind(f.created_at)
    .bind(f.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Writes the association and the description and bumps the revision.
pub async fn update(db: &Db, c: &mut Conn, f: &FloatingIpRow) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE floatingips SET fixed_port_id = ?, fixed_ip_address = ?, router_id = ?, description = ?, \
         revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
    ))
    .bind(f.fixed_port_id.as_deref())
    .bind(f.fixed_ip_address.as_deref())
    .bind(f.router_id.as_deref())
    .bind(&f.description)
    .bind(now())
    .bind(&f.id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn bump_revision(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("UPDATE floatingips SET revision_number = revision_number + 1, updated_at = ? WHERE id = ?"))
        .bind(now())
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM floatingips WHERE id = ?"))
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
