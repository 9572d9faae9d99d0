//! Application credentials and their access rules: a user hands (some of)
//! their roles on one project to an application, which then logs in with the
//! credential's id and secret (the `application_credential` auth method of
//! [`crate::token`]).
//!
//! The rules Keystone applies, kept here: the secret is shown once and
//! stored as a bcrypt hash; the roles default to those of the creating
//! token, and named roles must be among them (implied roles are added); a
//! name is unique per user; a token obtained through a trust may not manage
//! application credentials at all, and one obtained through a *restricted*
//! application credential may not create or delete them. Deleting a
//! credential revokes the tokens it issued.

use api::AuthContext;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use rand::RngCore;

use crate::db::grants::{self, AccessRuleRow, AppCredRow};
use crate::db::roles::RoleRow;
use crate::error::{IdentityError, Result, on_conflict};
use crate::revoke::RevokeEvent;
use crate::{Identity, db};

/// The methods an access rule may name.
pub const ACCESS_RULE_METHODS: [&str; 6] = ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"];

/// A role as a request names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleRef {
    Id(String),
    Name(String),
}

/// An access rule as a request gives it: an existing rule by id, or a new
/// (or identical existing) one by its three attributes.
#[derive(Clone, Debug, Default)]
pub struct AccessRuleSpec {
    pub id: Option<String>,
    pub service: Option<String>,
    pub path: Option<String>,
    pub method: Option<String>,
}

/// What a client asks for.
#[derive(Clone, Debug, Default)]
pub struct NewAppCred {
    pub name: String,
    pub description: Option<String>,
    /// Generated when absent.
    pub secret: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub unrestricted: bool,
    /// `None`: every role of the creating token.
    pub roles: Option<Vec<RoleRef>>,
    pub access_rules: Vec<AccessRuleSpec>,
}

/// An application credential with what its API shows.
#[derive(Clone, Debug)]
pub struct AppCred {
    pub row: AppCredRow,
    /// To the microsecond, as created.
    pub expires_at: Option<DateTime<Utc>>,
    pub roles: Vec<RoleRow>,
    pub access_rules: Vec<AccessRuleRow>,
    /// Only in the answer to the creation.
    pub secret: Option<String>,
}

/// Parses an ISO 8601 time as Keystone reads one (oslo's
/// `parse_isotime`): UTC when no zone is given.
pub fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let naive = v.strip_suffix('Z').unwrap_or(v);
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
                .map(|n| Utc.from_utc_datetime(&n))
        })
}

/// Parses an `expires_at` and refuses a time already past.
pub fn parse_expiry(value: &str) -> Result<DateTime<Utc>> {
    let parsed = parse_time(value).ok_or_else(|| {
        IdentityError::bad(format!(
            "Invalid input for field 'expires_at': timestamp {value:?} not in expected format."
        ))
    })?;
    if parsed <= Utc::now() {
        return Err(IdentityError::bad("The 'expires_at' must not be before now."));
    }
    Ok(parsed)
}

/// 64 random bytes, URL-safe base64 without padding, as Keystone makes them.
fn generate_secret() -> String {
    let mut bytes = [0u8; 64];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(IdentityError::bad(
            "Invalid input for field 'application_credential.name': the name must be 1-255 characters.",
        ));
    }
    Ok(())
}

/// Keystone's `id_string`: 1-64 letters, digits or '-'.
fn is_id_string(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn check_rule(service: &str, path: &str, method: &str) -> Result<()> {
    let bad = |field: &str, why: &str| {
        IdentityError::bad(format!(
            "Invalid input for field 'application_credential.access_rules.{field}': {why}"
        ))
    };
    if !is_id_string(service) {
        return Err(bad("service", "must be 1-64 letters, digits or '-'."));
    }
    if !path.starts_with('/') || path.chars().count() > 128 {
        return Err(bad("path", "must start with '/' and be at most 128 characters."));
    }
    if !ACCESS_RULE_METHODS.contains(&method) {
        return Err(bad("method", "must be one of DELETE, GET, HEAD, PATCH, POST, PUT."));
    }
    Ok(())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn from_micros(secs: i64, micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, u32::try_from(micros.clamp(0, 999_999) * 1000).unwrap_or(0))
}

impl Identity {
    /// Refuses tokens that may not manage application credentials: those
    /// obtained through a trust, and for `create`/`delete` (`changes`) those
    /// obtained through a restricted application credential.
    pub async fn check_app_cred_manager(&self, caller: &AuthContext, changes: bool) -> Result<()> {
        if caller.trust_id.is_some() {
            return Err(IdentityError::Forbidden(
                "Cannot manage application credentials with a token issued via delegation.".into(),
            ));
        }
        if changes && let Some(ac) = &caller.application_credential_id {
            let unrestricted = grants::get_app_cred(&self.db, ac)
                .await?
                .is_some_and(|a| a.unrestricted);
            if !unrestricted {
                return Err(IdentityError::Forbidden(
                    "Using method 'application_credential' is not allowed for managing additional \
                     application credentials."
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// Creates an application credential of the caller on the caller's
    /// project; the answer carries the secret, never shown again.
    pub async fn create_app_cred(&self, caller: &AuthContext, user_id: &str, new: NewAppCred) -> Result<AppCred> {
        if caller.user_id != user_id {
            return Err(IdentityError::Forbidden(
                "Cannot create an application credential for another user.".into(),
            ));
        }
        let project_id = caller.project_id.clone().ok_or_else(|| {
            IdentityError::Forbidden("Application credentials are created with a project-scoped token.".into())
        })?;
        check_name(&new.name)?;
        if let Some(d) = &new.description {
            crate::credentials::check_text_size("application_credential.description", d)?;
        }
        if grants::get_app_cred_by_name(&self.db, user_id, &new.name)
            .await?
            .is_some()
        {
            return Err(IdentityError::duplicate(
                "application_credential",
                format_args!("name {}", new.name),
            ));
        }
        let roles = self.app_cred_roles(caller, &project_id, new.roles.as_deref()).await?;
        let (new_rules, rules) = self.resolve_access_rules(user_id, &new.access_rules).await?;
        let secret = new.secret.filter(|s| !s.is_empty()).unwrap_or_else(generate_secret);
        let secret_hash = crate::users::hash_password(secret.clone(), self.config.password_hash_rounds).await?;
        let row = AppCredRow {
            id: new_id(),
            name: new.name,
            secret_hash,
            description: new.description,
            user_id: user_id.to_owned(),
            project_id: Some(project_id),
            system_scope: None,
            expires_at: new.expires_at.map(|t| t.timestamp()),
            unrestricted: new.unrestricted,
            created_at: db::now(),
        };
        let micros = new.expires_at.map_or(0, |t| i64::from(t.timestamp_subsec_micros()));
        let role_ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
        let rule_ids: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
        grants::create_app_cred(&self.db, &row, micros, &role_ids, &new_rules, &rule_ids)
            .await
            .map_err(on_conflict("application_credential", format_args!("name {}", row.name)))?;
        Ok(AppCred {
            expires_at: new.expires_at,
            row,
            roles,
            access_rules: rules,
            secret: Some(secret),
        })
    }

    /// The roles a new credential gets: those named (with the roles they
    /// imply), each held by the creating token, or all of the token's.
    async fn app_cred_roles(
        &self,
        caller: &AuthContext,
        project_id: &str,
        asked: Option<&[RoleRef]>,
    ) -> Result<Vec<RoleRow>> {
        let all = self.list_roles().await?;
        let by_id = |id: &str| all.iter().find(|r| r.id == id).cloned();
        let ids: Vec<String> = match asked.filter(|a| !a.is_empty()) {
            None => caller.role_ids.clone(),
            Some(asked) => {
                let mut named = Vec::new();
                for r in asked {
                    let role = match r {
                        RoleRef::Id(id) => by_id(id).ok_or_else(|| IdentityError::not_found("role", id.clone()))?,
                        RoleRef::Name(n) => self.find_role_by_name(n).await?,
                    };
                    named.push(role.id);
                }
                let ids = crate::assignment::expand_implied(&named, &self.implications().await?);
                if let Some(missing) = ids.iter().find(|id| !caller.role_ids.contains(id)) {
                    return Err(IdentityError::bad(format!(
                        "Invalid application credential: Cannot create an application credential with \
                         unassigned role {missing}."
                    )));
                }
                ids
            }
        };
        let held = self
            .effective_roles(
                &caller.user_id,
                &crate::assignment::Target::Project(project_id.to_owned()),
            )
            .await?;
        let mut out = Vec::new();
        for id in ids {
            if !held.iter().any(|r| r.id == id) {
                return Err(IdentityError::bad(format!(
                    "Invalid application credential: the user has no role {id} on project {project_id}."
                )));
            }
            if let Some(r) = by_id(&id)
                && !out.iter().any(|o: &RoleRow| o.id == r.id)
            {
                out.push(r);
            }
        }
        if out.is_empty() {
            return Err(IdentityError::bad(
                "Invalid application credential: it would have no roles.",
            ));
        }
        Ok(out)
    }

    /// Finds or makes the access rules asked for: `(to insert, all)`.
    async fn resolve_access_rules(
        &self,
        user_id: &str,
        specs: &[AccessRuleSpec],
    ) -> Result<(Vec<AccessRuleRow>, Vec<AccessRuleRow>)> {
        let existing = grants::list_access_rules(&self.db, user_id).await?;
        let mut new_rules: Vec<AccessRuleRow> = Vec::new();
        let mut all: Vec<AccessRuleRow> = Vec::new();
        for s in specs {
            if let Some(id) = &s.id
                && let Some(r) = grants::get_access_rule(&self.db, id).await?
            {
                if r.user_id != user_id {
                    return Err(IdentityError::not_found("Access Rule", id.clone()));
                }
                if !all.contains(&r) {
                    all.push(r);
                }
                continue;
            }
            let (Some(service), Some(path), Some(method)) = (&s.service, &s.path, &s.method) else {
                return match &s.id {
                    Some(id) => Err(IdentityError::not_found("Access Rule", id.clone())),
                    None => Err(IdentityError::bad(
                        "Invalid input for field 'application_credential.access_rules': each rule needs \
                         'service', 'path' and 'method'.",
                    )),
                };
            };
            check_rule(service, path, method)?;
            if let Some(id) = &s.id
                && !is_id_string(id)
            {
                return Err(IdentityError::bad(
                    "Invalid input for field 'application_credential.access_rules.id': must be 1-64 letters, digits \
                     or '-'.",
                ));
            }
            let same = |r: &&AccessRuleRow| r.service == *service && r.path == *path && r.method == *method;
            let rule = match existing.iter().chain(new_rules.iter()).find(same) {
                Some(r) => r.clone(),
                None => {
                    let r = AccessRuleRow {
                        id: s.id.clone().unwrap_or_else(new_id),
                        user_id: user_id.to_owned(),
                        service: service.clone(),
                        path: path.clone(),
                        method: method.clone(),
                    };
                    new_rules.push(r.clone());
                    r
                }
            };
            if !all.contains(&rule) {
                all.push(rule);
            }
        }
        Ok((new_rules, all))
    }

    async fn app_cred_view(&self, row: AppCredRow) -> Result<AppCred> {
        let micros = grants::app_cred_expiry_micros(&self.db, &row.id).await?;
        let role_ids = grants::app_cred_role_ids(&self.db, &row.id).await?;
        let all = self.list_roles().await?;
        let roles = all.into_iter().filter(|r| role_ids.contains(&r.id)).collect();
        let access_rules = grants::app_cred_access_rules(&self.db, &row.id).await?;
        Ok(AppCred {
            expires_at: row.expires_at.and_then(|s| from_micros(s, micros)),
            row,
            roles,
            access_rules,
            secret: None,
        })
    }

    /// The owner of an application credential, if it exists (for policy).
    pub async fn app_cred_owner(&self, id: &str) -> Result<Option<String>> {
        Ok(grants::get_app_cred(&self.db, id).await?.map(|a| a.user_id))
    }

    /// A user's application credential.
    pub async fn get_app_cred(&self, user_id: &str, id: &str) -> Result<AppCred> {
        match grants::get_app_cred(&self.db, id).await? {
            Some(row) if row.user_id == user_id => self.app_cred_view(row).await,
            _ => Err(IdentityError::not_found("Application Credential", id)),
        }
    }

    pub async fn list_app_creds(&self, user_id: &str) -> Result<Vec<AppCred>> {
        let mut out = Vec::new();
        for row in grants::list_app_creds(&self.db, user_id).await? {
            out.push(self.app_cred_view(row).await?);
        }
        Ok(out)
    }

    /// Deletes a user's application credential and revokes its tokens.
    pub async fn delete_app_cred(&self, user_id: &str, id: &str) -> Result<()> {
        let row = grants::get_app_cred(&self.db, id).await?;
        if row.is_none_or(|r| r.user_id != user_id) || !grants::delete_app_cred(&self.db, id).await? {
            return Err(IdentityError::not_found("Application Credential", id));
        }
        self.revoke(RevokeEvent {
            application_credential_id: Some(id.to_owned()),
            ..RevokeEvent::new(db::now())
        })
        .await
    }

    pub async fn list_access_rules(&self, user_id: &str) -> Result<Vec<AccessRuleRow>> {
        Ok(grants::list_access_rules(&self.db, user_id).await?)
    }

    pub async fn get_access_rule(&self, user_id: &str, id: &str) -> Result<AccessRuleRow> {
        grants::get_access_rule(&self.db, id)
            .await?
            .filter(|r| r.user_id == user_id)
            .ok_or_else(|| IdentityError::not_found("Access Rule", id))
    }

    /// Deletes an access rule; refused while an application credential
    /// uses it.
    pub async fn delete_access_rule(&self, user_id: &str, id: &str) -> Result<()> {
        self.get_access_rule(user_id, id).await?;
        match grants::delete_unused_access_rule(&self.db, id).await? {
            Some(true) => Ok(()),
            Some(false) => Err(IdentityError::Forbidden("May not delete access rule in use.".into())),
            None => Err(IdentityError::not_found("Access Rule", id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_parse_as_keystone_reads_them() {
        let later = Utc::now() + chrono::Duration::hours(1);
        let naive = later.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
        let t = parse_expiry(&naive).unwrap();
        assert_eq!(t.timestamp_subsec_micros(), later.timestamp_subsec_micros());
        assert_eq!(parse_expiry(&format!("{naive}Z")).unwrap(), t);
        assert!(parse_expiry(&later.to_rfc3339()).is_ok());
        assert!(parse_expiry("bad.123Z").is_err());
        assert!(parse_expiry("2001-01-01T00:00:00Z").is_err(), "in the past");
    }

    #[test]
    fn access_rules_are_checked() {
        assert!(check_rule("compute", "/v2.1/servers/*/ips", "GET").is_ok());
        assert!(check_rule("compute", "v2.1", "GET").is_err());
        assert!(check_rule("compute", "/", "FETCH").is_err());
        assert!(check_rule("com pute", "/", "GET").is_err());
    }

    #[test]
    fn secrets_are_long_and_url_safe() {
        let s = generate_secret();
        assert_eq!(s.len(), 86);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
