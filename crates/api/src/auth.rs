//! Who is calling: the token middleware (keystonemiddleware's `auth_token`
//! job) and the policy hook.
//!
//! Every service installs [`token_layer`] with a [`TokenValidator`]. A request
//! with `X-Auth-Token` is validated (the validator caches and honours
//! revocation); a valid token puts an [`AuthContext`] into the request, an
//! invalid one is answered 401 at once. A request without a token passes
//! through unauthenticated, so that version documents and Keystone's own
//! `POST /v3/auth/tokens` work; handlers that need a caller take the [`Auth`]
//! extractor, which answers 401 with `WWW-Authenticate: Keystone uri="…"`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::fault::ApiError;

/// The validated identity behind a request's token: the values policy rules
/// and handlers look at.
#[derive(Clone, Debug, Default)]
pub struct AuthContext {
    pub token: String,
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub user_domain_name: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub project_domain_id: Option<String>,
    pub project_domain_name: Option<String>,
    /// Set for domain-scoped tokens.
    pub domain_id: Option<String>,
    pub domain_name: Option<String>,
    /// `Some("all")` for system-scoped tokens.
    pub system_scope: Option<String>,
    /// Role names, implied roles included, lower-case as Keystone stores them.
    pub roles: Vec<String>,
    pub role_ids: Vec<String>,
    pub audit_ids: Vec<String>,
    pub expires_at: String,
    pub application_credential_id: Option<String>,
    pub trust_id: Option<String>,
    /// oslo.context's `to_policy_values()` plus the `token` view Keystone's
    /// rules read; built once by [`AuthContext::finish`].
    pub policy_creds: Value,
}

impl AuthContext {
    /// Computes the policy credentials from the fields; call after filling them.
    pub fn finish(mut self) -> Self {
        let mut token = json!({
            "user": {"id": self.user_id, "domain": {"id": self.user_domain_id}},
            "roles": self.roles.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        });
        if let Some(p) = &self.project_id {
            token["project"] = json!({"id": p, "domain": {"id": self.project_domain_id}});
        }
        if let Some(d) = &self.domain_id {
            token["domain"] = json!({"id": d});
        }
        if let Some(s) = &self.system_scope {
            token["system"] = json!({s: true});
        }
        self.policy_creds = json!({
            "user_id": self.user_id,
            "user_domain_id": self.user_domain_id,
            "project_id": self.project_id,
            "project_domain_id": self.project_domain_id,
            "domain_id": self.domain_id,
            "system_scope": self.system_scope,
            "roles": self.roles,
            "is_admin": false,
            "is_admin_project": self.project_id.is_some(),
            "trust_id": self.trust_id,
            "token": token,
        });
        self
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }

    pub fn is_system(&self) -> bool {
        self.system_scope.is_some()
    }
}

pub type ValidateFuture<'a> = Pin<Box<dyn Future<Output = Result<Arc<AuthContext>, ApiError>> + Send + 'a>>;

/// Validates a token for the middleware. Implemented in process by the
/// identity service and, for services on other nodes, over HTTP.
pub trait TokenValidator: Send + Sync + 'static {
    /// `Err` is a 401 (or a 5xx if the identity service failed).
    fn validate<'a>(&'a self, token: &'a str) -> ValidateFuture<'a>;
}

/// What the middleware needs: the validator and the `WWW-Authenticate` value
/// for 401s (`Keystone uri="http://…:5000"`).
#[derive(Clone)]
pub struct TokenAuth {
    pub validator: Arc<dyn TokenValidator>,
    pub www_authenticate: HeaderValue,
}

impl TokenAuth {
    pub fn new(validator: Arc<dyn TokenValidator>, identity_uri: &str) -> Self {
        let www_authenticate = HeaderValue::from_str(&format!("Keystone uri=\"{identity_uri}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("Keystone"));
        TokenAuth {
            validator,
            www_authenticate,
        }
    }

    fn challenge(&self, err: ApiError) -> ApiError {
        if err.status == http::StatusCode::UNAUTHORIZED {
            err.with_header(header::WWW_AUTHENTICATE, self.www_authenticate.clone())
        } else {
            err
        }
    }
}

/// The token middleware; install with `axum::middleware::from_fn_with_state`.
pub async fn token_layer(
    axum::extract::State(auth): axum::extract::State<TokenAuth>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    if let Some(token) = token {
        match auth.validator.validate(&token).await {
            Ok(ctx) => {
                tracing::Span::current().record("user_id", ctx.user_id.as_str());
                req.extensions_mut().insert(ctx);
            }
            Err(e) => return auth.challenge(e).into_response(),
        }
    }
    req.extensions_mut().insert(auth);
    next.run(req).await
}

/// Extractor for handlers that require an authenticated caller.
pub struct Auth(pub Arc<AuthContext>);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if let Some(ctx) = parts.extensions.get::<Arc<AuthContext>>() {
            return Ok(Auth(ctx.clone()));
        }
        let err = ApiError::unauthorized("The request you have made requires authentication.");
        Err(match parts.extensions.get::<TokenAuth>() {
            Some(auth) => auth.challenge(err),
            None => err,
        })
    }
}

/// Extractor for an optional caller.
pub struct MaybeAuth(pub Option<Arc<AuthContext>>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuth {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeAuth(parts.extensions.get::<Arc<AuthContext>>().cloned()))
    }
}

/// The policy hook: 403 unless `action` is allowed for `ctx` on `target`.
pub fn enforce(policy: &policy::Policy, action: &str, ctx: &AuthContext, target: &Value) -> Result<(), ApiError> {
    if policy.enforce(action, target, &ctx.policy_creds) {
        Ok(())
    } else {
        tracing::info!(action, user_id = %ctx.user_id, "policy denied");
        Err(ApiError::forbidden(format!(
            "You are not authorized to perform the requested action: {action}."
        )))
    }
}
