//! Quotas, counted as Nova counts them since Pike ("counting quotas"): no
//! reservations — usage is counted from the tables when a request comes
//! in. Limits come from, in order: the user's own quota (when set), the
//! project's, the `default` quota class, Nova's defaults.

use std::collections::BTreeMap;

use crate::Compute;
use crate::db;
use crate::error::{ComputeError, Result};

/// Nova's `[quota]` defaults, in the order `os-quota-sets` shows them.
pub const DEFAULTS: &[(&str, i64)] = &[
    ("instances", 10),
    ("cores", 20),
    ("ram", 51200),
    ("metadata_items", 128),
    ("key_pairs", 100),
    ("server_groups", 10),
    ("server_group_members", 10),
    ("injected_files", 5),
    ("injected_file_content_bytes", 10240),
    ("injected_file_path_bytes", 255),
];

/// Resources that `os-quota-sets` shows before 2.36 (network proxies,
/// Nova answers them from its own defaults). Nova's `networks` quota
/// (nova-network) is gone: shown nowhere, refused by updates.
pub const LEGACY: &[(&str, i64)] = &[
    ("fixed_ips", -1),
    ("floating_ips", 10),
    ("security_group_rules", 20),
    ("security_groups", 10),
];

/// Hidden from `os-quota-sets` (and refused by its updates) from 2.36.
pub const FILTERED_2_36: &[&str] = &["fixed_ips", "floating_ips", "security_group_rules", "security_groups"];

/// Hidden from 2.57 on, on top of [`FILTERED_2_36`].
pub const FILTERED_2_57: &[&str] = &[
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
];

/// Nova's `db.MAX_INT`, the largest settable limit.
pub const MAX_LIMIT: i64 = 0x7FFF_FFFF;

/// One resource of `os-quota-sets/{id}/detail`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detail {
    pub limit: i64,
    pub in_use: i64,
}

pub fn is_known(resource: &str) -> bool {
    DEFAULTS.iter().any(|(r, _)| *r == resource) || LEGACY.iter().any(|(r, _)| *r == resource)
}

/// What was counted for a quota check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
}

impl Compute {
    /// The defaults with the `default` class applied.
    pub async fn quota_defaults(&self) -> Result<BTreeMap<String, i64>> {
        let mut out: BTreeMap<String, i64> = DEFAULTS
            .iter()
            .chain(LEGACY)
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        for (k, v) in db::quotas::class_limits(&self.db, "default").await? {
            out.insert(k, v);
        }
        Ok(out)
    }

    pub async fn quota_class(&self, class: &str) -> Result<BTreeMap<String, i64>> {
        let mut out = self.quota_defaults().await?;
        if class != "default" {
            for (k, v) in db::quotas::class_limits(&self.db, class).await? {
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    pub async fn set_quota_class(&self, class: &str, limits: &BTreeMap<String, i64>) -> Result<()> {
        for (k, v) in limits {
            db::quotas::set_class_limit(&self.db, class, k, *v).await?;
        }
        Ok(())
    }

    /// The limits in force for a project (and user).
    pub async fn quota_limits(&self, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, i64>> {
        let mut out = self.quota_defaults().await?;
        for (k, v) in db::quotas::project_limits(&self.db, project_id, None).await? {
            out.insert(k, v);
        }
        if let Some(u) = user_id {
            for (k, v) in db::quotas::project_limits(&self.db, project_id, Some(u)).await? {
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    pub async fn set_quota_limits(
        &self,
        project_id: &str,
        user_id: Option<&str>,
        limits: &BTreeMap<String, i64>,
    ) -> Result<()> {
        for (k, v) in limits {
            db::quotas::set_limit(&self.db, project_id, user_id, k, *v).await?;
        }
        Ok(())
    }

    pub async fn delete_quota_limits(&self, project_id: &str, user_id: Option<&str>) -> Result<()> {
        db::quotas::delete_limits(&self.db, project_id, user_id).await
    }

    /// What a project (or user) uses of each counted resource.
    pub async fn quota_usage(&self, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, i64>> {
        let (n, c, r) = db::servers::usage(&self.db, project_id, user_id).await?;
        let mut out = BTreeMap::new();
        out.insert("instances".to_owned(), n);
        out.insert("cores".to_owned(), c);
        out.insert("ram".to_owned(), r);
        out.insert(
            "server_groups".to_owned(),
            db::server_groups::count(&self.db, project_id, user_id).await?,
        );
        // Key pairs are per user; a project-wide count is not kept.
        let kp = match user_id {
            Some(u) => db::quotas::count_keypairs(&self.db, u).await.unwrap_or(0),
            None => 0,
        };
        out.insert("key_pairs".to_owned(), kp);
        Ok(out)
    }

    /// Limit and usage of every resource, for `.../detail` and `/limits`.
    pub async fn quota_details(&self, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, Detail>> {
        let limits = self.quota_limits(project_id, user_id).await?;
        let usage = self.quota_usage(project_id, user_id).await?;
        Ok(limits
            .into_iter()
            .map(|(k, limit)| {
                let in_use = usage.get(&k).copied().unwrap_or(0);
                (k, Detail { limit, in_use })
            })
            .collect())
    }

    /// Nova's quota update: every value is checked before any is stored.
    /// Unless `force`, a limit must be at least what is in use (for a
    /// user: by the user) and a user's limit at most the project's.
    pub async fn update_quota_limits(
        &self,
        project_id: &str,
        user_id: Option<&str>,
        limits: &BTreeMap<String, i64>,
        force: bool,
    ) -> Result<()> {
        for (k, v) in limits {
            if !is_known(k) {
                return Err(ComputeError::bad(format!("Unknown quota resource {k}.")));
            }
            if *v < -1 {
                return Err(ComputeError::bad(format!(
                    "Quota limit {v} for {k} must be -1 or greater."
                )));
            }
        }
        if !force {
            let usage = self.quota_usage(project_id, user_id).await?;
            let project = match user_id {
                Some(_) => Some(self.quota_limits(project_id, None).await?),
                None => None,
            };
            let inf = |x: i64| if x == -1 { i64::MAX } else { x };
            for (k, v) in limits {
                let minimum = usage.get(k).copied().unwrap_or(0);
                if inf(*v) < minimum {
                    return Err(ComputeError::bad(format!(
                        "Quota limit {v} for {k} must be greater than or equal to already used and reserved {minimum}."
                    )));
                }
                if let Some(maximum) = project.as_ref().and_then(|p| p.get(k).copied())
                    && inf(*v) > inf(maximum)
                {
                    return Err(ComputeError::bad(format!(
                        "Quota limit {v} for {k} must be less than or equal to {maximum}."
                    )));
                }
            }
        }
        self.set_quota_limits(project_id, user_id, limits).await
    }

    /// Nova's key pair quota: 403 when `user_id` already has as many key
    /// pairs as allowed. With `project_id`, the limit is the user's own
    /// `key_pairs` quota there, else the project's, else the default;
    /// without it (key pairs belong to users, not projects), the smallest
    /// per-user `key_pairs` quota of the user in any project, else the
    /// default.
    pub async fn check_keypair_quota(&self, project_id: Option<&str>, user_id: &str) -> Result<()> {
        let allowed = match project_id {
            Some(p) => self.quota_limits(p, Some(user_id)).await?.get("key_pairs").copied(),
            None => match db::quotas::user_limits_anywhere(&self.db, user_id, "key_pairs").await? {
                Some(l) => Some(l),
                None => self.quota_defaults().await?.get("key_pairs").copied(),
            },
        }
        .unwrap_or(-1);
        if allowed >= 0 && db::quotas::count_keypairs(&self.db, user_id).await? >= allowed {
            return Err(ComputeError::OverQuota(
                "Quota exceeded, too many key pairs.".to_owned(),
            ));
        }
        Ok(())
    }

    /// A resize's quota check: the growth in `cores` and `ram` of a
    /// server going to a bigger flavor must fit in the project's (and a
    /// user-scoped) limits, as Nova checks the flavor delta.
    pub async fn check_resize_quota(&self, project_id: &str, user_id: &str, cores: i64, ram: i64) -> Result<()> {
        for scope_user in [None, Some(user_id)] {
            if scope_user.is_some()
                && db::quotas::project_limits(&self.db, project_id, scope_user)
                    .await?
                    .is_empty()
            {
                continue;
            }
            let limits = self.quota_limits(project_id, scope_user).await?;
            let (_, used_cores, used_ram) = db::servers::usage(&self.db, project_id, scope_user).await?;
            for (name, used, delta) in [("cores", used_cores, cores), ("ram", used_ram, ram)] {
                let limit = limits.get(name).copied().unwrap_or(-1);
                if delta > 0 && limit >= 0 && used + delta > limit {
                    return Err(ComputeError::OverQuota(format!(
                        "Quota exceeded for {name}: Requested {delta}, but already used {used} of {limit} {name}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Nova's `check_num_instances_quota`: how many of `min..=max`
    /// instances of `vcpus`/`ram` fit; `Err` (403) when fewer than `min`.
    pub async fn check_instance_quota(
        &self,
        project_id: &str,
        user_id: &str,
        vcpus: i64,
        ram: i64,
        min_count: i64,
        max_count: i64,
    ) -> Result<i64> {
        let mut allowed = max_count;
        for scope_user in [None, Some(user_id)] {
            let limits = self.quota_limits(project_id, scope_user).await?;
            if scope_user.is_some()
                && db::quotas::project_limits(&self.db, project_id, scope_user)
                    .await?
                    .is_empty()
            {
                continue;
            }
            let (n, c, r) = db::servers::usage(&self.db, project_id, scope_user).await?;
            let used = [("cores", c), ("instances", n), ("ram", r)];
            let per = [("cores", vcpus), ("instances", 1), ("ram", ram)];
            let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
            let headroom = |k: &str, u: i64| if limit(k) < 0 { i64::MAX } else { (limit(k) - u).max(0) };
            let mut fits = max_count;
            for ((k, u), (_, each)) in used.iter().zip(per.iter()) {
                if *each > 0 {
                    fits = fits.min(headroom(k, *u) / each);
                }
            }
            if fits < min_count {
                let requested = |k: &str| -> String {
                    let each = per.iter().find(|(r, _)| *r == k).map(|(_, e)| *e).unwrap_or(1);
                    if k == "instances" {
                        if min_count == max_count {
                            min_count.to_string()
                        } else {
                            format!("{min_count}-{max_count}")
                        }
                    } else {
                        (each * max_count).to_string()
                    }
                };
                let overs: Vec<(&str, i64)> = used
                    .iter()
                    .zip(per.iter())
                    .filter(|((k, u), (_, each))| limit(k) >= 0 && u + each * max_count > limit(k))
                    .map(|((k, u), _)| (*k, *u))
                    .collect();
                let names: Vec<&str> = overs.iter().map(|(k, _)| *k).collect();
                let reqs: Vec<String> = names.iter().map(|k| requested(k)).collect();
                let useds: Vec<String> = overs.iter().map(|(_, u)| u.to_string()).collect();
                let alloweds: Vec<String> = names.iter().map(|k| limit(k).to_string()).collect();
                let overs = names.join(", ");
                return Err(ComputeError::OverQuota(format!(
                    "Quota exceeded for {overs}: Requested {}, but already used {} of {} {overs}",
                    reqs.join(", "),
                    useds.join(", "),
                    alloweds.join(", "),
                )));
            }
            allowed = allowed.min(fits);
        }
        Ok(allowed)
    }

    /// 403 when `count` metadata items exceed the project's limit.
    pub async fn check_metadata_quota(&self, project_id: &str, count: usize) -> Result<()> {
        let limits = self.quota_limits(project_id, None).await?;
        let allowed = limits.get("metadata_items").copied().unwrap_or(-1);
        if allowed >= 0 && count as i64 > allowed {
            return Err(ComputeError::OverQuota(format!(
                "Maximum number of metadata items exceeds {allowed}"
            )));
        }
        Ok(())
    }
}
