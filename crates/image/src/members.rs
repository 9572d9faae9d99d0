//! Image members: sharing a `shared` image with other projects.
//!
//! The owner adds a project (`pending`); that project accepts or rejects;
//! an accepted image appears in the member's default image list, and any
//! member (even `rejected`) may still show it by id. Only the owner adds
//! and removes members; only the member changes its own status.

use api::AuthContext;

use crate::Image;
use crate::db::members::MemberRow;
use crate::error::{ImageError, Result};

/// Glance's `image_member_quota`.
pub const MEMBER_QUOTA: i64 = 128;
pub const MEMBER_STATUSES: &[&str] = &["pending", "accepted", "rejected"];

impl Image {
    pub async fn add_member(&self, ctx: &AuthContext, image_id: &str, member: &str) -> Result<MemberRow> {
        let (img, m) = self.visible(ctx, image_id).await?;
        self.authorize(ctx, "add_member", &self.target(&img, m.as_ref()))?;
        if img.visibility != "shared" {
            return Err(ImageError::forbidden(format!(
                "Image members may only be added to images with 'shared' visibility; image {image_id} is {}.",
                img.visibility
            )));
        }
        if member.is_empty() || member.chars().count() > 255 {
            return Err(ImageError::bad("Invalid member id."));
        }
        if crate::db::members::count(&self.db, image_id).await? >= MEMBER_QUOTA {
            return Err(ImageError::OverLimit(format!(
                "Maximum number of image members exceeded: {MEMBER_QUOTA}"
            )));
        }
        let now = crate::db::now();
        let row = MemberRow {
            image_id: image_id.to_owned(),
            member: member.to_owned(),
            status: "pending".into(),
            created_at: now,
            updated_at: now,
        };
        crate::db::members::insert(&self.db, &row).await.map_err(|e| match e {
            ImageError::Store(store::StoreError::Conflict(_)) => {
                ImageError::conflict(format!("Member {member} is duplicated for image {image_id}"))
            }
            other => other,
        })?;
        Ok(row)
    }

    /// The owner sees every member; a member sees only itself.
    pub async fn list_members(&self, ctx: &AuthContext, image_id: &str) -> Result<Vec<MemberRow>> {
        let (img, m) = self.visible(ctx, image_id).await?;
        self.authorize(ctx, "get_members", &self.target(&img, m.as_ref()))
            .map_err(|_| ImageError::not_found(image_id))?;
        let owner = img.owner.is_some() && img.owner == ctx.project_id;
        let all = crate::db::members::list(&self.db, image_id).await?;
        Ok(if owner || self.is_admin(ctx) {
            all
        } else {
            all.into_iter()
                .filter(|r| Some(&r.member) == ctx.project_id.as_ref())
                .collect()
        })
    }

    pub async fn show_member(&self, ctx: &AuthContext, image_id: &str, member: &str) -> Result<MemberRow> {
        self.list_members(ctx, image_id)
            .await?
            .into_iter()
            .find(|r| r.member == member)
            .ok_or_else(|| ImageError::NotFound(format!("{member} is not a member of image {image_id}")))
    }

    pub async fn update_member(
        &self,
        ctx: &AuthContext,
        image_id: &str,
        member: &str,
        status: &str,
    ) -> Result<MemberRow> {
        let (img, m) = self.visible(ctx, image_id).await?;
        let Some(mut row) = crate::db::members::get(&self.db, image_id, member).await? else {
            return Err(ImageError::NotFound(format!(
                "{member} is not a member of image {image_id}"
            )));
        };
        if !MEMBER_STATUSES.contains(&status) {
            return Err(ImageError::bad(format!(
                "Invalid status: {status}; it must be one of pending, accepted, rejected."
            )));
        }
        let target = self.target(&img, m.as_ref());
        if ctx.project_id.as_deref() != Some(member) {
            return Err(ImageError::forbidden(format!(
                "You are not permitted to modify the status of member {member} of image {image_id}."
            )));
        }
        self.authorize(ctx, "modify_member", &target)?;
        row.status = status.to_owned();
        row.updated_at = crate::db::now();
        crate::db::members::set_status(&self.db, image_id, member, status, row.updated_at).await?;
        Ok(row)
    }

    pub async fn remove_member(&self, ctx: &AuthContext, image_id: &str, member: &str) -> Result<()> {
        let (img, m) = self.visible(ctx, image_id).await?;
        let owner = img.owner.is_some() && img.owner == ctx.project_id;
        if !owner && !self.is_admin(ctx) {
            if m.is_some() {
                return Err(ImageError::forbidden(format!(
                    "You are not permitted to remove members of image {image_id}."
                )));
            }
            return Err(ImageError::not_found(image_id));
        }
        self.authorize(ctx, "delete_member", &self.target(&img, m.as_ref()))?;
        if !crate::db::members::delete(&self.db, image_id, member).await? {
            return Err(ImageError::NotFound(format!(
                "{member} is not a member of image {image_id}"
            )));
        }
        Ok(())
    }
}
