//! `instances`, `instance_metadata`, `instance_tags`: the servers.
//!
//! A live row has `deleted = 0`; a deleted one `deleted = 1` (kept for
//! `os-simple-tenant-usage`, `changes-since` and `deleted=true` listings).
//! Every state change of a live instance goes through [`update`], a
//! compare-and-swap on `task_state` (and optionally `vm_state`/`host`).

use std::collections::BTreeMap;

use compute_agent::rpc::{FlavorSpec, ImageSpec};
use store::{AnyRow, Db, Row, flag, sqlx};

use crate::error::{ComputeError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct InstanceRow {
    pub uuid: String,
    pub id: i64,
    pub display_name: String,
    pub display_description: Option<String>,
    pub hostname: String,
    pub project_id: String,
    pub user_id: String,
    pub host: Option<String>,
    pub node: Option<String>,
    pub flavor: FlavorSpec,
    pub old_flavor: Option<FlavorSpec>,
    pub image_ref: Option<String>,
    pub image: Option<ImageSpec>,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i64,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub availability_zone: Option<String>,
    pub requested_az: Option<String>,
    pub requested_host: Option<String>,
    pub config_drive: String,
    pub locked: bool,
    pub locked_by: Option<String>,
    pub locked_reason: Option<String>,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    pub progress: i64,
    pub reservation_id: String,
    pub launch_index: i64,
    /// The `networks` of the create request, as JSON: what the ports are
    /// made for once the host is chosen (see `crate::network`).
    pub networks: Option<String>,
    pub group_uuid: Option<String>,
    pub attempts: i64,
    pub tried_hosts: Vec<String>,
    pub shelved_image_id: Option<String>,
    pub fault: Option<FaultRow>,
    pub created_at: i64,
    pub updated_at: i64,
    pub launched_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub deleted: bool,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// The network info cache (`instance_info_caches`): one VIF per port.
    pub network_info: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FaultRow {
    pub code: i64,
    pub message: String,
    pub details: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "uuid, id, display_name, display_description, hostname, project_id, user_id, host, node, \
     vcpus, memory_mb, root_gb, ephemeral_gb, flavor_id, flavor, old_flavor, image_ref, image, vm_state, \
     task_state, power_state, key_name, key_data, user_data, availability_zone, requested_az, requested_host, \
     config_drive, locked, locked_by, locked_reason, access_ip_v4, access_ip_v6, progress, reservation_id, \
     launch_index, networks, group_uuid, attempts, tried_hosts, shelved_image_id, fault_code, fault_message, \
     fault_details, fault_created_at, created_at, updated_at, launched_at, terminated_at, deleted_at, deleted";

fn json_col<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn from_row(r: &AnyRow) -> std::result::Result<InstanceRow, sqlx::Error> {
    let flavor: String = r.try_get("flavor")?;
    let fault_code: Option<i64> = r.try_get("fault_code")?;
    let tried: String = r.try_get("tried_hosts")?;
    Ok(InstanceRow {
        uuid: r.try_get("uuid")?,
        id: r.try_get("id")?,
        display_name: r.try_get("display_name")?,
        display_description: r.try_get("display_description")?,
        hostname: r.try_get("hostname")?,
        project_id: r.try_get("project_id")?,
        user_id: r.try_get("user_id")?,
        host: r.try_get("host")?,
        node: r.try_get("node")?,
        flavor: serde_json::from_str(&flavor).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        old_flavor: json_col(r.try_get("old_flavor")?),
        image_ref: r.try_get("image_ref")?,
        image: json_col(r.try_get("image")?),
        vm_state: r.try_get("vm_state")?,
        task_state: r.try_get("task_state")?,
        power_state: r.try_get("power_state")?,
        key_name: r.try_get("key_name")?,
        key_data: r.try_get("key_data")?,
        user_data: r.try_get("user_data")?,
        availability_zone: r.try_get("availability_zone")?,
        requested_az: r.try_get("requested_az")?,
        requested_host: r.try_get("requested_host")?,
        config_drive: r.try_get("config_drive")?,
        locked: r.try_get::<i64, _>("locked")? != 0,
        locked_by: r.try_get("locked_by")?,
        locked_reason: r.try_get("locked_reason")?,
        access_ip_v4: r.try_get("access_ip_v4")?,
        access_ip_v6: r.try_get("access_ip_v6")?,
        progress: r.try_get("progress")?,
        reservation_id: r.try_get("reservation_id")?,
        launch_index: r.try_get("launch_index")?,
        networks: r.try_get("networks")?,
        group_uuid: r.try_get("group_uuid")?,
        attempts: r.try_get("attempts")?,
        tried_hosts: serde_json::from_str(&tried).unwrap_or_default(),
        shelved_image_id: r.try_get("shelved_image_id")?,
        fault: match fault_code {
            Some(code) => Some(FaultRow {
                code,
                message: r.try_get::<Option<String>, _>("fault_message")?.unwrap_or_default(),
                details: r.try_get("fault_details")?,
                created_at: r.try_get::<Option<i64>, _>("fault_created_at")?.unwrap_or_default(),
            }),
            None => None,
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        launched_at: r.try_get("launched_at")?,
        terminated_at: r.try_get("terminated_at")?,
        deleted_at: r.try_get("deleted_at")?,
        deleted: r.try_get::<i64, _>("deleted")? != 0,
        metadata: BTreeMap::new(),
        tags: Vec::new(),
        network_info: Vec::new(),
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Inserts instances (one multi-create) with their metadata, tags and
/// group membership, numbering them (`id`, for `instance-%08x`) in the
/// same transaction. Returns the rows with their ids.
pub async fn insert_many(db: &Db, rows: &mut [InstanceRow]) -> Result<()> {
    // The id is MAX(id)+1 inside the transaction; two controllers racing
    // on PostgreSQL/MySQL collide on the unique index and try again.
    for attempt in 0..5 {
        match try_insert(db, rows).await {
            Err(ComputeError::Store(store::StoreError::Conflict(_))) if attempt < 4 => continue,
            other => return other,
        }
    }
    Ok(())
}

async fn try_insert(db: &Db, rows: &mut [InstanceRow]) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    let max: Option<i64> = sqlx::query_scalar(db.sql("SELECT MAX(id) FROM instances"))
        .fetch_one(&mut *tx)
        .await?;
    for (next, row) in (max.unwrap_or(0) + 1..).zip(rows.iter_mut()) {
        row.id = next;
        let placeholders = store::placeholders(COLUMNS.split(',').count());
        let fault = row.fault.as_ref();
        sqlx::query(db.sql(&format!("INSERT INTO instances ({COLUMNS}) VALUES ({placeholders})")))
            .bind(&row.uuid)
            .bind(row.id)
            .bind(&row.display_name)
            .bind(&row.display_description)
            .bind(&row.hostname)
            .bind(&row.project_id)
            .bind(&row.user_id)
            .bind(&row.host)
            .bind(&row.node)
            .bind(i64::from(row.flavor.vcpus))
            .bind(row.flavor.memory_mb as i64)
            .bind(row.flavor.root_gb as i64)
            .bind(row.flavor.ephemeral_gb as i64)
            .bind(&row.flavor.id)
            .bind(to_json(&row.flavor))
            .bind(row.old_flavor.as_ref().map(to_json))
            .bind(&row.image_ref)
            .bind(row.image.as_ref().map(to_json))
            .bind(&row.vm_state)
            .bind(&row.task_state)
            .bind(row.power_state)
            .bind(&row.key_name)
            .bind(&row.key_data)
            .bind(&row.user_data)
            .bind(&row.availability_zone)
            .bind(&row.requested_az)
            .bind(&row.requested_host)
            .bind(&row.config_drive)
            .bind(flag(row.locked))
            .bind(&row.locked_by)
            .bind(&row.locked_reason)
            .bind(&row.access_ip_v4)
            .bind(&row.access_ip_v6)
            .bind(row.progress)
            .bind(&row.reservation_id)
            .bind(row.launch_index)
            .bind(&row.networks)
            .bind(&row.group_uuid)
            .bind(row.attempts)
            .bind(to_json(&row.tried_hosts))
            .bind(&row.shelved_image_id)
            .bind(fault.map(|f| f.code))
            .bind(fault.map(|f| f.message.clone()))
            .bind(fault.and_then(|f| f.details.clone()))
            .bind(fault.map(|f| f.created_at))
            .bind(row.created_at)
            .bind(row.updated_at)
            .bind(row.launched_at)
            .bind(row.terminated_at)
            .bind(row.deleted_at)
            .bind(flag(row.deleted))
            .execute(&mut *tx)
            .await?;
        for (k, v) in &row.metadata {
            sqlx::query(db.sql("INSERT INTO instance_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)"))
                .bind(&row.uuid)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        for t in &row.tags {
            sqlx::query(db.sql("INSERT INTO instance_tags (instance_uuid, tag) VALUES (?, ?)"))
                .bind(&row.uuid)
                .bind(t)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(g) = &row.group_uuid {
            sqlx::query(db.sql("INSERT INTO server_group_members (group_uuid, instance_uuid) VALUES (?, ?)"))
                .bind(g)
                .bind(&row.uuid)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn fill(db: &Db, rows: &mut [InstanceRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    for chunk in rows.chunks_mut(500) {
        let ph = store::placeholders(chunk.len());
        let mut q = sqlx::query(db.sql(&format!(
            "SELECT instance_uuid, meta_key, meta_value FROM instance_metadata WHERE instance_uuid IN ({ph})"
        )));
        for r in chunk.iter() {
            q = q.bind(r.uuid.clone());
        }
        let meta = q.fetch_all(db.reader()).await?;
        let mut q = sqlx::query(db.sql(&format!(
            "SELECT instance_uuid, tag FROM instance_tags WHERE instance_uuid IN ({ph}) ORDER BY tag"
        )));
        for r in chunk.iter() {
            q = q.bind(r.uuid.clone());
        }
        let tags = q.fetch_all(db.reader()).await?;
        let index: BTreeMap<String, usize> = chunk.iter().enumerate().map(|(i, r)| (r.uuid.clone(), i)).collect();
        for m in meta {
            let u: String = m.try_get("instance_uuid")?;
            if let Some(&i) = index.get(&u) {
                chunk[i]
                    .metadata
                    .insert(m.try_get("meta_key")?, m.try_get("meta_value")?);
            }
        }
        for t in tags {
            let u: String = t.try_get("instance_uuid")?;
            if let Some(&i) = index.get(&u) {
                chunk[i].tags.push(t.try_get("tag")?);
            }
        }
        let uuids: Vec<String> = chunk.iter().map(|r| r.uuid.clone()).collect();
        for (u, info) in super::info_cache::get_many(db, &uuids).await? {
            if let Some(&i) = index.get(&u) {
                chunk[i].network_info = info;
            }
        }
    }
    Ok(())
}

/// The instance, deleted or not.
pub async fn get_any(db: &Db, uuid: &str) -> Result<Option<InstanceRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM instances WHERE uuid = ?")))
        .bind(uuid)
        .fetch_optional(db.reader())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut rows = vec![from_row(&row)?];
    fill(db, &mut rows).await?;
    Ok(rows.pop())
}

/// A live instance.
pub async fn get(db: &Db, uuid: &str) -> Result<Option<InstanceRow>> {
    Ok(get_any(db, uuid).await?.filter(|r| !r.deleted))
}

/// What a listing selects in SQL; the API filters the rest (name regex,
/// tags) in memory.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    /// `None`: live only; `Some(true)`: deleted only; `Some(false)`: live.
    pub deleted: Option<bool>,
    /// Include deleted rows too (`changes-since`).
    pub include_deleted: bool,
    pub vm_states: Vec<String>,
    pub host: Option<String>,
    pub node: Option<String>,
    pub image_ref: Option<String>,
    pub flavor_id: Option<String>,
    pub reservation_id: Option<String>,
    pub availability_zone: Option<String>,
    pub uuid: Option<String>,
    pub changes_since: Option<i64>,
    pub changes_before: Option<i64>,
    pub locked: Option<bool>,
    pub key_name: Option<String>,
    pub group_uuid: Option<String>,
    /// Only the rows after this `(created_at, id)` in the listing's order
    /// (newest first): a page after a marker, read by the database.
    pub after: Option<(i64, i64)>,
    /// At most this many rows (the caller filters no further).
    pub limit: Option<usize>,
}

pub async fn list(db: &Db, f: &ListFilter) -> Result<Vec<InstanceRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM instances WHERE 1 = 1");
    let mut binds: Vec<Bind> = Vec::new();
    if !f.include_deleted {
        sql.push_str(" AND deleted = ?");
        binds.push(Bind::Int(Some(flag(f.deleted.unwrap_or(false)))));
    }
    let mut eq = |col: &str, v: &Option<String>| {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            binds.push(Bind::Str(Some(v.clone())));
        }
    };
    eq("project_id", &f.project_id);
    eq("user_id", &f.user_id);
    eq("host", &f.host);
    eq("node", &f.node);
    eq("image_ref", &f.image_ref);
    eq("flavor_id", &f.flavor_id);
    eq("reservation_id", &f.reservation_id);
    eq("availability_zone", &f.availability_zone);
    eq("uuid", &f.uuid);
    eq("key_name", &f.key_name);
    eq("group_uuid", &f.group_uuid);
    if !f.vm_states.is_empty() {
        sql.push_str(&format!(
            " AND vm_state IN ({})",
            store::placeholders(f.vm_states.len())
        ));
        for s in &f.vm_states {
            binds.push(Bind::Str(Some(s.clone())));
        }
    }
    if let Some(t) = f.changes_since {
        sql.push_str(" AND updated_at >= ?");
        binds.push(Bind::Int(Some(t)));
    }
    if let Some(t) = f.changes_before {
        sql.push_str(" AND updated_at <= ?");
        binds.push(Bind::Int(Some(t)));
    }
    if let Some(l) = f.locked {
        sql.push_str(" AND locked = ?");
        binds.push(Bind::Int(Some(flag(l))));
    }
    if let Some((created_at, id)) = f.after {
        sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        binds.extend([
            Bind::Int(Some(created_at)),
            Bind::Int(Some(created_at)),
            Bind::Int(Some(id)),
        ]);
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC");
    if let Some(limit) = f.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let mut q = sqlx::query(db.sql(&sql));
    for b in binds {
        q = b.bind(q);
    }
    let rows = q.fetch_all(db.reader()).await?;
    let mut out = rows.iter().map(from_row).collect::<std::result::Result<Vec<_>, _>>()?;
    fill(db, &mut out).await?;
    Ok(out)
}

/// Live instances on `host`.
pub async fn on_host(db: &Db, host: &str) -> Result<Vec<InstanceRow>> {
    list(
        db,
        &ListFilter {
            host: Some(host.to_owned()),
            ..Default::default()
        },
    )
    .await
}

/// One value bound to a dynamic statement.
#[derive(Clone, Debug)]
pub enum Bind {
    Str(Option<String>),
    Int(Option<i64>),
}

impl Bind {
    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        match self {
            Bind::Str(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
        }
    }
}

/// The columns an update sets; `None` leaves a column alone.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub display_name: Option<String>,
    pub display_description: Option<Option<String>>,
    pub hostname: Option<String>,
    pub access_ip_v4: Option<Option<String>>,
    pub access_ip_v6: Option<Option<String>>,
    pub host: Option<Option<String>>,
    pub node: Option<Option<String>>,
    pub availability_zone: Option<Option<String>>,
    pub flavor: Option<FlavorSpec>,
    pub old_flavor: Option<Option<FlavorSpec>>,
    pub image_ref: Option<Option<String>>,
    pub image: Option<Option<ImageSpec>>,
    pub vm_state: Option<String>,
    pub task_state: Option<Option<String>>,
    pub power_state: Option<i64>,
    pub key_name: Option<Option<String>>,
    pub key_data: Option<Option<String>>,
    pub user_data: Option<Option<String>>,
    pub locked: Option<bool>,
    pub locked_by: Option<Option<String>>,
    pub locked_reason: Option<Option<String>>,
    pub progress: Option<i64>,
    pub attempts: Option<i64>,
    pub tried_hosts: Option<Vec<String>>,
    pub shelved_image_id: Option<Option<String>>,
    pub fault: Option<Option<FaultRow>>,
    pub launched_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub deleted: Option<bool>,
}

/// The conditions of a compare-and-swap update.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// `Some(None)`: the task must be none.
    pub task_state: Option<Option<String>>,
    pub vm_state: Option<String>,
    /// `Some(None)`: no host.
    pub host: Option<Option<String>>,
}

/// Applies `c` to the live instance if `expect` holds; false when it did
/// not (the instance changed meanwhile, or is gone).
pub async fn update(db: &Db, uuid: &str, c: &Changes, expect: &Expect) -> Result<bool> {
    let mut sets: Vec<(&str, Bind)> = Vec::new();
    let s = |v: &Option<String>| Bind::Str(v.clone());
    if let Some(v) = &c.display_name {
        sets.push(("display_name", Bind::Str(Some(v.clone()))));
    }
    if let Some(v) = &c.display_description {
        sets.push(("display_description", s(v)));
    }
    if let Some(v) = &c.access_ip_v4 {
        sets.push(("access_ip_v4", s(v)));
    }
    if let Some(v) = &c.access_ip_v6 {
        sets.push(("access_ip_v6", s(v)));
    }
    if let Some(v) = &c.hostname {
        sets.push(("hostname", Bind::Str(Some(v.clone()))));
    }
    if let Some(v) = &c.host {
        sets.push(("host", s(v)));
    }
    if let Some(v) = &c.node {
        sets.push(("node", s(v)));
    }
    if let Some(v) = &c.availability_zone {
        sets.push(("availability_zone", s(v)));
    }
    if let Some(f) = &c.flavor {
        sets.push(("vcpus", Bind::Int(Some(i64::from(f.vcpus)))));
        sets.push(("memory_mb", Bind::Int(Some(f.memory_mb as i64))));
        sets.push(("root_gb", Bind::Int(Some(f.root_gb as i64))));
        sets.push(("ephemeral_gb", Bind::Int(Some(f.ephemeral_gb as i64))));
        sets.push(("flavor_id", Bind::Str(Some(f.id.clone()))));
        sets.push(("flavor", Bind::Str(Some(to_json(f)))));
    }
    if let Some(v) = &c.old_flavor {
        sets.push(("old_flavor", Bind::Str(v.as_ref().map(to_json))));
    }
    if let Some(v) = &c.image_ref {
        sets.push(("image_ref", s(v)));
    }
    if let Some(v) = &c.image {
        sets.push(("image", Bind::Str(v.as_ref().map(to_json))));
    }
    if let Some(v) = &c.vm_state {
        sets.push(("vm_state", Bind::Str(Some(v.clone()))));
    }
    if let Some(v) = &c.task_state {
        sets.push(("task_state", s(v)));
    }
    if let Some(v) = c.power_state {
        sets.push(("power_state", Bind::Int(Some(v))));
    }
    if let Some(v) = &c.key_name {
        sets.push(("key_name", s(v)));
    }
    if let Some(v) = &c.key_data {
        sets.push(("key_data", s(v)));
    }
    if let Some(v) = &c.user_data {
        sets.push(("user_data", s(v)));
    }
    if let Some(v) = c.locked {
        sets.push(("locked", Bind::Int(Some(flag(v)))));
    }
    if let Some(v) = &c.locked_by {
        sets.push(("locked_by", s(v)));
    }
    if let Some(v) = &c.locked_reason {
        sets.push(("locked_reason", s(v)));
    }
    if let Some(v) = c.progress {
        sets.push(("progress", Bind::Int(Some(v))));
    }
    if let Some(v) = c.attempts {
        sets.push(("attempts", Bind::Int(Some(v))));
    }
    if let Some(v) = &c.tried_hosts {
        sets.push(("tried_hosts", Bind::Str(Some(to_json(v)))));
    }
    if let Some(v) = &c.shelved_image_id {
        sets.push(("shelved_image_id", s(v)));
    }
    if let Some(f) = &c.fault {
        let f = f.as_ref();
        sets.push(("fault_code", Bind::Int(f.map(|f| f.code))));
        sets.push(("fault_message", Bind::Str(f.map(|f| f.message.clone()))));
        sets.push(("fault_details", Bind::Str(f.and_then(|f| f.details.clone()))));
        sets.push(("fault_created_at", Bind::Int(f.map(|f| f.created_at))));
    }
    if let Some(v) = c.launched_at {
        sets.push(("launched_at", Bind::Int(Some(v))));
    }
    if let Some(v) = c.terminated_at {
        sets.push(("terminated_at", Bind::Int(Some(v))));
    }
    if let Some(v) = c.deleted_at {
        sets.push(("deleted_at", Bind::Int(Some(v))));
    }
    if let Some(v) = c.deleted {
        sets.push(("deleted", Bind::Int(Some(flag(v)))));
    }
    sets.push(("updated_at", Bind::Int(Some(super::now()))));
    let mut sql = String::from("UPDATE instances SET ");
    sql.push_str(
        &sets
            .iter()
            .map(|(c, _)| format!("{c} = ?"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    sql.push_str(" WHERE uuid = ? AND deleted = 0");
    let mut binds: Vec<Bind> = sets.into_iter().map(|(_, b)| b).collect();
    binds.push(Bind::Str(Some(uuid.to_owned())));
    match &expect.task_state {
        Some(Some(t)) => {
            sql.push_str(" AND task_state = ?");
            binds.push(Bind::Str(Some(t.clone())));
        }
        Some(None) => sql.push_str(" AND task_state IS NULL"),
        None => {}
    }
    if let Some(v) = &expect.vm_state {
        sql.push_str(" AND vm_state = ?");
        binds.push(Bind::Str(Some(v.clone())));
    }
    match &expect.host {
        Some(Some(h)) => {
            sql.push_str(" AND host = ?");
            binds.push(Bind::Str(Some(h.clone())));
        }
        Some(None) => sql.push_str(" AND host IS NULL"),
        None => {}
    }
    let mut q = sqlx::query(db.sql(&sql));
    for b in binds {
        q = b.bind(q);
    }
    let done = q.execute(db.writer()).await?;
    Ok(done.rows_affected() > 0)
}

/// Marks the instance deleted and drops what hangs off it that no API
/// shows for deleted servers (group membership). Returns false if it was
/// already deleted.
pub async fn mark_deleted(db: &Db, uuid: &str, now: i64) -> Result<bool> {
    let mut tx = db.writer().begin().await?;
    let done = sqlx::query(db.sql(
        "UPDATE instances SET deleted = 1, vm_state = 'deleted', task_state = NULL, power_state = 0, \
         deleted_at = ?, terminated_at = ?, updated_at = ? WHERE uuid = ? AND deleted = 0",
    ))
    .bind(now)
    .bind(now)
    .bind(now)
    .bind(uuid)
    .execute(&mut *tx)
    .await?;
    sqlx::query(db.sql("DELETE FROM server_group_members WHERE instance_uuid = ?"))
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

// ----- metadata -------------------------------------------------------

/// Replaces (`replace`) or merges the instance's metadata.
pub async fn set_metadata(db: &Db, uuid: &str, items: &BTreeMap<String, String>, replace: bool) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    if replace {
        sqlx::query(db.sql("DELETE FROM instance_metadata WHERE instance_uuid = ?"))
            .bind(uuid)
            .execute(&mut *tx)
            .await?;
    }
    for (k, v) in items {
        sqlx::query(db.sql("DELETE FROM instance_metadata WHERE instance_uuid = ? AND meta_key = ?"))
            .bind(uuid)
            .bind(k)
            .execute(&mut *tx)
            .await?;
        sqlx::query(db.sql("INSERT INTO instance_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)"))
            .bind(uuid)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(db.sql("UPDATE instances SET updated_at = ? WHERE uuid = ?"))
        .bind(super::now())
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes one key; false when it was not there.
pub async fn delete_metadata(db: &Db, uuid: &str, key: &str) -> Result<bool> {
    let done = sqlx::query(db.sql("DELETE FROM instance_metadata WHERE instance_uuid = ? AND meta_key = ?"))
        .bind(uuid)
        .bind(key)
        .execute(db.writer())
        .await?;
    Ok(done.rows_affected() > 0)
}

// ----- tags -----------------------------------------------------------

pub async fn set_tags(db: &Db, uuid: &str, tags: &[String]) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM instance_tags WHERE instance_uuid = ?"))
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
    for t in tags {
        sqlx::query(db.sql("INSERT INTO instance_tags (instance_uuid, tag) VALUES (?, ?)"))
            .bind(uuid)
            .bind(t)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(db.sql("UPDATE instances SET updated_at = ? WHERE uuid = ?"))
        .bind(super::now())
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds one tag; false when it was there already.
pub async fn add_tag(db: &Db, uuid: &str, tag: &str) -> Result<bool> {
    let res = sqlx::query(db.sql("INSERT INTO instance_tags (instance_uuid, tag) VALUES (?, ?)"))
        .bind(uuid)
        .bind(tag)
        .execute(db.writer())
        .await;
    match res {
        Ok(_) => Ok(true),
        Err(e) => match store::classify(e) {
            store::StoreError::Conflict(_) => Ok(false),
            other => Err(other.into()),
        },
    }
}

pub async fn delete_tag(db: &Db, uuid: &str, tag: &str) -> Result<bool> {
    let done = sqlx::query(db.sql("DELETE FROM instance_tags WHERE instance_uuid = ? AND tag = ?"))
        .bind(uuid)
        .bind(tag)
        .execute(db.writer())
        .await?;
    Ok(done.rows_affected() > 0)
}

// ----- counts for quotas ----------------------------------------------

/// (instances, cores, ram) of live instances of a project (and user).
/// Summed here: `SUM` of a BIGINT is NUMERIC on PostgreSQL, which the
/// `Any` driver cannot decode.
pub async fn usage(db: &Db, project_id: &str, user_id: Option<&str>) -> Result<(i64, i64, i64)> {
    let mut sql = String::from("SELECT vcpus, memory_mb FROM instances WHERE deleted = 0 AND project_id = ?");
    if user_id.is_some() {
        sql.push_str(" AND user_id = ?");
    }
    let mut q = sqlx::query(db.sql(&sql)).bind(project_id);
    if let Some(u) = user_id {
        q = q.bind(u.to_owned());
    }
    let rows = q.fetch_all(db.reader()).await?;
    let (mut n, mut c, mut r) = (0i64, 0i64, 0i64);
    for row in rows {
        n += 1;
        c += row.try_get::<i64, _>("vcpus")?;
        r += row.try_get::<i64, _>("memory_mb")?;
    }
    Ok((n, c, r))
}
