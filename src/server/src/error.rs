//! Errors: why the server could not start ([`ServerError`]) and the HTTP error answer of a
//! request ([`ApiError`]), which hides internals (a store failure is logged, the client sees
//! "internal storage error").

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::store::StoreError;

/// Why starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A key could not be made or read.
    #[error("server key error: {0}")]
    Key(String),
    /// An API key could not be made.
    #[error(transparent)]
    ApiKey(#[from] crate::keys::KeyError),
}

/// An error answer: status plus `{"error": ...}` (and extra fields).
#[derive(Debug)]
pub struct ApiError(pub(crate) StatusCode, pub(crate) Value);

pub(crate) fn err(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, json!({ "error": message.into() }))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        err(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
