//! Policy blobs (`/v3/policies`): Keystone's legacy, deprecated-since-Queens
//! store of policy documents for other services to fetch. Keystone neither
//! reads nor checks them, and neither does oxistack: each service enforces
//! its own defaults and the operator's `policy.yaml` (see the `policy`
//! crate). The endpoint associations of `OS-ENDPOINT-POLICY` are not kept.

use crate::Identity;
use crate::db::policies::{self, PolicyRow};
use crate::error::{IdentityError, Result, on_conflict};

fn check(p: &PolicyRow) -> Result<()> {
    if p.policy_type.chars().count() > 255 {
        return Err(IdentityError::bad(
            "Invalid input for field 'type': longer than 255 characters.",
        ));
    }
    Ok(())
}

impl Identity {
    pub async fn list_policies(&self) -> Result<Vec<PolicyRow>> {
        Ok(policies::list(&self.db).await?)
    }

    pub async fn get_policy(&self, id: &str) -> Result<PolicyRow> {
        policies::get(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("policy", id))
    }

    pub async fn create_policy(&self, p: PolicyRow) -> Result<PolicyRow> {
        check(&p)?;
        policies::insert(&self.db, &p)
            .await
            .map_err(on_conflict("policy", format_args!("id {}", p.id)))?;
        Ok(p)
    }

    pub async fn update_policy(&self, p: PolicyRow) -> Result<PolicyRow> {
        check(&p)?;
        if !policies::update(&self.db, &p).await? {
            return Err(IdentityError::not_found("policy", p.id));
        }
        Ok(p)
    }

    pub async fn delete_policy(&self, id: &str) -> Result<()> {
        if !policies::delete(&self.db, id).await? {
            return Err(IdentityError::not_found("policy", id));
        }
        Ok(())
    }
}
