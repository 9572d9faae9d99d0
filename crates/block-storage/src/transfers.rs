//! Volume transfers (`os-volume-transfer`), as Cinder's `transfer/api.py`:
//! the owner of an `available` volume offers it (the volume waits in
//! `awaiting-transfer`) and hands the transfer's id and auth key to
//! someone in another project, who accepts it with both. The volume, with
//! its snapshots, then belongs to the accepting project and user.
//!
//! The auth key (16 hex characters, as Cinder's
//! `volume_transfer_key_length`) is shown once, at create; only a random
//! salt and the SHA-256 of `salt + key` are stored (Cinder uses SHA-1).
//! Quota usage is counted from the tables, so it moves with the rows; the
//! accept only checks that the receiver has room first (volumes,
//! gigabytes of the volume and its snapshots, snapshots, and the per-type
//! lines). Transfers have no expiry and no `no_snapshots` option (3.55,
//! not served).

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::transfers::TransferRow;
use crate::error::{Result, VolumeError};
use crate::quotas::Delta;
use crate::{BlockStorage, Caller, db};

/// Cinder's `volume_transfer_key_length`.
const KEY_LENGTH: usize = 16;
/// Cinder's `volume_transfer_salt_length`.
const SALT_LENGTH: usize = 8;

/// A created transfer with its auth key, which is not kept.
#[derive(Clone, Debug)]
pub struct NewTransfer {
    pub transfer: TransferRow,
    pub auth_key: String,
}

/// `len` random hex characters (only characters anyone can type, as
/// Cinder's `_get_random_string`).
fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len.div_ceil(2)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(len);
    s
}

fn crypt_hash(salt: &str, auth_key: &str) -> String {
    let digest = Sha256::digest(format!("{salt}{auth_key}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without stopping at the first difference, so that the time
/// taken says nothing about how much of a guessed key was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn transfer_not_found(id: &str) -> VolumeError {
    VolumeError::NotFound(format!("Transfer {id} could not be found."))
}

impl BlockStorage {
    /// Offers the caller's `available` volume (and its snapshots, which
    /// must be `available` too) for transfer.
    pub async fn create_transfer(&self, caller: &Caller, volume_id: &str, name: Option<String>) -> Result<NewTransfer> {
        let v = match db::volumes::get(&self.db, volume_id).await? {
            Some(v) if v.project_id == caller.project_id || caller.is_admin => v,
            _ => return Err(VolumeError::volume_not_found(volume_id)),
        };
        if v.status != "available" {
            return Err(VolumeError::bad("Invalid volume: Status of volume must be available"));
        }
        for s in db::snapshots::of_volume(&self.db, volume_id).await? {
            if s.status != "available" {
                return Err(VolumeError::bad(format!(
                    "Invalid snapshot: Snapshot {} of the volume must be available to transfer, not {}.",
                    s.id, s.status
                )));
            }
        }
        let auth_key = random_hex(KEY_LENGTH);
        let salt = random_hex(SALT_LENGTH);
        let now = db::now();
        let transfer = TransferRow {
            id: uuid::Uuid::new_v4().to_string(),
            volume_id: volume_id.to_owned(),
            name: name.map(|n| n.trim().to_owned()),
            crypt_hash: crypt_hash(&salt, &auth_key),
            salt,
            source_project_id: v.project_id.clone(),
            created_at: now,
            updated_at: now,
        };
        if !db::transfers::create(&self.db, &transfer).await? {
            return Err(VolumeError::bad("Invalid volume: Status of volume must be available"));
        }
        Ok(NewTransfer { transfer, auth_key })
    }

    /// The transfer, if it is of the caller's project (or the caller is
    /// an admin); 404 otherwise.
    pub async fn get_transfer(&self, caller: &Caller, id: &str) -> Result<TransferRow> {
        match db::transfers::get(&self.db, id).await? {
            Some(t) if caller.is_admin || t.source_project_id == caller.project_id => Ok(t),
            _ => Err(transfer_not_found(id)),
        }
    }

    /// The caller project's transfers, or every project's for an admin
    /// asking `all_tenants`.
    pub async fn list_transfers(&self, caller: &Caller, all_tenants: bool) -> Result<Vec<TransferRow>> {
        let scope = if caller.is_admin && all_tenants {
            None
        } else {
            Some(caller.project_id.as_str())
        };
        db::transfers::list(&self.db, scope).await
    }

    /// Withdraws the offer: the volume is `available` again.
    pub async fn delete_transfer(&self, caller: &Caller, id: &str) -> Result<()> {
        let t = self.get_transfer(caller, id).await?;
        if !db::transfers::delete(&self.db, &t).await? {
            return Err(transfer_not_found(id));
        }
        Ok(())
    }

    /// Accepts a transfer with its auth key (any project may, the giving
    /// one included, as in Cinder): 400 on a wrong key, 413 when the
    /// volume and its snapshots do not fit the caller's quotas (nothing
    /// moves then). Returns the transfer as it was.
    pub async fn accept_transfer(&self, caller: &Caller, id: &str, auth_key: &str) -> Result<TransferRow> {
        let Some(t) = db::transfers::get(&self.db, id).await? else {
            return Err(transfer_not_found(id));
        };
        if !same(&crypt_hash(&t.salt, auth_key), &t.crypt_hash) {
            tracing::warn!(transfer = %id, project = %caller.project_id, "transfer accept with an invalid auth key");
            return Err(VolumeError::bad(format!(
                "Invalid auth key: Attempt to transfer {id} with invalid auth key."
            )));
        }
        let Some(v) = db::volumes::get(&self.db, &t.volume_id).await? else {
            return Err(VolumeError::volume_not_found(&t.volume_id));
        };
        if v.status != "awaiting-transfer" {
            return Err(VolumeError::bad(
                "Invalid volume: Status of volume must be awaiting-transfer",
            ));
        }
        let snaps = db::snapshots::of_volume(&self.db, &v.id).await?;
        let type_name = db::types::get(&self.db, &v.volume_type_id)
            .await?
            .map(|t| t.name)
            .unwrap_or_default();
        // Within one project nothing moves, so there is nothing to check.
        if caller.project_id != v.project_id {
            self.check_quota(
                &caller.project_id,
                &Delta {
                    volumes: 1,
                    snapshots: snaps.len() as i64,
                    gigabytes: v.size + snaps.iter().map(|s| s.size).sum::<i64>(),
                    type_name,
                    ..Default::default()
                },
            )
            .await?;
        }
        if !db::transfers::accept(&self.db, &t, &caller.project_id, &caller.user_id).await? {
            return Err(transfer_not_found(id));
        }
        tracing::info!(transfer = %id, volume = %v.id, from = %v.project_id, to = %caller.project_id, "volume transferred");
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_of_the_asked_length_and_differ() {
        let a = random_hex(KEY_LENGTH);
        let b = random_hex(KEY_LENGTH);
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(random_hex(7).len(), 7);
    }

    #[test]
    fn the_hash_depends_on_salt_and_key() {
        let h = crypt_hash("salt", "key");
        assert_eq!(h.len(), 64);
        assert!(same(&h, &crypt_hash("salt", "key")));
        assert!(!same(&h, &crypt_hash("salt", "kez")));
        assert!(!same(&h, &crypt_hash("salu", "key")));
        assert!(!same("ab", "abc"));
    }
}
