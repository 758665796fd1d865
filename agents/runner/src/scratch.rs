//! A job's bounded disk: a tmpfs of the job's size mounted on the host (the runner runs as root,
//! in the daemon's mount namespace), holding the job's `/tmp`, its output directory and its
//! in-memory inputs, bind-mounted into a container whose root filesystem is read-only. A job that
//! writes past the size gets `ENOSPC`; nothing else on the host fills up. The mount outlives the
//! container until the outputs are collected, then it is unmounted and removed.
//!
//! tmpfs pages are memory: what the job writes is charged to its memory cgroup (so it counts
//! against its memory limit and is metered as memory, not as block I/O).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::RunnerError;

/// One job's mounted scratch space.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    dir: PathBuf,
}

fn c_path(p: &Path) -> Result<CString, RunnerError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| RunnerError::InvalidSpec(format!("path {} holds a NUL byte", p.display())))
}

fn os_error(path: &Path) -> RunnerError {
    RunnerError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::last_os_error(),
    }
}

impl Scratch {
    /// Mounts a tmpfs of `bytes` at `root/label` (replacing a stale one left by a crash), with
    /// `tmp/` (mode 1777) and `out/` (mode 0777) in it.
    pub(crate) fn mount(root: &Path, label: &str, bytes: u64) -> Result<Scratch, RunnerError> {
        let dir = root.join(label);
        let stale = Scratch { dir: dir.clone() };
        stale.unmount();
        std::fs::create_dir_all(&dir).map_err(RunnerError::io(&dir))?;
        let target = c_path(&dir)?;
        let fstype = CString::new("tmpfs").expect("no NUL");
        let data = CString::new(format!("size={bytes},mode=0755")).expect("no NUL");
        // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
        let rc = unsafe {
            libc::mount(
                fstype.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                data.as_ptr().cast(),
            )
        };
        if rc != 0 {
            let e = os_error(&dir);
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        let scratch = Scratch { dir };
        for (name, mode) in [("tmp", 0o1777), ("out", 0o777), ("inputs", 0o755)] {
            let sub = scratch.dir.join(name);
            let made = std::fs::create_dir(&sub).and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(mode))
            });
            if let Err(e) = made {
                scratch.unmount();
                return Err(RunnerError::Io {
                    path: sub,
                    source: e,
                });
            }
        }
        Ok(scratch)
    }

    /// The host directory mounted as the job's `/tmp`.
    pub(crate) fn tmp(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// The host directory mounted as the job's output directory.
    pub(crate) fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// Where the `k`th in-memory input is written.
    pub(crate) fn input(&self, k: usize) -> PathBuf {
        self.dir.join("inputs").join(k.to_string())
    }

    /// Bytes still free on the mount.
    pub(crate) fn free_bytes(&self) -> Option<u64> {
        let path = c_path(&self.dir).ok()?;
        // SAFETY: statvfs is plain data; the path is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
        (rc == 0).then(|| st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Unmounts (lazily, so a container still holding it cannot keep it) and removes the
    /// directory; quiet when it is not mounted.
    pub(crate) fn unmount(&self) {
        if let Ok(path) = c_path(&self.dir) {
            // SAFETY: a valid C string; failure (not mounted) is fine.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(dir = %self.dir.display(), error = %e, "scratch not removed"),
        }
    }
}
