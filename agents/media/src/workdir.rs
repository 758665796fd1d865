//! A segment's private temporary directory: the input written once, outputs next to it, and the
//! rule that decides whose fault a failed tool run was.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::format::InputFormat;
use crate::{MediaError, probe};

/// A temporary directory holding one input segment; removed on drop.
#[derive(Debug)]
pub(crate) struct SegmentWorkdir {
    dir: TempDir,
    input: PathBuf,
    format: InputFormat,
}

impl SegmentWorkdir {
    /// Writes `input` to a fresh temporary directory. An empty input is a bad segment.
    pub(crate) fn new(input: &[u8], format: InputFormat) -> Result<Self, MediaError> {
        if input.is_empty() {
            return Err(MediaError::bad_segment("empty segment"));
        }
        let dir = tempfile::Builder::new()
            .prefix("peerflow-media-")
            .tempdir()
            .map_err(|e| MediaError::io("creating a temporary directory", e))?;
        let path = dir.path().join(format!("input.{}", format.extension()));
        std::fs::write(&path, input).map_err(|e| MediaError::io("writing the input segment", e))?;
        Ok(Self {
            dir,
            input: path,
            format,
        })
    }

    pub(crate) fn input(&self) -> &Path {
        &self.input
    }

    pub(crate) fn format(&self) -> InputFormat {
        self.format
    }

    /// A path for `file_name` inside the directory.
    pub(crate) fn path(&self, file_name: &str) -> PathBuf {
        self.dir.path().join(file_name)
    }

    /// Reads an output file back.
    pub(crate) fn read(&self, path: &Path) -> Result<Vec<u8>, MediaError> {
        std::fs::read(path).map_err(|e| MediaError::io(format!("reading {}", path.display()), e))
    }

    /// Turns a failed tool run into [`MediaError::BadSegment`] when the input itself does not
    /// decode cleanly (garbage, truncated, wrong container, no video); other errors pass through.
    pub(crate) fn blame_input(&self, err: MediaError) -> MediaError {
        let MediaError::ToolFailed { stderr_tail, .. } = &err else {
            return err;
        };
        match probe::input_fault(&self.input, self.format) {
            Ok(Some(reason)) => {
                tracing::debug!(%reason, ffmpeg = %stderr_tail, "input rejected");
                MediaError::bad_segment(reason)
            }
            Ok(None) => err,
            Err(probe_err) => {
                tracing::warn!(error = %probe_err, "could not re-check the input after a failure");
                err
            }
        }
    }
}
