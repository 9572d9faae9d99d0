//! The block-storage service's one error enum, and its mapping to Cinder's
//! status codes (the fault body is the `api` crate's Nova/Cinder shape).

use api::ApiError;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// Cinder: "Volume abc could not be found."
    #[error("{0}")]
    NotFound(String),
    /// Bad input, and the "invalid state" refusals (Cinder answers 400 to
    /// deleting a volume with snapshots, extending a volume in use…).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Over quota: 413 with Cinder's message.
    #[error("{0}")]
    OverQuota(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("message bus")]
    Bus(#[from] bus::BusError),
    #[error("{0}")]
    Internal(String),
    /// A volume backend failed; the message is Cinder's fixed text for the
    /// operation (the cause was logged where it happened).
    #[error("{0}")]
    Backend(String),
}

pub type Result<T, E = VolumeError> = std::result::Result<T, E>;

impl VolumeError {
    pub fn bad(msg: impl Into<String>) -> Self {
        VolumeError::BadRequest(msg.into())
    }
    pub fn volume_not_found(id: &str) -> Self {
        VolumeError::NotFound(format!("Volume {id} could not be found."))
    }
    pub fn snapshot_not_found(id: &str) -> Self {
        VolumeError::NotFound(format!("Snapshot {id} could not be found."))
    }
    pub fn type_not_found(id: &str) -> Self {
        VolumeError::NotFound(format!("Volume type {id} could not be found."))
    }
}

impl From<store::sqlx::Error> for VolumeError {
    fn from(e: store::sqlx::Error) -> Self {
        VolumeError::Store(store::classify(e))
    }
}

impl From<VolumeError> for ApiError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::NotFound(m) => ApiError::not_found(m),
            VolumeError::BadRequest(m) => ApiError::bad_request(m),
            VolumeError::Forbidden(m) => ApiError::forbidden(m),
            VolumeError::Conflict(m) => ApiError::conflict(m),
            VolumeError::OverQuota(m) => ApiError::too_large(m),
            VolumeError::Store(StoreError::InvalidValue(_)) => {
                ApiError::bad_request("Invalid input received: a value is too long or not allowed.")
            }
            VolumeError::Store(StoreError::Conflict(_)) => ApiError::conflict("The resource already exists."),
            VolumeError::Store(ref s) => ApiError::internal(s),
            VolumeError::Bus(ref b) => ApiError::internal(b),
            VolumeError::Backend(m) => ApiError::new(http::StatusCode::INTERNAL_SERVER_ERROR, m),
            VolumeError::Internal(ref m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "An unexpected error prevented the server from fulfilling your request.",
                )
            }
        }
    }
}

impl axum::response::IntoResponse for VolumeError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}
