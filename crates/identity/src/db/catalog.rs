//! Regions, services and endpoints: the catalog.

use serde_json::{Map, Value};
use store::{Db, Row};

use super::{extra_from_text, extra_to_text};

#[derive(Clone, Debug)]
pub struct RegionRow {
    pub id: String,
    pub description: Option<String>,
    pub parent_region_id: Option<String>,
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug)]
pub struct ServiceRow {
    pub id: String,
    pub service_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug)]
pub struct EndpointRow {
    pub id: String,
    pub interface: String,
    pub service_id: String,
    pub url: String,
    pub region_id: Option<String>,
    pub enabled: bool,
    pub extra: Map<String, Value>,
}

pub async fn list_regions(db: &Db) -> Result<Vec<RegionRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql("SELECT id, description, parent_region_id, extra FROM regions ORDER BY id"))
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RegionRow {
                id: r.try_get("id")?,
                description: r.try_get("description")?,
                parent_region_id: r.try_get("parent_region_id")?,
                extra: extra_from_text(&r.try_get::<String, _>("extra")?),
            })
        })
        .collect()
}

pub async fn get_region(db: &Db, id: &str) -> Result<Option<RegionRow>, store::sqlx::Error> {
    Ok(list_regions(db).await?.into_iter().find(|r| r.id == id))
}

pub async fn insert_region(db: &Db, r: &RegionRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("INSERT INTO regions (id, description, parent_region_id, extra) VALUES (?, ?, ?, ?)"))
        .bind(&r.id)
        .bind(&r.description)
        .bind(&r.parent_region_id)
        .bind(extra_to_text(&r.extra))
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn update_region(db: &Db, r: &RegionRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("UPDATE regions SET description = ?, parent_region_id = ?, extra = ? WHERE id = ?"))
        .bind(&r.description)
        .bind(&r.parent_region_id)
        .bind(extra_to_text(&r.extra))
        .bind(&r.id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn delete_region(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM regions WHERE id = ?"))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn list_services(db: &Db) -> Result<Vec<ServiceRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(
        db.sql("SELECT id, type, name, description, enabled, extra FROM services ORDER BY type, id"),
    )
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ServiceRow {
                id: r.try_get("id")?,
                service_type: r.try_get("type")?,
                name: r.try_get("name")?,
                description: r.try_get("description")?,
                enabled: r.try_get::<i64, _>("enabled")? != 0,
                extra: extra_from_text(&r.try_get::<String, _>("extra")?),
            })
        })
        .collect()
}

pub async fn insert_service(db: &Db, s: &ServiceRow) -> Result<(), store::StoreError> {
    store::sqlx::query(
        db.sql("INSERT INTO services (id, type, name, description, enabled, extra) VALUES (?, ?, ?, ?, ?, ?)"),
    )
    .bind(&s.id)
    .bind(&s.service_type)
    .bind(&s.name)
    .bind(&s.description)
    .bind(store::flag(s.enabled))
    .bind(extra_to_text(&s.extra))
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn update_service(db: &Db, s: &ServiceRow) -> Result<(), store::StoreError> {
    store::sqlx::query(
        db.sql("UPDATE services SET type = ?, name = ?, description = ?, enabled = ?, extra = ? WHERE id = ?"),
    )
    .bind(&s.service_type)
    .bind(&s.name)
    .bind(&s.description)
    .bind(store::flag(s.enabled))
    .bind(extra_to_text(&s.extra))
    .bind(&s.id)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Deletes a service and its endpoints.
pub async fn delete_service(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    store::sqlx::query(
        db.sql("DELETE FROM project_endpoints WHERE endpoint_id IN (SELECT id FROM endpoints WHERE service_id = ?)"),
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    store::sqlx::query(db.sql("DELETE FROM endpoints WHERE service_id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let r = store::sqlx::query(db.sql("DELETE FROM services WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(r.rows_affected() > 0)
}

pub async fn list_endpoints(db: &Db) -> Result<Vec<EndpointRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(
        "SELECT id, interface, service_id, url, region_id, enabled, extra FROM endpoints ORDER BY service_id, interface",
    ))
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EndpointRow {
                id: r.try_get("id")?,
                interface: r.try_get("interface")?,
                service_id: r.try_get("service_id")?,
                url: r.try_get("url")?,
                region_id: r.try_get("region_id")?,
                enabled: r.try_get::<i64, _>("enabled")? != 0,
                extra: extra_from_text(&r.try_get::<String, _>("extra")?),
            })
        })
        .collect()
}

pub async fn insert_endpoint(db: &Db, e: &EndpointRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql(
        "INSERT INTO endpoints (id, interface, service_id, url, region_id, enabled, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&e.id)
    .bind(&e.interface)
    .bind(&e.service_id)
    .bind(&e.url)
    .bind(&e.region_id)
    .bind(store::flag(e.enabled))
    .bind(extra_to_text(&e.extra))
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn update_endpoint(db: &Db, e: &EndpointRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql(
        "UPDATE endpoints SET interface = ?, service_id = ?, url = ?, region_id = ?, enabled = ?, extra = ? WHERE id = ?",
    ))
    .bind(&e.interface)
    .bind(&e.service_id)
    .bind(&e.url)
    .bind(&e.region_id)
    .bind(store::flag(e.enabled))
    .bind(extra_to_text(&e.extra))
    .bind(&e.id)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn delete_endpoint(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    store::sqlx::query(db.sql("DELETE FROM project_endpoints WHERE endpoint_id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let r = store::sqlx::query(db.sql("DELETE FROM endpoints WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(r.rows_affected() > 0)
}
