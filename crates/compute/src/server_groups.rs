//! Server groups (`os-server-groups`): a policy for where members go —
//! `affinity`, `anti-affinity` (hard, filters), `soft-affinity`,
//! `soft-anti-affinity` (weights) — and, from 2.64, `rules`
//! (`max_server_per_host` for anti-affinity).

use serde_json::{Map, Value};

use crate::Compute;
use crate::db;
use crate::db::server_groups::GroupRow;
use crate::error::{ComputeError, Result};
use crate::servers::Caller;

pub const POLICIES: &[&str] = &["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"];

impl Compute {
    pub async fn create_server_group(
        &self,
        caller: &Caller,
        name: &str,
        policy: &str,
        rules: Map<String, Value>,
    ) -> Result<GroupRow> {
        if !POLICIES.contains(&policy) {
            return Err(ComputeError::bad(format!(
                "Invalid input for field/attribute policy. Value: {policy}."
            )));
        }
        if !rules.is_empty() {
            if policy != "anti-affinity" {
                return Err(ComputeError::bad("Only anti-affinity policy supports rules."));
            }
            for (k, v) in &rules {
                if k != "max_server_per_host" {
                    return Err(ComputeError::bad(format!(
                        "Invalid input for field/attribute rules. Value: {}. Additional properties are not allowed ('{k}' was unexpected)",
                        Value::Object(rules.clone())
                    )));
                }
                let ok = v.as_i64().is_some_and(|n| n >= 1)
                    || v.as_str().and_then(|s| s.parse::<i64>().ok()).is_some_and(|n| n >= 1);
                if !ok {
                    return Err(ComputeError::bad(format!(
                        "Invalid input for field/attribute max_server_per_host. Value: {v}. {v} is less than the minimum of 1"
                    )));
                }
            }
        }
        let limits = self.quota_limits(caller.project_id(), Some(caller.user_id())).await?;
        let allowed = limits.get("server_groups").copied().unwrap_or(-1);
        if allowed >= 0 {
            let used = db::server_groups::count(&self.db, caller.project_id(), None).await?;
            if used + 1 > allowed {
                return Err(ComputeError::OverQuota(
                    "Quota exceeded, too many server groups.".to_owned(),
                ));
            }
        }
        let mut rules = rules;
        if let Some(v) = rules.get("max_server_per_host").cloned()
            && let Some(s) = v.as_str()
            && let Ok(n) = s.parse::<i64>()
        {
            rules.insert("max_server_per_host".into(), Value::from(n));
        }
        let g = GroupRow {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            project_id: caller.project_id().to_owned(),
            user_id: caller.user_id().to_owned(),
            policy: policy.to_owned(),
            rules: Value::Object(rules).to_string(),
            created_at: db::now(),
            members: Vec::new(),
        };
        db::server_groups::insert(&self.db, &g).await?;
        tracing::info!(group = %g.uuid, policy, request_id = %caller.request_id, "server group created");
        Ok(g)
    }

    pub async fn get_server_group(&self, uuid: &str) -> Result<GroupRow> {
        db::server_groups::get(&self.db, uuid)
            .await?
            .ok_or_else(|| ComputeError::not_found(format!("Instance group {uuid} could not be found.")))
    }

    pub async fn list_server_groups(&self, project_id: Option<&str>) -> Result<Vec<GroupRow>> {
        db::server_groups::list(&self.db, project_id).await
    }

    pub async fn delete_server_group(&self, uuid: &str) -> Result<()> {
        if !db::server_groups::delete(&self.db, uuid).await? {
            return Err(ComputeError::not_found(format!(
                "Instance group {uuid} could not be found."
            )));
        }
        Ok(())
    }

    pub async fn server_groups_of(&self, instance_uuid: &str) -> Result<Vec<String>> {
        db::server_groups::of_instance(&self.db, instance_uuid).await
    }
}
