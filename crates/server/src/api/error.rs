//! API errors: one JSON shape, one place that maps failures to HTTP statuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use catwalk_vault::VaultError;

use crate::deployments::CreateError;
use crate::keys::RotateError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Sent as `Retry-After` (whole seconds, rounded up).
    retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(what: &str, retry_after: std::time::Duration) -> ApiError {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("{what}; try again in {seconds} s"),
            )
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn no_deployment(name: &str) -> ApiError {
        ApiError::not_found(format!("no deployment named {name:?}"))
    }

    /// An unexpected failure: the details go to the server log, the client gets a generic text.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "API request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Catwalk hit an internal error; the server log has the details",
        )
    }
}

impl From<catwalk_store::StoreError> for ApiError {
    fn from(error: catwalk_store::StoreError) -> ApiError {
        ApiError::internal(error)
    }
}

impl From<CreateError> for ApiError {
    fn from(error: CreateError) -> ApiError {
        match error {
            CreateError::Invalid(message) => ApiError::bad_request(message),
            CreateError::Analysis(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "analysis_failed", message)
            }
            CreateError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            CreateError::Store(error) => ApiError::internal(error),
        }
    }
}

impl From<RotateError> for ApiError {
    fn from(error: RotateError) -> ApiError {
        match error {
            RotateError::Vault(error @ VaultError::KeysFromEnv) => {
                ApiError::new(StatusCode::CONFLICT, "keys_from_env", error.to_string())
            }
            // The vault's messages name files and variables, never key material.
            RotateError::Vault(error) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "vault",
                format!("the key rotation stopped: {error}; run it again once this is fixed"),
            ),
            RotateError::Store(error) => ApiError::internal(error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.max(1).into());
        }
        response
    }
}
