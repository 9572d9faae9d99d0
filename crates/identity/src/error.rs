//! The identity service's one error enum, and its mapping to Keystone's
//! status codes and messages.

use api::ApiError;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Keystone: "Could not find user: abc."
    #[error("Could not find {kind}: {id}.")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = IdentityError> = std::result::Result<T, E>;

impl IdentityError {
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        IdentityError::NotFound { kind, id: id.into() }
    }

    pub fn bad(msg: impl Into<String>) -> Self {
        IdentityError::BadRequest(msg.into())
    }

    /// Keystone's duplicate message, e.g. for `("user", "name foo")`.
    pub fn duplicate(kind: &str, what: impl std::fmt::Display) -> Self {
        IdentityError::Conflict(format!(
            "Conflict occurred attempting to store {kind} - Duplicate entry found with {what}."
        ))
    }
}

/// Maps a store error on insert/update to a duplicate-entry conflict.
pub fn on_conflict(kind: &'static str, what: impl std::fmt::Display) -> impl FnOnce(StoreError) -> IdentityError {
    move |e| match e {
        StoreError::Conflict(_) => IdentityError::duplicate(kind, what),
        other => IdentityError::Store(other),
    }
}

impl From<store::sqlx::Error> for IdentityError {
    fn from(e: store::sqlx::Error) -> Self {
        IdentityError::Store(store::classify(e))
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::NotFound { .. } => ApiError::not_found(e.to_string()),
            IdentityError::Conflict(m) => ApiError::conflict(m),
            IdentityError::BadRequest(m) => ApiError::bad_request(m),
            IdentityError::Unauthorized(m) => ApiError::unauthorized(m),
            IdentityError::Forbidden(m) => ApiError::forbidden(m),
            IdentityError::Store(StoreError::InvalidValue(_)) => {
                ApiError::bad_request("Invalid input: a value is too long or holds characters that cannot be stored.")
            }
            IdentityError::Store(StoreError::Conflict(_)) => {
                ApiError::conflict("Conflict occurred attempting to store the resource.")
            }
            IdentityError::Store(ref s) => ApiError::internal(s),
            IdentityError::Internal(ref m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "An unexpected error prevented the server from fulfilling your request.",
                )
            }
        }
    }
}

impl axum::response::IntoResponse for IdentityError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}
