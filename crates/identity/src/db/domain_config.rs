//! Domain-specific configuration: one row per (domain, group, option), the
//! value stored as JSON text (options may be strings, numbers, booleans or
//! lists, as in Keystone's `JsonBlob` columns).

use serde_json::Value;
use store::{Db, Row};

/// One stored option.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionRow {
    pub group: String,
    pub option: String,
    pub value: Value,
}

/// The options of a domain, optionally of one group or one option.
pub async fn list(
    db: &Db,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> Result<Vec<OptionRow>, store::sqlx::Error> {
    let mut sql = String::from("SELECT group_name, option_name, value FROM domain_configs WHERE domain_id = ?");
    if group.is_some() {
        sql.push_str(" AND group_name = ?");
    }
    if option.is_some() {
        sql.push_str(" AND option_name = ?");
    }
    sql.push_str(" ORDER BY group_name, option_name");
    let mut q = store::sqlx::query(db.sql(&sql)).bind(domain_id);
    for v in [group, option].into_iter().flatten() {
        q = q.bind(v);
    }
    let rows = q.fetch_all(db.reader()).await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get("value")?;
            Ok(OptionRow {
                group: r.try_get("group_name")?,
                option: r.try_get("option_name")?,
                value: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            })
        })
        .collect()
}

async fn insert(
    db: &Db,
    conn: &mut store::sqlx::AnyConnection,
    domain_id: &str,
    o: &OptionRow,
) -> Result<(), store::sqlx::Error> {
    store::sqlx::query(
        db.sql("INSERT INTO domain_configs (domain_id, group_name, option_name, value) VALUES (?, ?, ?, ?)"),
    )
    .bind(domain_id)
    .bind(&o.group)
    .bind(&o.option)
    .bind(o.value.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the whole configuration of a domain.
pub async fn replace(db: &Db, domain_id: &str, options: &[OptionRow]) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    store::sqlx::query(db.sql("DELETE FROM domain_configs WHERE domain_id = ?"))
        .bind(domain_id)
        .execute(&mut *tx)
        .await?;
    for o in options {
        insert(db, &mut tx, domain_id, o).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sets the given options, leaving the others as they are.
pub async fn set(db: &Db, domain_id: &str, options: &[OptionRow]) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    for o in options {
        store::sqlx::query(
            db.sql("DELETE FROM domain_configs WHERE domain_id = ? AND group_name = ? AND option_name = ?"),
        )
        .bind(domain_id)
        .bind(&o.group)
        .bind(&o.option)
        .execute(&mut *tx)
        .await?;
        insert(db, &mut tx, domain_id, o).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes the configuration of a domain, of one group or of one option.
pub async fn delete(
    db: &Db,
    domain_id: &str,
    group: Option<&str>,
    option: Option<&str>,
) -> Result<(), store::StoreError> {
    let mut sql = String::from("DELETE FROM domain_configs WHERE domain_id = ?");
    if group.is_some() {
        sql.push_str(" AND group_name = ?");
    }
    if option.is_some() {
        sql.push_str(" AND option_name = ?");
    }
    let mut q = store::sqlx::query(db.sql(&sql)).bind(domain_id);
    for v in [group, option].into_iter().flatten() {
        q = q.bind(v);
    }
    q.execute(db.writer()).await?;
    Ok(())
}
