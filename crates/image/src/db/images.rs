//! `images`, `image_properties`, `image_tags`.

use std::collections::BTreeMap;

use store::{AnyRow, Db, Row, flag, sqlx};

use crate::error::Result;

/// An image as stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageRow {
    pub id: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub status: String,
    pub visibility: String,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    pub protected: bool,
    pub os_hidden: bool,
    /// Where the data is, in the store that owns it; never shown.
    pub location: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub properties: BTreeMap<String, String>,
    pub tags: Vec<String>,
}

const COLUMNS: &str = "id, name, owner, status, visibility, disk_format, container_format, size, virtual_size, \
     checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected, os_hidden, location, created_at, updated_at";

fn from_row(r: &AnyRow) -> std::result::Result<ImageRow, sqlx::Error> {
    Ok(ImageRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        owner: r.try_get("owner")?,
        status: r.try_get("status")?,
        visibility: r.try_get("visibility")?,
        disk_format: r.try_get("disk_format")?,
        container_format: r.try_get("container_format")?,
        size: r.try_get("size")?,
        virtual_size: r.try_get("virtual_size")?,
        checksum: r.try_get("checksum")?,
        os_hash_algo: r.try_get("os_hash_algo")?,
        os_hash_value: r.try_get("os_hash_value")?,
        min_disk: r.try_get("min_disk")?,
        min_ram: r.try_get("min_ram")?,
        protected: r.try_get::<i64, _>("protected")? != 0,
        os_hidden: r.try_get::<i64, _>("os_hidden")? != 0,
        location: r.try_get("location")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        properties: BTreeMap::new(),
        tags: Vec::new(),
    })
}

pub async fn insert(db: &Db, img: &ImageRow) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql(&format!(
        "INSERT INTO images ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&img.id)
    .bind(&img.name)
    .bind(&img.owner)
    .bind(&img.status)
    .bind(&img.visibility)
    .bind(&img.disk_format)
    .bind(&img.container_format)
    .bind(img.size)
    .bind(img.virtual_size)
    .bind(&img.checksum)
    .bind(&img.os_hash_algo)
    .bind(&img.os_hash_value)
    .bind(img.min_disk)
    .bind(img.min_ram)
    .bind(flag(img.protected))
    .bind(flag(img.os_hidden))
    .bind(&img.location)
    .bind(img.created_at)
    .bind(img.updated_at)
    .execute(&mut *tx)
    .await?;
    write_children(db, &mut tx, img).await?;
    tx.commit().await?;
    Ok(())
}

async fn write_children(db: &Db, tx: &mut sqlx::Transaction<'_, sqlx::Any>, img: &ImageRow) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM image_properties WHERE image_id = ?"))
        .bind(&img.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(db.sql("DELETE FROM image_tags WHERE image_id = ?"))
        .bind(&img.id)
        .execute(&mut **tx)
        .await?;
    for (k, v) in &img.properties {
        sqlx::query(db.sql("INSERT INTO image_properties (image_id, name, value) VALUES (?, ?, ?)"))
            .bind(&img.id)
            .bind(k)
            .bind(v)
            .execute(&mut **tx)
            .await?;
    }
    for t in &img.tags {
        sqlx::query(db.sql("INSERT INTO image_tags (image_id, value) VALUES (?, ?)"))
            .bind(&img.id)
            .bind(t)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Writes every column of `img`, its properties and tags, if its status is
/// still `expected_status` (compare-and-swap); false when it was not.
pub async fn update(db: &Db, img: &ImageRow, expected_status: &str) -> Result<bool> {
    let mut tx = db.writer().begin().await?;
    let done = sqlx::query(db.sql(
        "UPDATE images SET name = ?, owner = ?, status = ?, visibility = ?, disk_format = ?, container_format = ?, \
         size = ?, virtual_size = ?, checksum = ?, os_hash_algo = ?, os_hash_value = ?, min_disk = ?, min_ram = ?, \
         protected = ?, os_hidden = ?, location = ?, updated_at = ? WHERE id = ? AND status = ?",
    ))
    .bind(&img.name)
    .bind(&img.owner)
    .bind(&img.status)
    .bind(&img.visibility)
    .bind(&img.disk_format)
    .bind(&img.container_format)
    .bind(img.size)
    .bind(img.virtual_size)
    .bind(&img.checksum)
    .bind(&img.os_hash_algo)
    .bind(&img.os_hash_value)
    .bind(img.min_disk)
    .bind(img.min_ram)
    .bind(flag(img.protected))
    .bind(flag(img.os_hidden))
    .bind(&img.location)
    .bind(img.updated_at)
    .bind(&img.id)
    .bind(expected_status)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Ok(false);
    }
    write_children(db, &mut tx, img).await?;
    tx.commit().await?;
    Ok(true)
}

/// Moves the status from one of `from` to `to`; false if it was elsewhere.
pub async fn set_status(db: &Db, id: &str, from: &[&str], to: &str) -> Result<bool> {
    let sql = format!(
        "UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status IN ({})",
        store::placeholders(from.len())
    );
    let mut q = sqlx::query(db.sql(&sql)).bind(to).bind(super::now()).bind(id);
    for f in from {
        q = q.bind(*f);
    }
    Ok(q.execute(db.writer()).await?.rows_affected() > 0)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ImageRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM images WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut img = from_row(&row)?;
    let mut v = vec![img];
    load_children(db, &mut v).await?;
    img = v.pop().unwrap_or_default();
    Ok(Some(img))
}

pub async fn delete(db: &Db, id: &str) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    for table in ["image_properties", "image_tags", "image_members", "image_tasks"] {
        sqlx::query(db.sql(&format!("DELETE FROM {table} WHERE image_id = ?")))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(db.sql("DELETE FROM images WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Fills in the properties and tags of `images`.
pub async fn load_children(db: &Db, images: &mut [ImageRow]) -> Result<()> {
    for chunk in images.chunks_mut(500) {
        let ids: Vec<&str> = chunk.iter().map(|i| i.id.as_str()).collect();
        let marks = store::placeholders(ids.len());
        let mut q = sqlx::query(db.sql(&format!(
            "SELECT image_id, name, value FROM image_properties WHERE image_id IN ({marks})"
        )));
        for id in &ids {
            q = q.bind(*id);
        }
        let props = q.fetch_all(db.reader()).await?;
        let mut q = sqlx::query(db.sql(&format!(
            "SELECT image_id, value FROM image_tags WHERE image_id IN ({marks}) ORDER BY value"
        )));
        for id in &ids {
            q = q.bind(*id);
        }
        let tags = q.fetch_all(db.reader()).await?;
        for img in chunk.iter_mut() {
            for p in &props {
                if p.try_get::<String, _>("image_id")? == img.id {
                    img.properties.insert(p.try_get("name")?, p.try_get("value")?);
                }
            }
            for t in &tags {
                if t.try_get::<String, _>("image_id")? == img.id {
                    img.tags.push(t.try_get("value")?);
                }
            }
        }
    }
    Ok(())
}

/// Which images a list request may see and what it filters on; built by
/// the domain, turned into SQL here.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// The caller's project; `None` with `admin` means every image.
    pub project: Option<String>,
    pub admin: bool,
    /// `public`, `private`, `shared`, `community`, `all` or none.
    pub visibility: Option<String>,
    /// `pending`, `accepted`, `rejected` or `all`.
    pub member_status: String,
    /// Exact matches on columns (name, status, owner, …), validated by the
    /// caller against a fixed list.
    pub columns: Vec<(&'static str, String)>,
    pub size_min: Option<i64>,
    pub size_max: Option<i64>,
    pub protected: Option<bool>,
    pub os_hidden: Option<bool>,
    pub tags: Vec<String>,
    pub properties: Vec<(String, String)>,
}

/// Every image matching `f`, properties and tags not loaded.
pub async fn list(db: &Db, f: &ListFilter) -> Result<Vec<ImageRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM images WHERE 1 = 1");
    let mut binds: Vec<Bind> = Vec::new();
    let member_of = |binds: &mut Vec<Bind>, project: &str, status: &str| {
        binds.push(Bind::S(project.to_owned()));
        if status == "all" {
            "EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id AND m.member = ?)".to_owned()
        } else {
            binds.push(Bind::S(status.to_owned()));
            "EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id AND m.member = ? AND m.status = ?)"
                .to_owned()
        }
    };
    match (&f.project, f.admin) {
        (_, true) | (None, _) => {
            if let Some(v) = f.visibility.as_deref().filter(|v| *v != "all") {
                sql.push_str(" AND visibility = ?");
                binds.push(Bind::S(v.to_owned()));
            }
        }
        (Some(p), false) => match f.visibility.as_deref() {
            None => {
                sql.push_str(" AND (owner = ? OR visibility = 'public' OR (visibility = 'shared' AND ");
                binds.push(Bind::S(p.clone()));
                let m = member_of(&mut binds, p, &f.member_status);
                sql.push_str(&m);
                sql.push_str("))");
            }
            Some("all") => {
                sql.push_str(
                    " AND (owner = ? OR visibility = 'public' OR visibility = 'community' OR (visibility = 'shared' AND ",
                );
                binds.push(Bind::S(p.clone()));
                let m = member_of(&mut binds, p, &f.member_status);
                sql.push_str(&m);
                sql.push_str("))");
            }
            Some("shared") => {
                sql.push_str(" AND visibility = 'shared' AND (owner = ? OR ");
                binds.push(Bind::S(p.clone()));
                let m = member_of(&mut binds, p, &f.member_status);
                sql.push_str(&m);
                sql.push(')');
            }
            Some("private") => {
                sql.push_str(" AND visibility = 'private' AND owner = ?");
                binds.push(Bind::S(p.clone()));
            }
            Some(v) => {
                sql.push_str(" AND visibility = ?");
                binds.push(Bind::S(v.to_owned()));
            }
        },
    }
    for (col, v) in &f.columns {
        sql.push_str(&format!(" AND {col} = ?"));
        binds.push(Bind::S(v.clone()));
    }
    if let Some(n) = f.size_min {
        sql.push_str(" AND size >= ?");
        binds.push(Bind::I(n));
    }
    if let Some(n) = f.size_max {
        sql.push_str(" AND size <= ?");
        binds.push(Bind::I(n));
    }
    if let Some(b) = f.protected {
        sql.push_str(" AND protected = ?");
        binds.push(Bind::I(flag(b)));
    }
    if let Some(b) = f.os_hidden {
        sql.push_str(" AND os_hidden = ?");
        binds.push(Bind::I(flag(b)));
    }
    for t in &f.tags {
        sql.push_str(" AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id AND t.value = ?)");
        binds.push(Bind::S(t.clone()));
    }
    for (k, v) in &f.properties {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = images.id AND p.name = ? AND p.value = ?)",
        );
        binds.push(Bind::S(k.clone()));
        binds.push(Bind::S(v.clone()));
    }
    let sql = db.sql(&sql);
    let mut q = sqlx::query(sql);
    for b in binds {
        q = match b {
            Bind::S(s) => q.bind(s),
            Bind::I(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(db.reader()).await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

enum Bind {
    S(String),
    I(i64),
}

/// `(image count, total bytes, images being uploaded)` of a project, for
/// quotas.
pub async fn usage(db: &Db, owner: &str) -> Result<(i64, i64, i64)> {
    // Summed here rather than in SQL: SUM() of a BIGINT is NUMERIC on
    // PostgreSQL and DECIMAL on MySQL, which `Any` does not decode as i64.
    let rows = sqlx::query(db.sql("SELECT size, status FROM images WHERE owner = ?"))
        .bind(owner)
        .fetch_all(db.reader())
        .await?;
    let (mut n, mut bytes, mut up) = (0, 0, 0);
    for r in &rows {
        n += 1;
        bytes += r.try_get::<Option<i64>, _>("size")?.unwrap_or(0);
        let status: String = r.try_get("status")?;
        if matches!(status.as_str(), "saving" | "uploading" | "importing") {
            up += 1;
        }
    }
    Ok((n, bytes, up))
}

/// Images left in a transient state by a process that stopped.
pub async fn in_states(db: &Db, states: &[&str]) -> Result<Vec<ImageRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM images WHERE status IN ({})",
        store::placeholders(states.len())
    );
    let mut q = sqlx::query(db.sql(&sql));
    for s in states {
        q = q.bind(*s);
    }
    let rows = q.fetch_all(db.reader()).await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}
