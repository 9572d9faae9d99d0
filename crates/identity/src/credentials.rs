//! Credentials: typed blobs a user keeps with the identity service
//! (`/v3/credentials`), and the EC2 access/secret pairs of the OS-EC2
//! extension, which are credentials of type `ec2` whose blob is
//! `{"access", "secret", "trust_id"}` and whose id is the SHA-256 of the
//! access key, as Keystone makes them (so the key finds the credential).
//!
//! Keystone's rules, kept here: a token obtained through delegation (a
//! trust or an application credential) may not touch credentials; after
//! creation only the blob changes, and an EC2 blob keeps its access key
//! bindings. Unlike Keystone, blobs are not encrypted at rest: the
//! database is the service's own and holds password hashes already.

use api::AuthContext;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::Identity;
use crate::db::credentials::{self, CredentialRow};
use crate::error::{IdentityError, Result, on_conflict};

pub const EC2: &str = "ec2";

/// The most a `TEXT` column holds on MySQL (65,535 bytes): longer blobs,
/// descriptions and extra attributes are refused rather than failing there.
pub const TEXT_MAX_BYTES: usize = 65_535;

/// Refuses a text longer than a `TEXT` column holds everywhere.
pub fn check_text_size(field: &str, text: &str) -> Result<()> {
    if text.len() > TEXT_MAX_BYTES {
        return Err(IdentityError::bad(format!(
            "Invalid input for field '{field}': at most {TEXT_MAX_BYTES} bytes."
        )));
    }
    Ok(())
}

/// What a client asks for.
#[derive(Clone, Debug, Default)]
pub struct NewCredential {
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub blob: String,
    pub extra: Map<String, Value>,
}

/// An EC2 credential as OS-EC2 shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ec2Credential {
    pub access: String,
    pub secret: String,
    pub user_id: String,
    pub tenant_id: Option<String>,
    pub trust_id: Option<String>,
}

/// The id of the EC2 credential with this access key.
pub fn ec2_id(access: &str) -> String {
    Sha256::digest(access.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_ec2(cred_type: &str) -> bool {
    cred_type.eq_ignore_ascii_case(EC2)
}

/// An EC2 blob: a JSON object with an access key.
fn ec2_blob(blob: &str) -> Result<Map<String, Value>> {
    let v: Value = serde_json::from_str(blob).map_err(|_| IdentityError::bad("Invalid blob in credential."))?;
    match v {
        Value::Object(m) if !m.is_empty() => {
            if m.get("access").and_then(Value::as_str).is_none() {
                return Err(IdentityError::bad(
                    "Invalid input for field 'credential.blob': 'access' is a required string.",
                ));
            }
            Ok(m)
        }
        _ => Err(IdentityError::bad(
            "Invalid input for field 'credential.blob': must be a JSON object.",
        )),
    }
}

fn ec2_view(c: &CredentialRow) -> Option<Ec2Credential> {
    let blob: Map<String, Value> = serde_json::from_str(&c.blob).ok()?;
    let s = |k: &str| blob.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(Ec2Credential {
        access: s("access")?,
        secret: s("secret").unwrap_or_default(),
        user_id: c.user_id.clone(),
        tenant_id: c.project_id.clone(),
        trust_id: s("trust_id"),
    })
}

impl Identity {
    /// Refuses tokens obtained through a trust or an application
    /// credential: "Delegated tokens cannot access credentials directly".
    pub fn check_credential_access(&self, caller: &AuthContext) -> Result<()> {
        if caller.trust_id.is_some() || caller.application_credential_id.is_some() {
            return Err(IdentityError::Forbidden(
                "Delegated tokens cannot access credentials directly.".into(),
            ));
        }
        Ok(())
    }

    pub async fn create_credential(&self, new: NewCredential) -> Result<CredentialRow> {
        for (field, value, max) in [
            ("user_id", Some(&new.user_id), 64),
            ("project_id", new.project_id.as_ref(), 64),
            ("type", Some(&new.cred_type), 255),
        ] {
            if value.is_some_and(|v| v.is_empty() || v.chars().count() > max) {
                return Err(IdentityError::bad(format!(
                    "Invalid input for field 'credential.{field}': must be 1-{max} characters."
                )));
            }
        }
        check_text_size("credential.blob", &new.blob)?;
        check_text_size("credential", &crate::db::extra_to_text(&new.extra))?;
        let id = if is_ec2(&new.cred_type) {
            if new.project_id.is_none() {
                return Err(IdentityError::bad(
                    "Invalid input for field 'credential': 'project_id' is a required property for ec2 credentials.",
                ));
            }
            let blob = ec2_blob(&new.blob)?;
            ec2_id(blob.get("access").and_then(Value::as_str).unwrap_or_default())
        } else {
            uuid::Uuid::new_v4().simple().to_string()
        };
        let c = CredentialRow {
            id,
            user_id: new.user_id,
            project_id: new.project_id,
            cred_type: new.cred_type,
            blob: new.blob,
            extra: new.extra,
        };
        credentials::insert(&self.db, &c)
            .await
            .map_err(on_conflict("credential", format_args!("id {}", c.id)))?;
        Ok(c)
    }

    pub async fn get_credential(&self, id: &str) -> Result<CredentialRow> {
        credentials::get(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("credential", id))
    }

    pub async fn list_credentials(&self) -> Result<Vec<CredentialRow>> {
        Ok(credentials::list(&self.db).await?)
    }

    /// Replaces a credential's blob; an EC2 blob must keep its bindings.
    pub async fn update_credential_blob(&self, id: &str, blob: String) -> Result<CredentialRow> {
        check_text_size("credential.blob", &blob)?;
        let mut c = self.get_credential(id).await?;
        if is_ec2(&c.cred_type) {
            let new = ec2_blob(&blob)?;
            let old: Map<String, Value> = serde_json::from_str(&c.blob).unwrap_or_default();
            for key in ["trust_id", "app_cred_id", "access_token_id", "access_id"] {
                let bound = |m: &Map<String, Value>| m.get(key).filter(|v| !v.is_null()).cloned();
                if bound(&old) != bound(&new) {
                    return Err(IdentityError::bad(format!("{key} can not be updated for credential.")));
                }
            }
        }
        if !credentials::update_blob(&self.db, id, &blob).await? {
            return Err(IdentityError::not_found("credential", id));
        }
        c.blob = blob;
        Ok(c)
    }

    pub async fn delete_credential(&self, id: &str) -> Result<()> {
        if !credentials::delete(&self.db, id).await? {
            return Err(IdentityError::not_found("credential", id));
        }
        Ok(())
    }

    /// Makes a new EC2 key pair for a user on a project.
    pub async fn create_ec2_credential(
        &self,
        user_id: &str,
        project_id: &str,
        trust_id: Option<&str>,
    ) -> Result<Ec2Credential> {
        self.get_user(user_id).await?;
        self.get_project(project_id).await?;
        let ec2 = Ec2Credential {
            access: uuid::Uuid::new_v4().simple().to_string(),
            secret: uuid::Uuid::new_v4().simple().to_string(),
            user_id: user_id.to_owned(),
            tenant_id: Some(project_id.to_owned()),
            trust_id: trust_id.map(str::to_owned),
        };
        let blob = json!({"access": ec2.access, "secret": ec2.secret, "trust_id": ec2.trust_id});
        self.create_credential(NewCredential {
            user_id: user_id.to_owned(),
            project_id: Some(project_id.to_owned()),
            cred_type: EC2.into(),
            blob: blob.to_string(),
            extra: Map::new(),
        })
        .await?;
        Ok(ec2)
    }

    pub async fn list_ec2_credentials(&self, user_id: &str) -> Result<Vec<Ec2Credential>> {
        self.get_user(user_id).await?;
        Ok(credentials::list_for_user(&self.db, user_id)
            .await?
            .iter()
            .filter(|c| is_ec2(&c.cred_type))
            .filter_map(ec2_view)
            .collect())
    }

    /// The credential behind an EC2 access key, of any type (for policy).
    pub async fn credential_by_access(&self, access: &str) -> Result<CredentialRow> {
        self.get_credential(&ec2_id(access)).await
    }

    /// An EC2 credential by access key, under an existing user's path; a
    /// credential of another type is "EC2 access key not found" (401), as
    /// Keystone answers. As in Keystone, the path's user need not own it:
    /// policy has judged the caller against the credential's own user.
    pub async fn get_ec2_credential(&self, user_id: &str, access: &str) -> Result<Ec2Credential> {
        self.get_user(user_id).await?;
        let c = self.credential_by_access(access).await?;
        if !is_ec2(&c.cred_type) {
            return Err(IdentityError::Unauthorized("EC2 access key not found.".into()));
        }
        ec2_view(&c).ok_or_else(|| IdentityError::Unauthorized("EC2 access key not found.".into()))
    }

    pub async fn delete_ec2_credential(&self, user_id: &str, access: &str) -> Result<()> {
        self.get_ec2_credential(user_id, access).await?;
        self.delete_credential(&ec2_id(access)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_ids_are_the_sha256_of_the_access_key() {
        assert_eq!(
            ec2_id("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ec2_blobs_need_an_access_key() {
        assert!(ec2_blob(r#"{"access": "a", "secret": "s"}"#).is_ok());
        assert!(ec2_blob(r#"{"secret": "s"}"#).is_err());
        assert!(ec2_blob(r#"{"access": null}"#).is_err());
        assert!(ec2_blob("[]").is_err());
        assert!(ec2_blob("not json").is_err());
    }
}
