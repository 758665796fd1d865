//! `PUT`/`POST /live/{stream}/{seq}.{ts|mp4}`: the HTTP push of one segment, as ffmpeg's
//! segment and HLS muxers, OBS-style tools and curl send it (fixed length or chunked). The
//! request blocks until the segment is transcoded and published.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::broadcaster::Broadcaster;
use crate::error::ApiError;
use crate::processor::{IncomingSegment, SegmentFormat};
use crate::reply;
use crate::stream::is_valid_name;

/// Longest `Content-Duration` accepted, in milliseconds (5 minutes, as go-livepeer).
const MAX_DURATION_MS: f64 = 300_000.0;

/// What a push URL names.
#[derive(Debug, PartialEq, Eq)]
enum PushTarget {
    /// A media segment to transcode.
    Segment { seq: u64, format: SegmentFormat },
    /// A playlist uploaded by ffmpeg's HLS muxer; the broadcaster writes its own, so it is
    /// accepted and dropped.
    Playlist,
}

/// `PUT /live/{stream}/{file}`: a keyless push, taken only when keys are not required.
pub async fn push(
    State(broadcaster): State<Arc<Broadcaster>>,
    Path((stream, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    refused_closes(push_with(broadcaster, None, stream, file, headers, body).await)
}

/// `PUT /live/{key}/{stream}/{file}`: a push with a stream key.
pub async fn keyed_push(
    State(broadcaster): State<Arc<Broadcaster>>,
    Path((key, stream, file)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    refused_closes(push_with(broadcaster, Some(key), stream, file, headers, body).await)
}

/// A refused push may leave its body unread, and the server then drops the connection after the
/// reply; saying so (`Connection: close`) keeps the client from sending its next request down a
/// connection that is about to close, where it would fail with no reply at all.
fn refused_closes(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|err| {
        let mut response = err.into_response();
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        response
    })
}

/// Handles one push. Only the URL, the key and the headers are checked here, so a refused push
/// costs nothing; the body is read, and the segment processed and published, in a task of its
/// own: ffmpeg hangs up as soon as the body is sent, without waiting for the reply, and a closed
/// connection drops its handler. The segment is published all the same.
async fn push_with(
    broadcaster: Arc<Broadcaster>,
    key: Option<String>,
    stream: String,
    file: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let checked = parse_target(&stream, &file).and_then(|target| {
        let segment = matches!(target, PushTarget::Segment { .. });
        let grant = broadcaster.authorize(key.as_deref(), &stream, segment)?;
        Ok((target, grant))
    });
    let (target, grant) = checked.inspect_err(|err| {
        tracing::warn!(%stream, %file, code = err.code(), %err, "push refused");
    })?;
    let stream = grant.stream;
    let duration_hint = duration_hint(&headers)?;
    let push = Push {
        stream: stream.clone(),
        target,
        duration_hint,
        multipart: reply::wants_multipart(&headers),
        declared_len: declared_len(&headers),
    };
    tokio::spawn(receive(broadcaster, push, body))
        .await
        .map_err(|err| ApiError::Internal(format!("segment processing failed: {err}")))
        .and_then(|result| result)
        .inspect_err(|err| {
            tracing::warn!(%stream, %file, code = err.code(), %err, "push refused");
        })
}

/// What the URL and headers of a push say.
struct Push {
    stream: String,
    target: PushTarget,
    duration_hint: Option<f64>,
    multipart: bool,
    declared_len: Option<u64>,
}

/// Reads the body, then transcodes and publishes the segment it holds.
async fn receive(
    broadcaster: Arc<Broadcaster>,
    push: Push,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = broadcaster.config().max_segment_bytes;
    let receiving = std::time::Instant::now();
    let bytes = read_body(body, push.declared_len, limit).await?;
    let received_in = receiving.elapsed();
    let PushTarget::Segment { seq, format } = push.target else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if !looks_like(format, &bytes) {
        return Err(ApiError::BadSegment(format!(
            "the body ({} bytes) is not a .{format} segment",
            bytes.len()
        )));
    }
    tracing::debug!(stream = %push.stream, seq, %format, len = bytes.len(), "segment received");
    let segment = IncomingSegment {
        stream: push.stream.clone(),
        seq,
        format,
        bytes,
        duration_hint: push.duration_hint,
        received_in,
    };
    let renditions = broadcaster.ingest(segment).await?;
    Ok(if push.multipart {
        reply::multipart(seq, &renditions)
    } else {
        reply::summary(&push.stream, seq, &renditions)
    })
}

/// Checks the stream name, then the extension, then the sequence number.
fn parse_target(stream: &str, file: &str) -> Result<PushTarget, ApiError> {
    if !is_valid_name(stream) {
        return Err(ApiError::BadRequest(format!(
            "stream name {stream:?} must match [A-Za-z0-9_-]{{1,64}}"
        )));
    }
    let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
    if ext == "m3u8" {
        return Ok(PushTarget::Playlist);
    }
    let format = SegmentFormat::from_extension(ext)
        .ok_or_else(|| ApiError::UnsupportedFormat(ext.to_owned()))?;
    let seq = trailing_seq(stem).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "segment name {file:?} must end in a sequence number before the extension \
             (12.ts, or index12.ts as ffmpeg's HLS muxer and OBS name them)"
        ))
    })?;
    Ok(PushTarget::Segment { seq, format })
}

/// The sequence number a segment's file stem ends in: `12` in `12`, `index12` or `stream_12`,
/// the names ffmpeg's segment and HLS muxers and OBS-style tools give. Whatever precedes the
/// digits is the muxer's prefix and carries no meaning here.
fn trailing_seq(stem: &str) -> Option<u64> {
    let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    stem[stem.len() - digits..].parse().ok()
}

/// A cheap check of the container's framing, so that an empty or plainly foreign body is
/// refused before anyone is paid to transcode it. Decoding is the processor's job.
fn looks_like(format: SegmentFormat, bytes: &[u8]) -> bool {
    const TS_PACKET: usize = 188;
    const TS_SYNC: u8 = 0x47;
    match format {
        SegmentFormat::Ts => {
            bytes.first() == Some(&TS_SYNC) && bytes.get(TS_PACKET).is_none_or(|&b| b == TS_SYNC)
        }
        // Every MP4 starts with a box: a 32-bit size, then a four-letter type.
        SegmentFormat::Mp4 => bytes
            .get(4..8)
            .is_some_and(|kind| kind.iter().all(u8::is_ascii_alphanumeric)),
    }
}

/// `Content-Duration` (milliseconds) as seconds.
fn duration_hint(headers: &HeaderMap) -> Result<Option<f64>, ApiError> {
    let Some(value) = headers.get("content-duration") else {
        return Ok(None);
    };
    let ms = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms > 0.0 && *ms <= MAX_DURATION_MS)
        .ok_or_else(|| {
            ApiError::BadRequest("Content-Duration must be milliseconds in (0, 300000]".into())
        })?;
    Ok(Some(ms / 1000.0))
}

fn declared_len(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads the whole body, refusing it as soon as it passes `limit` bytes.
async fn read_body(body: Body, declared_len: Option<u64>, limit: usize) -> Result<Bytes, ApiError> {
    if declared_len.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::SegmentTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(ApiError::SegmentTooLarge { limit }),
        Err(err) => Err(ApiError::BadRequest(format!("reading the body: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_name_then_extension_then_seq() {
        assert_eq!(
            parse_target("cam-1", "12.ts").unwrap(),
            PushTarget::Segment {
                seq: 12,
                format: SegmentFormat::Ts
            }
        );
        assert_eq!(
            parse_target("s", "0.mp4").unwrap(),
            PushTarget::Segment {
                seq: 0,
                format: SegmentFormat::Mp4
            }
        );
        assert_eq!(
            parse_target("s", "index.m3u8").unwrap(),
            PushTarget::Playlist
        );
        assert_eq!(
            parse_target("a b", "1.ts").unwrap_err().code(),
            "bad_request"
        );
        assert_eq!(
            parse_target("s", "1.flv").unwrap_err().code(),
            "unsupported_format"
        );
        assert_eq!(
            parse_target("s", "1").unwrap_err().code(),
            "unsupported_format"
        );
        assert_eq!(parse_target("s", "x.ts").unwrap_err().code(), "bad_request");
        // A sign is a prefix like any other: "-1" names segment 1, as "index-1" would.
        assert_eq!(
            parse_target("s", "-1.ts").unwrap(),
            PushTarget::Segment {
                seq: 1,
                format: SegmentFormat::Ts
            }
        );
        for (name, seq) in [("index0.ts", 0), ("index17.ts", 17), ("stream_5.ts", 5)] {
            assert_eq!(
                parse_target("s", name).unwrap(),
                PushTarget::Segment {
                    seq,
                    format: SegmentFormat::Ts
                },
                "{name}"
            );
        }
        assert_eq!(
            parse_target("s", "index.ts").unwrap_err().code(),
            "bad_request"
        );
        assert_eq!(
            parse_target("s", "99999999999999999999999.ts")
                .unwrap_err()
                .code(),
            "bad_request"
        );
    }

    #[test]
    fn framing_check_refuses_empty_and_foreign_bodies() {
        let ts = [0x47; 376];
        assert!(looks_like(SegmentFormat::Ts, &ts));
        assert!(!looks_like(SegmentFormat::Ts, b""));
        assert!(!looks_like(SegmentFormat::Ts, b"hello world"));
        assert!(looks_like(SegmentFormat::Mp4, b"\0\0\0\x18ftypisom"));
        assert!(!looks_like(SegmentFormat::Mp4, b"\0\0"));
        assert!(!looks_like(
            SegmentFormat::Mp4,
            b"\x47\x40\x11\x10\x00\x42\xf0\x25"
        ));
    }

    #[test]
    fn content_duration_is_milliseconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(duration_hint(&headers).unwrap(), None);
        headers.insert("content-duration", "2000".parse().unwrap());
        assert_eq!(duration_hint(&headers).unwrap(), Some(2.0));
        headers.insert("content-duration", "-5".parse().unwrap());
        assert!(duration_hint(&headers).is_err());
    }
}
