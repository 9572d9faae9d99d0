//! Settings of the identity service, with Keystone's option names in the
//! docs where they exist.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// The URL clients reach this service at (`[DEFAULT] public_endpoint`),
    /// without `/v3`.
    pub public_url: String,
    /// `[token] expiration` (default 24 hours).
    pub token_expiration: Duration,
    /// `[token] allow_expired_window` (default 48 hours).
    pub allow_expired_window: Duration,
    /// `[identity] password_hash_rounds` (bcrypt cost; Keystone's default 12).
    pub password_hash_rounds: u32,
    /// `[fernet_tokens] key_repository`.
    pub key_repository: PathBuf,
    /// `[fernet_tokens] max_active_keys` (default 3).
    pub max_active_keys: usize,
    /// `[oslo_policy] policy_file`: overrides of the default rules.
    pub policy_file: Option<PathBuf>,
    /// `[DEFAULT] max_request_body_size` (Keystone: 114688 bytes).
    pub max_request_body_size: usize,
}

impl IdentityConfig {
    pub fn new(public_url: impl Into<String>, key_repository: impl Into<PathBuf>) -> Self {
        IdentityConfig {
            public_url: public_url.into(),
            token_expiration: Duration::from_secs(24 * 3600),
            allow_expired_window: Duration::from_secs(48 * 3600),
            password_hash_rounds: 12,
            key_repository: key_repository.into(),
            max_active_keys: 3,
            policy_file: None,
            max_request_body_size: 114_688,
        }
    }
}
