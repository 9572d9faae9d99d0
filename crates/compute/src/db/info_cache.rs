//! `instance_info_caches`: each instance's network info cache (Nova's
//! table of the same name), the list of its VIFs as JSON (see
//! [`crate::network`] for their shape). Written whole, under the
//! network module's lock; read with the instance (`servers::fill`).

use std::collections::BTreeMap;

use serde_json::Value;
use store::{Db, Row, sqlx};

use crate::error::Result;

/// The caches of `uuids` (instances without one are absent).
pub async fn get_many(db: &Db, uuids: &[String]) -> Result<BTreeMap<String, Vec<Value>>> {
    let mut out = BTreeMap::new();
    for chunk in uuids.chunks(500) {
        let ph = store::placeholders(chunk.len());
        let mut q = sqlx::query(db.sql(&format!(
            "SELECT instance_uuid, network_info FROM instance_info_caches WHERE instance_uuid IN ({ph})"
        )));
        for u in chunk {
            q = q.bind(u.clone());
        }
        for r in q.fetch_all(db.reader()).await? {
            let uuid: String = r.try_get("instance_uuid")?;
            let text: String = r.try_get("network_info")?;
            out.insert(uuid, serde_json::from_str(&text).unwrap_or_default());
        }
    }
    Ok(out)
}

/// The cache of one instance; empty when it has none.
pub async fn get(db: &Db, uuid: &str) -> Result<Vec<Value>> {
    Ok(get_many(db, &[uuid.to_owned()]).await?.remove(uuid).unwrap_or_default())
}

/// Replaces the cache of `uuid`.
pub async fn set(db: &Db, uuid: &str, network_info: &[Value], now: i64) -> Result<()> {
    let text = serde_json::to_string(network_info).unwrap_or_else(|_| "[]".to_owned());
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM instance_info_caches WHERE instance_uuid = ?"))
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
    sqlx::query(db.sql("INSERT INTO instance_info_caches (instance_uuid, network_info, updated_at) VALUES (?, ?, ?)"))
        .bind(uuid)
        .bind(text)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
