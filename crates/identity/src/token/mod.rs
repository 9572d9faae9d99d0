//! Tokens: issue (the auth methods and scoping rules of `POST
//! /v3/auth/tokens`), validate (with the generation-stamped cache), render,
//! revoke.
//!
//! A token is a Fernet token over Keystone's msgpack payload
//! ([`token_payload`], [`fernet_keys`]): it names the user, the methods, the
//! scope, the expiry and the audit ids, and nothing else. Roles, names and
//! the catalog are looked up at validation, as Keystone does, so a revoked
//! grant or a disabled project takes effect on tokens already issued.

pub mod fernet_keys;
pub mod token_payload;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;

use api::AuthContext;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use token_payload::{TokenPayload, TokenScope};

use crate::assignment::Target;
use crate::db::projects::ProjectRow;
use crate::error::{IdentityError, Result};
use crate::revoke::{RevokeEvent, TokenFacts};
use crate::{Identity, db};

/// A validated token: the caller's context for policy, the rendered token
/// body (without catalog), and the facts revocation is checked against.
#[derive(Debug)]
pub struct ValidatedToken {
    pub context: Arc<AuthContext>,
    pub payload: TokenPayload,
    pub issued_at: i64,
    pub user_domain_id: String,
    pub project_domain_id: Option<String>,
    pub role_ids: Vec<String>,
    /// `{"token": {...}}` without `catalog`.
    pub body: Value,
    /// The serialized response, with and without catalog, made on first
    /// use: a validated token lives for one generation of identity data, so
    /// its rendering does too, and a cached validation serializes nothing.
    rendered: [OnceLock<Bytes>; 2],
}

impl ValidatedToken {
    fn facts(&self) -> TokenFacts<'_> {
        let (project_id, domain_id, trust_id, app_cred) = match &self.payload.scope {
            TokenScope::Project { project_id } => (Some(project_id.as_str()), None, None, None),
            TokenScope::Domain { domain_id } => (None, Some(domain_id.as_str()), None, None),
            TokenScope::Trust { project_id, trust_id } => {
                (Some(project_id.as_str()), None, Some(trust_id.as_str()), None)
            }
            TokenScope::ApplicationCredential {
                project_id,
                app_cred_id,
            } => (Some(project_id.as_str()), None, None, Some(app_cred_id.as_str())),
            TokenScope::Unscoped | TokenScope::System => (None, None, None, None),
        };
        TokenFacts {
            user_id: &self.payload.user_id,
            user_domain_id: &self.user_domain_id,
            project_id,
            project_domain_id: self.project_domain_id.as_deref(),
            domain_id,
            audit_ids: &self.payload.audit_ids,
            trust_id,
            application_credential_id: app_cred,
            role_ids: &self.role_ids,
            issued_at: self.issued_at,
        }
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.payload.expires_at
    }
}

const CACHE_LIMIT: usize = 50_000;

/// A cached value and the generation it was built from.
type Stamped<T> = (u64, Arc<T>);

/// Validated tokens by token string, each stamped with the generation of
/// identity data it was built from.
#[derive(Default)]
pub struct TokenCache {
    tokens: RwLock<HashMap<String, Stamped<ValidatedToken>>>,
    catalogs: RwLock<HashMap<Option<String>, Stamped<Value>>>,
}

impl TokenCache {
    fn get(&self, token: &str, generation: u64) -> Option<Arc<ValidatedToken>> {
        let map = self.tokens.read().expect("token cache lock");
        match map.get(token) {
            Some((g, v)) if *g == generation => Some(v.clone()),
            _ => None,
        }
    }

    fn put(&self, token: &str, generation: u64, v: Arc<ValidatedToken>) {
        let mut map = self.tokens.write().expect("token cache lock");
        if map.len() >= CACHE_LIMIT {
            map.retain(|_, (g, _)| *g == generation);
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
        }
        map.insert(token.to_owned(), (generation, v));
    }
}

/// The parts of `POST /v3/auth/tokens` the engine needs.
#[derive(Debug, Default)]
pub struct AuthRequest {
    pub methods: Vec<String>,
    /// `auth.identity`, holding one object per method.
    pub identity: Value,
    /// `auth.scope`: absent (`None`), the string "unscoped", or an object.
    pub scope: Option<Value>,
}

fn unauthorized() -> IdentityError {
    IdentityError::Unauthorized("The request you have made requires authentication.".into())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn from_epoch(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_else(Utc::now)
}

/// Who authenticated, before scoping.
struct Authenticated {
    user_id: String,
    methods: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    audit_chain: Option<String>,
    /// Set by the application-credential method: the scope is fixed.
    fixed_scope: Option<TokenScope>,
}

impl Identity {
    /// Records a revocation event and makes every cached view stale.
    pub async fn revoke(&self, e: RevokeEvent) -> Result<()> {
        self.revocations.add(&self.db, e).await?;
        self.changed();
        Ok(())
    }

    /// Validates a token string; `allow_expired` accepts a token up to
    /// `allow_expired_window` past its expiry (for services finishing long
    /// operations, as Keystone allows).
    pub async fn validate_token(&self, token: &str, allow_expired: bool) -> Result<Arc<ValidatedToken>> {
        let generation = self.generation();
        let v = match self.tokens.get(token, generation) {
            Some(v) => v,
            None => {
                let v = Arc::new(self.build_validated(token).await?);
                self.tokens.put(token, generation, v.clone());
                v
            }
        };
        let now = Utc::now();
        let window = chrono::Duration::from_std(self.config.allow_expired_window).unwrap_or_default();
        let limit = if allow_expired {
            v.payload.expires_at + window
        } else {
            v.payload.expires_at
        };
        if now >= limit {
            return Err(IdentityError::not_found("token", token_hint(token)));
        }
        if self.revocations.is_revoked(&v.facts()) {
            return Err(IdentityError::not_found("token", token_hint(token)));
        }
        Ok(v)
    }

    /// Decrypts and checks a token against current identity data.
    async fn build_validated(&self, token: &str) -> Result<ValidatedToken> {
        let invalid = || IdentityError::not_found("token", token_hint(token));
        let (bytes, issued_at) = {
            let keys = self.keys.read().expect("keys lock");
            keys.decrypt(token).map_err(|_| invalid())?
        };
        let payload = token_payload::decode(&bytes).map_err(|_| invalid())?;
        self.render_token(token, payload, issued_at as i64)
            .await
            .map_err(|e| match e {
                IdentityError::NotFound { .. } | IdentityError::Unauthorized(_) | IdentityError::Forbidden(_) => {
                    invalid()
                }
                other => other,
            })
    }

    /// Looks up what a payload names and renders the token body; fails when
    /// the user, scope or grant behind it is gone or disabled.
    async fn render_token(&self, token: &str, payload: TokenPayload, issued_at: i64) -> Result<ValidatedToken> {
        let user = self.get_user(&payload.user_id).await?;
        let user_domain = self.get_domain(&user.domain_id).await?;
        if !user.enabled || !user_domain.enabled {
            return Err(unauthorized());
        }
        let mut ctx = AuthContext {
            token: token.to_owned(),
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            user_domain_id: user_domain.id.clone(),
            user_domain_name: user_domain.name.clone(),
            audit_ids: payload.audit_ids.clone(),
            expires_at: token_payload::format_time(&payload.expires_at),
            ..Default::default()
        };
        let mut body = json!({
            "methods": payload.methods,
            "user": {
                "domain": {"id": user_domain.id, "name": user_domain.name},
                "id": user.id,
                "name": user.name,
                "password_expires_at": user.password_expires_at.map(|t| token_payload::format_time(&from_epoch(t))),
            },
            "audit_ids": payload.audit_ids,
            "expires_at": ctx.expires_at,
            "issued_at": token_payload::format_time(&from_epoch(issued_at)),
        });
        let mut project_domain_id = None;
        let roles = match &payload.scope {
            TokenScope::Unscoped => Vec::new(),
            TokenScope::Project { project_id } => {
                let (p, d) = self.scoped_project(project_id).await?;
                let roles = self.effective_roles(&user.id, &Target::Project(p.id.clone())).await?;
                self.fill_project(&mut ctx, &mut body, &p, &d);
                project_domain_id = Some(d.id);
                roles
            }
            TokenScope::Domain { domain_id } => {
                let d = self.get_domain(domain_id).await?;
                if !d.enabled {
                    return Err(unauthorized());
                }
                body["domain"] = json!({"id": d.id, "name": d.name});
                ctx.domain_id = Some(d.id.clone());
                ctx.domain_name = Some(d.name.clone());
                self.effective_roles(&user.id, &Target::Domain(d.id)).await?
            }
            TokenScope::System => {
                body["system"] = json!({"all": true});
                ctx.system_scope = Some("all".into());
                self.effective_roles(&user.id, &Target::System).await?
            }
            TokenScope::ApplicationCredential {
                project_id,
                app_cred_id,
            } => {
                let ac = db::grants::get_app_cred(&self.db, app_cred_id)
                    .await?
                    .ok_or_else(|| IdentityError::not_found("application credential", app_cred_id))?;
                if ac.expires_at.is_some_and(|t| t <= db::now()) {
                    return Err(unauthorized());
                }
                let (p, d) = self.scoped_project(project_id).await?;
                let granted = db::grants::app_cred_role_ids(&self.db, &ac.id).await?;
                let held = self.effective_roles(&user.id, &Target::Project(p.id.clone())).await?;
                let implications = self.implications().await?;
                let allowed = crate::assignment::expand_implied(&granted, &implications);
                let roles: Vec<_> = held.into_iter().filter(|r| allowed.contains(&r.id)).collect();
                self.fill_project(&mut ctx, &mut body, &p, &d);
                project_domain_id = Some(d.id);
                body["application_credential"] = json!({"id": ac.id, "name": ac.name, "restricted": !ac.unrestricted});
                ctx.application_credential_id = Some(ac.id);
                roles
            }
            TokenScope::Trust { project_id, trust_id } => {
                let t = db::trusts::get(&self.db, trust_id)
                    .await?
                    .ok_or_else(|| IdentityError::not_found("trust", trust_id))?;
                if t.deleted_at.is_some() || t.expires_at.is_some_and(|e| e <= db::now()) {
                    return Err(unauthorized());
                }
                let (p, d) = self.scoped_project(project_id).await?;
                let granted = db::trusts::role_ids(&self.db, &t.id).await?;
                let trustor_roles = self
                    .effective_roles(&t.trustor_user_id, &Target::Project(p.id.clone()))
                    .await?;
                if !granted.iter().all(|g| trustor_roles.iter().any(|r| &r.id == g)) {
                    return Err(unauthorized());
                }
                let implications = self.implications().await?;
                let allowed = crate::assignment::expand_implied(&granted, &implications);
                let roles: Vec<_> = trustor_roles.into_iter().filter(|r| allowed.contains(&r.id)).collect();
                self.fill_project(&mut ctx, &mut body, &p, &d);
                project_domain_id = Some(d.id);
                body["OS-TRUST:trust"] = json!({
                    "id": t.id,
                    "impersonation": t.impersonation,
                    "trustee_user": {"id": t.trustee_user_id},
                    "trustor_user": {"id": t.trustor_user_id},
                });
                ctx.trust_id = Some(t.id);
                roles
            }
        };
        if !matches!(payload.scope, TokenScope::Unscoped) && roles.is_empty() {
            return Err(unauthorized());
        }
        if !matches!(payload.scope, TokenScope::Unscoped) {
            body["roles"] = roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect();
        }
        ctx.roles = roles.iter().map(|r| r.name.to_lowercase()).collect();
        ctx.role_ids = roles.iter().map(|r| r.id.clone()).collect();
        let role_ids = ctx.role_ids.clone();
        Ok(ValidatedToken {
            context: Arc::new(ctx.finish()),
            user_domain_id: user_domain.id,
            project_domain_id,
            role_ids,
            issued_at,
            payload,
            body: json!({"token": body}),
            rendered: Default::default(),
        })
    }

    /// A project a token may be scoped to: it and its domain enabled.
    async fn scoped_project(&self, project_id: &str) -> Result<(ProjectRow, ProjectRow)> {
        let p = self.get_project(project_id).await?;
        let d = self.get_domain(&p.domain_id).await?;
        if !p.enabled || !d.enabled {
            return Err(unauthorized());
        }
        Ok((p, d))
    }

    fn fill_project(&self, ctx: &mut AuthContext, body: &mut Value, p: &ProjectRow, d: &ProjectRow) {
        body["project"] = json!({"domain": {"id": d.id, "name": d.name}, "id": p.id, "name": p.name});
        body["is_domain"] = json!(false);
        ctx.project_id = Some(p.id.clone());
        ctx.project_name = Some(p.name.clone());
        ctx.project_domain_id = Some(d.id.clone());
        ctx.project_domain_name = Some(d.name.clone());
    }

    /// The serialized body of a token response (see [`Self::token_response`]),
    /// made once per validated token.
    pub async fn token_response_bytes(&self, v: &ValidatedToken, with_catalog: bool) -> Result<Bytes> {
        let slot = &v.rendered[usize::from(with_catalog)];
        if let Some(b) = slot.get() {
            return Ok(b.clone());
        }
        let body = self.token_response(v, with_catalog).await?;
        let bytes = Bytes::from(serde_json::to_vec(&body).map_err(|e| IdentityError::Internal(e.to_string()))?);
        Ok(slot.get_or_init(|| bytes).clone())
    }

    /// The body of a token response, with the catalog unless `nocatalog`.
    pub async fn token_response(&self, v: &ValidatedToken, with_catalog: bool) -> Result<Value> {
        let mut body = v.body.clone();
        if with_catalog && !matches!(v.payload.scope, TokenScope::Unscoped) {
            body["token"]["catalog"] = (*self.catalog_for(v.context.project_id.as_deref()).await?).clone();
        }
        Ok(body)
    }

    /// The catalog for a project (or none), cached per generation.
    pub async fn catalog_for(&self, project_id: Option<&str>) -> Result<Arc<Value>> {
        let generation = self.generation();
        let key = project_id.map(str::to_owned);
        if let Some((g, c)) = self.tokens.catalogs.read().expect("catalog cache").get(&key)
            && *g == generation
        {
            return Ok(c.clone());
        }
        let c = Arc::new(self.render_catalog(project_id).await?);
        let mut map = self.tokens.catalogs.write().expect("catalog cache");
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(key, (generation, c.clone()));
        Ok(c)
    }

    /// `POST /v3/auth/tokens`: authenticates, scopes, and issues a token.
    pub async fn issue_token(&self, req: AuthRequest) -> Result<(String, Arc<ValidatedToken>)> {
        if req.methods.is_empty() {
            return Err(IdentityError::bad(
                "Invalid input for field 'identity.methods': at least one method is required.",
            ));
        }
        let mut who: Option<Authenticated> = None;
        for m in &req.methods {
            let part = req.identity.get(m.as_str()).ok_or_else(|| {
                IdentityError::bad(format!(
                    "Invalid input for field 'identity': method {m} has no '{m}' object."
                ))
            })?;
            let a = match m.as_str() {
                "password" => self.auth_password(part).await?,
                "token" => self.auth_token(part).await?,
                "application_credential" => self.auth_app_cred(part).await?,
                _ => {
                    return Err(IdentityError::Unauthorized(format!(
                        "Attempted to authenticate with an unsupported method: {m}."
                    )));
                }
            };
            if let Some(prev) = &mut who {
                if prev.user_id != a.user_id {
                    return Err(unauthorized());
                }
                prev.methods.extend(a.methods);
            } else {
                who = Some(a);
            }
        }
        let who = who.ok_or_else(unauthorized)?;
        let user = self.get_user(&who.user_id).await.map_err(|_| unauthorized())?;
        let scope = match who.fixed_scope.clone() {
            Some(s) => {
                if req.scope.as_ref().is_some_and(|s| s.is_object()) {
                    return Err(IdentityError::Unauthorized(
                        "Application credentials cannot request a scope.".into(),
                    ));
                }
                s
            }
            None => self.resolve_scope(&user, req.scope.as_ref()).await?,
        };
        let mut expires_at = Utc::now() + chrono::Duration::from_std(self.config.token_expiration).unwrap_or_default();
        if let Some(e) = who.expires_at {
            expires_at = expires_at.min(e);
        }
        // A trust with impersonation makes the trustee act as the trustor.
        let mut token_user = user.id.clone();
        if let TokenScope::Trust { trust_id, .. } = &scope {
            let t = db::trusts::get(&self.db, trust_id).await?.ok_or_else(unauthorized)?;
            if let Some(e) = t.expires_at {
                expires_at = expires_at.min(from_epoch(e));
            }
            if t.impersonation {
                token_user = t.trustor_user_id;
            }
        }
        let mut audit_ids = vec![token_payload::new_audit_id()];
        audit_ids.extend(who.audit_chain);
        let mut methods = who.methods;
        methods.dedup();
        let payload = TokenPayload {
            user_id: token_user,
            methods,
            scope,
            expires_at,
            audit_ids,
        };
        let bytes =
            token_payload::encode(&payload).map_err(|e| IdentityError::Internal(format!("token payload: {e}")))?;
        let token = self.keys.read().expect("keys lock").encrypt(&bytes);
        let v = Arc::new(self.render_token(&token, payload, Utc::now().timestamp()).await?);
        self.tokens.put(&token, self.generation(), v.clone());
        Ok((token, v))
    }

    async fn auth_password(&self, part: &Value) -> Result<Authenticated> {
        let u = part
            .get("user")
            .ok_or_else(|| IdentityError::bad("Invalid input for field 'password': 'user' is required."))?;
        let password = str_at(u, &["password"])
            .ok_or_else(|| {
                IdentityError::bad("Invalid input for field 'password.user.password': a string is required.")
            })?
            .to_owned();
        let user = self.user_from_ref(u).await.map_err(|_| unauthorized())?;
        if !self.check_password(&user, password).await {
            tracing::info!(user_id = %user.id, "password mismatch");
            return Err(unauthorized());
        }
        self.check_user_may_log_in(&user).await?;
        Ok(Authenticated {
            user_id: user.id,
            methods: vec!["password".into()],
            expires_at: None,
            audit_chain: None,
            fixed_scope: None,
        })
    }

    async fn check_user_may_log_in(&self, user: &db::users::UserRow) -> Result<()> {
        let domain = self.get_domain(&user.domain_id).await.map_err(|_| unauthorized())?;
        if !user.enabled || !domain.enabled {
            return Err(unauthorized());
        }
        Ok(())
    }

    /// A user named by `{"id"}` or `{"name", "domain": {"id"|"name"}}`.
    pub async fn user_from_ref(&self, u: &Value) -> Result<db::users::UserRow> {
        if let Some(id) = str_at(u, &["id"]) {
            return self.get_user(id).await;
        }
        let name = str_at(u, &["name"]).ok_or_else(|| IdentityError::bad("A user id or name is required."))?;
        let domain = u
            .get("domain")
            .ok_or_else(|| IdentityError::bad("A user name needs a domain."))?;
        let domain_id = self.domain_from_ref(domain).await?.id;
        self.find_user_by_name(&domain_id, name).await
    }

    async fn domain_from_ref(&self, d: &Value) -> Result<ProjectRow> {
        if let Some(id) = str_at(d, &["id"]) {
            return self.get_domain(id).await;
        }
        let name = str_at(d, &["name"]).ok_or_else(|| IdentityError::bad("A domain id or name is required."))?;
        self.find_domain_by_name(name).await
    }

    async fn auth_token(&self, part: &Value) -> Result<Authenticated> {
        let id = str_at(part, &["id"]).ok_or_else(|| IdentityError::bad("Invalid input for field 'token.id'."))?;
        let v = self.validate_token(id, false).await.map_err(|_| unauthorized())?;
        if matches!(
            v.payload.scope,
            TokenScope::Trust { .. } | TokenScope::ApplicationCredential { .. }
        ) {
            return Err(IdentityError::Forbidden(
                "A token created from a trust or an application credential cannot be rescoped.".into(),
            ));
        }
        let mut methods = v.payload.methods.clone();
        if !methods.iter().any(|m| m == "token") {
            methods.insert(0, "token".into());
        }
        Ok(Authenticated {
            user_id: v.payload.user_id.clone(),
            methods,
            expires_at: Some(v.payload.expires_at),
            audit_chain: v.payload.audit_ids.first().cloned(),
            fixed_scope: None,
        })
    }

    async fn auth_app_cred(&self, part: &Value) -> Result<Authenticated> {
        let secret = str_at(part, &["secret"])
            .ok_or_else(|| IdentityError::bad("Invalid input for field 'application_credential.secret'."))?
            .to_owned();
        let ac = if let Some(id) = str_at(part, &["id"]) {
            db::grants::get_app_cred(&self.db, id).await?
        } else {
            let name = str_at(part, &["name"])
                .ok_or_else(|| IdentityError::bad("An application credential id or name is required."))?;
            let user = part
                .get("user")
                .ok_or_else(|| IdentityError::bad("An application credential name needs a user."))?;
            let user = self.user_from_ref(user).await.map_err(|_| unauthorized())?;
            db::grants::get_app_cred_by_name(&self.db, &user.id, name).await?
        };
        let ac = ac.ok_or_else(unauthorized)?;
        if ac.expires_at.is_some_and(|t| t <= db::now()) {
            return Err(unauthorized());
        }
        if !crate::users::verify_password(secret, ac.secret_hash.clone()).await {
            return Err(unauthorized());
        }
        let user = self.get_user(&ac.user_id).await.map_err(|_| unauthorized())?;
        self.check_user_may_log_in(&user).await?;
        let project_id = ac.project_id.clone().ok_or_else(unauthorized)?;
        Ok(Authenticated {
            user_id: user.id,
            methods: vec!["application_credential".into()],
            expires_at: ac.expires_at.map(from_epoch),
            audit_chain: None,
            fixed_scope: Some(TokenScope::ApplicationCredential {
                project_id,
                app_cred_id: ac.id,
            }),
        })
    }

    /// Turns `auth.scope` into a token scope, checking the user may have it.
    async fn resolve_scope(&self, user: &db::users::UserRow, scope: Option<&Value>) -> Result<TokenScope> {
        let Some(scope) = scope.filter(|s| !s.is_null()) else {
            // No scope: the user's default project, when it is usable.
            if let Some(p) = &user.default_project_id
                && let Ok((proj, _)) = self.scoped_project(p).await
                && !self
                    .effective_roles(&user.id, &Target::Project(proj.id.clone()))
                    .await?
                    .is_empty()
            {
                return Ok(TokenScope::Project { project_id: proj.id });
            }
            return Ok(TokenScope::Unscoped);
        };
        if scope.as_str() == Some("unscoped") {
            return Ok(TokenScope::Unscoped);
        }
        let no_access = |what: &str| IdentityError::Unauthorized(format!("User {} has no access to {what}.", user.id));
        if let Some(p) = scope.get("project") {
            let proj = if let Some(id) = str_at(p, &["id"]) {
                self.get_project(id).await.map_err(|_| unauthorized())?
            } else {
                let name =
                    str_at(p, &["name"]).ok_or_else(|| IdentityError::bad("A project id or name is required."))?;
                let d = p
                    .get("domain")
                    .ok_or_else(|| IdentityError::bad("A project name needs a domain."))?;
                let d = self.domain_from_ref(d).await.map_err(|_| unauthorized())?;
                self.find_project_by_name(&d.id, name)
                    .await
                    .map_err(|_| unauthorized())?
            };
            self.scoped_project(&proj.id).await?;
            if self
                .effective_roles(&user.id, &Target::Project(proj.id.clone()))
                .await?
                .is_empty()
            {
                return Err(no_access(&format!("project {}", proj.id)));
            }
            return Ok(TokenScope::Project { project_id: proj.id });
        }
        if let Some(d) = scope.get("domain") {
            let d = self.domain_from_ref(d).await.map_err(|_| unauthorized())?;
            if !d.enabled {
                return Err(unauthorized());
            }
            if self
                .effective_roles(&user.id, &Target::Domain(d.id.clone()))
                .await?
                .is_empty()
            {
                return Err(no_access(&format!("domain {}", d.id)));
            }
            return Ok(TokenScope::Domain { domain_id: d.id });
        }
        if let Some(s) = scope.get("system") {
            if s.get("all").and_then(Value::as_bool) != Some(true) {
                return Err(IdentityError::bad(
                    "Invalid input for field 'scope.system': only {\"all\": true} is supported.",
                ));
            }
            if self.effective_roles(&user.id, &Target::System).await?.is_empty() {
                return Err(no_access("the system"));
            }
            return Ok(TokenScope::System);
        }
        if let Some(t) = scope.get("OS-TRUST:trust") {
            let id = str_at(t, &["id"]).ok_or_else(|| IdentityError::bad("A trust id is required."))?;
            let trust = db::trusts::get(&self.db, id).await?.ok_or_else(unauthorized)?;
            if trust.deleted_at.is_some() || trust.expires_at.is_some_and(|e| e <= db::now()) {
                return Err(unauthorized());
            }
            if trust.trustee_user_id != user.id {
                return Err(IdentityError::Forbidden(
                    "The user is not the trustee of this trust.".into(),
                ));
            }
            if !db::trusts::consume_use(&self.db, id).await? {
                return Err(IdentityError::Forbidden("The trust has no uses left.".into()));
            }
            if trust.remaining_uses.is_some() {
                self.changed();
            }
            let project_id = trust
                .project_id
                .ok_or_else(|| IdentityError::bad("Trusts without a project are not supported."))?;
            return Ok(TokenScope::Trust {
                project_id,
                trust_id: trust.id,
            });
        }
        Err(IdentityError::bad(
            "Invalid input for field 'scope': expected project, domain, system or OS-TRUST:trust.",
        ))
    }

    /// `DELETE /v3/auth/tokens`: revokes one token (and its rescopes).
    pub async fn revoke_token(&self, token: &str) -> Result<()> {
        let v = self.validate_token(token, false).await?;
        let audit = v
            .payload
            .audit_ids
            .first()
            .cloned()
            .ok_or_else(|| IdentityError::Internal("token without audit id".into()))?;
        self.revoke(RevokeEvent {
            audit_id: Some(audit),
            ..RevokeEvent::new(db::now())
        })
        .await
    }
}

/// The start of a token, enough to recognise it in a message or log.
fn token_hint(token: &str) -> String {
    token.chars().take(8).collect::<String>() + "…"
}
