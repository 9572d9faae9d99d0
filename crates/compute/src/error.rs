//! The compute service's one error enum, and its mapping to Nova's status
//! codes. Messages are Nova's, word for word where clients or tempest
//! match on them (e.g. "Flavor 42 could not be found.").

use api::ApiError;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    /// Wrong state for the action, duplicate name, …: 409.
    #[error("{0}")]
    Conflict(String),
    /// Over a quota: 403 with Nova's message (Nova answers quota faults
    /// with 403 `Forbidden`, not 413, for servers and most resources).
    #[error("{0}")]
    OverQuota(String),
    /// Placement, image or an agent failed or did not answer.
    #[error("{0}")]
    Upstream(String),
    /// The host's driver cannot do this at all: 501.
    #[error("{0}")]
    NotImplemented(String),
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = ComputeError> = std::result::Result<T, E>;

impl ComputeError {
    pub fn not_found(msg: impl Into<String>) -> Self {
        ComputeError::NotFound(msg.into())
    }
    pub fn bad(msg: impl Into<String>) -> Self {
        ComputeError::BadRequest(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        ComputeError::Forbidden(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        ComputeError::Conflict(msg.into())
    }
}

impl From<store::sqlx::Error> for ComputeError {
    fn from(e: store::sqlx::Error) -> Self {
        ComputeError::Store(store::classify(e))
    }
}

impl From<bus::BusError> for ComputeError {
    fn from(e: bus::BusError) -> Self {
        ComputeError::Upstream(e.to_string())
    }
}

impl From<ComputeError> for ApiError {
    fn from(e: ComputeError) -> Self {
        match e {
            ComputeError::NotFound(m) => ApiError::not_found(m),
            ComputeError::BadRequest(m) => ApiError::bad_request(m),
            ComputeError::Forbidden(m) | ComputeError::OverQuota(m) => ApiError::forbidden(m),
            ComputeError::Conflict(m) => ApiError::conflict(m),
            ComputeError::NotImplemented(m) => ApiError::new(http::StatusCode::NOT_IMPLEMENTED, m),
            ComputeError::Store(StoreError::Conflict(_)) => ApiError::conflict("The resource already exists."),
            ComputeError::Store(StoreError::InvalidValue(_)) => {
                ApiError::bad_request("A value is invalid or too long.")
            }
            ComputeError::Store(ref s) => ApiError::internal(s),
            ComputeError::Upstream(m) => {
                tracing::error!(error = %m, "upstream failure");
                ApiError::new(http::StatusCode::SERVICE_UNAVAILABLE, m)
            }
            ComputeError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.",
                )
            }
        }
    }
}
