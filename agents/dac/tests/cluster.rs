//! Clusters of nodes on loopback, each behind its own relay (its own key and HTTP server), as
//! providers run them: convergence, agreement, drop-out.

use std::sync::Arc;
use std::time::Duration;

use peerflow_dac::loopback::Cluster;
use peerflow_dac::{Outcome, Topology, TopologyKind};
use peerflow_protocol::blobauth::RequestKey;

async fn cluster(n: u32, kind: TopologyKind, timeout: Duration) -> Cluster {
    let topology = Topology {
        kind,
        degree: 4,
        seed: 3,
    };
    peerflow_dac::loopback::cluster(n, 7, topology, 9, timeout)
        .await
        .unwrap()
}

/// Node i's data: a vector of `d` values.
fn data(i: usize, d: usize) -> Vec<f64> {
    (0..d)
        .map(|c| ((i * 31 + c * 7) % 17) as f64 * 0.37 + (i as f64).sin() * 100.0)
        .collect()
}

fn mean(rows: &[Vec<f64>]) -> Vec<f64> {
    let d = rows[0].len();
    (0..d)
        .map(|c| rows.iter().map(|r| r[c]).sum::<f64>() / rows.len() as f64)
        .collect()
}

async fn average_all(
    c: &Cluster,
    inputs: &[Vec<f64>],
) -> Vec<Result<Outcome, peerflow_dac::DacError>> {
    let tasks: Vec<_> = c
        .sessions
        .iter()
        .zip(inputs)
        .map(|(s, x)| {
            let s = Arc::clone(s);
            let x = x.clone();
            tokio::spawn(async move { s.average(&x, None).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_topology_converges_on_the_average_within_its_bound() {
    for kind in [
        TopologyKind::Ring,
        TopologyKind::Regular,
        TopologyKind::Complete,
    ] {
        let c = cluster(6, kind, Duration::from_secs(10)).await;
        let inputs: Vec<Vec<f64>> = (0..6).map(|i| data(i, 5)).collect();
        let truth = mean(&inputs);
        for r in average_all(&c, &inputs).await {
            let o = r.unwrap();
            assert_eq!(o.alive, vec![0, 1, 2, 3, 4, 5]);
            assert!(
                o.residual_bound < 1e-9,
                "{kind:?}: bound {}",
                o.residual_bound
            );
            for (v, t) in o.value.iter().zip(&truth) {
                assert!(
                    (v - t).abs() <= o.residual_bound.max(1e-12),
                    "{kind:?}: {v} vs {t}"
                );
            }
        }
        let sent = c.sessions[0].stats();
        assert!(sent.messages_sent > 0 && sent.bytes_sent > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agreement_gives_every_node_the_same_rounding() {
    let c = cluster(5, TopologyKind::Ring, Duration::from_secs(10)).await;
    // Values a hair apart that straddle a rounding boundary at 9 decimals.
    let inputs: Vec<f64> = (0..5)
        .map(|i| 0.123_456_789_5 + (i as f64 - 2.0) * 1e-12)
        .collect();
    let tasks: Vec<_> = c
        .sessions
        .iter()
        .zip(inputs)
        .map(|(s, x)| {
            let s = Arc::clone(s);
            tokio::spawn(async move { s.agree(&[x, 2.0], None).await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    for a in &got {
        assert_eq!(a.source, 0);
        assert_eq!(a.values, got[0].values);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survivors_of_a_drop_converge_on_the_surviving_data() {
    let c = cluster(5, TopologyKind::Ring, Duration::from_millis(800)).await;
    let inputs: Vec<Vec<f64>> = (0..5).map(|i| data(i, 3)).collect();
    // Node 3 runs one round then vanishes.
    let victim = Arc::clone(&c.sessions[3]);
    let relay = Arc::clone(&c.relays[3]);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        relay.close(7, victim.config().me);
    });
    let results = average_all(&c, &inputs).await;
    let survivors: Vec<Vec<f64>> = [0, 1, 2, 4].iter().map(|&i| inputs[i].clone()).collect();
    let truth = mean(&survivors);
    for (i, r) in results.into_iter().enumerate() {
        if i == 3 {
            assert!(r.is_err());
            continue;
        }
        let o = r.unwrap();
        assert_eq!(o.alive, vec![0, 1, 2, 4], "node {i}");
        assert_eq!(o.epoch, 1);
        for (v, t) in o.value.iter().zip(&truth) {
            assert!((v - t).abs() < 1e-9, "node {i}: {v} vs {t}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_signed_by_another_provider_is_refused() {
    let c = cluster(3, TopologyKind::Complete, Duration::from_secs(5)).await;
    let url = &c.sessions[0].config().peers[0].url;
    let body = serde_json::to_vec(&peerflow_dac::message::Message {
        from: 1,
        to: 0,
        op: 0,
        dropped: 0,
        phase: peerflow_dac::message::Phase::Average,
        round: 0,
        values: vec![1e9],
        source: 0,
        source_signature: Default::default(),
    })
    .unwrap();
    let http = reqwest::Client::new();
    let post = |header: String| {
        http.post(format!("{url}/v1/dac/7/messages"))
            .header(peerflow_dac::message::AUTH_HEADER, header)
            .body(body.clone())
            .send()
    };
    // Node 2's provider signs a message claiming to come from node 1.
    let forged = peerflow_dac::message::authorize(&RequestKey::new([3; 32]).unwrap(), 7, &body);
    assert_eq!(post(forged).await.unwrap().status(), 403);
    // An outsider.
    let outsider = peerflow_dac::message::authorize(&RequestKey::new([99; 32]).unwrap(), 7, &body);
    assert_eq!(post(outsider).await.unwrap().status(), 403);
    // No signature at all.
    assert_eq!(post(String::new()).await.unwrap().status(), 401);
    // Node 1's own provider: accepted.
    let genuine = peerflow_dac::message::authorize(&RequestKey::new([2; 32]).unwrap(), 7, &body);
    assert_eq!(post(genuine).await.unwrap().status(), 202);
}

/// One HTTP/1.1 exchange over a Unix socket: (status, body).
async fn over_socket(path: &std::path::Path, method: &str, uri: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::UnixStream::connect(path).await.unwrap();
    let req = format!(
        "{method} {uri} HTTP/1.1\r\nhost: dac\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_api_answers_bad_input_with_a_code_and_good_input_with_the_consensus() {
    let c = cluster(2, TopologyKind::Complete, Duration::from_secs(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let sockets: Vec<_> = (0..2)
        .map(|i| dir.path().join(format!("n{i}/dac.sock")))
        .collect();
    for (s, path) in c.sessions.iter().zip(&sockets) {
        peerflow_dac::local::serve(Arc::clone(s), path)
            .await
            .unwrap();
    }
    let (status, body) = over_socket(&sockets[1], "GET", "/v1/node", "").await;
    assert_eq!(status, 200);
    let node: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (node["node"].as_u64(), node["nodes"].as_u64()),
        (Some(1), Some(2))
    );
    for bad in [
        r#"{"values": []}"#,
        r#"{"values": "x"}"#,
        r#"{"values": [1], "extra": 1}"#,
        r#"{"values": [1], "tolerance": 2}"#,
    ] {
        let (status, body) = over_socket(&sockets[0], "POST", "/v1/average", bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains(r#""code":"bad_request""#), "{body}");
    }
    // Both nodes ask; both get the average.
    let (a, b) = tokio::join!(
        over_socket(
            &sockets[0],
            "POST",
            "/v1/average",
            r#"{"values": [1.0, 10.0]}"#
        ),
        over_socket(
            &sockets[1],
            "POST",
            "/v1/average",
            r#"{"values": [3.0, 20.0]}"#
        )
    );
    for (status, body) in [a, b] {
        assert_eq!(status, 200, "{body}");
        let o: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(o["value"], serde_json::json!([2.0, 15.0]));
    }
    // A node the others dropped is told so.
    c.relays[1].close(7, 1);
    let (status, body) =
        over_socket(&sockets[1], "POST", "/v1/average", r#"{"values": [1.0]}"#).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""code":"closed""#), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_forward_a_forged_rounding_in_another_nodes_name() {
    // Ring of four: node 2 hears node 0's rounding only through 1 or 3. Node 3 is the attacker:
    // in the agreement's first round it tells node 2 that node 0's rounding is one quantum off.
    let c = cluster(4, TopologyKind::Ring, Duration::from_secs(10)).await;
    let value = 0.123_456_789_4;
    let honest: Vec<_> = [0usize, 1, 2]
        .into_iter()
        .map(|i| {
            let s = Arc::clone(&c.sessions[i]);
            tokio::spawn(async move { s.agree(&[value], None).await.unwrap() })
        })
        .collect();
    let attacker = RequestKey::new([4; 32]).unwrap();
    let url = c.sessions[0].config().peers[2].url.clone();
    let forged = peerflow_dac::session::round_to(value, 9) + 1e-9;
    let body = serde_json::to_vec(&peerflow_dac::message::Message {
        from: 3,
        to: 2,
        op: 0,
        dropped: 0,
        phase: peerflow_dac::message::Phase::Agree,
        round: 0,
        values: vec![forged],
        source: 0,
        // Signed, but by the attacker, not by node 0's provider.
        source_signature: attacker
            .sign_digest(peerflow_dac::message::candidate_digest(
                7,
                0,
                0,
                0,
                &[forged],
            ))
            .to_bytes()
            .to_vec()
            .into(),
    })
    .unwrap();
    let sent = reqwest::Client::new()
        .post(format!("{url}/v1/dac/7/messages"))
        .header(
            peerflow_dac::message::AUTH_HEADER,
            peerflow_dac::message::authorize(&attacker, 7, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    // Node 3's own session then plays along honestly for the rest.
    let s3 = Arc::clone(&c.sessions[3]);
    let node3 = tokio::spawn(async move { s3.agree(&[value], None).await });
    let mut got = Vec::new();
    for t in honest {
        got.push(t.await.unwrap());
    }
    for a in &got {
        assert_eq!(a.source, 0, "{a:?}");
        assert_eq!(
            a.values, got[0].values,
            "the honest nodes agree on node 0's rounding"
        );
        assert_ne!(a.values, vec![forged]);
    }
    node3.await.unwrap().unwrap();
}
