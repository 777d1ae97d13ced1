//! The vault's key, as the admin manages it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::ApiError;
use crate::keys::Rotation;
use crate::setup::App;

/// Re-encrypts every stored secret under a new key while every deployment keeps running.
pub async fn rotate(State(app): State<Arc<App>>) -> Result<Json<Rotation>, ApiError> {
    let rotation = app.deployments.rotate_keys().await?;
    tracing::info!(
        reencrypted = rotation.reencrypted,
        unreadable = rotation.unreadable.len(),
        "the vault key was rotated"
    );
    Ok(Json(rotation))
}
