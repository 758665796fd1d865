//! Tests against the real Docker daemon. They need one: without it they fail and say so.

use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use peerflow_runner::pricing::{self, CANONICAL_WORKLOADS, calibration_limits};
use peerflow_runner::testimage::busybox_image;
use peerflow_runner::{
    BuildContext, DiscardLogs, Engine, Input, InputSource, LogLine, LogStream, OutputData, RunSpec,
    Runner, RunnerError,
};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// One test at a time: they share the daemon and some measure CPU time.
static SERIAL: Mutex<()> = Mutex::const_new(());

async fn setup() -> (Runner, String) {
    let engine = Engine::connect().await.unwrap_or_else(|e| {
        panic!(
            "these tests need a running Docker daemon (script/lib.sh ensure_docker starts one): {e}"
        )
    });
    let image = busybox_image(&engine)
        .await
        .expect("build the busybox image");
    (Runner::new(engine), image)
}

fn label(name: &str) -> String {
    format!("test-{name}-{}", std::process::id())
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

async fn run(runner: &Runner, spec: &RunSpec, name: &str) -> peerflow_runner::RunOutcome {
    let outcome = runner
        .run(spec, &label(name), &mut DiscardLogs, None)
        .await
        .expect("run");
    assert!(
        runner
            .job_containers(&label(name))
            .await
            .unwrap()
            .is_empty(),
        "the container of {name} was not removed"
    );
    outcome
}

#[tokio::test]
async fn outputs_come_back_from_inputs() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let input = b"hello peerflow\nsecond line\n".to_vec();
    let mut spec = RunSpec::shell(
        &image,
        "mkdir -p /out/sub && tr a-z A-Z < /in/data/a.txt > /out/upper.txt \
         && cp /in/data/a.txt /out/sub/copy.txt && ln -s /etc/passwd /out/link \
         && mkfifo /out/fifo && exit 3",
    );
    spec.inputs.push(Input {
        container_path: "/in/data/a.txt".into(),
        source: InputSource::Bytes(input.clone()),
    });
    let outcome = run(&runner, &spec, "outputs").await;
    assert_eq!(outcome.exit_code, 3, "a non-zero exit is an outcome");
    assert!(!outcome.timed_out && !outcome.oom_killed);
    let paths: Vec<&str> = outcome.outputs.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(paths, ["sub/copy.txt", "upper.txt"], "regular files only");
    let upper = b"HELLO PEERFLOW\nSECOND LINE\n";
    assert_eq!(outcome.outputs[1].sha256, sha(upper));
    assert_eq!(outcome.outputs[1].data, OutputData::Bytes(upper.to_vec()));
    assert_eq!(outcome.outputs[0].sha256, sha(&input));
    assert_eq!(outcome.outputs[0].size, input.len() as u64);
}

#[tokio::test]
async fn host_file_inputs_and_host_dir_outputs() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.bin");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let mut spec = RunSpec::shell(&image, "cp /in/x.bin /out/y.bin");
    spec.inputs.push(Input {
        container_path: "/in/x.bin".into(),
        source: InputSource::HostFile(src),
    });
    spec.output_host_dir = Some(dir.path().join("outputs"));
    let outcome = run(&runner, &spec, "hostdir").await;
    assert_eq!(outcome.exit_code, 0);
    let OutputData::File(path) = &outcome.outputs[0].data else {
        panic!("expected a host file")
    };
    assert_eq!(path, &dir.path().join("outputs/y.bin"));
    assert_eq!(std::fs::read(path).unwrap(), data);
    assert_eq!(outcome.outputs[0].sha256, sha(&data));
}

#[tokio::test]
async fn too_large_outputs_are_rejected() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let mut spec = RunSpec::shell(&image, "head -c 300000 /dev/zero > /out/big");
    spec.max_output_bytes = 100_000;
    let err = runner
        .run(&spec, &label("bigout"), &mut DiscardLogs, None)
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::BadOutputs(_)), "{err}");
    assert!(
        runner
            .job_containers(&label("bigout"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn logs_stream_in_order_while_running() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let spec = RunSpec::shell(
        &image,
        "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; sleep 2; echo last",
    );
    let lines: StdMutex<Vec<(Instant, LogLine)>> = StdMutex::new(Vec::new());
    let mut sink = |l: LogLine| lines.lock().unwrap().push((Instant::now(), l));
    let outcome = runner
        .run(&spec, &label("logs"), &mut sink, None)
        .await
        .unwrap();
    let finished = Instant::now();
    assert_eq!(outcome.exit_code, 0);
    let lines = lines.into_inner().unwrap();
    let of = |s: LogStream| -> Vec<String> {
        lines
            .iter()
            .filter(|(_, l)| l.stream == s)
            .map(|(_, l)| l.text.clone())
            .collect()
    };
    assert_eq!(
        of(LogStream::Stdout),
        ["out1", "out2", "out3", "out4", "out5", "last"]
    );
    assert_eq!(
        of(LogStream::Stderr),
        ["err1", "err2", "err3", "err4", "err5"]
    );
    // The first lines were delivered while the job was still sleeping, not at the end.
    let first = lines[0].0;
    assert!(
        finished - first > Duration::from_millis(1500),
        "first line came {:?} before the end",
        finished - first
    );
}

#[tokio::test]
async fn timeout_kills_promptly() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let mut spec = RunSpec::shell(&image, "sleep 60");
    spec.limits.timeout = Duration::from_secs(2);
    let t = Instant::now();
    let outcome = run(&runner, &spec, "timeout").await;
    let took = t.elapsed();
    assert!(outcome.timed_out);
    assert_eq!(outcome.exit_code, 137);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(outcome.usage.wall_seconds >= 1.9 && outcome.usage.wall_seconds < 5.0);
}

#[tokio::test]
async fn cancel_kills_and_cleans_up() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let spec = RunSpec::shell(&image, "sleep 60");
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        trigger.cancel();
    });
    let t = Instant::now();
    let err = runner
        .run(&spec, &label("cancel"), &mut DiscardLogs, Some(&cancel))
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::Cancelled), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(
        runner
            .job_containers(&label("cancel"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn memory_limit_oom_kills() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let mut spec = RunSpec::shell(&image, "head -c 200m /dev/zero | tail -c 200m > /dev/null");
    spec.limits.memory_bytes = 32 << 20;
    let outcome = run(&runner, &spec, "oom").await;
    assert!(outcome.oom_killed, "{outcome:?}");
    assert_ne!(outcome.exit_code, 0);
    assert!(outcome.usage.peak_memory_bytes <= 33 << 20);
    assert!(outcome.usage.peak_memory_bytes > 16 << 20);
    // The same job fits in 512 MiB.
    spec.limits.memory_bytes = 512 << 20;
    let outcome = run(&runner, &spec, "nooom").await;
    assert!(!outcome.oom_killed);
    assert_eq!(outcome.exit_code, 0);
    assert!(
        outcome.usage.peak_memory_bytes > 200 << 20,
        "{:?}",
        outcome.usage
    );
}

#[tokio::test]
async fn no_network_unless_asked() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let script = "ls /sys/class/net > /out/ifaces; \
                  if wget -q -T 2 -O /dev/null http://172.17.0.1:1/; then echo ok; else echo fail; fi > /out/wget";
    let spec = RunSpec::shell(&image, script);
    let outcome = run(&runner, &spec, "nonet").await;
    let text = |i: usize| match &outcome.outputs[i].data {
        OutputData::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        OutputData::File(_) => unreachable!(),
    };
    assert_eq!(outcome.outputs[0].path, "ifaces");
    assert_eq!(text(0).split_whitespace().collect::<Vec<_>>(), ["lo"]);
    assert_eq!(text(1).trim(), "fail");
    // With a network the container has an interface besides lo.
    let mut spec = RunSpec::shell(&image, "ls /sys/class/net > /out/ifaces");
    spec.network = true;
    let outcome = run(&runner, &spec, "net").await;
    let OutputData::Bytes(b) = &outcome.outputs[0].data else {
        unreachable!()
    };
    assert!(String::from_utf8_lossy(b).split_whitespace().count() >= 2);
    // That network is the jobs' own bridge, with no traffic between containers.
    let network = runner
        .engine()
        .docker()
        .inspect_network(peerflow_runner::JOB_NETWORK, None)
        .await
        .unwrap();
    let options = network.options.unwrap_or_default();
    assert_eq!(
        options
            .get("com.docker.network.bridge.enable_icc")
            .map(String::as_str),
        Some("false")
    );
}

#[tokio::test]
async fn a_bounded_disk_stops_a_job_that_writes_too_much() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let script = "cat /in/a > /out/copy; \
                  if touch /rootfile 2>/dev/null; then echo rw; else echo ro; fi > /out/root; \
                  head -c 64m /dev/zero > /tmp/fill";
    let mut spec = RunSpec::shell(&image, script);
    spec.inputs.push(Input {
        container_path: "/in/a".into(),
        source: InputSource::Bytes(b"input bytes".to_vec()),
    });
    spec.limits.disk_bytes = Some(8 << 20);
    let name = "disk";
    let outcome = run(&runner, &spec, name).await;
    assert!(outcome.disk_full, "{outcome:?}");
    assert_ne!(outcome.exit_code, 0, "the write past the limit failed");
    assert!(!outcome.oom_killed);
    let text = |p: &str| {
        let f = outcome.outputs.iter().find(|f| f.path == p).unwrap();
        match &f.data {
            OutputData::Bytes(b) => String::from_utf8_lossy(b).trim().to_string(),
            OutputData::File(_) => unreachable!(),
        }
    };
    assert_eq!(text("copy"), "input bytes");
    assert_eq!(text("root"), "ro", "the root filesystem is read-only");
    // The scratch mount is gone with the job.
    let scratch = std::env::temp_dir()
        .join("peerflow-runner")
        .join(label(name));
    assert!(!scratch.exists(), "{} left behind", scratch.display());

    // Within the limit the same job writes what it needs and succeeds.
    let mut spec = RunSpec::shell(
        &image,
        "head -c 4m /dev/zero > /tmp/x && wc -c < /tmp/x > /out/n",
    );
    spec.limits.disk_bytes = Some(8 << 20);
    let outcome = run(&runner, &spec, "disk-ok").await;
    assert_eq!(outcome.exit_code, 0);
    assert!(!outcome.disk_full);
}

#[tokio::test]
async fn cpu_limit_is_enforced() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let spin = "timeout 3 sh -c 'while :; do :; done'";
    let mut spec = RunSpec::shell(&image, &format!("{spin} & {spin} & wait"));
    spec.limits.milli_cpus = 500;
    let outcome = run(&runner, &spec, "cpulimit").await;
    let per_wall = outcome.usage.cpu_seconds / outcome.usage.wall_seconds;
    assert!(
        (0.3..=0.65).contains(&per_wall),
        "{per_wall:.2} CPU-seconds per second with a 0.5 CPU limit ({:?})",
        outcome.usage
    );
}

#[tokio::test]
async fn metering_keeps_the_last_interval() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    // Default 2 s interval, 1 s job (busybox timeout takes whole seconds): the samples see
    // (almost) nothing of it; the figure read from the parent cgroup after exit has it all.
    let spec = RunSpec::shell(&image, "timeout 1 sh -c 'while :; do :; done'; true");
    let outcome = run(&runner, &spec, "meter").await;
    let u = outcome.usage;
    let last_sampled = outcome.samples.last().map_or(0.0, |s| s.cpu_seconds);
    assert!(
        (0.5..=1.3).contains(&u.cpu_seconds),
        "1 s spin metered {:.2} CPU-s",
        u.cpu_seconds
    );
    assert!(
        u.cpu_seconds - last_sampled > 0.5,
        "{last_sampled} vs {}",
        u.cpu_seconds
    );
    assert!((0.9..2.5).contains(&u.wall_seconds), "{u:?}");
    // A fine interval: the samples climb and end close to the final figure.
    let fine = runner
        .clone()
        .with_sample_interval(Duration::from_millis(200));
    let outcome = run(&fine, &spec, "meterfine").await;
    assert!(
        outcome.samples.len() >= 3,
        "{} samples",
        outcome.samples.len()
    );
    assert!(
        outcome
            .samples
            .windows(2)
            .all(|w| w[0].cpu_seconds <= w[1].cpu_seconds)
    );
    let last = outcome.samples.last().unwrap().cpu_seconds;
    assert!(last <= outcome.usage.cpu_seconds + 1e-9);
    assert!(
        outcome.usage.cpu_seconds - last < 0.4,
        "{last} vs {:?}",
        outcome.usage
    );
    // The job's parent cgroup is gone afterwards.
    assert!(
        !std::path::Path::new(&format!(
            "/sys/fs/cgroup/cpuacct/peerflow/{}",
            label("meterfine")
        ))
        .exists()
    );
    assert!(
        !std::path::Path::new(&format!("/sys/fs/cgroup/peerflow/{}", label("meterfine"))).exists()
    );
}

#[tokio::test]
async fn io_and_memory_are_metered() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let runner = runner.with_sample_interval(Duration::from_millis(100));
    let spec = RunSpec::shell(
        &image,
        "dd if=/dev/zero of=/tmp/x bs=1M count=64 conv=fsync 2>/dev/null; sleep 0.5",
    );
    let outcome = run(&runner, &spec, "io").await;
    let written = outcome.usage.io_write_bytes;
    assert!(
        (60 << 20..=80 << 20).contains(&written),
        "64 MiB written, metered {written}"
    );
    let spec = RunSpec::shell(
        &image,
        "head -c 100m /dev/zero | tail -c 100m | { sleep 1; cat > /dev/null; }",
    );
    let outcome = run(&runner, &spec, "mem").await;
    let u = outcome.usage;
    assert!(u.peak_memory_bytes > 100 << 20, "{u:?}");
    // About 100 MiB held for about a second.
    assert!((60.0..400.0).contains(&u.memory_mb_seconds), "{u:?}");
}

#[tokio::test]
async fn gpus_need_a_gpu_host() {
    let _serial = SERIAL.lock().await;
    if std::path::Path::new("/dev/nvidia0").exists() {
        eprintln!("this host has a GPU: the no-GPU error cannot be observed here");
        return;
    }
    let (runner, image) = setup().await;
    let mut spec = RunSpec::shell(&image, "true");
    spec.gpus = 1;
    let err = runner
        .run(&spec, &label("gpu"), &mut DiscardLogs, None)
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::NoGpu { requested: 1 }), "{err}");
}

#[tokio::test]
async fn images_save_load_and_build() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let engine = runner.engine();
    assert!(engine.has_image(&image).await.unwrap());
    assert!(!engine.has_image("peerflow/no-such-image:0").await.unwrap());
    let id = engine.image_id(&image).await.unwrap();
    let tar = engine.save_image(&image).await.unwrap();
    assert!(
        tar.len() > 500_000,
        "a save archive holds the busybox layer"
    );
    assert_eq!(engine.load_image(tar).await.unwrap(), id);
    // busybox_image is idempotent.
    assert_eq!(busybox_image(engine).await.unwrap(), image);
    // A build that fails reports the daemon's message.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {image}\nRUN exit 7\n"),
    )
    .unwrap();
    let err = engine
        .build_image(
            BuildContext::Dir(dir.path().to_path_buf()),
            "peerflow/test-broken:0",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunnerError::Image { op: "build", .. }),
        "{err}"
    );
    // A good one from a directory.
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {image}\nCOPY hello /hello\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("hello"), "hi\n").unwrap();
    let built = engine
        .build_image(
            BuildContext::Dir(dir.path().to_path_buf()),
            "peerflow/test-hello:0",
        )
        .await
        .unwrap();
    assert_eq!(
        engine.image_id("peerflow/test-hello:0").await.unwrap(),
        built
    );
    engine
        .docker()
        .remove_image(
            "peerflow/test-hello:0",
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
    assert!(!engine.has_image("peerflow/test-hello:0").await.unwrap());
}

#[tokio::test]
async fn calibration_fits_the_price_list() {
    let _serial = SERIAL.lock().await;
    let (runner, image) = setup().await;
    let cal = pricing::calibrate(&runner).await.expect("calibrate");
    for (name, u) in &cal.measurements {
        eprintln!("{name}: {u:?} -> {:?}", pricing::features(u));
    }
    let fit = &cal.fit;
    eprintln!(
        "rates {:?} R² {:.4} residuals {:?}",
        fit.rates, fit.r_squared, fit.residuals
    );
    assert!(fit.rates.per_cpu_second > 0.0);
    assert!(fit.rates.per_memory_mb_second > 0.0);
    assert!(fit.rates.per_io_mb > 0.0);
    assert!(fit.r_squared > 0.8, "R² {}", fit.r_squared);
    // A fresh run of a canonical workload is quoted close to its agreed price. The I/O one:
    // its bytes are exact, while CPU-seconds for a fixed loop vary by ±25% on a shared host.
    let w = CANONICAL_WORKLOADS
        .iter()
        .find(|w| w.name == "io-write")
        .unwrap();
    let mut spec = RunSpec::shell(&image, w.script);
    spec.limits = calibration_limits();
    let fine = runner.with_sample_interval(pricing::CALIBRATION_INTERVAL);
    let outcome = run(&fine, &spec, "quote").await;
    let quote = fit.rates.quote(&outcome.usage) as f64;
    let agreed = w.price_wei as f64;
    assert!(
        (quote - agreed).abs() / agreed < 0.25,
        "{}: quoted {quote:e} wei, agreed {agreed:e}",
        w.name
    );
}

/// A unix-socket proxy in front of dockerd that cuts the first container wait's connection
/// once the daemon has answered its headers (the body, the exit code, never arrives), as a
/// daemon restart or a proxy's idle timeout would. It counts the cuts.
struct CuttingProxy {
    path: std::path::PathBuf,
    cuts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl CuttingProxy {
    fn start() -> CuttingProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let upstream = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
            .replacen("unix://", "", 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let cuts = Arc::new(AtomicUsize::new(0));
        let counted = cuts.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let cuts = counted.clone();
                tokio::spawn(async move {
                    let mut daemon = tokio::net::UnixStream::connect(&upstream).await.unwrap();
                    let (mut a, mut b) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
                    let mut armed = false;
                    loop {
                        tokio::select! {
                            n = client.read(&mut a) => {
                                let Ok(n @ 1..) = n else { break };
                                let request = String::from_utf8_lossy(&a[..n]);
                                if request.starts_with("POST") && request.contains("/wait") {
                                    armed = cuts.load(Ordering::SeqCst) == 0;
                                }
                                if daemon.write_all(&a[..n]).await.is_err() { break }
                            }
                            n = daemon.read(&mut b) => {
                                let Ok(n @ 1..) = n else { break };
                                let head_end = b[..n].windows(4).position(|w| w == b"\r\n\r\n");
                                if let (true, Some(end)) = (armed, head_end) {
                                    let _ = client.write_all(&b[..end + 4]).await;
                                    cuts.fetch_add(1, Ordering::SeqCst);
                                    break;
                                }
                                if client.write_all(&b[..n]).await.is_err() { break }
                            }
                        }
                    }
                });
            }
        });
        CuttingProxy {
            path,
            cuts,
            _dir: dir,
        }
    }
}

#[tokio::test]
async fn a_dropped_wait_connection_is_asked_again_and_the_job_ends_with_its_own_exit() {
    let _serial = SERIAL.lock().await;
    let (_, image) = setup().await;
    let proxy = CuttingProxy::start();
    let engine = Engine::connect_unix(proxy.path.to_str().unwrap())
        .await
        .expect("connect through the proxy");
    let runner = Runner::new(engine);
    let spec = RunSpec::shell(&image, "echo before; sleep 1; echo after; exit 7");
    let lines: StdMutex<Vec<String>> = StdMutex::new(Vec::new());
    let mut sink = |l: LogLine| lines.lock().unwrap().push(l.text);
    let outcome = runner
        .run(&spec, &label("rewait"), &mut sink, None)
        .await
        .expect("a dropped wait is not the job's end");
    assert_eq!(
        proxy.cuts.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the proxy cut the wait once"
    );
    assert_eq!(outcome.exit_code, 7, "the job's own exit code");
    assert!(!outcome.timed_out && !outcome.oom_killed);
    assert_eq!(lines.into_inner().unwrap(), ["before", "after"]);
    assert!(
        runner
            .job_containers(&label("rewait"))
            .await
            .unwrap()
            .is_empty(),
        "the container was removed"
    );
}
