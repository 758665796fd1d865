//! Five nodes, each with the Rust client on its own shard, against the fake consensus.

use peerflow_dac_client::{Client, Error};

use crate::data::{
    AgreeResult, FitResult, NodeResults, ScalarResult, Shard, VectorResult, check, shards,
};
use crate::fake::FakeDac;

/// The SPMD sequence of `python/spmd_check.py`, with the Rust client.
fn run_node(client: &Client, shard: &Shard) -> Result<NodeResults, Error> {
    let info = client.node()?;
    let s = client.sum(&shard.values)?;
    let d = client.dot(&shard.a, &shard.b)?;
    let mv = client.matvec(&shard.m, &shard.x)?;
    let mean = client.mean_rows(&shard.rows)?;
    let fit = client.lstsq(&shard.la, &shard.lb)?;
    let agreed = client.agree(&mean.value)?;
    Ok(NodeResults {
        node: info.node,
        nodes: info.nodes,
        sum: VectorResult {
            value: s.value,
            residual_bound: s.residual_bound,
        },
        dot: ScalarResult {
            value: d.value,
            residual_bound: d.residual_bound,
        },
        matvec: VectorResult {
            value: mv.value,
            residual_bound: mv.residual_bound,
        },
        mean_rows: VectorResult {
            value: mean.value,
            residual_bound: mean.residual_bound,
        },
        lstsq: FitResult {
            beta: fit.beta,
            residual_bound: fit.residual_bound,
            rows: fit.rows,
        },
        agree: AgreeResult {
            values: agreed.values,
            decimals: agreed.decimals,
        },
    })
}

/// Every shard's node at once, node i on `socket(i)`.
fn run_all(socket: impl Fn(u32) -> std::path::PathBuf, shards: &[Shard]) -> Vec<NodeResults> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .iter()
            .enumerate()
            .map(|(i, shard)| {
                let client = Client::unix(socket(i as u32));
                scope.spawn(move || run_node(&client, shard))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().expect("node's calls"))
            .collect()
    })
}

#[test]
fn five_nodes_match_one_machine() {
    let fake = FakeDac::start(5);
    let shards = shards(5);
    check(&run_all(|i| fake.socket(i).to_path_buf(), &shards), &shards);
}

#[test]
fn five_nodes_match_one_machine_over_the_real_consensus() {
    let real = crate::real::RealDac::start(5);
    let shards = shards(5);
    let results = run_all(|i| real.socket(i), &shards);
    crate::data::check_consensus(&results, &shards, crate::real::DECIMALS);
}

#[test]
fn a_dropped_node_is_told_so_and_the_survivors_go_on() {
    let fake = FakeDac::with_dropped(3, Some(1));
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3u32)
            .map(|i| {
                let client = Client::unix(fake.socket(i));
                scope.spawn(move || client.sum(&[f64::from(i + 1), 10.0]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let err = outcomes[1].as_ref().unwrap_err();
    assert_eq!(err.code(), "dropped", "{err}");
    for i in [0, 2] {
        let o = outcomes[i].as_ref().unwrap();
        assert_eq!(o.alive, [0, 2]);
        assert_eq!(o.value, [4.0, 20.0], "the sum over the survivors");
    }
}

#[test]
fn vectors_of_different_lengths_are_bad_requests() {
    let fake = FakeDac::start(2);
    let errors: Vec<Error> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2u32)
            .map(|i| {
                let client = Client::unix(fake.socket(i));
                scope.spawn(move || client.average(&vec![1.0; 2 + i as usize]).unwrap_err())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for e in errors {
        assert_eq!(e.code(), "bad_request", "{e}");
    }
}
