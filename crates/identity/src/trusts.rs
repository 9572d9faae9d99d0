//! Trusts (OS-TRUST): a trustor delegates some of their roles on a project
//! to a trustee, who then gets trust-scoped tokens (issued and validated in
//! [`crate::token`], which re-checks the trustor still holds the roles).
//!
//! Keystone's rules, kept here: only the trustor creates a trust, with roles
//! they hold on the project; a trust with a project needs at least one
//! role; a deleted trust keeps its row with `deleted_at` set (what token
//! validation checks) and its tokens are revoked; an expired or used-up
//! trust is not found. Redelegation (a trustee passing a trust on) is not
//! supported: `allow_redelegation` is refused, as is creating a trust with
//! a trust-scoped token.

use api::AuthContext;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::app_creds::RoleRef;
use crate::assignment::Target;
use crate::db::roles::RoleRow;
use crate::db::trusts::{self, TrustRecord};
use crate::error::{IdentityError, Result, on_conflict};
use crate::revoke::RevokeEvent;
use crate::{Identity, db};

/// What a trustor asks for.
#[derive(Clone, Debug, Default)]
pub struct NewTrust {
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// `None`: unlimited; else at least 1.
    pub remaining_uses: Option<i64>,
    pub allow_redelegation: bool,
    pub roles: Vec<RoleRef>,
    /// Attributes Keystone keeps and returns without reading them.
    pub extra: Map<String, Value>,
}

/// A trust with its roles.
#[derive(Clone, Debug)]
pub struct Trust {
    pub record: TrustRecord,
    pub roles: Vec<RoleRow>,
}

fn delegated() -> IdentityError {
    IdentityError::Forbidden("Delegated tokens cannot manage trusts.".into())
}

/// Whether a trust is usable: not deleted, not expired, uses left.
fn live(t: &TrustRecord, now: i64) -> bool {
    t.deleted_at.is_none() && t.expires_at.is_none_or(|e| e > now) && t.remaining_uses.is_none_or(|u| u > 0)
}

impl Identity {
    /// Refuses tokens obtained through an application credential, as
    /// Keystone does for every trust operation.
    pub fn check_trust_manager(&self, caller: &AuthContext) -> Result<()> {
        if caller.application_credential_id.is_some() {
            return Err(delegated());
        }
        Ok(())
    }

    pub async fn create_trust(&self, caller: &AuthContext, new: NewTrust) -> Result<Trust> {
        self.check_trust_manager(caller)?;
        if caller.trust_id.is_some() || new.allow_redelegation {
            return Err(IdentityError::Forbidden("Trust redelegation is not supported.".into()));
        }
        if new.project_id.is_some() && new.roles.is_empty() {
            return Err(IdentityError::Forbidden(
                "At least one role should be specified.".into(),
            ));
        }
        if caller.user_id != new.trustor_user_id {
            return Err(IdentityError::Forbidden(
                "The authenticated user should match the trustor.".into(),
            ));
        }
        if new.remaining_uses.is_some_and(|u| u <= 0) {
            return Err(IdentityError::bad(
                "Invalid input for field 'trust.remaining_uses': must be a positive integer or null.",
            ));
        }
        crate::credentials::check_text_size("trust", &db::extra_to_text(&new.extra))?;
        self.get_user(&new.trustee_user_id).await?;
        let all = self.list_roles().await?;
        let mut roles: Vec<RoleRow> = Vec::new();
        for r in &new.roles {
            let role = match r {
                RoleRef::Id(id) => all
                    .iter()
                    .find(|x| &x.id == id)
                    .cloned()
                    .ok_or_else(|| IdentityError::not_found("role", id.clone()))?,
                RoleRef::Name(n) => self.find_role_by_name(n).await?,
            };
            if !roles.iter().any(|x| x.id == role.id) {
                roles.push(role);
            }
        }
        let held = match &new.project_id {
            Some(p) => {
                self.get_project(p).await?;
                self.effective_roles(&new.trustor_user_id, &Target::Project(p.clone()))
                    .await?
            }
            None => Vec::new(),
        };
        if let Some(r) = roles.iter().find(|r| !held.iter().any(|h| h.id == r.id)) {
            return Err(IdentityError::not_found("role", r.id.clone()));
        }
        let record = TrustRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            trustor_user_id: new.trustor_user_id,
            trustee_user_id: new.trustee_user_id,
            project_id: new.project_id,
            impersonation: new.impersonation,
            expires_at: new.expires_at.map(|t| t.timestamp()),
            remaining_uses: new.remaining_uses,
            redelegated_trust_id: None,
            redelegation_count: Some(0),
            deleted_at: None,
            extra: new.extra,
        };
        let role_ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
        trusts::insert(&self.db, &record, &role_ids)
            .await
            .map_err(on_conflict("trust", format_args!("id {}", record.id)))?;
        Ok(Trust { record, roles })
    }

    /// A usable trust with its roles (roles deleted since are left out).
    pub async fn get_trust(&self, id: &str) -> Result<Trust> {
        let record = trusts::get(&self.db, id)
            .await?
            .filter(|t| live(t, db::now()))
            .ok_or_else(|| IdentityError::not_found("trust", id))?;
        let role_ids = db::trusts::role_ids(&self.db, id).await?;
        let roles = self
            .list_roles()
            .await?
            .into_iter()
            .filter(|r| role_ids.contains(&r.id))
            .collect();
        Ok(Trust { record, roles })
    }

    /// The trusts not deleted, optionally of one trustor or trustee.
    pub async fn list_trusts(&self, trustor: Option<&str>, trustee: Option<&str>) -> Result<Vec<TrustRecord>> {
        Ok(trusts::list_live(&self.db)
            .await?
            .into_iter()
            .filter(|t| {
                trustor.is_none_or(|u| t.trustor_user_id == u) && trustee.is_none_or(|u| t.trustee_user_id == u)
            })
            .collect())
    }

    /// Deletes a trust (keeping its row, marked) and revokes its tokens.
    pub async fn delete_trust(&self, id: &str) -> Result<()> {
        if !trusts::soft_delete(&self.db, id, db::now()).await? {
            return Err(IdentityError::not_found("trust", id));
        }
        self.revoke(RevokeEvent {
            trust_id: Some(id.to_owned()),
            ..RevokeEvent::new(db::now())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_expired_and_used_up_trusts_are_not_live() {
        let t = TrustRecord {
            id: "t".into(),
            trustor_user_id: "a".into(),
            trustee_user_id: "b".into(),
            project_id: None,
            impersonation: false,
            expires_at: None,
            remaining_uses: None,
            redelegated_trust_id: None,
            redelegation_count: Some(0),
            deleted_at: None,
            extra: Map::new(),
        };
        assert!(live(&t, 100));
        assert!(!live(
            &TrustRecord {
                deleted_at: Some(5),
                ..t.clone()
            },
            100
        ));
        assert!(!live(
            &TrustRecord {
                expires_at: Some(100),
                ..t.clone()
            },
            100
        ));
        assert!(live(
            &TrustRecord {
                expires_at: Some(101),
                ..t.clone()
            },
            100
        ));
        assert!(!live(
            &TrustRecord {
                remaining_uses: Some(0),
                ..t.clone()
            },
            100
        ));
        assert!(live(
            &TrustRecord {
                remaining_uses: Some(1),
                ..t
            },
            100
        ));
    }
}
