//! Keypairs (`/os-keypairs`): import or generate, list (other users' with
//! `user_id` from 2.10, paged from 2.35), show, delete. 2.2 adds `type`
//! and answers create 201 / delete 204; 2.92 requires `public_key`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use ::api::{ApiError, Auth, AuthContext, ValidJson};

use super::flavors::{Params, invalid, member, nova_time, only, only_query};
use crate::Compute;
use crate::keypairs::Keypair;
use crate::microversion::Version;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-keypairs", get(list).post(create))
        .route("/os-keypairs/{name}", get(show).delete(delete))
}

/// The user whose keypairs a request is about, after the policy check
/// (`user_id` query parameter from 2.10).
fn target_user(c: &Compute, ctx: &AuthContext, v: Version, requested: Option<&str>, action: &str) -> ApiResult<String> {
    let user = match requested {
        Some(u) if v.at_least(10) => u.to_owned(),
        _ => ctx.user_id.clone(),
    };
    ::api::enforce(
        &c.policy,
        action,
        ctx,
        &json!({"user_id": user, "project_id": ctx.project_id}),
    )?;
    Ok(user)
}

fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn with_type(mut o: Value, k: &Keypair, v: Version) -> Value {
    if v.at_least(2) {
        o["type"] = json!(k.key_type);
    }
    o
}

async fn list(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    if v.at_least(75) {
        only_query(&pairs, &["user_id", "limit", "marker"])?;
    }
    let user = target_user(
        &c,
        &ctx,
        v,
        query_value(&pairs, "user_id"),
        "os_compute_api:os-keypairs:index",
    )?;
    let (marker, limit) = if v.at_least(35) {
        let page = ::api::page::Page::from_query(&pairs, c.config.max_limit)?;
        (page.marker, page.limit)
    } else {
        (None, None)
    };
    let keys = c.list_keypairs(&user, marker.as_deref(), limit).await?;
    let items: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({"keypair": with_type(
                json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint}),
                k,
                v,
            )})
        })
        .collect();
    let mut body = json!({"keypairs": items});
    if v.at_least(35)
        && let Some(l) = limit
        && l > 0
        && keys.len() >= l
        && let Some(last) = keys.last()
    {
        let page = ::api::page::Page { limit, marker: None };
        body["keypairs_links"] = json!(page.links(
            &format!("{}/os-keypairs", p.self_base(&c)),
            &pairs,
            keys.len(),
            Some(&last.name)
        ));
    }
    Ok(Json(body))
}

fn name_ok(name: &str, v: Version) -> bool {
    let extra: &str = if v.at_least(92) { " _-@." } else { " _-" };
    !name.is_empty()
        && name.chars().count() <= 255
        && name.chars().all(|ch| ch.is_ascii_alphanumeric() || extra.contains(ch))
}

async fn create(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let k = member(&body, "keypair")?;
    let mut allowed = vec!["name", "public_key"];
    if v.at_least(2) {
        allowed.push("type");
    }
    if v.at_least(10) {
        allowed.push("user_id");
    }
    only(k, "keypair", &allowed)?;
    let name = match k.get("name") {
        Some(Value::String(s)) if name_ok(s, v) => s.clone(),
        Some(other) => {
            return Err(invalid(
                "name",
                other,
                &format!("{other} is not a valid keypair name (letters, digits, spaces, '_' and '-', at most 255)"),
            ));
        }
        None => {
            return Err(invalid("keypair", &json!(k), "'name' is a required property"));
        }
    };
    let public_key = match k.get("public_key") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(invalid(
                "public_key",
                other,
                &format!("{other} is not of type 'string'"),
            ));
        }
    };
    if v.at_least(92) && public_key.is_none() {
        return Err(invalid("keypair", &json!(k), "'public_key' is a required property"));
    }
    let key_type = match k.get("type") {
        None => "ssh".to_owned(),
        Some(Value::String(s)) if s == "ssh" || s == "x509" => s.clone(),
        Some(other) => {
            return Err(invalid(
                "type",
                other,
                &format!("{other} is not one of ['ssh', 'x509']"),
            ));
        }
    };
    let requested_user = match k.get("user_id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(invalid("user_id", other, &format!("{other} is not of type 'string'"))),
    };
    let user = target_user(
        &c,
        &ctx,
        v,
        requested_user.as_deref(),
        "os_compute_api:os-keypairs:create",
    )?;
    let created = c.create_keypair(&user, &name, &key_type, public_key.as_deref()).await?;
    let kp = &created.keypair;
    let mut out = with_type(
        json!({
            "name": kp.name,
            "public_key": kp.public_key,
            "fingerprint": kp.fingerprint,
            "user_id": kp.user_id,
        }),
        kp,
        v,
    );
    if let Some(private) = &created.private_key {
        out["private_key"] = json!(private);
    }
    let status = if v.at_least(2) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({"keypair": out}))).into_response())
}

async fn show(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    if v.at_least(75) {
        only_query(&pairs, &["user_id"])?;
    }
    let user = target_user(
        &c,
        &ctx,
        v,
        query_value(&pairs, "user_id"),
        "os_compute_api:os-keypairs:show",
    )?;
    let k = c.get_keypair(&user, p.name.as_deref().unwrap_or_default()).await?;
    let out = with_type(
        json!({
            "id": k.id,
            "name": k.name,
            "public_key": k.public_key,
            "fingerprint": k.fingerprint,
            "user_id": k.user_id,
            "created_at": nova_time(k.created_at),
            "updated_at": null,
            "deleted": false,
            "deleted_at": null,
        }),
        &k,
        v,
    );
    Ok(Json(json!({"keypair": out})))
}

async fn delete(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<StatusCode> {
    if v.at_least(75) {
        only_query(&pairs, &["user_id"])?;
    }
    let user = target_user(
        &c,
        &ctx,
        v,
        query_value(&pairs, "user_id"),
        "os_compute_api:os-keypairs:delete",
    )?;
    c.delete_keypair(&user, p.name.as_deref().unwrap_or_default()).await?;
    Ok(if v.at_least(2) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::ACCEPTED
    })
}
