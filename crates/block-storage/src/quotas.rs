//! Quotas, counted as Cinder counts them: volumes, gigabytes (volumes and
//! snapshots, Cinder's `no_snapshot_gb_quota = False`), snapshots, and the
//! same three per volume type (`volumes_<type>` …, unlimited by default).
//! Usage is counted from the tables at each check; there are no
//! reservations, so two creates racing for the last unit can both pass.

use std::collections::BTreeMap;

use crate::BlockStorage;
use crate::db;
use crate::error::{Result, VolumeError};

/// Cinder's default quotas (`[DEFAULT] quota_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaDefaults {
    pub volumes: i64,
    pub snapshots: i64,
    pub gigabytes: i64,
    pub backups: i64,
    pub backup_gigabytes: i64,
    pub per_volume_gigabytes: i64,
    pub groups: i64,
}

impl Default for QuotaDefaults {
    fn default() -> Self {
        QuotaDefaults {
            volumes: 10,
            snapshots: 10,
            gigabytes: 1000,
            backups: 10,
            backup_gigabytes: 1000,
            per_volume_gigabytes: -1,
            groups: 10,
        }
    }
}

/// One quota line: the limit and what is used.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QuotaUsage {
    pub limit: i64,
    pub in_use: i64,
}

/// Resources that are counted (the rest are shown but cannot be used yet:
/// backups and groups are not built).
const COUNTED: &[&str] = &["volumes", "snapshots", "gigabytes"];

/// The quota class every project gets its defaults from.
pub const DEFAULT_CLASS: &str = "default";

/// Quota classes are kept in the `quotas` table under a name no project
/// id can have.
fn class_key(class: &str) -> String {
    format!("__class__:{class}")
}

/// What a create or extend adds.
#[derive(Clone, Debug, Default)]
pub struct Delta {
    pub volumes: i64,
    pub snapshots: i64,
    pub gigabytes: i64,
    /// The volume type's name, for the per-type lines.
    pub type_name: String,
    /// Only the per-type lines (a retype moves usage between types).
    pub per_type_only: bool,
}

impl Delta {
    pub fn per_type_only(mut self) -> Delta {
        self.per_type_only = true;
        self
    }
}

impl BlockStorage {
    /// Every quota of the project with its usage, keyed as Cinder keys
    /// the quota set.
    pub async fn quota_usage(&self, project_id: &str) -> Result<BTreeMap<String, QuotaUsage>> {
        let d = &self.config.quota_defaults;
        let mut out: BTreeMap<String, QuotaUsage> = BTreeMap::new();
        for (k, v) in [
            ("volumes", d.volumes),
            ("snapshots", d.snapshots),
            ("gigabytes", d.gigabytes),
            ("backups", d.backups),
            ("backup_gigabytes", d.backup_gigabytes),
            ("per_volume_gigabytes", d.per_volume_gigabytes),
            ("groups", d.groups),
        ] {
            out.insert(k.into(), QuotaUsage { limit: v, in_use: 0 });
        }
        let types = db::types::list(&self.db).await?;
        let names: BTreeMap<String, String> = types.iter().map(|t| (t.id.clone(), t.name.clone())).collect();
        for t in &types {
            for r in COUNTED {
                out.insert(format!("{r}_{}", t.name), QuotaUsage { limit: -1, in_use: 0 });
            }
        }
        for (type_id, size) in db::volumes::sizes(&self.db, project_id).await? {
            let name = names.get(&type_id).cloned().unwrap_or_default();
            for (k, n) in [("volumes", 1), ("gigabytes", size)] {
                out.entry(k.into()).or_default().in_use += n;
                if let Some(e) = out.get_mut(&format!("{k}_{name}")) {
                    e.in_use += n;
                }
            }
        }
        for (type_id, size) in db::snapshots::sizes(&self.db, project_id).await? {
            let name = names.get(&type_id).cloned().unwrap_or_default();
            for (k, n) in [("snapshots", 1), ("gigabytes", size)] {
                out.entry(k.into()).or_default().in_use += n;
                if let Some(e) = out.get_mut(&format!("{k}_{name}")) {
                    e.in_use += n;
                }
            }
        }
        // The `default` quota class overrides the configured defaults; the
        // project's own limits override both.
        let mut owners = vec![class_key(DEFAULT_CLASS)];
        if project_id != owners[0] {
            owners.push(project_id.to_owned());
        }
        for owner in owners {
            for (k, limit) in db::quotas::limits(&self.db, &owner).await? {
                if let Some(e) = out.get_mut(&k) {
                    e.limit = limit;
                }
            }
        }
        Ok(out)
    }

    /// The defaults (the `default` quota class), keyed as the quota set.
    pub async fn quota_defaults(&self) -> Result<BTreeMap<String, i64>> {
        self.quota_class(DEFAULT_CLASS).await
    }

    /// A quota class's limits: the defaults with the class's own values.
    pub async fn quota_class(&self, class: &str) -> Result<BTreeMap<String, i64>> {
        Ok(self
            .quota_usage(&class_key(class))
            .await?
            .into_iter()
            .map(|(k, v)| (k, v.limit))
            .collect())
    }

    /// Sets a quota class's limits (admin); the `default` class changes
    /// every project's defaults.
    pub async fn set_quota_class(&self, class: &str, limits: &BTreeMap<String, i64>) -> Result<()> {
        if class.is_empty() || class.len() > 200 {
            return Err(VolumeError::bad(
                "Invalid input received: quota class name must be 1 to 200 characters.",
            ));
        }
        self.set_quotas(&class_key(class), limits).await
    }

    /// 413 with Cinder's message when `delta` does not fit the project's
    /// quotas.
    pub async fn check_quota(&self, project_id: &str, delta: &Delta) -> Result<()> {
        let q = self.quota_usage(project_id).await?;
        let per_volume = q.get("per_volume_gigabytes").map_or(-1, |u| u.limit);
        if delta.volumes > 0 && per_volume >= 0 && delta.gigabytes > per_volume {
            return Err(VolumeError::OverQuota(format!(
                "Requested volume size {}G is larger than maximum allowed limit {per_volume}G.",
                delta.gigabytes
            )));
        }
        let scoped = |base: &str| {
            let mut keys = vec![format!("{base}_{}", delta.type_name)];
            if !delta.per_type_only {
                keys.insert(0, base.to_owned());
            }
            keys
        };
        for key in scoped("gigabytes") {
            if delta.gigabytes <= 0 {
                break;
            }
            if let Some(u) = q.get(&key)
                && u.limit >= 0
                && u.in_use + delta.gigabytes > u.limit
            {
                return Err(VolumeError::OverQuota(format!(
                    "Requested volume or snapshot exceeds allowed {key} quota. Requested {}G, quota is {}G and {}G \
                     has been consumed.",
                    delta.gigabytes, u.limit, u.in_use
                )));
            }
        }
        for (base, n, label) in [
            ("volumes", delta.volumes, "volumes"),
            ("snapshots", delta.snapshots, "snapshots"),
        ] {
            if n <= 0 {
                continue;
            }
            for key in scoped(base) {
                if let Some(u) = q.get(&key)
                    && u.limit >= 0
                    && u.in_use + n > u.limit
                {
                    return Err(VolumeError::OverQuota(format!(
                        "Maximum number of {label} allowed ({}) exceeded for quota '{key}'.",
                        u.limit
                    )));
                }
            }
        }
        Ok(())
    }

    /// Sets limits (admin); each must be ≥ -1 and not below what is used.
    pub async fn set_quotas(&self, project_id: &str, limits: &BTreeMap<String, i64>) -> Result<()> {
        let q = self.quota_usage(project_id).await?;
        let bad: Vec<&str> = limits
            .keys()
            .filter(|k| !q.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !bad.is_empty() {
            return Err(VolumeError::bad(format!("Bad key(s) in quota set: {}", bad.join(", "))));
        }
        for (k, &v) in limits {
            if v < -1 {
                return Err(VolumeError::bad(format!(
                    "Invalid input received: Quota limit {v} for {k} must be -1 or greater."
                )));
            }
            let used = q.get(k).map_or(0, |u| u.in_use);
            if v >= 0 && v < used {
                return Err(VolumeError::bad(format!(
                    "Invalid input received: Quota {k} limit must be equal or greater than existing resources. \
                     Current usage is {used} and the requested limit is {v}."
                )));
            }
        }
        for (k, &v) in limits {
            db::quotas::set(&self.db, project_id, k, v).await?;
        }
        Ok(())
    }

    pub async fn reset_quotas(&self, project_id: &str) -> Result<()> {
        db::quotas::clear(&self.db, project_id).await
    }
}
