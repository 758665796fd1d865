//! HLS delivery: `GET /live/{stream}/index.m3u8` (master), `GET /live/{stream}/{rendition}.m3u8`
//! (live media playlist) and `GET /live/{stream}/{rendition}/{seq}.{ts|mp4}` (segments).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::broadcaster::Broadcaster;
use crate::error::ApiError;
use crate::gate::VIEWER_HEADER;
use crate::playlist::{self, MediaView};
use crate::processor::SegmentFormat;

const PLAYLIST_CONTENT_TYPE: &str = "application/vnd.apple.mpegurl";

/// The master playlist (`index.m3u8`) or one rendition's live media playlist.
pub async fn playlist(
    State(broadcaster): State<Arc<Broadcaster>>,
    Path((stream, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let state = broadcaster.published(&stream)?;
    let text = match file.strip_suffix(".m3u8") {
        Some("index") => playlist::master(&state),
        Some(rendition) => {
            let rendition = state.rendition(rendition).ok_or_else(|| {
                ApiError::UnknownStream(format!("stream {stream:?} has no rendition {rendition:?}"))
            })?;
            let window = broadcaster.config().live_window;
            playlist::media(rendition, state.ended, MediaView::Live { window })
        }
        None => return Err(ApiError::UnknownStream(format!("no playlist {file:?}"))),
    };
    Ok((
        [
            (header::CONTENT_TYPE, PLAYLIST_CONTENT_TYPE),
            // A live playlist changes with every segment.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response())
}

/// `?viewer=`: a paid session's token, for players that cannot set a header.
#[derive(Debug, serde::Deserialize)]
pub struct ViewerQuery {
    viewer: Option<String>,
}

/// One rendition segment (of a paid stream: to viewers the gate admits, see [`crate::gate`]).
pub async fn segment(
    State(broadcaster): State<Arc<Broadcaster>>,
    Path((stream, rendition, file)): Path<(String, String, String)>,
    Query(query): Query<ViewerQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let viewer = headers
        .get(VIEWER_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(query.viewer.as_deref());
    let unknown = || ApiError::UnknownStream(format!("no segment {rendition}/{file}"));
    let (seq, ext) = file.rsplit_once('.').ok_or_else(unknown)?;
    let seq: u64 = seq.parse().map_err(|_| unknown())?;
    let container = SegmentFormat::from_extension(ext).ok_or_else(unknown)?;
    let bytes = broadcaster
        .segment(&stream, &rendition, seq, container, viewer)
        .await?;
    Ok(([(header::CONTENT_TYPE, container.content_type())], bytes).into_response())
}
