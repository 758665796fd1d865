//! Reading a container's resource counters from its cgroups (v1 or v2, cgroupfs layout).
//!
//! Jobs run with a `cgroup_parent` of their own, `/peerflow/<job label>`, so each job has two
//! levels: the parent (created by dockerd, removed by [`JobCgroup::remove`]) and the container's
//! cgroup below it (created by runc, removed when the container exits).

use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::error::RunnerError;

/// The cgroup hierarchy mounted at `/sys/fs/cgroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One hierarchy per controller (`/sys/fs/cgroup/<controller>/…`).
    V1,
    /// The unified hierarchy.
    V2,
}

/// Counters of one cgroup at one moment; `None` where the file is missing or unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// CPU time, nanoseconds (v1 `cpuacct.usage`, v2 `cpu.stat usage_usec`).
    pub cpu_ns: Option<u64>,
    /// Memory in use, bytes (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub memory_bytes: Option<u64>,
    /// High-water mark of memory, bytes (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`).
    pub memory_peak_bytes: Option<u64>,
    /// Bytes read from block devices (v1 `blkio.throttle.io_service_bytes_recursive`, v2 `io.stat`).
    pub io_read_bytes: Option<u64>,
    /// Bytes written to block devices.
    pub io_write_bytes: Option<u64>,
}

/// The cgroups of one job: `/peerflow/<label>` and the container's below it.
#[derive(Debug, Clone)]
pub struct JobCgroup {
    root: PathBuf,
    version: CgroupVersion,
    parent: String,
}

/// The directory below every controller's root that holds the jobs' parent cgroups.
pub const PEERFLOW_CGROUP: &str = "peerflow";

impl JobCgroup {
    /// The cgroups of job `label` under `/sys/fs/cgroup`.
    pub fn new(label: &str) -> JobCgroup {
        JobCgroup::with_root(Path::new("/sys/fs/cgroup"), label)
    }

    /// The same under another mount point (tests).
    pub fn with_root(root: &Path, label: &str) -> JobCgroup {
        let version = if root.join("cgroup.controllers").exists() {
            CgroupVersion::V2
        } else {
            CgroupVersion::V1
        };
        JobCgroup {
            root: root.to_path_buf(),
            version,
            parent: format!("{PEERFLOW_CGROUP}/{label}"),
        }
    }

    /// Which hierarchy this host has.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The value for the container's `HostConfig.cgroup_parent`.
    pub fn docker_parent(&self) -> String {
        format!("/{}", self.parent)
    }

    fn dir(&self, controller: &str, rel: &str) -> PathBuf {
        match self.version {
            CgroupVersion::V1 => self.root.join(controller).join(rel),
            CgroupVersion::V2 => self.root.join(rel),
        }
    }

    fn child_rel(&self, container_id: &str) -> String {
        format!("{}/{container_id}", self.parent)
    }

    /// The parent's counters: hierarchical, so they include the container's even after its
    /// cgroup is gone (CPU and memory peak on v1; everything on v2).
    pub fn read_parent(&self) -> Counters {
        self.read(&self.parent.clone())
    }

    /// The container's own counters (only while it exists).
    pub fn read_container(&self, container_id: &str) -> Counters {
        self.read(&self.child_rel(container_id))
    }

    /// The pids in the container's cgroup.
    pub fn container_pids(&self, container_id: &str) -> Vec<u32> {
        let path = self
            .dir("cpuacct", &self.child_rel(container_id))
            .join("cgroup.procs");
        std::fs::read_to_string(path)
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    fn read(&self, rel: &str) -> Counters {
        match self.version {
            CgroupVersion::V1 => {
                let (io_read_bytes, io_write_bytes) = read_file(
                    &self
                        .dir("blkio", rel)
                        .join("blkio.throttle.io_service_bytes_recursive"),
                )
                .map(|s| parse_blkio_v1(&s))
                .unzip();
                Counters {
                    cpu_ns: read_u64(&self.dir("cpuacct", rel).join("cpuacct.usage")),
                    memory_bytes: read_u64(&self.dir("memory", rel).join("memory.usage_in_bytes")),
                    memory_peak_bytes: read_u64(
                        &self.dir("memory", rel).join("memory.max_usage_in_bytes"),
                    ),
                    io_read_bytes,
                    io_write_bytes,
                }
            }
            CgroupVersion::V2 => {
                let dir = self.dir("", rel);
                let (io_read_bytes, io_write_bytes) = read_file(&dir.join("io.stat"))
                    .map(|s| parse_io_stat_v2(&s))
                    .unzip();
                Counters {
                    cpu_ns: read_file(&dir.join("cpu.stat"))
                        .and_then(|s| parse_cpu_stat_v2(&s))
                        .map(|us| us.saturating_mul(1000)),
                    memory_bytes: read_u64(&dir.join("memory.current")),
                    memory_peak_bytes: read_u64(&dir.join("memory.peak")),
                    io_read_bytes,
                    io_write_bytes,
                }
            }
        }
    }

    /// On cgroup v1 with a 6.x kernel, blk-throttle is set up lazily and the
    /// `blkio.throttle.io_service_bytes*` counters stay at zero on a device until some throttle
    /// limit has been written for it. Writing a limit on `/peerflow` and clearing it again
    /// switches the accounting on for good (the limit itself is removed at once). Best effort:
    /// failures are logged, metering then relies on per-task I/O counters.
    pub fn enable_io_accounting(&self) {
        if self.version != CgroupVersion::V1 {
            return;
        }
        let dir = self.root.join("blkio").join(PEERFLOW_CGROUP);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            warn!(dir = %dir.display(), error = %e, "cannot create the blkio cgroup");
            return;
        }
        let file = dir.join("blkio.throttle.read_bps_device");
        for dev in block_devices() {
            let set = std::fs::write(&file, format!("{dev} {}", u64::MAX / 2));
            let clear = std::fs::write(&file, format!("{dev} 0"));
            debug!(dev, ?set, ?clear, "blkio accounting switched on");
        }
    }

    /// Removes the parent cgroup in every hierarchy (after the container is gone). Retries
    /// briefly while runc is still removing the container's cgroup.
    pub async fn remove(&self) -> Result<(), RunnerError> {
        let dirs: Vec<PathBuf> = match self.version {
            CgroupVersion::V2 => vec![self.root.join(&self.parent)],
            CgroupVersion::V1 => std::fs::read_dir(&self.root)
                .map_err(RunnerError::io(&self.root))?
                .filter_map(|e| e.ok())
                .map(|e| e.path().join(&self.parent))
                .collect(),
        };
        for dir in dirs {
            let mut attempt = 0;
            loop {
                match std::fs::remove_dir(&dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if attempt < 20 => {
                        debug!(dir = %dir.display(), error = %e, "cgroup busy, retrying");
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(RunnerError::io(&dir)(e)),
                }
            }
        }
        Ok(())
    }
}

/// `major:minor` of the host's block devices, loop and ram disks left out.
fn block_devices() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            !(n.starts_with("loop") || n.starts_with("ram") || n.starts_with("zram"))
        })
        .filter_map(|e| read_file(&e.path().join("dev")))
        .map(|s| s.trim().to_string())
        .collect()
}

fn read_file(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn read_u64(path: &Path) -> Option<u64> {
    read_file(path).and_then(|s| s.trim().parse().ok())
}

/// Sums `Read` and `Write` over the devices of a v1 `blkio.*io_service_bytes*` file.
pub(crate) fn parse_blkio_v1(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(_dev), Some(op), Some(n)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let n: u64 = n.parse().unwrap_or(0);
        match op {
            "Read" => read += n,
            "Write" => write += n,
            _ => {}
        }
    }
    (read, write)
}

/// Sums `rbytes` and `wbytes` over the devices of a v2 `io.stat` file.
pub(crate) fn parse_io_stat_v2(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for field in text.split_whitespace() {
        if let Some(n) = field.strip_prefix("rbytes=") {
            read += n.parse::<u64>().unwrap_or(0);
        } else if let Some(n) = field.strip_prefix("wbytes=") {
            write += n.parse::<u64>().unwrap_or(0);
        }
    }
    (read, write)
}

/// `usage_usec` from a v2 `cpu.stat` file.
pub(crate) fn parse_cpu_stat_v2(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        l.strip_prefix("usage_usec ")
            .and_then(|n| n.trim().parse().ok())
    })
}

/// Storage I/O of a process (`read_bytes`, `write_bytes` of `/proc/<pid>/io`). A process's
/// figures include those of the children it has reaped, so summing the live processes of a
/// container gives its I/O so far — including buffered writes, which cgroup v1 never charges
/// to the container's blkio cgroup (v1 has no writeback attribution).
pub(crate) fn task_io(pid: u32) -> Option<(u64, u64)> {
    let text = read_file(Path::new(&format!("/proc/{pid}/io")))?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse::<u64>().ok()))
            .flatten()
    };
    Some((field("read_bytes:")?, field("write_bytes:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blkio_v1() {
        let text = "254:0 Read 4096\n254:0 Write 31469568\n254:0 Sync 1\n254:0 Total 31473664\n8:0 Read 10\n8:0 Write 5\nTotal 31473679\n";
        assert_eq!(parse_blkio_v1(text), (4106, 31469573));
        assert_eq!(parse_blkio_v1("Total 0\n"), (0, 0));
    }

    #[test]
    fn parses_v2_files() {
        let io = "254:0 rbytes=1024 wbytes=2048 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=2 rios=1 wios=1\n";
        assert_eq!(parse_io_stat_v2(io), (1025, 2050));
        let cpu = "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n";
        assert_eq!(parse_cpu_stat_v2(cpu), Some(1_500_000));
        assert_eq!(parse_cpu_stat_v2("user_usec 1\n"), None);
    }

    #[test]
    fn reads_a_fake_v1_tree() {
        let root = tempfile::tempdir().unwrap();
        let job = JobCgroup::with_root(root.path(), "j1");
        assert_eq!(job.version(), CgroupVersion::V1);
        assert_eq!(job.docker_parent(), "/peerflow/j1");
        let put = |ctrl: &str, file: &str, v: &str| {
            let d = root.path().join(ctrl).join("peerflow/j1");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(file), v).unwrap();
        };
        put("cpuacct", "cpuacct.usage", "1500000000\n");
        put("memory", "memory.usage_in_bytes", "1000\n");
        put("memory", "memory.max_usage_in_bytes", "5000\n");
        put(
            "blkio",
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 7\n8:0 Write 9\nTotal 16\n",
        );
        let c = job.read_parent();
        assert_eq!(c.cpu_ns, Some(1_500_000_000));
        assert_eq!(c.memory_bytes, Some(1000));
        assert_eq!(c.memory_peak_bytes, Some(5000));
        assert_eq!((c.io_read_bytes, c.io_write_bytes), (Some(7), Some(9)));
        assert_eq!(job.read_container("nope"), Counters::default());
    }

    #[test]
    fn reads_a_fake_v2_tree() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu io memory\n").unwrap();
        let job = JobCgroup::with_root(root.path(), "j2");
        assert_eq!(job.version(), CgroupVersion::V2);
        let d = root.path().join("peerflow/j2/abc");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cpu.stat"), "usage_usec 250\n").unwrap();
        std::fs::write(d.join("memory.current"), "42\n").unwrap();
        std::fs::write(d.join("memory.peak"), "84\n").unwrap();
        std::fs::write(d.join("io.stat"), "8:0 rbytes=1 wbytes=2\n").unwrap();
        std::fs::write(d.join("cgroup.procs"), "12\n13\n").unwrap();
        let c = job.read_container("abc");
        assert_eq!(c.cpu_ns, Some(250_000));
        assert_eq!(c.memory_peak_bytes, Some(84));
        assert_eq!((c.io_read_bytes, c.io_write_bytes), (Some(1), Some(2)));
        assert_eq!(job.container_pids("abc"), vec![12, 13]);
    }

    #[test]
    fn own_process_io_is_readable() {
        let (r, w) = task_io(std::process::id()).expect("/proc/self/io");
        // Values are counters: just check they parse and are sane.
        assert!(r < u64::MAX && w < u64::MAX);
    }
}
