//! `security_groups`, `security_group_rules` and
//! `default_security_groups` (which group is a project's `default`; its
//! primary key makes the lazy creation of that group race-free).

use store::sqlx::{self, Row};
use store::{AnyRow, Db};

use super::{Conn, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct GroupRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRow {
    pub id: String,
    pub project_id: String,
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
    pub revision_number: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const GROUP_COLUMNS: &str = "g.id, g.project_id, g.name, g.description, g.revision_number, g.created_at, g.updated_at";
const RULE_COLUMNS: &str = "r.id, r.project_id, r.security_group_id, r.direction, r.ethertype, r.protocol, \
                            r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.remote_group_id, \
                            r.description, r.revision_number, r.created_at, r.updated_at";

fn group(r: &AnyRow) -> Result<GroupRow> {
    Ok(GroupRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn rule(r: &AnyRow) -> Result<RuleRow> {
    Ok(RuleRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        security_group_id: r.try_get("security_group_id")?,
        direction: r.try_get("direction")?,
        ethertype: r.try_get("ethertype")?,
        protocol: r.try_get("protocol")?,
        port_range_min: r.try_get("port_range_min")?,
        port_range_max: r.try_get("port_range_max")?,
        remote_ip_prefix: r.try_get("remote_ip_prefix")?,
        remote_group_id: r.try_get("remote_group_id")?,
        description: r.try_get("description")?,
        revision_number: r.try_get("revision_number")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get(db: &Db, c: &mut Conn, id: &str) -> Result<Option<GroupRow>> {
    let q = format!("SELECT {GROUP_COLUMNS} FROM security_groups g WHERE g.id = ?");
    let r = sqlx::query(db.sql(&q)).bind(id).fetch_optional(&mut *c).await?;
    r.as_ref().map(group).transpose()
}

/// Every group (`project` None) or a project's.
pub async fn list(db: &Db, c: &mut Conn, project: Option<&str>) -> Result<Vec<GroupRow>> {
    let rows = match project {
        None => {
            let q = format!("SELECT {GROUP_COLUMNS} FROM security_groups g");
            sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?
        }
        Some(p) => {
            let q = format!("SELECT {GROUP_COLUMNS} FROM security_groups g WHERE g.project_id = ?");
            sqlx::query(db.sql(&q)).bind(p).fetch_all(&mut *c).await?
        }
    };
    rows.iter().map(group).collect()
}

pub async fn insert(db: &Db, c: &mut Conn, g: &GroupRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO security_groups (id, project_id, name, description, revision_number, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&g.id)
    .bind(&g.project_id)
    .bind(&g.name)
    .bind(&g.description)
    .bind(g.revision_number)
    .bind(g.created_at)
    .bind(g.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn update(db: &Db, c: &mut Conn, g: &GroupRow) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE security_groups SET name = ?, description = ?, revision_number = revision_number + 1, \
         updated_at = ? WHERE id = ?",
    ))
    .bind(&g.name)
    .bind(&g.description)
    .bind(now())
    .bind(&g.id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn bump_revision(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(
        db.sql("UPDATE security_groups SET revision_number = revision_number + 1, updated_at = ? WHERE id = ?"),
    )
    .bind(now())
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Removes a group, its rules, the rules of other groups that name it as
/// their remote group, and its `default` mark.
pub async fn delete(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM security_group_rules WHERE security_group_id = ? OR remote_group_id = ?"))
        .bind(id)
        .bind(id)
        .execute(&mut *c)
        .await?;
    for q in [
        "DELETE FROM default_security_groups WHERE security_group_id = ?",
        "DELETE FROM security_groups WHERE id = ?",
    ] {
        sqlx::query(db.sql(q)).bind(id).execute(&mut *c).await?;
    }
    Ok(())
}

/// The id of a project's `default` group, if it has one.
pub async fn default_of(db: &Db, c: &mut Conn, project_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar(db.sql("SELECT security_group_id FROM default_security_groups WHERE project_id = ?"))
            .bind(project_id)
            .fetch_optional(&mut *c)
            .await?,
    )
}

/// Marks `group_id` as the project's default; a `Conflict` when another
/// request did so first.
pub async fn insert_default(db: &Db, c: &mut Conn, project_id: &str, group_id: &str) -> Result<()> {
    sqlx::query(db.sql("INSERT INTO default_security_groups (project_id, security_group_id) VALUES (?, ?)"))
        .bind(project_id)
        .bind(group_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Whether `group_id` is some project's default group.
pub async fn is_default(db: &Db, c: &mut Conn, group_id: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM default_security_groups WHERE security_group_id = ?"))
        .bind(group_id)
        .fetch_one(&mut *c)
        .await?;
    Ok(n > 0)
}

/// The ids of every default group.
pub async fn default_ids(db: &Db, c: &mut Conn) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar(db.sql("SELECT security_group_id FROM default_security_groups"))
            .fetch_all(&mut *c)
            .await?,
    )
}

// --- rules -------------------------------------------------------------------

pub async fn get_rule(db: &Db, c: &mut Conn, id: &str) -> Result<Option<RuleRow>> {
    let q = format!("SELECT {RULE_COLUMNS} FROM security_group_rules r WHERE r.id = ?");
    let r = sqlx::query(db.sql(&q)).bind(id).fetch_optional(&mut *c).await?;
    r.as_ref().map(rule).transpose()
}

/// Every rule (`visible_to` None), or a project's plus those of its groups.
pub async fn list_rules(db: &Db, c: &mut Conn, visible_to: Option<&str>) -> Result<Vec<RuleRow>> {
    let rows = match visible_to {
        None => {
            let q = format!("SELECT {RULE_COLUMNS} FROM security_group_rules r");
            sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?
        }
        Some(p) => {
            let q = format!(
                "SELECT {RULE_COLUMNS} FROM security_group_rules r JOIN security_groups g \
                 ON g.id = r.security_group_id WHERE r.project_id = ? OR g.project_id = ?"
            );
            sqlx::query(db.sql(&q)).bind(p).bind(p).fetch_all(&mut *c).await?
        }
    };
    rows.iter().map(rule).collect()
}

pub async fn rules_of(db: &Db, c: &mut Conn, group_id: &str) -> Result<Vec<RuleRow>> {
    let q = format!("SELECT {RULE_COLUMNS} FROM security_group_rules r WHERE r.security_group_id = ?");
    let rows = sqlx::query(db.sql(&q)).bind(group_id).fetch_all(&mut *c).await?;
    rows.iter().map(rule).collect()
}

pub async fn insert_rule(db: &Db, c: &mut Conn, r: &RuleRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO security_group_rules (id, project_id, security_group_id, direction, ethertype, protocol, \
         port_range_min, port_range_max, remote_ip_prefix, remote_group_id, description, revision_number, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&r.id)
    .bind(&r.project_id)
    .bind(&r.security_group_id)
    .bind(&r.direction)
    .bind(&r.ethertype)
    .bind(r.protocol.as_deref())
    .bind(r.port_range_min)
    .bind(r.port_range_max)
    .bind(r.remote_ip_prefix.as_deref())
    .bind(r.remote_group_id.as_deref())
    .bind(&r.description)
    .bind(r.revision_number)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn delete_rule(db: &Db, c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM security_group_rules WHERE id = ?"))
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
