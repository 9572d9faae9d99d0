//! Users, groups and passwords. Passwords are bcrypt hashes, as Keystone's
//! default hasher makes them; hashing and verifying run on the blocking pool
//! because each costs ~0.3 s of CPU at the default cost.

use crate::db::users::{self, GroupRow, UserRow};
use crate::error::{IdentityError, Result, on_conflict};
use crate::revoke::RevokeEvent;
use crate::{Identity, db};

pub fn check_user_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(IdentityError::bad(
            "Invalid input for field 'name': the name must be 1-255 characters.",
        ));
    }
    Ok(())
}

/// Hashes off the async threads.
pub async fn hash_password(password: String, cost: u32) -> Result<String> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| IdentityError::Internal(format!("hashing task: {e}")))?
        .map_err(|e| IdentityError::Internal(format!("bcrypt: {e}")))
}

/// Verifies off the async threads; a malformed hash is a mismatch.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

impl Identity {
    pub async fn get_user(&self, id: &str) -> Result<UserRow> {
        users::get_user(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("user", id))
    }

    pub async fn find_user_by_name(&self, domain_id: &str, name: &str) -> Result<UserRow> {
        users::get_user_by_name(&self.db, domain_id, name)
            .await?
            .ok_or_else(|| IdentityError::not_found("user", name))
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        Ok(users::list_users(&self.db).await?)
    }

    /// Creates a user; `password` in clear, hashed here.
    pub async fn create_user(&self, mut u: UserRow, password: Option<String>) -> Result<UserRow> {
        check_user_name(&u.name)?;
        self.get_domain(&u.domain_id).await?;
        if let Some(pw) = password {
            u.password_hash = Some(hash_password(pw, self.config.password_hash_rounds).await?);
            u.password_created_at = Some(db::now());
        }
        users::insert_user(&self.db, &u).await.map_err(on_conflict(
            "user",
            format_args!("name {} at domain ID {}", u.name, u.domain_id),
        ))?;
        Ok(u)
    }

    /// Updates a user; a new password (admin reset) or disabling revokes the
    /// user's tokens.
    pub async fn update_user(&self, mut u: UserRow, new_password: Option<String>) -> Result<UserRow> {
        check_user_name(&u.name)?;
        let before = self.get_user(&u.id).await?;
        let reset = new_password.is_some();
        if let Some(pw) = new_password {
            u.password_hash = Some(hash_password(pw, self.config.password_hash_rounds).await?);
            u.password_created_at = Some(db::now());
        }
        users::update_user(&self.db, &u).await.map_err(on_conflict(
            "user",
            format_args!("name {} at domain ID {}", u.name, u.domain_id),
        ))?;
        if reset || (before.enabled && !u.enabled) {
            self.revoke_user(&u.id).await?;
        }
        Ok(u)
    }

    /// Self-service password change: the original password must match.
    pub async fn change_password(&self, user_id: &str, original: String, new: String) -> Result<()> {
        let u = self.get_user(user_id).await?;
        if !self.check_password(&u, original).await {
            return Err(IdentityError::Unauthorized(
                "The request you have made requires authentication.".into(),
            ));
        }
        self.update_user(u, Some(new)).await?;
        Ok(())
    }

    /// Whether `password` is the user's.
    pub async fn check_password(&self, u: &UserRow, password: String) -> bool {
        match &u.password_hash {
            Some(h) => verify_password(password, h.clone()).await,
            None => false,
        }
    }

    pub async fn delete_user(&self, id: &str) -> Result<()> {
        self.get_user(id).await?;
        users::delete_user(&self.db, id).await?;
        self.revoke_user(id).await
    }

    pub async fn revoke_user(&self, user_id: &str) -> Result<()> {
        self.revoke(RevokeEvent {
            user_id: Some(user_id.to_owned()),
            ..RevokeEvent::new(db::now())
        })
        .await
    }

    pub async fn get_group(&self, id: &str) -> Result<GroupRow> {
        users::get_group(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("group", id))
    }

    pub async fn list_groups(&self) -> Result<Vec<GroupRow>> {
        Ok(users::list_groups(&self.db).await?)
    }

    pub async fn create_group(&self, g: GroupRow) -> Result<GroupRow> {
        check_user_name(&g.name)?;
        self.get_domain(&g.domain_id).await?;
        users::insert_group(&self.db, &g)
            .await
            .map_err(on_conflict("group", format_args!("name {}", g.name)))?;
        Ok(g)
    }

    pub async fn update_group(&self, g: GroupRow) -> Result<GroupRow> {
        check_user_name(&g.name)?;
        users::update_group(&self.db, &g)
            .await
            .map_err(on_conflict("group", format_args!("name {}", g.name)))?;
        Ok(g)
    }

    /// Deleting a group takes its roles from its members: their tokens go.
    pub async fn delete_group(&self, id: &str) -> Result<()> {
        self.get_group(id).await?;
        let members = users::members_of_group(&self.db, id).await?;
        users::delete_group(&self.db, id).await?;
        for m in members {
            self.revoke_user(&m).await?;
        }
        Ok(())
    }

    pub async fn add_user_to_group(&self, group_id: &str, user_id: &str) -> Result<()> {
        self.get_group(group_id).await?;
        self.get_user(user_id).await?;
        Ok(users::add_member(&self.db, group_id, user_id).await?)
    }

    pub async fn remove_user_from_group(&self, group_id: &str, user_id: &str) -> Result<()> {
        self.get_group(group_id).await?;
        self.get_user(user_id).await?;
        if !users::remove_member(&self.db, group_id, user_id).await? {
            return Err(IdentityError::NotFound {
                kind: "user in group",
                id: format!("{user_id} in {group_id}"),
            });
        }
        self.revoke_user(user_id).await
    }

    pub async fn is_user_in_group(&self, group_id: &str, user_id: &str) -> Result<bool> {
        self.get_group(group_id).await?;
        self.get_user(user_id).await?;
        Ok(users::is_member(&self.db, group_id, user_id).await?)
    }

    pub async fn groups_of_user(&self, user_id: &str) -> Result<Vec<GroupRow>> {
        let ids = users::groups_of_user(&self.db, user_id).await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(g) = users::get_group(&self.db, &id).await? {
                out.push(g);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn users_in_group(&self, group_id: &str) -> Result<Vec<UserRow>> {
        self.get_group(group_id).await?;
        let mut out = Vec::new();
        for id in users::members_of_group(&self.db, group_id).await? {
            if let Some(u) = users::get_user(&self.db, &id).await? {
                out.push(u);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
