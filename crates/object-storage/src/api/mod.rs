//! Swift v1 on the wire: the route table, the path parser, and what every
//! response shares (`X-Trans-Id`, `Content-Type`, errors). `X-Trans-Id`
//! is in Swift's format and carries the request id's last 21 hex digits;
//! `X-Openstack-Request-Id` is the cloud-wide `req-<uuid>`.

mod account;
mod container;
mod info;
pub(crate) mod listing;
pub(crate) mod object;

use std::sync::Arc;

use ::api::{AuthContext, MaybeAuth, RequestId, TokenAuth};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::ObjectStorage;
use crate::error::SwiftError;
use crate::names;

pub(crate) type State = ObjectStorage;

/// `container_listing_limit` / `account_listing_limit`
pub const LISTING_LIMIT: i64 = 10_000;

pub fn router(s: ObjectStorage, auth: TokenAuth) -> Router {
    let routes = Router::new()
        .route("/info", get(info::info))
        .route("/healthcheck", get(|| async { "OK" }))
        .fallback(dispatch)
        .layer(axum::middleware::from_fn(trans_id))
        .with_state(s);
    ::api::service_layers(routes, ::api::FaultStyle::Swift, auth, 64 * 1024)
}

/// Swift names its request id `X-Trans-Id`; it is the same id as
/// `X-Openstack-Request-Id`. Every response also gets a `Content-Type`.
async fn trans_id(req: Request, next: Next) -> Response {
    // Swift's form, which clients check: `tx` + 21 hex digits + `-` + the
    // time in hex; built from the request id so logs can be matched.
    let id = req.extensions().get::<RequestId>().map(|r| {
        let hexid: String = r.0.chars().filter(char::is_ascii_hexdigit).collect();
        let tail = hexid.get(hexid.len().saturating_sub(21)..).unwrap_or_default();
        format!("tx{tail:0>21}-{:010x}", names::now_secs())
    });
    let mut resp = next.run(req).await;
    if let Some(v) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        resp.headers_mut().insert("x-trans-id", v);
    }
    if !resp.headers().contains_key(header::CONTENT_TYPE) {
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
    }
    resp
}

/// What a request is about, parsed from its path.
pub(crate) struct Target {
    pub account: String,
    pub container: Option<String>,
    pub object: Option<String>,
}

impl Target {
    /// `/account/container/object` as the disk layer names objects.
    pub fn object_path(&self) -> String {
        format!(
            "/{}/{}/{}",
            self.account,
            self.container.as_deref().unwrap_or_default(),
            self.object.as_deref().unwrap_or_default()
        )
    }
}

fn parse_path(path: &str) -> Result<Target, SwiftError> {
    let rest = path
        .strip_prefix("/v1/")
        .or_else(|| path.strip_prefix("/v1.0/"))
        .ok_or(SwiftError::NotFound)?;
    let mut parts = rest.splitn(3, '/');
    let account = names::decode_segment(parts.next().unwrap_or_default())?;
    if account.is_empty() {
        return Err(SwiftError::NotFound);
    }
    names::check_account(&account)?;
    let container = parts
        .next()
        .map(names::decode_segment)
        .transpose()?
        .filter(|c| !c.is_empty());
    let object = match &container {
        Some(_) => parts
            .next()
            .map(names::decode_segment)
            .transpose()?
            .filter(|o| !o.is_empty()),
        None => None,
    };
    if let Some(c) = &container {
        names::check_container(c)?;
    }
    if let Some(o) = &object {
        names::check_object(o)?;
    }
    Ok(Target {
        account,
        container,
        object,
    })
}

/// Query parameters, decoded.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Result<Query, SwiftError> {
        let mut out = Vec::new();
        for pair in q.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| SwiftError::BadRequest("Invalid UTF8 in query".into()))
            };
            let v = dec(v)?;
            if v.contains('\0') {
                return Err(SwiftError::BadRequest("Invalid query".into()));
            }
            out.push((dec(k)?, v));
        }
        Ok(Query(out))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Everything a level's handler gets.
pub(crate) struct Call {
    pub s: ObjectStorage,
    pub ctx: Option<Arc<AuthContext>>,
    /// The account a signature (TempURL, FormPost) made this request the
    /// owner of, whatever its token.
    pub grant: Option<String>,
    /// The client's address, for `temp_url_ip_range`.
    pub peer: Option<std::net::IpAddr>,
    pub target: Target,
    pub query: Query,
    pub method: Method,
    pub headers: HeaderMap,
    /// In a mutex only so that `&Call` is `Send` (a body is not `Sync`).
    pub body: std::sync::Mutex<Option<Body>>,
}

impl Call {
    pub fn take_body(&self) -> Body {
        self.body.lock().ok().and_then(|mut b| b.take()).unwrap_or_default()
    }

    pub fn ctx(&self) -> Option<&AuthContext> {
        self.ctx.as_deref()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
    }

    /// Header (name, value) pairs with string values.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
    }

    /// 401 without a token, 403 with one.
    pub fn denied(&self) -> SwiftError {
        if self.ctx.is_some() {
            SwiftError::Forbidden
        } else {
            SwiftError::Unauthorized
        }
    }

    pub fn owner(&self) -> bool {
        self.owns(&self.target.account)
    }

    /// Whether the caller owns `account`: by its token or by a signature.
    pub fn owns(&self, account: &str) -> bool {
        self.grant.as_deref() == Some(account) || crate::access::owns(self.ctx(), account)
    }

    /// A request the middleware makes on the caller's behalf (Swift's
    /// sub-requests): same token and grant, its own method, path, headers
    /// and body.
    pub fn sub(&self, method: Method, target: Target, query: &[(&str, &str)], headers: HeaderMap, body: Body) -> Call {
        Call {
            s: self.s.clone(),
            ctx: self.ctx.clone(),
            grant: self.grant.clone(),
            peer: self.peer,
            target,
            query: Query(query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            method,
            headers,
            body: std::sync::Mutex::new(Some(body)),
        }
    }

    /// The same request again (its body moves to the copy), for a
    /// middleware that looks at the answer before deciding.
    pub fn same(&self) -> Call {
        Call {
            s: self.s.clone(),
            ctx: self.ctx.clone(),
            grant: self.grant.clone(),
            peer: self.peer,
            target: Target {
                account: self.target.account.clone(),
                container: self.target.container.clone(),
                object: self.target.object.clone(),
            },
            query: Query(self.query.0.clone()),
            method: self.method.clone(),
            headers: self.headers.clone(),
            body: std::sync::Mutex::new(Some(self.take_body())),
        }
    }

    /// Whether the query has `key` (with any value).
    pub fn has_query(&self, key: &str) -> bool {
        self.query.get(key).is_some()
    }
}

impl Target {
    pub fn object(account: &str, container: &str, object: &str) -> Target {
        Target {
            account: account.to_owned(),
            container: Some(container.to_owned()),
            object: Some(object.to_owned()),
        }
    }

    pub fn container(account: &str, container: &str) -> Target {
        Target {
            account: account.to_owned(),
            container: Some(container.to_owned()),
            object: None,
        }
    }
}

/// The level handlers, after the middleware.
pub(crate) async fn app(call: Call) -> Result<Response, SwiftError> {
    if call.target.object.is_some() {
        object::handle(call).await
    } else if call.target.container.is_some() {
        container::handle(call).await
    } else {
        account::handle(call).await
    }
}

/// Headers only the middleware may set (Swift's gatekeeper): dropped from
/// every client request.
fn gatekeeper(headers: &mut HeaderMap) {
    let reserved: Vec<HeaderName> = headers
        .keys()
        .filter(|k| {
            let k = k.as_str();
            k.starts_with("x-object-sysmeta-")
                || k.starts_with("x-container-sysmeta-")
                || k.starts_with("x-account-sysmeta-")
                || k.starts_with("x-backend-")
                || k == "x-static-large-object"
        })
        .cloned()
        .collect();
    for k in reserved {
        headers.remove(k);
    }
}

async fn dispatch(
    axum::extract::State(s): axum::extract::State<State>,
    MaybeAuth(ctx): MaybeAuth,
    req: Request,
) -> Response {
    let www = req.extensions().get::<TokenAuth>().map(|a| a.www_authenticate.clone());
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let (mut parts, body) = req.into_parts();
    gatekeeper(&mut parts.headers);
    let result = async {
        let target = parse_path(parts.uri.path())?;
        let query = Query::parse(parts.uri.query())?;
        let call = Call {
            s,
            ctx,
            grant: None,
            peer,
            target,
            query,
            method: parts.method,
            headers: parts.headers,
            body: std::sync::Mutex::new(Some(body)),
        };
        crate::middleware::run(call, crate::middleware::Stage::First).await
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => error_response(e, www),
    }
}

pub(crate) fn error_response(e: SwiftError, www: Option<HeaderValue>) -> Response {
    let status = e.status();
    let mut err = match &e {
        SwiftError::Store(_) | SwiftError::Io(_) => ::api::ApiError::internal(&e),
        SwiftError::NotFound => ::api::ApiError::not_found("The resource could not be found."),
        SwiftError::Unauthorized => ::api::ApiError::unauthorized(
            "This server could not verify that you are authorized to access the document you requested.",
        ),
        SwiftError::Forbidden => ::api::ApiError::forbidden("Access was denied to this resource."),
        SwiftError::LengthRequired => ::api::ApiError::new(status, "Missing Content-Length header."),
        SwiftError::RangeNotSatisfiable { .. } => ::api::ApiError::new(status, "The Range requested is not available."),
        other => ::api::ApiError::new(status, other.to_string()),
    };
    if let SwiftError::RangeNotSatisfiable { size } = e
        && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
    {
        err = err.with_header(header::CONTENT_RANGE, v);
    }
    if status == StatusCode::UNAUTHORIZED
        && let Some(w) = www
    {
        err = err.with_header(header::WWW_AUTHENTICATE, w);
    }
    err.into_response()
}

/// A response with no body: status and headers.
pub(crate) fn empty(status: StatusCode, headers: Vec<(HeaderName, String)>) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    set_headers(&mut resp, headers);
    if !resp.headers().contains_key(header::CONTENT_LENGTH) {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    resp
}

pub(crate) fn set_headers(resp: &mut Response, headers: Vec<(HeaderName, String)>) {
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
}

pub(crate) fn hn(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes()).unwrap_or(HeaderName::from_static("x-invalid"))
}

/// The metadata headers of an account or container, for HEAD and GET.
pub(crate) fn meta_headers(meta: &crate::db::Meta, include_acls: bool) -> Vec<(HeaderName, String)> {
    meta.iter()
        .filter(|(k, _)| include_acls || !(k.as_str() == "x-container-read" || k.as_str() == "x-container-write"))
        .map(|(k, v)| (hn(k), v.clone()))
        .collect()
}

/// `HEAD` is `GET` without a body.
pub(crate) fn is_read(m: &Method) -> bool {
    m == Method::GET || m == Method::HEAD
}

pub(crate) fn method_not_allowed() -> Response {
    let mut r = ::api::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for this resource.",
    )
    .into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, PUT, POST, DELETE"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = parse_path("/v1/AUTH_p/c/a/b//c").unwrap();
        assert_eq!(t.account, "AUTH_p");
        assert_eq!(t.container.as_deref(), Some("c"));
        assert_eq!(t.object.as_deref(), Some("a/b//c"));
        let t = parse_path("/v1/AUTH_p/c/").unwrap();
        assert!(t.object.is_none());
        let t = parse_path("/v1/AUTH_p/").unwrap();
        assert!(t.container.is_none());
        assert!(parse_path("/v2/AUTH_p").is_err());
        assert!(matches!(
            parse_path("/v1/AUTH_p/c/%00"),
            Err(SwiftError::PreconditionFailed(_))
        ));
        let long = format!("/v1/AUTH_p/{}", "c".repeat(257));
        assert!(matches!(parse_path(&long), Err(SwiftError::BadRequest(_))));
    }
}
