//! `dac-job`: a ready-made cooperative job. Every node runs it on its own CSV shard (f64 values,
//! comma-separated, no header):
//!
//! - `dac-job mean SHARD.csv`: the column means over every node's rows;
//! - `dac-job lstsq SHARD.csv`: least squares over every node's rows, the last column being b
//!   and the others A; the values are β.
//!
//! The values go through `agree` and are written as compact JSON to `--out` (default
//! `/out/result.json`): `{"op","values","decimals","nodes_alive"}`, byte-identical on honest
//! nodes, so the escrow's majority compares them. The residual bound and the rounds go to
//! stderr. `--passes N` runs the computation N times (each pass is one consensus operation, so
//! one checkpoint of the job while checkpoints last; the last pass is written): a long-running
//! job for tests and benchmarks. `--lie` adds 1.0 to every value before writing (a dishonest node, for tests). A
//! failed call exits non-zero with the server's error code on stderr (`dropped` exits 3,
//! `isolated` 4, anything else 1; bad usage 2).

use std::path::PathBuf;
use std::process::ExitCode;

use peerflow_dac_client::{Client, Error};
use serde::Serialize;

const USAGE: &str = "\
usage: dac-job (mean|lstsq) SHARD.csv [--out PATH] [--passes N] [--lie]

Runs one node of a cooperative job over the DAC socket (PF_DAC_SOCKET, default
/run/peerflow/dac.sock). SHARD.csv: this node's rows, comma-separated f64, no header.
  mean   column means over every node's rows
  lstsq  least squares over every node's rows: the last column is b, the others A
Options:
  --out PATH  where to write the result JSON (default /out/result.json)
  --passes N  run the computation N times (one consensus operation, one
              checkpoint each); the last is written (default 1)
  --lie       add 1.0 to every value written (a dishonest node, for tests)
  -h, --help  this text";

/// The parsed command line.
#[derive(Debug)]
struct Args {
    op: Op,
    shard: PathBuf,
    out: PathBuf,
    passes: u32,
    lie: bool,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Mean,
    Lstsq,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Mean => "mean",
            Op::Lstsq => "lstsq",
        }
    }
}

/// What `result.json` holds.
#[derive(Serialize)]
struct Output<'a> {
    op: &'a str,
    values: &'a [f64],
    decimals: u8,
    nodes_alive: &'a [u32],
}

/// A failure: the message and the exit code.
struct Failure(String, u8);

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let status = match e.code() {
            "dropped" => 3,
            "isolated" => 4,
            _ => 1,
        };
        Failure(format!("{}: {e}", e.code()), status)
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("dac-job: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message, status)) => {
            eprintln!("dac-job: error: {message}");
            ExitCode::from(status)
        }
    }
}

/// `Ok(None)`: help was asked for.
fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut positional = Vec::new();
    let mut out = PathBuf::from("/out/result.json");
    let mut lie = false;
    let mut passes = 1u32;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--lie" => lie = true,
            "--passes" => {
                passes = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or("--passes needs a count of at least 1")?
            }
            "--out" => out = args.next().ok_or("--out needs a path")?.into(),
            s if s.starts_with("--out=") => out = s["--out=".len()..].into(),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => positional.push(arg),
        }
    }
    let [op, shard] = <[String; 2]>::try_from(positional)
        .map_err(|p| format!("expected an operation and a shard, got {p:?}"))?;
    let op = match op.as_str() {
        "mean" => Op::Mean,
        "lstsq" => Op::Lstsq,
        other => return Err(format!("unknown operation {other:?}")),
    };
    Ok(Some(Args {
        op,
        shard: shard.into(),
        out,
        passes,
        lie,
    }))
}

fn run(args: &Args) -> Result<(), Failure> {
    let text = std::fs::read_to_string(&args.shard)
        .map_err(|e| Failure(format!("read {}: {e}", args.shard.display()), 1))?;
    let rows =
        parse_csv(&text).map_err(|e| Failure(format!("{}: {e}", args.shard.display()), 1))?;
    let client = Client::from_env();
    for pass in 1..args.passes {
        let (_, bound, rounds, epoch, alive) = compute(&client, args.op, rows.clone())?;
        eprintln!(
            "dac-job: pass {pass}: {} over nodes {alive:?}: residual bound {bound:e} after {rounds} rounds (epoch {epoch})",
            args.op.name()
        );
    }
    let (values, bound, rounds, epoch, alive) = compute(&client, args.op, rows)?;
    eprintln!(
        "dac-job: {} over nodes {alive:?}: residual bound {bound:e} after {rounds} rounds (epoch {epoch})",
        args.op.name()
    );
    let agreed = client.agree_within(&values, Some(bound))?;
    let mut written = agreed.values;
    if args.lie {
        written.iter_mut().for_each(|v| *v += 1.0);
    }
    let json = serde_json::to_vec(&Output {
        op: args.op.name(),
        values: &written,
        decimals: agreed.decimals,
        nodes_alive: &alive,
    })
    .expect("finite values");
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure(format!("create {}: {e}", dir.display()), 1))?;
    }
    std::fs::write(&args.out, json)
        .map_err(|e| Failure(format!("write {}: {e}", args.out.display()), 1))?;
    Ok(())
}

/// What one pass computes: the values, their residual bound, rounds, epoch and alive nodes.
type Pass = (Vec<f64>, f64, u32, u32, Vec<u32>);

/// One pass of `op` over this node's `rows`.
fn compute(client: &Client, op: Op, rows: Vec<Vec<f64>>) -> Result<Pass, Failure> {
    Ok(match op {
        Op::Mean => {
            let o = client.mean_rows(&rows)?;
            (o.value, o.residual_bound, o.rounds, o.epoch, o.alive)
        }
        Op::Lstsq => {
            if rows[0].len() < 2 {
                return Err(Failure(
                    "lstsq needs at least two columns (A and b)".into(),
                    1,
                ));
            }
            let (a, b): (Vec<Vec<f64>>, Vec<f64>) = rows
                .into_iter()
                .map(|mut row| {
                    let b = row.pop().expect("two columns");
                    (row, b)
                })
                .unzip();
            let s = client.lstsq(&a, &b)?;
            (s.beta, s.residual_bound, s.rounds, s.epoch, s.alive)
        }
    })
}

/// Rows of comma-separated f64 (blank lines skipped); at least one row, all of one width.
fn parse_csv(text: &str) -> Result<Vec<Vec<f64>>, String> {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = line
            .split(',')
            .map(|field| {
                let field = field.trim();
                field
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("line {}: {field:?} is not a finite number", i + 1))
            })
            .collect::<Result<Vec<f64>, String>>()?;
        if let Some(first) = rows.first()
            && first.len() != row.len()
        {
            return Err(format!(
                "line {}: {} values, the first row has {}",
                i + 1,
                row.len(),
                first.len()
            ));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err("no rows".into());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Args>, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn command_lines() {
        let a = args(&["lstsq", "x.csv", "--out", "/tmp/r.json", "--lie"])
            .unwrap()
            .unwrap();
        assert!(matches!(a.op, Op::Lstsq) && a.lie);
        assert_eq!((a.shard, a.out), ("x.csv".into(), "/tmp/r.json".into()));
        let a = args(&["mean", "--out=o.json", "s.csv"]).unwrap().unwrap();
        assert_eq!((a.out, a.lie), ("o.json".into(), false));
        assert_eq!(
            args(&["mean", "s.csv"]).unwrap().unwrap().out,
            PathBuf::from("/out/result.json")
        );
        assert!(args(&["--help"]).unwrap().is_none());
        for bad in [
            &["mean"][..],
            &["sum", "s.csv"],
            &["mean", "s.csv", "--x"],
            &["mean", "s.csv", "--out"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csv_shards() {
        assert_eq!(
            parse_csv("1, 2.5\n\n-3,4e2\n").unwrap(),
            [vec![1.0, 2.5], vec![-3.0, 400.0]]
        );
        assert!(parse_csv("").is_err());
        assert!(parse_csv("1,2\n3\n").is_err());
        assert!(parse_csv("1,x\n").is_err());
        assert!(parse_csv("1,nan\n").is_err());
    }
}
