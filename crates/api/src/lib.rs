//! OpenStack HTTP plumbing shared by every service.
//!
//! Where it sits: under every API service (identity, compute, image, …); no
//! service writes its own fault body, request id, token check, JSON
//! validation or pagination. The rooms:
//!
//! - [`fault`]: [`ApiError`] and the renderer for each service's fault shape;
//! - [`auth`]: the token middleware, the [`Auth`] extractor, the policy hook;
//! - [`json`]: JSON bodies whose 400s name the bad field;
//! - [`page`]: marker/limit pagination with `links`;
//! - [`microversion`]: the `OpenStack-API-Version` negotiation of the
//!   services that have microversions;
//! - this file: [`service_layers`], the one middleware stack every service
//!   router is wrapped in (request id + tracing span, faults, token, body
//!   limit), and [`serve`] with graceful shutdown.

pub mod auth;
pub mod fault;
pub mod json;
pub mod microversion;
pub mod page;
pub mod service_auth;

use std::future::{Future, IntoFuture};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use tracing::Instrument;

pub use auth::{Auth, AuthContext, MaybeAuth, TokenAuth, TokenValidator, enforce};
pub use fault::{ApiError, FaultStyle};
pub use json::ValidJson;
pub use service_auth::{LoginError, ServiceCredentials, service_login};

/// The request id of the current request (`req-<uuid>`), also sent back as
/// `x-openstack-request-id`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

async fn request_id(mut req: Request, next: Next) -> Response {
    let id = format!("req-{}", uuid::Uuid::new_v4());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %req.uri().path(),
        user_id = tracing::field::Empty,
    );
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    async move {
        let mut resp = next.run(req).await;
        resp.extensions_mut().insert(fault::RequestMethod(method));
        let status = resp.status().as_u16();
        let micros = started.elapsed().as_micros() as u64;
        if status >= 500 {
            tracing::warn!(status, micros, "request failed");
        } else {
            tracing::debug!(status, micros, "request done");
        }
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-openstack-request-id", v);
        }
        resp
    }
    .instrument(span)
    .await
}

/// Wraps a service router in the common stack, outermost first: request id
/// and span, fault rendering in `style`, token validation, body limit.
pub fn service_layers(router: Router, style: FaultStyle, auth: TokenAuth, body_limit: usize) -> Router {
    router
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(auth, auth::token_layer))
        .layer(middleware::from_fn(move |req, next| {
            fault::render_faults(style, req, next)
        }))
        .layer(middleware::from_fn(request_id))
}

/// How long requests still in flight may finish after shutdown begins.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish — for at most [`SHUTDOWN_GRACE`], so that a
/// client that stopped reading a download cannot hold the process up.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (begun, begins) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = begun.send(());
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal).into_future();
    let deadline = async move {
        match begins.await {
            Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        done = server => done,
        () = deadline => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "requests still open at the end of the grace period; closing them");
            Ok(())
        }
    }
}
