//! The admin API: stream keys created, listed and revoked by whoever holds the admin token
//! (`Authorization: Bearer …`, from `<data_dir>/admin.json`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use crate::access::{CreatedKey, KeyInfo, KeySettings};
use crate::broadcaster::Broadcaster;
use crate::error::ApiError;

/// `GET /v1/admin/keys`: every key, never its secret.
pub async fn list(
    State(broadcaster): State<Arc<Broadcaster>>,
    headers: HeaderMap,
) -> Result<Json<Vec<KeyInfo>>, ApiError> {
    broadcaster.access().check_admin(&headers)?;
    Ok(Json(broadcaster.access().list()?))
}

/// `POST /v1/admin/keys` with [`KeySettings`] (every field optional): `201` and the new key with
/// its secret, shown this once.
pub async fn create(
    State(broadcaster): State<Arc<Broadcaster>>,
    headers: HeaderMap,
    settings: Result<Json<KeySettings>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    broadcaster.access().check_admin(&headers)?;
    let Json(settings) = settings.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let created = broadcaster.access().create(&settings)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `DELETE /v1/admin/keys/{id}`: the key, revoked; later pushes with it get 401.
pub async fn revoke(
    State(broadcaster): State<Arc<Broadcaster>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<KeyInfo>, ApiError> {
    broadcaster.access().check_admin(&headers)?;
    let id = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("key id {id:?} is not a number")))?;
    Ok(Json(broadcaster.access().revoke(id)?))
}
