//! QoS specs (Cinder's `qos-specs`): named sets of limits with a consumer —
//! `back-end` (the volume backend enforces them), `front-end` (the
//! hypervisor does: they travel to Nova in the connection info's
//! `data.qos_specs`) or `both` — associated with volume types, at most one
//! per type. A volume gets its type's spec.
//!
//! What this cloud enforces: front-end specs reach the compute side in the
//! connection info (with Cinder's per-GB expansion of `*_per_gb` keys), as
//! Cinder's volume manager sends them; applying them as QEMU throttling is
//! the compute agent's, and the file backend has no back-end limits.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::db::qos_specs::QosRow;
use crate::db::types::TypeRow;
use crate::db::volumes::VolumeRow;
use crate::error::{Result, VolumeError};
use crate::{BlockStorage, db};

/// Cinder's `CONTROL_LOCATION`, in its order (the 400 text lists them).
pub const CONSUMERS: [&str; 3] = ["front-end", "back-end", "both"];
pub const DEFAULT_CONSUMER: &str = "back-end";

/// The limits Cinder expands from `<limit>_per_gb` (× the volume's size,
/// at least `<limit>_per_gb_min`, at most `<limit>_max`).
const PER_GB_LIMITS: [&str; 6] = [
    "read_iops_sec",
    "read_bytes_sec",
    "write_iops_sec",
    "write_bytes_sec",
    "total_iops_sec",
    "total_bytes_sec",
];

pub fn qos_not_found(id: &str) -> VolumeError {
    VolumeError::NotFound(format!("No such QoS spec {id}."))
}

fn check_consumer(consumer: &str) -> Result<()> {
    if CONSUMERS.contains(&consumer) {
        return Ok(());
    }
    Err(VolumeError::bad(
        "Invalid input received: Invalid qos specs: Valid consumer of QoS specs are: \
         ['front-end', 'back-end', 'both']",
    ))
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(VolumeError::bad("Please specify a name for QoS specs."));
    }
    if name.len() > 255 || name.trim() != name {
        return Err(VolumeError::bad(
            "Invalid input for field/attribute name: a QoS specs name is 1 to 255 characters \
             without leading or trailing spaces.",
        ));
    }
    Ok(())
}

fn check_specs(specs: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in specs {
        if k.is_empty() || k.len() > 255 || v.len() > 255 || k.contains(' ') {
            return Err(VolumeError::bad(
                "Invalid input received: qos specs keys are 1 to 255 characters without spaces, \
                 values at most 255 characters.",
            ));
        }
    }
    Ok(())
}

/// Cinder's per-GB expansion of front-end specs for a volume of
/// `size_gb`: `x_per_gb` becomes `x` = max(`x_per_gb_min`, `x_per_gb` ×
/// size), capped at `x_max`. Unparsable numbers leave the keys as they are.
pub fn expand_per_gb(specs: &BTreeMap<String, String>, size_gb: i64) -> Map<String, Value> {
    let mut out: Map<String, Value> = specs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    for limit in PER_GB_LIMITS {
        let per_gb_key = format!("{limit}_per_gb");
        let min_key = format!("{limit}_per_gb_min");
        let max_key = format!("{limit}_max");
        let Some(per_gb) = specs.get(&per_gb_key).and_then(|v| v.trim().parse::<i64>().ok()) else {
            continue;
        };
        let number = |key: &str| specs.get(key).map(|v| v.trim().parse::<i64>());
        let minimum = match number(&min_key) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => continue,
        };
        let value = per_gb.saturating_mul(size_gb).max(minimum);
        let value = match number(&max_key) {
            None => value,
            Some(Ok(n)) => value.min(n),
            Some(Err(_)) => continue,
        };
        out.remove(&per_gb_key);
        out.remove(&min_key);
        out.remove(&max_key);
        out.insert(limit.to_owned(), json!(value));
    }
    out
}

impl BlockStorage {
    pub async fn get_qos(&self, id: &str) -> Result<QosRow> {
        db::qos_specs::get(&self.db, id).await?.ok_or_else(|| qos_not_found(id))
    }

    pub async fn list_qos(&self) -> Result<Vec<QosRow>> {
        db::qos_specs::list(&self.db).await
    }

    /// Creates a spec; `consumer` defaults to `back-end`.
    pub async fn create_qos(
        &self,
        name: &str,
        consumer: Option<String>,
        specs: BTreeMap<String, String>,
    ) -> Result<QosRow> {
        check_name(name)?;
        let consumer = consumer.unwrap_or_else(|| DEFAULT_CONSUMER.to_owned());
        check_consumer(&consumer)?;
        check_specs(&specs)?;
        let exists = || VolumeError::Conflict(format!("QoS Specs {name} already exists."));
        if db::qos_specs::by_name(&self.db, name).await?.is_some() {
            return Err(exists());
        }
        let now = db::now();
        let row = QosRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            consumer,
            specs,
            created_at: now,
            updated_at: now,
        };
        match db::qos_specs::insert(&self.db, &row).await {
            Err(VolumeError::Store(store::StoreError::Conflict(_))) => Err(exists()),
            r => r.map(|()| row),
        }
    }

    /// Sets keys (and the consumer when given).
    pub async fn update_qos(
        &self,
        id: &str,
        consumer: Option<String>,
        specs: BTreeMap<String, String>,
    ) -> Result<QosRow> {
        if let Some(c) = &consumer {
            check_consumer(c)?;
        }
        check_specs(&specs)?;
        let mut row = self.get_qos(id).await?;
        if let Some(c) = consumer {
            row.consumer = c;
        }
        row.specs.extend(specs);
        db::qos_specs::update(&self.db, &row).await?;
        Ok(row)
    }

    /// Removes keys: all of them or, when one is unknown, none (404).
    pub async fn delete_qos_keys(&self, id: &str, keys: &[String]) -> Result<()> {
        let mut row = self.get_qos(id).await?;
        for key in keys {
            if row.specs.remove(key).is_none() {
                return Err(VolumeError::NotFound(format!(
                    "QoS spec {id} has no spec with key {key}."
                )));
            }
        }
        db::qos_specs::update(&self.db, &row).await
    }

    /// Deletes a spec; one still associated only when `force` (which
    /// disassociates it first, in the same transaction).
    pub async fn delete_qos(&self, id: &str, force: bool) -> Result<()> {
        let row = self.get_qos(id).await?;
        if !force && !db::qos_specs::associations(&self.db, &row.id).await?.is_empty() {
            return Err(VolumeError::bad("Qos specs still in use."));
        }
        db::qos_specs::delete(&self.db, &row.id).await
    }

    pub async fn qos_associations(&self, id: &str) -> Result<Vec<TypeRow>> {
        let row = self.get_qos(id).await?;
        db::qos_specs::associations(&self.db, &row.id).await
    }

    /// A type by id for an association (Cinder looks types up by id only).
    async fn association_type(&self, type_id: &str) -> Result<TypeRow> {
        db::types::get(&self.db, type_id)
            .await?
            .ok_or_else(|| VolumeError::type_not_found(type_id))
    }

    /// Associates the spec with a type; again is a no-op, a type that has
    /// another spec is a 400.
    pub async fn associate_qos(&self, id: &str, type_id: &str) -> Result<()> {
        let row = self.get_qos(id).await?;
        let t = self.association_type(type_id).await?;
        let taken = |other: &str| {
            VolumeError::bad(format!(
                "Invalid volume type: Type {type_id} is already associated with another qos specs: {other}"
            ))
        };
        match t.qos_specs_id.as_deref() {
            Some(current) if current == row.id => return Ok(()),
            Some(current) => return Err(taken(current)),
            None => {}
        }
        if db::qos_specs::associate(&self.db, &row.id, &t.id).await? {
            return Ok(());
        }
        // Another request associated it in between.
        match self.association_type(type_id).await?.qos_specs_id {
            Some(current) if current == row.id => Ok(()),
            Some(current) => Err(taken(&current)),
            None => Err(VolumeError::Conflict(format!(
                "Type {type_id} changed while it was being associated; try again."
            ))),
        }
    }

    pub async fn disassociate_qos(&self, id: &str, type_id: &str) -> Result<()> {
        let row = self.get_qos(id).await?;
        let t = self.association_type(type_id).await?;
        db::qos_specs::disassociate(&self.db, &row.id, &t.id).await
    }

    pub async fn disassociate_all_qos(&self, id: &str) -> Result<()> {
        let row = self.get_qos(id).await?;
        db::qos_specs::disassociate_all(&self.db, &row.id).await
    }

    /// The connection info's `data.qos_specs` for a volume: its type's
    /// spec when the hypervisor is to apply it (`front-end`, `both`),
    /// per-GB limits expanded for the volume's size; `null` otherwise.
    pub(crate) async fn front_end_qos(&self, v: &VolumeRow) -> Result<Value> {
        let Some(t) = db::types::get(&self.db, &v.volume_type_id).await? else {
            return Ok(Value::Null);
        };
        let Some(qos_id) = t.qos_specs_id else {
            return Ok(Value::Null);
        };
        let Some(qos) = db::qos_specs::get(&self.db, &qos_id).await? else {
            return Ok(Value::Null);
        };
        if !matches!(qos.consumer.as_str(), "front-end" | "both") {
            return Ok(Value::Null);
        }
        Ok(Value::Object(expand_per_gb(&qos.specs, v.size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn per_gb_limits_scale_with_the_size_between_min_and_max() {
        let s = specs(&[
            ("read_iops_sec_per_gb", "10"),
            ("read_iops_sec_per_gb_min", "50"),
            ("write_bytes_sec_per_gb", "1000"),
            ("write_bytes_sec_max", "4500"),
            ("total_iops_sec", "300"),
        ]);
        let small = expand_per_gb(&s, 2);
        assert_eq!(small["read_iops_sec"], json!(50), "the minimum wins: {small:?}");
        assert_eq!(small["write_bytes_sec"], json!(2000));
        assert_eq!(small["total_iops_sec"], json!("300"));
        assert!(!small.contains_key("read_iops_sec_per_gb"));
        assert!(!small.contains_key("write_bytes_sec_max"));
        let big = expand_per_gb(&s, 10);
        assert_eq!(big["read_iops_sec"], json!(100));
        assert_eq!(big["write_bytes_sec"], json!(4500), "the maximum caps: {big:?}");
    }

    #[test]
    fn unparsable_per_gb_keys_are_left_alone() {
        let s = specs(&[("read_iops_sec_per_gb", "lots")]);
        let out = expand_per_gb(&s, 3);
        assert_eq!(out["read_iops_sec_per_gb"], json!("lots"));
        assert!(!out.contains_key("read_iops_sec"));
    }

    #[test]
    fn consumers_and_names_are_checked() {
        assert!(check_consumer("both").is_ok());
        assert!(check_consumer("middle").is_err());
        assert!(check_name("gold").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(" gold").is_err());
        assert!(check_name(&"x".repeat(256)).is_err());
    }
}
