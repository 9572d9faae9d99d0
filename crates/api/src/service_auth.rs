//! How a service logs in as its own service user to call another service
//! (keystoneauth's password plugin in a `[placement]`, `[nova]` … section):
//! the credentials and the one password login every client of this kind
//! makes.

use serde_json::{Value, json};

/// A service user's password login at `auth_url`, scoped to a project.
#[derive(Clone, Debug)]
pub struct ServiceCredentials {
    pub auth_url: String,
    pub username: String,
    pub password: String,
    pub user_domain_name: String,
    pub project_name: String,
    pub project_domain_name: String,
}

/// Why a service login failed, in words for the caller's own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The identity service could not be reached.
    #[error("service login: {0}")]
    Unreachable(String),
    /// The identity service refused the login.
    #[error("service login as {user} answered {status}")]
    Refused { user: String, status: u16 },
}

/// `POST /v3/auth/tokens` with the credentials: the token and the token
/// body (its catalog and `expires_at`).
pub async fn service_login(http: &reqwest::Client, c: &ServiceCredentials) -> Result<(String, Value), LoginError> {
    let base = c.auth_url.trim_end_matches('/');
    let url = if base.ends_with("/v3") {
        format!("{base}/auth/tokens")
    } else {
        format!("{base}/v3/auth/tokens")
    };
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": c.username, "domain": {"name": c.user_domain_name}, "password": c.password}}},
        "scope": {"project": {"name": c.project_name, "domain": {"name": c.project_domain_name}}},
    }});
    let resp = http
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| LoginError::Unreachable(e.to_string()))?;
    if resp.status().as_u16() != 201 {
        return Err(LoginError::Refused {
            user: c.username.clone(),
            status: resp.status().as_u16(),
        });
    }
    let token = resp
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok((token, body))
}
