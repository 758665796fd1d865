//! Five nodes, each a Python process using `python/peerflow_dac.py` on its own shard
//! (`python/spmd_check.py`), against the fake consensus; and the module's own unit tests
//! (`python/test_peerflow_dac.py`). Needs `python3` (3.9 or later).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::data::{NodeResults, check, shards};
use crate::fake::FakeDac;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/spmd_check.py")
}

/// Runs one Python node per shard file, all at once, and returns their outputs.
fn run_nodes(fake: &FakeDac, shard_files: &[PathBuf]) -> Vec<Output> {
    run_nodes_on(|i| fake.socket(i).to_path_buf(), shard_files)
}

fn run_nodes_on(socket: impl Fn(u32) -> PathBuf, shard_files: &[PathBuf]) -> Vec<Output> {
    let children: Vec<_> = shard_files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            Command::new("python3")
                .arg(script())
                .arg(file)
                .env("PF_DAC_SOCKET", socket(i as u32))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("these tests need python3 on PATH: {e}"))
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn shard_files(dir: &std::path::Path, shards: &[crate::data::Shard]) -> Vec<PathBuf> {
    shards
        .iter()
        .enumerate()
        .map(|(i, shard)| {
            let path = dir.join(format!("shard{i}.json"));
            std::fs::write(&path, serde_json::to_vec(shard).unwrap()).unwrap();
            path
        })
        .collect()
}

fn parse_results(outputs: Vec<Output>) -> Vec<NodeResults> {
    outputs
        .into_iter()
        .enumerate()
        .map(|(i, out)| {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "python node {i}: {}\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("node {i}: {e}: {stdout}"))
        })
        .collect()
}

#[test]
fn five_python_nodes_match_one_machine_over_the_real_consensus() {
    let real = crate::real::RealDac::start(5);
    let shards = shards(5);
    let dir = tempfile::tempdir().unwrap();
    let files = shard_files(dir.path(), &shards);
    let results = parse_results(run_nodes_on(|i| real.socket(i), &files));
    crate::data::check_consensus(&results, &shards, crate::real::DECIMALS);
}

#[test]
fn five_python_nodes_match_one_machine() {
    let fake = FakeDac::start(5);
    let shards = shards(5);
    let dir = tempfile::tempdir().unwrap();
    let files = shard_files(dir.path(), &shards);
    check(&parse_results(run_nodes(&fake, &files)), &shards);
}

#[test]
fn python_unit_tests() {
    let out = Command::new("python3")
        .args(["-m", "unittest", "-v", "test_peerflow_dac"])
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("these tests need python3 on PATH: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Ran 6 tests"), "{stderr}");
}

#[test]
fn a_dropped_python_node_raises_its_code() {
    let fake = FakeDac::with_dropped(2, Some(1));
    let shard = &shards(1)[0];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shard.json");
    std::fs::write(&path, serde_json::to_vec(shard).unwrap()).unwrap();
    // Node 0 is left to run alone: run only node 1, the dropped one.
    let out = Command::new("python3")
        .arg(script())
        .arg(&path)
        .env("PF_DAC_SOCKET", fake.socket(1))
        .output()
        .unwrap_or_else(|e| panic!("these tests need python3 on PATH: {e}"));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["error"], "dropped", "{printed}");
}
