//! Role assignments: who (user or group) holds which role on what (project,
//! domain or the system), possibly inherited down the project tree.

use store::Db;

/// The `kind` column: actor type + target type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    UserProject,
    GroupProject,
    UserDomain,
    GroupDomain,
    UserSystem,
    GroupSystem,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UserProject => "UserProject",
            Kind::GroupProject => "GroupProject",
            Kind::UserDomain => "UserDomain",
            Kind::GroupDomain => "GroupDomain",
            Kind::UserSystem => "UserSystem",
            Kind::GroupSystem => "GroupSystem",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "UserProject" => Kind::UserProject,
            "GroupProject" => Kind::GroupProject,
            "UserDomain" => Kind::UserDomain,
            "GroupDomain" => Kind::GroupDomain,
            "UserSystem" => Kind::UserSystem,
            "GroupSystem" => Kind::GroupSystem,
            _ => return None,
        })
    }
    pub fn is_group(self) -> bool {
        matches!(self, Kind::GroupProject | Kind::GroupDomain | Kind::GroupSystem)
    }
}

/// The `target_id` of system assignments.
pub const SYSTEM: &str = "system";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub kind: Kind,
    pub actor_id: String,
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
}

pub async fn all(db: &Db) -> Result<Vec<Assignment>, store::sqlx::Error> {
    let rows: Vec<(String, String, String, String, i64)> =
        store::sqlx::query_as(db.sql("SELECT kind, actor_id, target_id, role_id, inherited FROM assignments"))
            .fetch_all(db.reader())
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, a, t, r, i)| {
            Some(Assignment {
                kind: Kind::parse(&k)?,
                actor_id: a,
                target_id: t,
                role_id: r,
                inherited: i != 0,
            })
        })
        .collect())
}

/// Assignments whose actor is one of `actors` (a user and their groups).
pub async fn for_actors(db: &Db, actors: &[String]) -> Result<Vec<Assignment>, store::sqlx::Error> {
    if actors.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT kind, actor_id, target_id, role_id, inherited FROM assignments WHERE actor_id IN ({})",
        store::placeholders(actors.len())
    );
    let mut q = store::sqlx::query_as::<_, (String, String, String, String, i64)>(db.sql(&sql));
    for a in actors {
        q = q.bind(a);
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .into_iter()
        .filter_map(|(k, a, t, r, i)| {
            Some(Assignment {
                kind: Kind::parse(&k)?,
                actor_id: a,
                target_id: t,
                role_id: r,
                inherited: i != 0,
            })
        })
        .collect())
}

/// Grants; granting twice is not an error.
pub async fn grant(db: &Db, a: &Assignment) -> Result<(), store::StoreError> {
    let r = store::sqlx::query(
        db.sql("INSERT INTO assignments (kind, actor_id, target_id, role_id, inherited) VALUES (?, ?, ?, ?, ?)"),
    )
    .bind(a.kind.as_str())
    .bind(&a.actor_id)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(store::flag(a.inherited))
    .execute(db.writer())
    .await
    .map_err(store::classify);
    match r {
        Ok(_) | Err(store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Revokes; returns whether the grant existed.
pub async fn revoke(db: &Db, a: &Assignment) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql(
        "DELETE FROM assignments WHERE kind = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?",
    ))
    .bind(a.kind.as_str())
    .bind(&a.actor_id)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(store::flag(a.inherited))
    .execute(db.writer())
    .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn exists(db: &Db, a: &Assignment) -> Result<bool, store::sqlx::Error> {
    let n: i64 = store::sqlx::query_scalar(db.sql(
        "SELECT COUNT(*) FROM assignments WHERE kind = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?",
    ))
    .bind(a.kind.as_str())
    .bind(&a.actor_id)
    .bind(&a.target_id)
    .bind(&a.role_id)
    .bind(store::flag(a.inherited))
    .fetch_one(db.reader())
    .await?;
    Ok(n > 0)
}
