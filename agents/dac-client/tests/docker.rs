//! The `dac-job` image, built `FROM scratch` around the host's binary and its shared libraries
//! with the real Docker daemon, runs. These tests need a daemon: without one they fail and say so
//! (`script/lib.sh ensure_docker` starts one).

use std::path::Path;
use std::sync::{Arc, Mutex};

use peerflow_dac_client::image::host_binary_image_context;
use peerflow_runner::{Engine, Input, InputSource, LogLine, LogStream, RunSpec, Runner};

/// Builds the image (unless a previous run built the same one) and returns its tag.
async fn dac_job_image(engine: &Engine) -> String {
    let context =
        host_binary_image_context(Path::new(env!("CARGO_BIN_EXE_dac-job")), "peerflow/dac-job")
            .expect("the build context");
    assert_eq!(context.entrypoint, "/bin/dac-job");
    assert!(
        context
            .libraries
            .iter()
            .any(|l| l.to_string_lossy().contains("libc.so")),
        "ldd lists libc: {:?}",
        context.libraries
    );
    if !engine.has_image(&context.tag).await.unwrap() {
        engine
            .build_image(
                peerflow_runner::BuildContext::Tar(context.tar),
                &context.tag,
            )
            .await
            .expect("build the dac-job image");
    }
    context.tag
}

/// Runs the image with `cmd` (no network) and returns its exit code, stdout and stderr.
async fn run(runner: &Runner, spec: RunSpec, name: &str) -> (i64, String, String) {
    let lines = Arc::new(Mutex::new(Vec::<LogLine>::new()));
    let sink = lines.clone();
    let mut logs = move |line: LogLine| sink.lock().unwrap().push(line);
    let label = format!("test-dac-{name}-{}", std::process::id());
    let outcome = runner
        .run(&spec, &label, &mut logs, None)
        .await
        .expect("run the dac-job image");
    let lines = lines.lock().unwrap();
    let text = |stream: LogStream| {
        lines
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.text.clone() + "\n")
            .collect::<String>()
    };
    (
        outcome.exit_code,
        text(LogStream::Stdout),
        text(LogStream::Stderr),
    )
}

#[tokio::test]
async fn the_scratch_image_runs_dac_job() {
    let engine = Engine::connect().await.unwrap_or_else(|e| {
        panic!(
            "these tests need a running Docker daemon (script/lib.sh ensure_docker starts one): {e}"
        )
    });
    let image = dac_job_image(&engine).await;
    let runner = Runner::new(engine);

    let spec = RunSpec::new(&image, vec!["--help".to_string()]);
    assert!(!spec.network, "network mode none");
    let (code, stdout, stderr) = run(&runner, spec, "help").await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.starts_with("usage: dac-job"), "{stdout}");

    // With a shard but no DAC socket: the binary reads its input and says it cannot connect.
    let mut spec = RunSpec::new(&image, ["mean", "/in/shard.csv"].map(String::from).to_vec());
    spec.inputs.push(Input {
        container_path: "/in/shard.csv".into(),
        source: InputSource::Bytes(b"1,2\n3,4\n".to_vec()),
    });
    let (code, stdout, stderr) = run(&runner, spec, "nosocket").await;
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("connect") && stderr.contains("/run/peerflow/dac.sock"),
        "{stderr}"
    );
}
