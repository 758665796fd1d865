//! The peer graph of a cooperative job and the consensus weights on it.
//!
//! A topology is a rule, not a fixed graph: it is applied to the nodes still alive, so when a peer
//! drops out every survivor derives the same new graph from the same rule (a ring closes over the
//! gap, a random regular graph is drawn again from the same seed, a complete graph stays complete).
//!
//! Weights are Metropolis–Hastings (`w_ij = 1 / (1 + max(d_i, d_j))` on edges, the rest on the
//! diagonal): symmetric and doubly stochastic, so plain iteration `x ← W x` converges to the
//! average at the rate of the second-largest eigenvalue modulus λ of `W`, computed here (Jacobi
//! rotations; the graphs have at most [`MAX_NODES`] nodes).

use serde::{Deserialize, Serialize};

/// Most nodes a job may have (node sets are 64-bit masks).
pub const MAX_NODES: usize = 64;

/// How the alive nodes are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopologyKind {
    /// Each node talks to the previous and the next alive node (by index).
    Ring,
    /// A random `degree`-regular graph drawn from `seed` over the alive nodes.
    Regular,
    /// Everyone talks to everyone.
    Complete,
}

/// A topology rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    pub kind: TopologyKind,
    /// Degree of a `regular` topology (capped at `alive − 1`, lowered by one when the product
    /// with the node count is odd).
    #[serde(default)]
    pub degree: u32,
    /// Seed of a `regular` topology.
    #[serde(default)]
    pub seed: u64,
}

/// The graph over the alive nodes: `nodes` in increasing index order, adjacency by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    nodes: Vec<u32>,
    adj: Vec<Vec<usize>>,
}

impl Topology {
    /// The graph this rule gives over `alive` (node indices, any order, no duplicates).
    pub fn graph(&self, alive: &[u32]) -> Graph {
        let mut nodes = alive.to_vec();
        nodes.sort_unstable();
        nodes.dedup();
        let n = nodes.len();
        let mut edges: Vec<(usize, usize)> = Vec::new();
        match self.kind {
            TopologyKind::Complete => {
                for i in 0..n {
                    for j in i + 1..n {
                        edges.push((i, j));
                    }
                }
            }
            TopologyKind::Ring => match n {
                0 | 1 => {}
                2 => edges.push((0, 1)),
                _ => edges.extend((0..n).map(|i| (i, (i + 1) % n))),
            },
            TopologyKind::Regular => edges = regular_edges(n, self.degree as usize, self.seed),
        }
        let mut adj = vec![Vec::new(); n];
        for (a, b) in edges {
            adj[a].push(b);
            adj[b].push(a);
        }
        for list in &mut adj {
            list.sort_unstable();
            list.dedup();
        }
        Graph { nodes, adj }
    }
}

/// Edges of a random `k`-regular graph on `n` nodes: the pairing model (shuffle `n·k` half-edges,
/// pair them, reject self-loops, double edges and disconnected draws), from a seeded generator so
/// every node draws the same graph. Falls back to a circulant graph if no draw is accepted.
fn regular_edges(n: usize, k: usize, seed: u64) -> Vec<(usize, usize)> {
    if n < 2 {
        return Vec::new();
    }
    let mut k = k.clamp(1, n - 1);
    if n * k % 2 == 1 {
        k -= 1;
    }
    if k == n - 1 {
        return (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .collect();
    }
    let mut rng = SplitMix64(seed ^ (n as u64) << 32 ^ k as u64);
    'draw: for _ in 0..10_000 {
        let mut points: Vec<usize> = (0..n * k).map(|p| p / k).collect();
        for i in (1..points.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            points.swap(i, j);
        }
        let mut edges = Vec::with_capacity(n * k / 2);
        for pair in points.chunks(2) {
            let (a, b) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
            if a == b || edges.contains(&(a, b)) {
                continue 'draw;
            }
            edges.push((a, b));
        }
        if connected(n, &edges) {
            return edges;
        }
    }
    let mut edges = Vec::new();
    for i in 0..n {
        for off in 1..=k / 2 {
            edges.push((i.min((i + off) % n), i.max((i + off) % n)));
        }
        if k % 2 == 1 && i < n / 2 {
            edges.push((i, i + n / 2));
        }
    }
    edges
}

fn connected(n: usize, edges: &[(usize, usize)]) -> bool {
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges {
        adj[a].push(b);
        adj[b].push(a);
    }
    let mut seen = vec![false; n];
    let mut stack = vec![0];
    seen[0] = true;
    while let Some(v) = stack.pop() {
        for &w in &adj[v] {
            if !seen[w] {
                seen[w] = true;
                stack.push(w);
            }
        }
    }
    seen.into_iter().all(|s| s)
}

/// A small deterministic generator (SplitMix64): the same seed draws the same graph everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Graph {
    /// The alive nodes, in index order.
    pub fn nodes(&self) -> &[u32] {
        &self.nodes
    }

    /// Position of `node` among the alive ones.
    pub fn position(&self, node: u32) -> Option<usize> {
        self.nodes.binary_search(&node).ok()
    }

    /// `node`'s neighbours (node indices).
    pub fn neighbors(&self, node: u32) -> Vec<u32> {
        self.position(node)
            .map(|p| self.adj[p].iter().map(|&q| self.nodes[q]).collect())
            .unwrap_or_default()
    }

    fn degree(&self, p: usize) -> usize {
        self.adj[p].len()
    }

    /// `node`'s Metropolis–Hastings weights: its own, then each neighbour's (in
    /// [`Graph::neighbors`] order).
    pub fn weights(&self, node: u32) -> (f64, Vec<f64>) {
        let Some(p) = self.position(node) else {
            return (1.0, Vec::new());
        };
        let others: Vec<f64> = self.adj[p]
            .iter()
            .map(|&q| 1.0 / (1 + self.degree(p).max(self.degree(q))) as f64)
            .collect();
        (1.0 - others.iter().sum::<f64>(), others)
    }

    /// The full weight matrix (by position).
    pub fn weight_matrix(&self) -> Vec<Vec<f64>> {
        let n = self.nodes.len();
        let mut w = vec![vec![0.0; n]; n];
        for (p, row) in w.iter_mut().enumerate() {
            let (own, others) = self.weights(self.nodes[p]);
            row[p] = own;
            for (&q, x) in self.adj[p].iter().zip(others) {
                row[q] = x;
            }
        }
        w
    }

    /// Longest shortest path (hops); `None` if the graph is not connected.
    pub fn diameter(&self) -> Option<u32> {
        let n = self.nodes.len();
        let mut best = 0;
        for s in 0..n {
            let mut dist = vec![u32::MAX; n];
            dist[s] = 0;
            let mut queue = std::collections::VecDeque::from([s]);
            while let Some(v) = queue.pop_front() {
                for &w in &self.adj[v] {
                    if dist[w] == u32::MAX {
                        dist[w] = dist[v] + 1;
                        queue.push_back(w);
                    }
                }
            }
            best = best.max(*dist.iter().max()?);
            if best == u32::MAX {
                return None;
            }
        }
        Some(best)
    }

    /// The convergence rate λ: the largest modulus among the weight matrix's eigenvalues other
    /// than the one 1 (0 for a single node or a complete graph, 1 if disconnected).
    pub fn rate(&self) -> f64 {
        let n = self.nodes.len();
        if n < 2 {
            return 0.0;
        }
        let mut eig = symmetric_eigenvalues(self.weight_matrix());
        eig.sort_by(|a, b| b.total_cmp(a));
        eig[1].abs().max(eig[n - 1].abs()).min(1.0)
    }

    /// Bytes are counted per edge; the number of directed messages per averaging round.
    pub fn edges(&self) -> usize {
        self.adj.iter().map(Vec::len).sum::<usize>() / 2
    }
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
fn symmetric_eigenvalues(mut a: Vec<Vec<f64>>) -> Vec<f64> {
    let n = a.len();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (akp, akq) = (row[p], row[q]);
                    row[p] = c * akp - s * akq;
                    row[q] = s * akp + c * akq;
                }
                let (low, high) = a.split_at_mut(q);
                for (x, y) in low[p].iter_mut().zip(high[0].iter_mut()) {
                    let (apk, aqk) = (*x, *y);
                    *x = c * apk - s * aqk;
                    *y = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i][i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo(kind: TopologyKind, degree: u32) -> Topology {
        Topology {
            kind,
            degree,
            seed: 7,
        }
    }

    #[test]
    fn a_ring_closes_over_a_dropped_node() {
        let g = topo(TopologyKind::Ring, 0).graph(&[0, 1, 2, 3, 4]);
        assert_eq!(g.neighbors(0), vec![1, 4]);
        let g = topo(TopologyKind::Ring, 0).graph(&[0, 1, 3, 4]);
        assert_eq!(g.neighbors(1), vec![0, 3]);
        assert_eq!(g.diameter(), Some(2));
    }

    #[test]
    fn regular_graphs_are_regular_connected_and_the_same_for_everyone() {
        for n in [5u32, 8, 16, 33] {
            let alive: Vec<u32> = (0..n).collect();
            let g = topo(TopologyKind::Regular, 4).graph(&alive);
            assert!(g.diameter().is_some(), "n={n} connected");
            for v in &alive {
                assert_eq!(g.neighbors(*v).len(), 4, "n={n} node {v}");
            }
            assert_eq!(g, topo(TopologyKind::Regular, 4).graph(&alive));
        }
        // Four left of five: degree 4 is capped to a complete graph on four.
        let g = topo(TopologyKind::Regular, 4).graph(&[0, 2, 3, 4]);
        assert_eq!(g.neighbors(2), vec![0, 3, 4]);
    }

    #[test]
    fn weights_are_doubly_stochastic() {
        for kind in [
            TopologyKind::Ring,
            TopologyKind::Regular,
            TopologyKind::Complete,
        ] {
            let g = topo(kind, 3).graph(&(0..8).collect::<Vec<_>>());
            let w = g.weight_matrix();
            for (i, row) in w.iter().enumerate() {
                let col: f64 = w.iter().map(|r| r[i]).sum();
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                assert!((col - 1.0).abs() < 1e-12);
                assert!(row.iter().all(|x| *x >= 0.0));
            }
        }
    }

    #[test]
    fn the_rate_matches_the_ring_spectrum() {
        // Ring of n with weights 1/3: eigenvalues (1 + 2cos(2πk/n)) / 3.
        for n in [4usize, 8, 16] {
            let g = topo(TopologyKind::Ring, 0).graph(&(0..n as u32).collect::<Vec<_>>());
            let expected = (1..n)
                .map(|k| {
                    ((1.0 + 2.0 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()) / 3.0)
                        .abs()
                })
                .fold(0.0, f64::max);
            assert!(
                (g.rate() - expected).abs() < 1e-9,
                "n={n}: {} vs {expected}",
                g.rate()
            );
        }
        let complete = topo(TopologyKind::Complete, 0).graph(&[0, 1, 2, 3, 4]);
        assert!(complete.rate() < 1e-9);
    }
}
