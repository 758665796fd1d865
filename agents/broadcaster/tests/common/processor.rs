//! A `SegmentProcessor` that really transcodes with the system ffmpeg: the stand-in for the
//! paid transcoding network, so the whole ingest → HLS path runs on real video.

use std::path::Path;
use std::process::Stdio;

use bytes::Bytes;
use peerflow_broadcaster::{
    BoxFuture, IncomingSegment, ProcessError, RenditionOut, SegmentFormat, SegmentProcessor,
};
use tokio::process::Command;

/// One rung of the ladder.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub bitrate_bps: u64,
}

/// The ladder the tests expect: 360p and 240p, 16:9.
pub const LADDER: [Profile; 2] = [
    Profile {
        name: "360p",
        width: 640,
        height: 360,
        bitrate_bps: 800_000,
    },
    Profile {
        name: "240p",
        width: 426,
        height: 240,
        bitrate_bps: 400_000,
    },
];

/// x264 Constrained Baseline level 3.0 (what `-preset ultrafast -level:v 3.0` produces) with
/// the source's AAC-LC audio copied.
pub const CODECS: &str = "avc1.42c01e,mp4a.40.2";

/// Transcodes every segment to [`LADDER`] with one ffmpeg run.
pub struct FfmpegProcessor;

impl SegmentProcessor for FfmpegProcessor {
    fn process(
        &self,
        segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>> {
        Box::pin(transcode(segment))
    }
}

async fn transcode(segment: IncomingSegment) -> Result<Vec<RenditionOut>, ProcessError> {
    let work = tempfile::tempdir().map_err(|e| ProcessError::Unavailable(e.to_string()))?;
    let ext = segment.format.extension();
    let input = work.path().join(format!("in.{ext}"));
    tokio::fs::write(&input, &segment.bytes)
        .await
        .map_err(|e| ProcessError::Unavailable(e.to_string()))?;

    let mut cmd = Command::new("ffmpeg");
    // Keep the source timestamps so consecutive rendition segments play as one stream.
    cmd.args(["-hide_banner", "-v", "error", "-nostdin", "-copyts", "-i"])
        .arg(&input);
    for p in LADDER {
        cmd.args(["-map", "0:v:0", "-map", "0:a?", "-vf"])
            .arg(format!("scale={}:{}", p.width, p.height))
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-level:v", "3.0"])
            .args(["-b:v", &p.bitrate_bps.to_string(), "-c:a", "copy"]);
        match segment.format {
            SegmentFormat::Ts => cmd.args(["-muxdelay", "0", "-f", "mpegts"]),
            SegmentFormat::Mp4 => cmd.args([
                "-movflags",
                "frag_keyframe+empty_moov+default_base_moof",
                "-f",
                "mp4",
            ]),
        };
        cmd.arg(work.path().join(format!("{}.{ext}", p.name)));
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ProcessError::Unavailable(format!("cannot run ffmpeg: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(ProcessError::BadSegment(tail(&stderr).to_owned()));
    }

    let mut renditions = Vec::with_capacity(LADDER.len());
    for p in LADDER {
        let path = work.path().join(format!("{}.{ext}", p.name));
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| ProcessError::BadSegment(format!("no {} output: {e}", p.name)))?;
        renditions.push(RenditionOut {
            name: p.name.into(),
            width: p.width,
            height: p.height,
            bandwidth_bps: p.bitrate_bps,
            codecs: Some(CODECS.into()),
            container: segment.format,
            bytes: Bytes::from(bytes),
            duration_s: duration(&path).await?,
        });
    }
    Ok(renditions)
}

async fn duration(path: &Path) -> Result<f64, ProcessError> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .await
        .map_err(|e| ProcessError::Unavailable(format!("cannot run ffprobe: {e}")))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| ProcessError::BadSegment(format!("no duration for {}", path.display())))
}

fn tail(text: &str) -> &str {
    let text = text.trim();
    let start = text.len().saturating_sub(300);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// A processor for which no orchestrator is ever available.
pub struct UnavailableProcessor;

impl SegmentProcessor for UnavailableProcessor {
    fn process(
        &self,
        _segment: IncomingSegment,
    ) -> BoxFuture<'static, Result<Vec<RenditionOut>, ProcessError>> {
        Box::pin(async { Err(ProcessError::Unavailable("no orchestrator answered".into())) })
    }
}
