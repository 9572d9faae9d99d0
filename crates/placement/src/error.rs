//! The placement service's one error enum, its `code`s (Placement's
//! `placement/errors.py`) and its mapping to HTTP faults.

use api::ApiError;
use store::StoreError;

/// Placement's error codes (the `code` of an error body, microversion 1.23).
pub mod codes {
    pub const INVENTORY_INUSE: &str = "placement.inventory.inuse";
    pub const CONCURRENT_UPDATE: &str = "placement.concurrent_update";
    pub const DUPLICATE_NAME: &str = "placement.duplicate_name";
    pub const PROVIDER_IN_USE: &str = "placement.resource_provider.inuse";
    pub const PROVIDER_CANNOT_DELETE_PARENT: &str = "placement.resource_provider.cannot_delete_parent";
    pub const RESOURCE_PROVIDER_NOT_FOUND: &str = "placement.resource_provider.not_found";
    pub const QUERYPARAM_BAD_VALUE: &str = "placement.query.bad_value";
}

#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// A 409; `code` is one of [`codes`] (None: `placement.undefined_code`).
    #[error("{message}")]
    Conflict {
        message: String,
        code: Option<&'static str>,
    },
    /// A provider's or a consumer's generation moved under a write: the
    /// transaction was rolled back and may be retried.
    #[error("{0}")]
    ConcurrentUpdate(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

pub type Result<T, E = PlacementError> = std::result::Result<T, E>;

impl PlacementError {
    pub fn bad(msg: impl Into<String>) -> Self {
        PlacementError::BadRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        PlacementError::NotFound(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        PlacementError::Conflict {
            message: msg.into(),
            code: None,
        }
    }
    pub fn conflict_code(msg: impl Into<String>, code: &'static str) -> Self {
        PlacementError::Conflict {
            message: msg.into(),
            code: Some(code),
        }
    }
    /// Whether the database gave up on the transaction for a reason another
    /// attempt may not meet: a lost generation race, a deadlock, a
    /// serialization failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            PlacementError::ConcurrentUpdate(_) => true,
            PlacementError::Store(StoreError::Other(store::sqlx::Error::Database(db))) => db
                .code()
                .is_some_and(|c| matches!(c.as_ref(), "40001" | "40P01" | "1213" | "1205")),
            _ => false,
        }
    }
}

impl From<store::sqlx::Error> for PlacementError {
    fn from(e: store::sqlx::Error) -> Self {
        PlacementError::Store(store::classify(e))
    }
}

impl From<PlacementError> for ApiError {
    fn from(e: PlacementError) -> Self {
        match e {
            PlacementError::BadRequest(m) => ApiError::bad_request(m),
            PlacementError::NotFound(m) => ApiError::not_found(m),
            PlacementError::Conflict { message, code } => {
                let err = ApiError::conflict(message);
                match code {
                    Some(c) => err.with_kind(c),
                    None => err,
                }
            }
            PlacementError::ConcurrentUpdate(m) => ApiError::conflict(m).with_kind(codes::CONCURRENT_UPDATE),
            PlacementError::Store(StoreError::InvalidValue(_)) => {
                ApiError::bad_request("A value in the request is too long or not valid for the database.")
            }
            PlacementError::Store(ref s) => ApiError::internal(s),
        }
    }
}

impl axum::response::IntoResponse for PlacementError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}
