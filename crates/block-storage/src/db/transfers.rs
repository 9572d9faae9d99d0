//! `volume_transfers`: pending transfers of a volume to another project.
//! Each write that also moves the volume's status is one transaction with
//! a compare-and-swap on that status, so a transfer and its volume never
//! disagree.

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransferRow {
    pub id: String,
    pub volume_id: String,
    pub name: Option<String>,
    /// Random hex, prepended to the auth key before hashing.
    pub salt: String,
    /// Hex SHA-256 of `salt + auth_key`; the key itself is never stored.
    pub crypt_hash: String,
    /// The giving project (the volume's project while the transfer exists).
    pub source_project_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, volume_id, name, salt, crypt_hash, source_project_id, created_at, updated_at";

fn from_row(r: &AnyRow) -> std::result::Result<TransferRow, sqlx::Error> {
    Ok(TransferRow {
        id: r.try_get("id")?,
        volume_id: r.try_get("volume_id")?,
        name: r.try_get("name")?,
        salt: r.try_get("salt")?,
        crypt_hash: r.try_get("crypt_hash")?,
        source_project_id: r.try_get("source_project_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Records the transfer and moves the volume from `available` to
/// `awaiting-transfer`. `false` (nothing written) when the volume was no
/// longer `available`.
pub async fn create(db: &Db, t: &TransferRow) -> Result<bool> {
    let mut tx = db.writer().begin().await?;
    let moved = sqlx::query(
        db.sql("UPDATE volumes SET status = 'awaiting-transfer', updated_at = ? WHERE id = ? AND status = 'available'"),
    )
    .bind(t.created_at)
    .bind(&t.volume_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !moved {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(db.sql(&format!(
        "INSERT INTO volume_transfers ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&t.id)
    .bind(&t.volume_id)
    .bind(&t.name)
    .bind(&t.salt)
    .bind(&t.crypt_hash)
    .bind(&t.source_project_id)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<TransferRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM volume_transfers WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Every transfer, or a giving project's, oldest first.
pub async fn list(db: &Db, project_id: Option<&str>) -> Result<Vec<TransferRow>> {
    let rows = match project_id {
        Some(p) => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM volume_transfers WHERE source_project_id = ? ORDER BY created_at, id"
            )))
            .bind(p)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM volume_transfers ORDER BY created_at, id"
            )))
            .fetch_all(db.reader())
            .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// Deletes the transfer and gives the volume back its `available` status
/// (if it is still `awaiting-transfer`: an admin may have reset it).
/// `false` when the transfer was already gone.
pub async fn delete(db: &Db, t: &TransferRow) -> Result<bool> {
    let mut tx = db.writer().begin().await?;
    let gone = sqlx::query(db.sql("DELETE FROM volume_transfers WHERE id = ?"))
        .bind(&t.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !gone {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(
        db.sql("UPDATE volumes SET status = 'available', updated_at = ? WHERE id = ? AND status = 'awaiting-transfer'"),
    )
    .bind(super::now())
    .bind(&t.volume_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The accept: deletes the transfer, gives the volume (from
/// `awaiting-transfer` to `available`) and its snapshots to the receiving
/// project and user. `false`, with nothing changed, when the transfer is
/// gone or the volume is no longer awaiting it.
pub async fn accept(db: &Db, t: &TransferRow, project_id: &str, user_id: &str) -> Result<bool> {
    let now = super::now();
    let mut tx = db.writer().begin().await?;
    let gone = sqlx::query(db.sql("DELETE FROM volume_transfers WHERE id = ?"))
        .bind(&t.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    let moved = gone
        && sqlx::query(db.sql(
            "UPDATE volumes SET project_id = ?, user_id = ?, status = 'available', updated_at = ? \
             WHERE id = ? AND status = 'awaiting-transfer'",
        ))
        .bind(project_id)
        .bind(user_id)
        .bind(now)
        .bind(&t.volume_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
    if !moved {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(db.sql("UPDATE snapshots SET project_id = ?, user_id = ?, updated_at = ? WHERE volume_id = ?"))
        .bind(project_id)
        .bind(user_id)
        .bind(now)
        .bind(&t.volume_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}
