//! Running ffmpeg and ffprobe as child processes.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::MediaError;

/// How much of a failing tool's stderr an error carries.
const TAIL_LINES: usize = 12;
const TAIL_CHARS: usize = 2000;

/// The external programs this crate drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    Ffmpeg,
    Ffprobe,
}

impl Tool {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Ffmpeg => "ffmpeg",
            Tool::Ffprobe => "ffprobe",
        }
    }
}

/// What a tool printed.
#[derive(Debug)]
pub(crate) struct ToolOutput {
    pub(crate) success: bool,
    pub(crate) status: String,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

impl ToolOutput {
    /// The output if the tool succeeded, else [`MediaError::ToolFailed`] with its stderr tail.
    pub(crate) fn check(self, tool: Tool) -> Result<ToolOutput, MediaError> {
        if self.success {
            return Ok(self);
        }
        Err(MediaError::ToolFailed {
            tool: tool.name(),
            status: self.status,
            stderr_tail: stderr_tail(&self.stderr),
        })
    }
}

/// Runs `tool` with `args` to completion, stdin closed, stdout and stderr captured.
pub(crate) fn run<I, S>(tool: Tool, args: I) -> Result<ToolOutput, MediaError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let started = Instant::now();
    let mut command = Command::new(tool.name());
    command.args(args).stdin(Stdio::null());
    tracing::trace!(command = ?command, "running");
    let output = command.output().map_err(|e| match e.kind() {
        ErrorKind::NotFound => MediaError::ToolMissing { tool: tool.name() },
        _ => MediaError::io(format!("starting {}", tool.name()), e),
    })?;
    tracing::debug!(
        tool = tool.name(),
        status = %output.status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "finished"
    );
    Ok(ToolOutput {
        success: output.status.success(),
        status: output.status.to_string(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// The last lines of a tool's stderr that say something: SVT-AV1 prints its banner to stderr
/// whatever the log level, so those lines are dropped.
pub(crate) fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("Svt["))
        .collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    match tail.char_indices().rev().nth(TAIL_CHARS) {
        Some((cut, _)) => format!("…{}", &tail[cut..]),
        None => tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_drops_svt_banner_and_keeps_last_lines() {
        let mut stderr = String::from("Svt[info]: banner\n");
        for i in 0..20 {
            stderr.push_str(&format!("line {i}\n"));
        }
        let tail = stderr_tail(&stderr);
        assert!(!tail.contains("Svt"));
        assert!(tail.starts_with("line 8\n") && tail.ends_with("line 19"));
    }

    #[test]
    fn tail_is_bounded() {
        let stderr = "x".repeat(10 * TAIL_CHARS);
        assert!(stderr_tail(&stderr).chars().count() <= TAIL_CHARS + 2);
    }
}
