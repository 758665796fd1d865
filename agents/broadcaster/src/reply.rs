//! The answer to a successful push: a JSON summary of the renditions, or, with
//! `Accept: multipart/mixed`, the renditions themselves, one part each.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use axum::Json;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use crate::processor::{RenditionOut, SegmentFormat};

/// The JSON reply to a push.
#[derive(Debug, Serialize)]
struct PushSummary<'a> {
    stream: &'a str,
    seq: u64,
    renditions: Vec<RenditionSummary<'a>>,
}

#[derive(Debug, Serialize)]
struct RenditionSummary<'a> {
    name: &'a str,
    width: u32,
    height: u32,
    bandwidth_bps: u64,
    codecs: Option<&'a str>,
    container: SegmentFormat,
    size_bytes: usize,
    duration_s: f64,
    /// Where viewers fetch this rendition segment.
    url: String,
}

/// Whether the pusher asked for the renditions in the reply.
pub fn wants_multipart(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("multipart/mixed"))
}

/// `200` with a JSON summary of the published renditions.
pub fn summary(stream: &str, seq: u64, renditions: &[RenditionOut]) -> Response {
    let renditions = renditions
        .iter()
        .map(|r| RenditionSummary {
            name: &r.name,
            width: r.width,
            height: r.height,
            bandwidth_bps: r.bandwidth_bps,
            codecs: r.codecs.as_deref(),
            container: r.container,
            size_bytes: r.bytes.len(),
            duration_s: r.duration_s,
            url: format!("/live/{stream}/{}/{seq}.{}", r.name, r.container),
        })
        .collect();
    Json(PushSummary {
        stream,
        seq,
        renditions,
    })
    .into_response()
}

/// `200` with a `multipart/mixed` body: one part per rendition, in the processor's order.
pub fn multipart(seq: u64, renditions: &[RenditionOut]) -> Response {
    let boundary = boundary();
    let size: usize = renditions.iter().map(|r| r.bytes.len() + 256).sum();
    let mut body = BytesMut::with_capacity(size + 64);
    for r in renditions {
        let ext = r.container.extension();
        let head = format!(
            "--{boundary}\r\n\
             Content-Type: {}\r\n\
             Content-Length: {}\r\n\
             Content-Disposition: attachment; filename=\"{}_{seq}.{ext}\"\r\n\
             Rendition-Name: {}\r\n\
             Rendition-Resolution: {}x{}\r\n\
             Rendition-Duration: {:.3}\r\n\r\n",
            r.container.content_type(),
            r.bytes.len(),
            r.name,
            r.name,
            r.width,
            r.height,
            r.duration_s,
        );
        body.put_slice(head.as_bytes());
        body.put_slice(&r.bytes);
        body.put_slice(b"\r\n");
    }
    body.put_slice(format!("--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/mixed; boundary={boundary}");
    ([(header::CONTENT_TYPE, content_type)], Bytes::from(body)).into_response()
}

/// A boundary drawn from std's randomly keyed hasher (no RNG dependency); 128 bits make a
/// collision with segment bytes negligible.
fn boundary() -> String {
    let (a, b) = (RandomState::new(), RandomState::new());
    format!("peerflow-{:016x}{:016x}", a.hash_one(1u8), b.hash_one(2u8))
}
