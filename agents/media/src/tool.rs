//! Running ffmpeg and ffprobe as child processes, each bounded in wall time, in what it prints on
//! stdout, and in the size of every file it writes ([`ToolLimits`]). Inputs this crate reads are
//! untrusted (segments pushed by anyone, renditions from orchestrators, claim evidence): every
//! run forces its input's demuxer and allows only the `file` protocol ([`input_args`]), so an
//! HLS playlist or a concat list cannot make a tool wait for ever or read other local files.

use std::cell::Cell;
use std::ffi::OsStr;
use std::io::{ErrorKind, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::MediaError;

/// How much of a failing tool's stderr an error carries.
const TAIL_LINES: usize = 12;
const TAIL_CHARS: usize = 2000;
/// How much of a tool's stderr is kept (the tail; a corrupt input can log a line per frame).
const STDERR_KEEP: usize = 64 << 10;

/// Bounds on every ffmpeg and ffprobe run. A run that passes one is killed and reported as
/// [`MediaError::ToolTimedOut`] or [`MediaError::ToolOutputTooLarge`]; neither is blamed on the
/// input (a deadline depends on the machine), except where a caller says otherwise (a probe's
/// output size is a pure function of the bytes probed, see [`crate::verify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolLimits {
    /// Longest one run may take.
    pub wall: Duration,
    /// Most bytes one run may print on stdout (ffprobe's JSON: about 100 bytes a packet).
    pub stdout_bytes: usize,
    /// Largest file one run may write (ffmpeg's `-fs` on every output; a file that reaches it
    /// is an error, never a silently cut output).
    pub file_bytes: u64,
}

impl ToolLimits {
    /// Ten minutes, 64 MiB of stdout, 8 GiB per file: far above what a live segment or a short
    /// VOD input needs, low enough that no input holds a node's CPU, memory or disk for ever.
    pub const DEFAULT: ToolLimits = ToolLimits {
        wall: Duration::from_secs(600),
        stdout_bytes: 64 << 20,
        file_bytes: 8 << 30,
    };
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

thread_local! {
    static LIMITS: Cell<ToolLimits> = const { Cell::new(ToolLimits::DEFAULT) };
}

/// Runs `f` with every tool run it makes on this thread bounded by `limits` (instead of
/// [`ToolLimits::DEFAULT`]). Everything in this crate runs its tools on the calling thread, so
/// `with_tool_limits(l, || transcoder.transcode(..))` bounds that transcode.
pub fn with_tool_limits<R>(limits: ToolLimits, f: impl FnOnce() -> R) -> R {
    with_local(&LIMITS, limits, f)
}

/// Runs `f` with this thread's `cell` set to `value`, and its old value back afterwards (also
/// when `f` panics).
fn with_local<T: Copy + 'static, R>(
    cell: &'static std::thread::LocalKey<Cell<T>>,
    value: T,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore<T: Copy + 'static>(&'static std::thread::LocalKey<Cell<T>>, T);
    impl<T: Copy + 'static> Drop for Restore<T> {
        fn drop(&mut self) {
            self.0.with(|c| c.set(self.1));
        }
    }
    let _restore = Restore(cell, cell.with(|c| c.replace(value)));
    f()
}

/// The limits in force on this thread.
pub fn tool_limits() -> ToolLimits {
    LIMITS.with(Cell::get)
}

/// How much lower than this process the tools started in [`in_background`] are scheduled
/// (`nice` 10: on a busy machine they get about a tenth of the CPU a normal process gets).
pub const BACKGROUND_NICENESS: i32 = 10;

thread_local! {
    static BACKGROUND: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every tool run it makes on this thread at a lower CPU priority
/// ([`BACKGROUND_NICENESS`]): for work whose answer is needed only later, such as a probe run
/// beside a transcode whose result it checks. On a machine the transcode shares, it then takes
/// the CPU the transcode leaves instead of slowing it down; on an idle one it runs as fast.
pub fn in_background<R>(f: impl FnOnce() -> R) -> R {
    with_local(&BACKGROUND, true, f)
}

/// Makes `command` start at a lower CPU priority ([`BACKGROUND_NICENESS`] above this process's).
/// Set in the child before it runs the tool, so that every thread the tool starts inherits it.
fn lower_priority(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe work
    // is allowed: getpriority and setpriority are single system calls that allocate nothing and
    // take no lock. A failure leaves the tool at normal priority (only speed is at stake).
    unsafe {
        command.pre_exec(|| {
            let ours = libc::getpriority(libc::PRIO_PROCESS, 0);
            libc::setpriority(libc::PRIO_PROCESS, 0, ours + BACKGROUND_NICENESS);
            Ok(())
        });
    }
}

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

/// The options that go before every untrusted `-i`: the demuxer `demuxer` forced (no probing:
/// an HLS playlist, a concat list or an image sequence is never opened as such) and only the
/// `file` protocol allowed (a forced demuxer that references other inputs cannot reach the
/// network or a pipe).
pub(crate) fn input_args(demuxer: &str) -> Vec<std::ffi::OsString> {
    crate::ffargs::os_args(&["-protocol_whitelist", "file", "-f", demuxer])
}

/// `-fs LIMIT`: put before each output path so that no output grows past the file limit.
pub(crate) fn file_limit_args() -> Vec<std::ffi::OsString> {
    crate::ffargs::os_args(&["-fs", &tool_limits().file_bytes.to_string()])
}

/// Fails when the file an ffmpeg run wrote at `path` reached the file limit: ffmpeg's `-fs`
/// stops writing there and exits cleanly, so a cut output must not pass for a whole one.
pub(crate) fn check_file_limit(path: &std::path::Path) -> Result<(), MediaError> {
    let limit = tool_limits().file_bytes;
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() >= limit => Err(MediaError::ToolOutputTooLarge {
            tool: "ffmpeg",
            what: format!("{}", path.display()),
            limit,
        }),
        _ => Ok(()),
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

/// What the pipe readers report.
enum Event {
    StdoutDone(Vec<u8>),
    StdoutTooLarge,
    StderrDone(Vec<u8>),
    ReadFailed(std::io::Error),
}

/// Runs `tool` with `args` to completion under [`tool_limits`], stdin closed, stdout and stderr
/// captured. Killed (and reaped) when it runs too long or prints too much.
pub(crate) fn run<I, S>(tool: Tool, args: I) -> Result<ToolOutput, MediaError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let limits = tool_limits();
    let started = Instant::now();
    let mut command = Command::new(tool.name());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if BACKGROUND.with(Cell::get) {
        lower_priority(&mut command);
    }
    tracing::trace!(command = ?command, "running");
    let mut child = command.spawn().map_err(|e| match e.kind() {
        ErrorKind::NotFound => MediaError::ToolMissing { tool: tool.name() },
        _ => MediaError::io(format!("starting {}", tool.name()), e),
    })?;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let cap = limits.stdout_bytes;
    let out_tx = tx.clone();
    std::thread::spawn(move || {
        let _ = out_tx.send(read_capped(stdout, cap));
    });
    std::thread::spawn(move || {
        let _ = tx.send(read_tail(stderr));
    });

    let deadline = started + limits.wall;
    let (mut out, mut err) = (None, None);
    while out.is_none() || err.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Event::StdoutDone(bytes)) => out = Some(bytes),
            Ok(Event::StderrDone(bytes)) => err = Some(bytes),
            Ok(Event::StdoutTooLarge) => {
                kill(&mut child, tool);
                return Err(MediaError::ToolOutputTooLarge {
                    tool: tool.name(),
                    what: "stdout".into(),
                    limit: cap as u64,
                });
            }
            Ok(Event::ReadFailed(e)) => {
                kill(&mut child, tool);
                return Err(MediaError::io(
                    format!("reading {}'s output", tool.name()),
                    e,
                ));
            }
            Err(_) => {
                kill(&mut child, tool);
                return Err(MediaError::ToolTimedOut {
                    tool: tool.name(),
                    after: limits.wall,
                });
            }
        }
    }
    // Both pipes are closed: the tool has exited or is about to.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => {
                kill(&mut child, tool);
                return Err(MediaError::ToolTimedOut {
                    tool: tool.name(),
                    after: limits.wall,
                });
            }
            Err(e) => return Err(MediaError::io(format!("waiting for {}", tool.name()), e)),
        }
    };
    tracing::debug!(
        tool = tool.name(),
        %status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "finished"
    );
    Ok(ToolOutput {
        success: status.success(),
        status: status.to_string(),
        stdout: out.unwrap_or_default(),
        stderr: String::from_utf8_lossy(&err.unwrap_or_default()).into_owned(),
    })
}

fn kill(child: &mut Child, tool: Tool) {
    if let Err(error) = child.kill() {
        tracing::warn!(tool = tool.name(), %error, "killing");
    }
    let _ = child.wait();
}

/// Reads `pipe` to its end, or until it has given more than `cap` bytes.
fn read_capped(mut pipe: impl Read, cap: usize) -> Event {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return Event::StdoutDone(bytes),
            Ok(n) if bytes.len() + n > cap => return Event::StdoutTooLarge,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Event::ReadFailed(e),
        }
    }
}

/// Reads `pipe` to its end, keeping at most the last [`STDERR_KEEP`] bytes or so.
fn read_tail(mut pipe: impl Read) -> Event {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return Event::StderrDone(bytes),
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                if bytes.len() > 2 * STDERR_KEEP {
                    bytes.drain(..bytes.len() - STDERR_KEEP);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Event::ReadFailed(e),
        }
    }
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

    /// The niceness of each child of this process named `name`, from `/proc`.
    fn children_niceness(name: &str) -> Vec<i64> {
        let me = std::process::id().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
            .filter_map(|stat| {
                let (head, rest) = stat.rsplit_once(") ")?;
                let comm = head.split_once(" (")?.1;
                // After the command: state, ppid, …; niceness is the 19th field of the line.
                let fields: Vec<&str> = rest.split(' ').collect();
                (comm == name && fields[1] == me).then(|| fields[16].parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn tools_run_in_the_background_get_a_lower_cpu_priority() {
        let ours = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) } as i64;
        // A second of real-time decoding, long enough to be seen running.
        let args = [
            "-hide_banner",
            "-nostdin",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "nullsrc=s=16x16:d=1",
            "-f",
            "null",
            "-",
        ];
        let seen = |background: bool| {
            let runner = std::thread::spawn(move || {
                let run = || {
                    run(Tool::Ffmpeg, args)
                        .unwrap()
                        .check(Tool::Ffmpeg)
                        .unwrap()
                };
                if background {
                    in_background(run)
                } else {
                    run()
                }
            });
            let mut niceness = Vec::new();
            while niceness.is_empty() && !runner.is_finished() {
                niceness = children_niceness("ffmpeg");
                std::thread::sleep(Duration::from_millis(20));
            }
            runner.join().unwrap();
            niceness
        };
        assert_eq!(seen(false), [ours]);
        assert_eq!(
            seen(true),
            [(ours + i64::from(BACKGROUND_NICENESS)).min(19)]
        );
        // Only within `in_background`.
        assert_eq!(seen(false), [ours]);
    }

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

    #[test]
    fn limits_are_scoped_to_the_closure_and_thread() {
        let small = ToolLimits {
            wall: Duration::from_secs(1),
            ..ToolLimits::DEFAULT
        };
        with_tool_limits(small, || {
            assert_eq!(tool_limits(), small);
            std::thread::spawn(|| assert_eq!(tool_limits(), ToolLimits::DEFAULT))
                .join()
                .unwrap();
        });
        assert_eq!(tool_limits(), ToolLimits::DEFAULT);
    }

    #[test]
    fn a_tool_that_prints_too_much_is_killed() {
        let small = ToolLimits {
            stdout_bytes: 1000,
            ..ToolLimits::DEFAULT
        };
        // An endless stdout: raw video of an endless lavfi source.
        let err = with_tool_limits(small, || {
            run(
                Tool::Ffmpeg,
                [
                    "-hide_banner",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=64x64:rate=30",
                    "-f",
                    "rawvideo",
                    "-",
                ],
            )
        })
        .unwrap_err();
        assert!(
            matches!(
                err,
                MediaError::ToolOutputTooLarge {
                    tool: "ffmpeg",
                    limit: 1000,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_tool_that_runs_too_long_is_killed() {
        let small = ToolLimits {
            wall: Duration::from_millis(500),
            ..ToolLimits::DEFAULT
        };
        let started = Instant::now();
        let err = with_tool_limits(small, || {
            run(
                Tool::Ffmpeg,
                [
                    "-hide_banner",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-re",
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=64x64:rate=30",
                    "-f",
                    "null",
                    "-",
                ],
            )
        })
        .unwrap_err();
        assert!(
            matches!(err, MediaError::ToolTimedOut { tool: "ffmpeg", .. }),
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
