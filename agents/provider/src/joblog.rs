//! A job's log: lines from the run (stdout/stderr of the container, progress of a transcode),
//! appended to a file per job that the HTTP API serves.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Appends lines to one job's log file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct JobLog {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl JobLog {
    /// Opens (appending) the log of `job_id` under `dir`.
    pub fn open(dir: &Path, job_id: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = log_path(dir, job_id);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Appends `[stream] text`. Write errors are logged, never fatal to the job.
    pub fn line(&self, stream: &str, text: &str) {
        let mut file = self.file.lock().expect("log lock");
        if let Err(e) = writeln!(file, "[{stream}] {}", text.trim_end_matches('\n')) {
            tracing::warn!(path = %self.path.display(), error = %e, "job log write failed");
        }
    }
}

/// Where the log of `job_id` lives under `dir`.
pub fn log_path(dir: &Path, job_id: u64) -> PathBuf {
    dir.join(format!("job-{job_id}.log"))
}
