//! The image service's one error enum, and its mapping to Glance's status
//! codes.

use api::ApiError;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Glance: "No image found with ID abc".
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Over a quota or the size cap: 413, nothing stored.
    #[error("{0}")]
    OverLimit(String),
    /// The image went away while its data was being written: 410.
    #[error("{0}")]
    Gone(String),
    /// A `Range` the data cannot satisfy: 416.
    #[error("Requested range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("image data store failed")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;

impl ImageError {
    pub fn not_found(id: &str) -> Self {
        ImageError::NotFound(format!("No image found with ID {id}"))
    }
    pub fn bad(msg: impl Into<String>) -> Self {
        ImageError::BadRequest(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        ImageError::Forbidden(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        ImageError::Conflict(msg.into())
    }
}

impl From<store::sqlx::Error> for ImageError {
    fn from(e: store::sqlx::Error) -> Self {
        ImageError::Store(store::classify(e))
    }
}

impl From<ImageError> for ApiError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::NotFound(m) => ApiError::not_found(m),
            ImageError::BadRequest(m) => ApiError::bad_request(m),
            ImageError::Forbidden(m) => ApiError::forbidden(m),
            ImageError::Conflict(m) => ApiError::conflict(m),
            ImageError::OverLimit(m) => ApiError::too_large(m),
            ImageError::RangeNotSatisfiable { size } => ApiError::new(
                http::StatusCode::RANGE_NOT_SATISFIABLE,
                "Requested range not satisfiable",
            )
            .with_header(
                http::header::CONTENT_RANGE,
                http::HeaderValue::from_str(&format!("bytes */{size}")).unwrap_or(http::HeaderValue::from_static("*")),
            ),
            ImageError::Gone(m) => ApiError::new(http::StatusCode::GONE, m),
            ImageError::Store(StoreError::Conflict(_)) => ApiError::conflict("An image with this ID already exists."),
            ImageError::Store(ref s) => ApiError::internal(s),
            ImageError::Io(ref io) => ApiError::internal(io),
            ImageError::Internal(ref m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "An unexpected error prevented the server from fulfilling your request.",
                )
            }
        }
    }
}

impl axum::response::IntoResponse for ImageError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}
