//! Consensus progress of a cooperative job, as each provider serves it
//! (`GET {provider}/v1/dac/{job}/progress`, see DAC-API.md), and the disagreement between the
//! nodes after each averaging round, which `peerflow compute status` prints.

use serde::{Deserialize, Serialize};

/// One node's progress: its value after each averaging round of each consensus operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeProgress {
    pub job: u64,
    pub node: u32,
    pub ops: Vec<OpProgress>,
}

/// One operation (the k-th call of every node) in one epoch (restarted after a peer dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpProgress {
    pub op: u32,
    pub epoch: u32,
    /// `rounds[r]`: the node's vector after round `r`.
    pub rounds: Vec<Vec<f64>>,
}

/// How far apart the nodes were after one round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundDisagreement {
    pub op: u32,
    pub epoch: u32,
    /// Index into each node's `rounds`.
    pub round: u32,
    /// Nodes that reported this round.
    pub nodes: usize,
    /// max over those nodes i and components c of |x_i[c] − mean_c| (mean over the nodes that
    /// have component c); 0 with one node.
    pub disagreement: f64,
}

/// The latest operation any node reported: the highest `op`, and of it the highest `epoch`.
pub fn latest_op(nodes: &[NodeProgress]) -> Option<(u32, u32)> {
    nodes
        .iter()
        .flat_map(|n| &n.ops)
        .map(|o| (o.op, o.epoch))
        .max()
}

/// The disagreement after each round of the latest operation ([`latest_op`]), over the nodes that
/// reported that round (a node that dropped out or lags simply has fewer rounds). Empty when no
/// node reported anything.
pub fn disagreement(nodes: &[NodeProgress]) -> Vec<RoundDisagreement> {
    let Some((op, epoch)) = latest_op(nodes) else {
        return Vec::new();
    };
    let series: Vec<&[Vec<f64>]> = nodes
        .iter()
        .filter_map(|n| n.ops.iter().find(|o| o.op == op && o.epoch == epoch))
        .map(|o| o.rounds.as_slice())
        .collect();
    let rounds = series.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..rounds)
        .map(|r| {
            let values: Vec<&[f64]> = series
                .iter()
                .filter_map(|s| s.get(r))
                .map(Vec::as_slice)
                .collect();
            let width = values.iter().map(|v| v.len()).max().unwrap_or(0);
            let mut worst = 0.0f64;
            for c in 0..width {
                let column: Vec<f64> = values.iter().filter_map(|v| v.get(c).copied()).collect();
                let mean = column.iter().sum::<f64>() / column.len() as f64;
                for x in column {
                    let d = (x - mean).abs();
                    // NaN (a node reporting garbage) propagates instead of hiding.
                    if d > worst || d.is_nan() {
                        worst = d;
                    }
                }
            }
            RoundDisagreement {
                op,
                epoch,
                round: r as u32,
                nodes: values.len(),
                disagreement: worst,
            }
        })
        .collect()
}

/// The rounds to print: all of them up to `max_lines`, else every k-th (k = ⌈len / max_lines⌉)
/// plus the last.
pub fn sampled(rounds: &[RoundDisagreement], max_lines: usize) -> Vec<RoundDisagreement> {
    if rounds.len() <= max_lines.max(1) {
        return rounds.to_vec();
    }
    let k = rounds.len().div_ceil(max_lines.max(1));
    let mut out: Vec<RoundDisagreement> = rounds.iter().step_by(k).copied().collect();
    let last = rounds[rounds.len() - 1];
    if out.last().map(|r| r.round) != Some(last.round) {
        out.push(last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(node: u32, ops: Vec<(u32, u32, Vec<Vec<f64>>)>) -> NodeProgress {
        NodeProgress {
            job: 7,
            node,
            ops: ops
                .into_iter()
                .map(|(op, epoch, rounds)| OpProgress { op, epoch, rounds })
                .collect(),
        }
    }

    #[test]
    fn parses_the_served_json() {
        let json = r#"{"job": 7, "node": 1, "ops": [{"op": 0, "epoch": 0, "rounds": [[1.0, 2.5], [1.5, 2.0]]}]}"#;
        let p: NodeProgress = serde_json::from_str(json).unwrap();
        assert_eq!(
            p,
            node(1, vec![(0, 0, vec![vec![1.0, 2.5], vec![1.5, 2.0]])])
        );
    }

    #[test]
    fn max_deviation_from_the_mean_per_round() {
        let nodes = [
            node(0, vec![(0, 0, vec![vec![0.0, 10.0], vec![1.0, 10.0]])]),
            node(1, vec![(0, 0, vec![vec![2.0, 10.0], vec![1.0, 10.0]])]),
            node(2, vec![(0, 0, vec![vec![4.0, 13.0], vec![1.0, 10.5]])]),
        ];
        let d = disagreement(&nodes);
        assert_eq!(d.len(), 2);
        // Round 0: means 2 and 11; worst |0 − 2| = |4 − 2| = 2 against |13 − 11| = 2.
        assert_eq!((d[0].op, d[0].epoch, d[0].round, d[0].nodes), (0, 0, 0, 3));
        assert!((d[0].disagreement - 2.0).abs() < 1e-12);
        // Round 1: first components agree; the second's mean is 10.1666…, worst |10.5 − mean|.
        assert!((d[1].disagreement - (10.5 - 61.0 / 6.0)).abs() < 1e-12);
    }

    #[test]
    fn latest_op_and_epoch_win() {
        let nodes = [
            node(
                0,
                vec![
                    (0, 0, vec![vec![100.0]]),
                    (1, 0, vec![vec![0.0], vec![0.0]]),
                    (1, 1, vec![vec![1.0]]),
                ],
            ),
            node(1, vec![(0, 0, vec![vec![-100.0]]), (1, 1, vec![vec![3.0]])]),
        ];
        assert_eq!(latest_op(&nodes), Some((1, 1)));
        let d = disagreement(&nodes);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].op, d[0].epoch), (1, 1));
        assert!((d[0].disagreement - 1.0).abs() < 1e-12);
    }

    #[test]
    fn only_the_nodes_that_reported_a_round_count() {
        let nodes = [
            node(0, vec![(2, 0, vec![vec![0.0], vec![1.0], vec![1.0]])]),
            node(1, vec![(2, 0, vec![vec![4.0], vec![3.0]])]),
            node(2, vec![]), // not started, or unreachable
        ];
        let d = disagreement(&nodes);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].nodes, 2);
        assert!((d[0].disagreement - 2.0).abs() < 1e-12);
        assert!((d[1].disagreement - 1.0).abs() < 1e-12);
        assert_eq!(d[2].nodes, 1);
        assert_eq!(d[2].disagreement, 0.0);
        assert!(disagreement(&[]).is_empty());
        assert!(disagreement(&[node(0, vec![])]).is_empty());
    }

    #[test]
    fn nan_is_not_hidden() {
        let nodes = [
            node(0, vec![(0, 0, vec![vec![f64::NAN]])]),
            node(1, vec![(0, 0, vec![vec![1.0]])]),
        ];
        assert!(disagreement(&nodes)[0].disagreement.is_nan());
    }

    #[test]
    fn sampling_keeps_every_kth_and_the_last() {
        let rounds: Vec<RoundDisagreement> = (0..100)
            .map(|r| RoundDisagreement {
                op: 0,
                epoch: 0,
                round: r,
                nodes: 2,
                disagreement: 1.0 / f64::from(r + 1),
            })
            .collect();
        assert_eq!(sampled(&rounds[..40], 40).len(), 40);
        let s = sampled(&rounds, 40);
        let picked: Vec<u32> = s.iter().map(|r| r.round).collect();
        // k = ⌈100 / 40⌉ = 3: 0, 3, …, 99 (99 is a multiple of 3, so not repeated).
        assert_eq!(picked.len(), 34);
        assert_eq!(picked[..3], [0, 3, 6]);
        assert_eq!(*picked.last().unwrap(), 99);
        let s = sampled(&rounds[..98], 40);
        assert_eq!(s.last().unwrap().round, 97);
        assert_eq!(s[s.len() - 2].round, 96);
        assert!(s.len() <= 41);
    }
}
