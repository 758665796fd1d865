//! The `dac-job` binary, one process per node on its own CSV shard, against the fake consensus:
//! honest nodes write byte-identical `result.json` files holding the right values; a liar's
//! differs; a dropped node exits non-zero with its code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::data::{Rng, column_means, qr_lstsq, regression_rows};
use crate::fake::{DECIMALS, FakeDac};

const NODES: u32 = 5;

/// Rows as CSV, each value printed so that it parses back to the same f64.
fn csv(rows: &[Vec<f64>]) -> String {
    rows.iter()
        .map(|r| {
            let line: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
            line.join(",") + "\n"
        })
        .collect()
}

/// Writes each node's rows to `dir/shardI.csv`.
fn write_shards(dir: &Path, shards: &[Vec<Vec<f64>>]) -> Vec<PathBuf> {
    shards
        .iter()
        .enumerate()
        .map(|(i, rows)| {
            let path = dir.join(format!("shard{i}.csv"));
            std::fs::write(&path, csv(rows)).unwrap();
            path
        })
        .collect()
}

/// Spawns every node's `dac-job OP shardI.csv --out dir/nodeI/result.json [extra(I)]` at once
/// (the consensus needs them all) and waits for them: each one's output and result path.
fn run_all(
    fake: &FakeDac,
    op: &str,
    shards: &[PathBuf],
    dir: &Path,
    extra: impl Fn(u32) -> Vec<&'static str>,
) -> Vec<(Output, PathBuf)> {
    let children: Vec<_> = shards
        .iter()
        .enumerate()
        .map(|(i, shard)| {
            let out = dir.join(format!("node{i}/result.json"));
            let child = Command::new(env!("CARGO_BIN_EXE_dac-job"))
                .arg(op)
                .arg(shard)
                .arg("--out")
                .arg(&out)
                .args(extra(i as u32))
                .env("PF_DAC_SOCKET", fake.socket(i as u32))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (child, out)
        })
        .collect();
    children
        .into_iter()
        .map(|(child, out)| (child.wait_with_output().unwrap(), out))
        .collect()
}

fn assert_ok(i: usize, output: &Output) {
    assert!(
        output.status.success(),
        "node {i}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Each node's mean shard: 3 columns, 1 + 2i rows.
fn mean_shards() -> Vec<Vec<Vec<f64>>> {
    (0..NODES as u64)
        .map(|i| {
            let mut rng = Rng::new(77 + i);
            (0..1 + 2 * i).map(|_| rng.vec(3)).collect()
        })
        .collect()
}

#[test]
fn honest_nodes_write_identical_means_and_a_liar_differs() {
    let dir = tempfile::tempdir().unwrap();
    let shards = mean_shards();
    let files = write_shards(dir.path(), &shards);
    let all: Vec<Vec<f64>> = shards.concat();
    let means = column_means(&all);

    let fake = FakeDac::start(NODES);
    let honest = dir.path().join("honest");
    let outputs = run_all(&fake, "mean", &files, &honest, |_| vec![]);
    let mut written = Vec::new();
    for (i, (output, path)) in outputs.iter().enumerate() {
        assert_ok(i, output);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("residual bound"), "node {i}: {stderr}");
        written.push(std::fs::read(path).unwrap());
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(entries.len(), 1, "only result.json in the output directory");
    }
    for (i, bytes) in written.iter().enumerate() {
        assert_eq!(
            bytes, &written[0],
            "node {i}'s result.json differs from node 0's"
        );
    }
    let result: Value = serde_json::from_slice(&written[0]).unwrap();
    assert_eq!(result["op"], "mean");
    assert_eq!(result["decimals"], DECIMALS);
    assert_eq!(result["nodes_alive"], serde_json::json!([0, 1, 2, 3, 4]));
    let values: Vec<f64> = serde_json::from_value(result["values"].clone()).unwrap();
    assert_eq!(values.len(), 3);
    for (got, want) in values.iter().zip(&means) {
        assert!(
            (got - want).abs() <= 0.5e-6 + 1e-12,
            "{values:?} vs {means:?}"
        );
    }
    // Compact JSON, in the documented field order.
    let text = String::from_utf8(written[0].clone()).unwrap();
    assert!(text.starts_with("{\"op\":\"mean\",\"values\":["), "{text}");
    assert!(!text.contains(' ') && !text.contains('\n'), "{text}");

    // Node 3 lies: its file differs, the others still match each other and the honest run.
    let fake = FakeDac::start(NODES);
    let lying = dir.path().join("lying");
    let outputs = run_all(&fake, "mean", &files, &lying, |i| {
        if i == 3 { vec!["--lie"] } else { vec![] }
    });
    for (i, (output, path)) in outputs.iter().enumerate() {
        assert_ok(i, output);
        let bytes = std::fs::read(path).unwrap();
        if i == 3 {
            assert_ne!(bytes, written[0], "the liar's result.json");
            let lie: Value = serde_json::from_slice(&bytes).unwrap();
            let lied: Vec<f64> = serde_json::from_value(lie["values"].clone()).unwrap();
            for (l, v) in lied.iter().zip(&values) {
                assert!((l - v - 1.0).abs() < 1e-9, "{lied:?} vs {values:?}");
            }
        } else {
            assert_eq!(bytes, written[0], "honest node {i}");
        }
    }
}

#[test]
fn lstsq_nodes_write_the_single_machine_beta() {
    let dir = tempfile::tempdir().unwrap();
    let (mut all_a, mut all_b) = (Vec::new(), Vec::new());
    let shards: Vec<Vec<Vec<f64>>> = (0..NODES as u64)
        .map(|i| {
            let (a, b) = regression_rows(&mut Rng::new(500 + i), 3 + i as usize);
            all_a.extend(a.clone());
            all_b.extend(b.clone());
            // CSV rows: A's columns (the intercept's ones included), then b.
            a.iter()
                .zip(&b)
                .map(|(row, y)| vec![row[0], row[1], row[2], *y])
                .collect()
        })
        .collect();
    let files = write_shards(dir.path(), &shards);
    let beta = qr_lstsq(&all_a, &all_b);

    let fake = FakeDac::start(NODES);
    let outputs = run_all(&fake, "lstsq", &files, dir.path(), |_| vec![]);
    let mut written = Vec::new();
    for (i, (output, path)) in outputs.iter().enumerate() {
        assert_ok(i, output);
        written.push(std::fs::read(path).unwrap());
    }
    for (i, bytes) in written.iter().enumerate() {
        assert_eq!(bytes, &written[0], "node {i}");
    }
    let result: Value = serde_json::from_slice(&written[0]).unwrap();
    assert_eq!(result["op"], "lstsq");
    let values: Vec<f64> = serde_json::from_value(result["values"].clone()).unwrap();
    assert_eq!(values.len(), 3);
    for (got, want) in values.iter().zip(&beta) {
        assert!(
            (got - want).abs() <= 0.5e-6 + 1e-9,
            "{values:?} vs {beta:?}"
        );
    }
}

#[test]
fn a_dropped_node_exits_with_its_code_and_the_others_average_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let shards = mean_shards();
    let files = write_shards(dir.path(), &shards);
    let survivors: Vec<Vec<f64>> = [0, 1, 3, 4]
        .iter()
        .flat_map(|&i| shards[i].clone())
        .collect();
    let means = column_means(&survivors);

    let fake = FakeDac::with_dropped(NODES, Some(2));
    let outputs = run_all(&fake, "mean", &files, dir.path(), |_| vec![]);
    let (dropped, path) = &outputs[2];
    assert_eq!(dropped.status.code(), Some(3), "{dropped:?}");
    let stderr = String::from_utf8_lossy(&dropped.stderr);
    assert!(stderr.contains("dropped"), "{stderr}");
    assert!(!path.exists(), "a dropped node writes no result");
    for i in [0, 1, 3, 4] {
        assert_ok(i, &outputs[i].0);
        let result: Value = serde_json::from_slice(&std::fs::read(&outputs[i].1).unwrap()).unwrap();
        assert_eq!(result["nodes_alive"], serde_json::json!([0, 1, 3, 4]));
        let values: Vec<f64> = serde_json::from_value(result["values"].clone()).unwrap();
        for (got, want) in values.iter().zip(&means) {
            assert!(
                (got - want).abs() <= 0.5e-6 + 1e-12,
                "{values:?} vs {means:?}"
            );
        }
    }
}

#[test]
fn help_and_bad_usage() {
    let help = Command::new(env!("CARGO_BIN_EXE_dac-job"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: dac-job"));
    let bad = Command::new(env!("CARGO_BIN_EXE_dac-job"))
        .arg("median")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
