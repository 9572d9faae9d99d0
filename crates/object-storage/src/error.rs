//! The one error enum of object storage, grouped by kind; `api` turns each
//! kind into its status (and `api::fault` into Swift's short HTML body).

use axum::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum SwiftError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("length required")]
    LengthRequired,
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("requested range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("{0}")]
    Unprocessable(String),
    /// Too few replicas answered (no quorum).
    #[error("Service Unavailable")]
    Unavailable,
    #[error("database")]
    Store(#[from] store::StoreError),
    #[error("disk")]
    Io(#[from] std::io::Error),
}

impl From<store::sqlx::Error> for SwiftError {
    fn from(e: store::sqlx::Error) -> Self {
        SwiftError::Store(store::classify(e))
    }
}

pub type Result<T, E = SwiftError> = std::result::Result<T, E>;

impl SwiftError {
    pub fn status(&self) -> StatusCode {
        match self {
            SwiftError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SwiftError::Unauthorized => StatusCode::UNAUTHORIZED,
            SwiftError::Forbidden => StatusCode::FORBIDDEN,
            SwiftError::NotFound => StatusCode::NOT_FOUND,
            SwiftError::Conflict(_) => StatusCode::CONFLICT,
            SwiftError::LengthRequired => StatusCode::LENGTH_REQUIRED,
            SwiftError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            SwiftError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            SwiftError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            SwiftError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SwiftError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            SwiftError::Store(_) | SwiftError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
