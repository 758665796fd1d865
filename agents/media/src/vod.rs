//! VOD packaging: a whole video file to an HLS package of AV1 renditions, deterministically.
//!
//! Each rung is encoded by rav1e ([`Rav1eTranscoder`], key frames every `segment_secs`), then cut
//! by ffmpeg's HLS muxer into fMP4 segments (`-c copy`, bit-exact flags, so no version strings or
//! times are written) with a hand-written master playlist. Same input and settings → the same bytes
//! in every file, which is what lets replicas of a VOD job be compared by hash.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::MediaError;
use crate::ffargs::{self, os_args};
use crate::format::InputFormat;
use crate::probe;
use crate::profile::{Profile, VideoCodec};
use crate::rav1e_transcoder::Rav1eTranscoder;
use crate::tool::{self, Tool};
use crate::transcode::Transcoder;

/// How to package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VodSettings {
    /// Renditions; every profile's codec must be `av1-rav1e`.
    pub ladder: Vec<Profile>,
    /// Target segment length (key frames are placed this far apart).
    pub segment_secs: u32,
    /// rav1e speed preset.
    pub speed: u8,
}

/// The playlist a player opens.
pub const MASTER_PLAYLIST: &str = "master.m3u8";

/// Packages `input` (an MP4 or MPEG-TS file's bytes) into `out_dir` and returns the files written,
/// relative to `out_dir`, sorted: `master.m3u8` and per rung `NAME/index.m3u8`, `NAME/init.mp4`,
/// `NAME/segNNN.m4s`.
pub fn package(
    input: &[u8],
    format: InputFormat,
    settings: &VodSettings,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, MediaError> {
    if settings.segment_secs == 0 {
        return Err(MediaError::InvalidArgument(
            "segment_secs must be > 0".into(),
        ));
    }
    let info = probe::probe_bytes_as(input, format)?;
    let fps = info.fps;
    if fps <= 0.0 {
        return Err(MediaError::bad_segment("the input has no video frame rate"));
    }
    let encoder = Rav1eTranscoder {
        speed: settings.speed,
        max_key_frame_interval: (f64::from(settings.segment_secs) * fps).round().max(1.0) as u64,
        // A fixed tile layout and thread count: the bitstream does not depend on the machine.
        tiles: 4,
        threads: 2,
        low_latency: true,
    };
    let ladder: Vec<Profile> = settings
        .ladder
        .iter()
        .map(|p| Profile {
            codec: VideoCodec::Av1Rav1e,
            ..p.clone()
        })
        .collect();
    let renditions = encoder.transcode(input, format, &ladder)?;
    std::fs::create_dir_all(out_dir).map_err(|e| MediaError::io("creating the package dir", e))?;
    let mut master = String::from("#EXTM3U\n#EXT-X-VERSION:7\n");
    for (profile, rendition) in ladder.iter().zip(&renditions) {
        let dir = out_dir.join(&profile.name);
        std::fs::create_dir_all(&dir).map_err(|e| MediaError::io("creating a rung dir", e))?;
        let source = dir.join("rendition.mp4");
        std::fs::write(&source, &rendition.bytes)
            .map_err(|e| MediaError::io("writing a rendition", e))?;
        tool::run(Tool::Ffmpeg, hls_args(&source, &dir, settings.segment_secs))?
            .check(Tool::Ffmpeg)?;
        std::fs::remove_file(&source).map_err(|e| MediaError::io("removing a rendition", e))?;
        master.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},CODECS=\"av01.0.08M.08\"\n{}/index.m3u8\n",
            u64::from(profile.bitrate_kbps) * 1000,
            profile.width,
            profile.height,
            profile.name
        ));
    }
    std::fs::write(out_dir.join(MASTER_PLAYLIST), master)
        .map_err(|e| MediaError::io("writing the master playlist", e))?;
    list_files(out_dir)
}

fn hls_args(source: &Path, dir: &Path, segment_secs: u32) -> Vec<OsString> {
    let mut args = ffargs::common();
    args.extend(tool::input_args("mp4"));
    args.push("-i".into());
    args.push(source.into());
    args.extend(os_args(&[
        "-map",
        "0",
        "-c",
        "copy",
        "-fflags",
        "+bitexact",
        "-flags",
        "+bitexact",
        "-f",
        "hls",
        "-hls_time",
        &segment_secs.to_string(),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
    ]));
    args.extend(tool::file_limit_args());
    args.push("-hls_segment_filename".into());
    args.push(dir.join("seg%03d.m4s").into());
    args.push(dir.join("index.m3u8").into());
    args
}

/// Every regular file under `dir`, relative, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, MediaError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| MediaError::io("listing the package", e))?;
        for entry in entries {
            let path = entry
                .map_err(|e| MediaError::io("listing the package", e))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                out.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packaging_is_byte_identical_across_runs_and_plays() {
        let dir = tempfile::tempdir().unwrap();
        let segs =
            crate::testsrc::generate_segments(&dir.path().join("src"), 1, 2, 320, 180, 15).unwrap();
        let input = std::fs::read(&segs[0]).unwrap();
        let settings = VodSettings {
            ladder: Profile::parse_ladder(
                "180p:320x180:200k:av1-rav1e,144p:256x144:120k:av1-rav1e",
            )
            .unwrap(),
            segment_secs: 1,
            speed: 10,
        };
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let files = package(&input, InputFormat::MpegTs, &settings, &a).unwrap();
        assert_eq!(
            package(&input, InputFormat::MpegTs, &settings, &b).unwrap(),
            files
        );
        assert!(files.iter().any(|f| f == Path::new(MASTER_PLAYLIST)));
        assert!(files.iter().any(|f| f == Path::new("180p/init.mp4")));
        assert!(
            files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "m4s"))
                .count()
                >= 4
        );
        for f in &files {
            assert_eq!(
                std::fs::read(a.join(f)).unwrap(),
                std::fs::read(b.join(f)).unwrap(),
                "{} differs between runs",
                f.display()
            );
        }
        // The package decodes: the 144p playlist yields 256x144 AV1 of about the input's length.
        let info = crate::probe(&a.join("144p/index.m3u8")).unwrap();
        assert_eq!((info.width, info.height), (256, 144));
        assert_eq!(info.video_codec, "av1");
        assert!((info.duration_s - 2.0).abs() < 0.2, "{info:?}");
    }
}
