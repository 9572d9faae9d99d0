//! Keypairs: SSH public keys (or x509 certificates, 2.2+) a user injects
//! into servers, by name, per user.
//!
//! Generation (no `public_key` given, before 2.92) makes a 2048-bit RSA
//! key as Nova does — tempest's SSH client loads the returned private key
//! as RSA — returned once as PKCS#1 PEM and never stored. Imported SSH
//! keys are checked by decoding their wire format (type name, then the
//! fields of that type); the fingerprint is Nova's: MD5 of the key blob
//! as colon-separated hex. x509 certificates are checked for PEM armour
//! around a DER sequence and fingerprinted with SHA-1, as Nova does; a
//! generated x509 keypair is an RSA key with a self-signed certificate.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Compute;
use crate::db;
use crate::error::{ComputeError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Keypair {
    /// Nova's integer id (shown by `GET /os-keypairs/{name}`).
    pub id: i64,
    pub name: String,
    pub user_id: String,
    pub public_key: String,
    pub fingerprint: String,
    /// `ssh` or `x509`.
    pub key_type: String,
    pub created_at: i64,
}

/// A created keypair and, when generated, its private key.
#[derive(Clone, Debug)]
pub struct CreatedKeypair {
    pub keypair: Keypair,
    pub private_key: Option<String>,
}

fn hex_colons(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn invalid(reason: &str) -> ComputeError {
    ComputeError::bad(format!("Keypair data is invalid: {reason}"))
}

/// Reads one SSH wire-format `string` (u32 length, bytes).
fn take<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    if buf.len() < 4 {
        return None;
    }
    let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let rest = &buf[4..];
    if rest.len() < n {
        return None;
    }
    let (v, tail) = rest.split_at(n);
    *buf = tail;
    Some(v)
}

/// Checks an OpenSSH public key line (`type base64 [comment]`) and returns
/// its decoded blob.
fn parse_ssh_public_key(text: &str) -> Option<Vec<u8>> {
    let mut words = text.split_whitespace();
    let kind = words.next()?;
    let blob = STANDARD.decode(words.next()?).ok()?;
    let mut buf = blob.as_slice();
    if take(&mut buf)? != kind.as_bytes() {
        return None;
    }
    let fields = match kind {
        "ssh-rsa" => 2,
        "ssh-dss" => 4,
        "ssh-ed25519" => {
            if take(&mut buf)?.len() != 32 {
                return None;
            }
            0
        }
        "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => {
            if take(&mut buf)? != kind.trim_start_matches("ecdsa-sha2-").as_bytes() {
                return None;
            }
            1
        }
        _ => return None,
    };
    for _ in 0..fields {
        if take(&mut buf)?.is_empty() {
            return None;
        }
    }
    buf.is_empty().then_some(blob)
}

/// Nova's SSH fingerprint: MD5 of the key blob, colon-separated hex.
pub fn ssh_fingerprint(public_key: &str) -> Result<String> {
    use md5::Digest;
    let blob = parse_ssh_public_key(public_key).ok_or_else(|| invalid("failed to generate fingerprint"))?;
    Ok(hex_colons(&md5::Md5::digest(&blob)))
}

/// Nova's x509 fingerprint: SHA-1 of the DER certificate.
pub fn x509_fingerprint(pem: &str) -> Result<String> {
    use sha1::Digest;
    let fail = || invalid("failed to generate X509 fingerprint");
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN CERTIFICATE-----")
        .and_then(|s| s.strip_suffix("-----END CERTIFICATE-----"))
        .ok_or_else(fail)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(b64).map_err(|_| fail())?;
    if der.len() < 2 || der[0] != 0x30 {
        return Err(fail());
    }
    Ok(hex_colons(&sha1::Sha1::digest(&der)))
}

fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn ssh_mpint(out: &mut Vec<u8>, be: &[u8]) {
    let trimmed: &[u8] = {
        let start = be.iter().position(|b| *b != 0).unwrap_or(be.len());
        &be[start..]
    };
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v = vec![0u8];
        v.extend_from_slice(trimmed);
        ssh_string(out, &v);
    } else {
        ssh_string(out, trimmed);
    }
}

/// A new RSA key: (private PKCS#1 PEM, OpenSSH public key line).
fn generate_rsa() -> Result<(String, String)> {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| ComputeError::Internal(format!("RSA key generation: {e}")))?;
    let pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|e| ComputeError::Internal(format!("RSA key encoding: {e}")))?;
    let mut blob = Vec::new();
    ssh_string(&mut blob, b"ssh-rsa");
    ssh_mpint(&mut blob, &key.e().to_bytes_be());
    ssh_mpint(&mut blob, &key.n().to_bytes_be());
    let public = format!("ssh-rsa {} Generated-by-Nova", STANDARD.encode(blob));
    Ok((pem.to_string(), public))
}

/// A new RSA key and a self-signed certificate for it, as Nova makes an
/// x509 keypair: (private PKCS#1 PEM, certificate PEM), the certificate
/// naming the user and the key and valid for ten years.
fn generate_x509(user_id: &str, key_name: &str) -> Result<(String, String)> {
    use std::str::FromStr;

    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::EncodePem;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    let fail = |e: &dyn std::fmt::Display| ComputeError::Internal(format!("x509 keypair generation: {e}"));
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| fail(&e))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(|e| fail(&e))?;
    let short = |s: &str| s.chars().take(16).collect::<String>();
    let subject = Name::from_str(&format!(
        "CN={}-{}-{},OU=NovaDev,O=OpenStack",
        short(user_id),
        short(key_name),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S")
    ))
    .map_err(|e| fail(&e))?;
    let serial = SerialNumber::new(&rand::random::<[u8; 8]>().map(|b| b & 0x7f)).map_err(|e| fail(&e))?;
    let validity = Validity::from_now(std::time::Duration::from_secs(10 * 365 * 86_400)).map_err(|e| fail(&e))?;
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key.clone());
    let cert = CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
        .map_err(|e| fail(&e))?
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| fail(&e))?;
    let cert_pem = cert.to_pem(LineEnding::LF).map_err(|e| fail(&e))?;
    let key_pem = key.to_pkcs1_pem(LineEnding::LF).map_err(|e| fail(&e))?;
    Ok((key_pem.to_string(), cert_pem))
}

fn not_found(name: &str, user_id: &str) -> ComputeError {
    ComputeError::not_found(format!("Keypair {name} not found for user {user_id}"))
}

impl Compute {
    /// A user's keypair by name.
    pub async fn get_keypair(&self, user_id: &str, name: &str) -> Result<Keypair> {
        db::keypairs::get(&self.db, user_id, name)
            .await?
            .ok_or_else(|| not_found(name, user_id))
    }

    /// A user's keypairs by name, after `marker` (a name), at most `limit`.
    pub async fn list_keypairs(
        &self,
        user_id: &str,
        marker: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<Keypair>> {
        let mut all = db::keypairs::list(&self.db, user_id).await?;
        if let Some(m) = marker {
            let Some(pos) = all.iter().position(|k| k.name == m) else {
                return Err(ComputeError::bad(format!("Marker {m} could not be found.")));
            };
            all.drain(..=pos);
        }
        if let Some(l) = limit {
            all.truncate(l);
        }
        Ok(all)
    }

    /// Imports `public_key`, or generates a key pair when it is `None`.
    pub async fn create_keypair(
        &self,
        user_id: &str,
        name: &str,
        key_type: &str,
        public_key: Option<&str>,
    ) -> Result<CreatedKeypair> {
        if db::keypairs::get(&self.db, user_id, name).await?.is_some() {
            return Err(ComputeError::conflict(format!("Key pair '{name}' already exists.")));
        }
        self.check_keypair_quota(None, user_id).await?;
        let (public_key, private_key) = match public_key {
            Some(p) => (p.to_owned(), None),
            None if key_type == "x509" => {
                let (user, key_name) = (user_id.to_owned(), name.to_owned());
                let (private, cert) = tokio::task::spawn_blocking(move || generate_x509(&user, &key_name))
                    .await
                    .map_err(|e| ComputeError::Internal(e.to_string()))??;
                (cert, Some(private))
            }
            None => {
                let (private, public) = tokio::task::spawn_blocking(generate_rsa)
                    .await
                    .map_err(|e| ComputeError::Internal(e.to_string()))??;
                (public, Some(private))
            }
        };
        let fingerprint = if key_type == "x509" {
            x509_fingerprint(&public_key)?
        } else {
            ssh_fingerprint(&public_key)?
        };
        let mut keypair = Keypair {
            id: 0,
            name: name.to_owned(),
            user_id: user_id.to_owned(),
            public_key,
            fingerprint,
            key_type: key_type.to_owned(),
            created_at: db::now(),
        };
        keypair.id = match db::keypairs::insert(&self.db, &keypair).await {
            Err(ComputeError::Store(store::StoreError::Conflict(_))) => {
                return Err(ComputeError::conflict(format!("Key pair '{name}' already exists.")));
            }
            other => other?,
        };
        Ok(CreatedKeypair { keypair, private_key })
    }

    pub async fn delete_keypair(&self, user_id: &str, name: &str) -> Result<()> {
        if db::keypairs::delete(&self.db, user_id, name).await? {
            Ok(())
        } else {
            Err(not_found(name, user_id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_keys_are_parsed_and_fingerprinted() {
        let (private, public) = generate_rsa().unwrap();
        assert!(private.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let fp = ssh_fingerprint(&public).unwrap();
        assert_eq!(fp.len(), 47);
        assert!(ssh_fingerprint("ssh-rsa AAAA").is_err());
        assert!(ssh_fingerprint("nonsense").is_err());
        // ed25519 key from OpenSSH
        let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test";
        assert!(ssh_fingerprint(ed).is_ok());
        // type name inside the blob must match
        assert!(ssh_fingerprint(&ed.replace("ssh-ed25519", "ssh-rsa")).is_err());
    }
}
