//! A fake DAC server: a perfect oracle for the local API of DAC-API.md, listening on one Unix
//! socket per simulated node (threads and std only). The k-th `POST /v1/average` or
//! `POST /v1/agree` of each node is consensus operation k: it blocks until every alive node made
//! its k-th call, then answers each with the exact mean (residual bound 0, 1 round, epoch 0), or
//! for `agree` with the lowest alive node's vector rounded to [`DECIMALS`]. A node marked dropped
//! gets `409 {"code": "dropped"}` on every call and the others go on without it. `GET /v1/node`
//! is answered with a chunked body (the client's other framing).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// The decimals `agree` rounds to.
pub const DECIMALS: u8 = 6;

/// How long a call waits for the other nodes before the fake gives up (a test bug).
const WAIT: Duration = Duration::from_secs(120);

/// The fake: one socket per node, in a temporary directory.
pub struct FakeDac {
    sockets: Vec<PathBuf>,
    shared: Arc<Shared>,
    _dir: tempfile::TempDir,
}

struct Shared {
    nodes: u32,
    dropped: Option<u32>,
    stop: AtomicBool,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Each node's number of consensus calls so far.
    calls: Vec<usize>,
    /// Consensus operations, by index.
    ops: Vec<Op>,
}

struct Op {
    path: String,
    inputs: Vec<Option<Vec<f64>>>,
    /// Once every alive node posted: each node's status and body.
    answers: Option<Vec<(u16, Value)>>,
}

impl FakeDac {
    /// A fake for `nodes` nodes, all alive.
    pub fn start(nodes: u32) -> FakeDac {
        FakeDac::with_dropped(nodes, None)
    }

    /// A fake for `nodes` nodes in which `dropped` (if any) was declared dropped.
    pub fn with_dropped(nodes: u32, dropped: Option<u32>) -> FakeDac {
        let dir = tempfile::Builder::new()
            .prefix("pf-dac-")
            .tempdir()
            .unwrap();
        let shared = Arc::new(Shared {
            nodes,
            dropped,
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                calls: vec![0; nodes as usize],
                ops: Vec::new(),
            }),
            changed: Condvar::new(),
        });
        let mut sockets = Vec::new();
        for node in 0..nodes {
            let path = dir.path().join(format!("node{node}.sock"));
            let listener = UnixListener::bind(&path).unwrap();
            let shared = shared.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = shared.clone();
                    std::thread::spawn(move || serve(&shared, node, stream));
                }
            });
            sockets.push(path);
        }
        FakeDac {
            sockets,
            shared,
            _dir: dir,
        }
    }

    /// Node `node`'s socket.
    pub fn socket(&self, node: u32) -> &PathBuf {
        &self.sockets[node as usize]
    }
}

impl Drop for FakeDac {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for socket in &self.sockets {
            let _ = UnixStream::connect(socket); // wakes the accept loop, which then ends
        }
    }
}

impl Shared {
    fn alive(&self) -> Vec<u32> {
        (0..self.nodes)
            .filter(|&n| Some(n) != self.dropped)
            .collect()
    }

    /// Records node `node`'s input to its next consensus operation and waits for the answer.
    fn consensus(&self, node: u32, path: &str, values: Vec<f64>) -> (u16, Value) {
        if Some(node) == self.dropped {
            return error(409, "dropped", &format!("node {node} was declared dropped"));
        }
        let mut state = self.state.lock().unwrap();
        let k = state.calls[node as usize];
        state.calls[node as usize] += 1;
        if state.ops.len() <= k {
            state.ops.push(Op {
                path: path.to_string(),
                inputs: vec![None; self.nodes as usize],
                answers: None,
            });
        }
        let op = &mut state.ops[k];
        op.inputs[node as usize] = Some(values);
        if op.path != path {
            // Not SPMD: fail every node of this operation.
            op.answers = Some(vec![
                error(400, "bad_request", "nodes made different calls");
                self.nodes as usize
            ]);
        }
        let alive = self.alive();
        if op.answers.is_none() && alive.iter().all(|&n| op.inputs[n as usize].is_some()) {
            let inputs: Vec<&Vec<f64>> = alive
                .iter()
                .map(|&n| op.inputs[n as usize].as_ref().unwrap())
                .collect();
            let answer = if inputs.iter().any(|v| v.len() != inputs[0].len()) {
                error(400, "bad_request", "vector lengths differ across nodes")
            } else if path == "/v1/average" {
                let n = inputs.len() as f64;
                let mean: Vec<f64> = (0..inputs[0].len())
                    .map(|j| inputs.iter().map(|v| v[j]).sum::<f64>() / n)
                    .collect();
                let body = json!({"value": mean, "residual_bound": 0.0, "rounds": 1,
                                  "alive": alive, "epoch": 0});
                (200, body)
            } else {
                let scale = 10f64.powi(DECIMALS as i32);
                let rounded: Vec<f64> = inputs[0]
                    .iter()
                    .map(|v| (v * scale).round() / scale)
                    .collect();
                (
                    200,
                    json!({"values": rounded, "decimals": DECIMALS, "source": alive[0]}),
                )
            };
            op.answers = Some(vec![answer; self.nodes as usize]);
            self.changed.notify_all();
        }
        let (state, timeout) = self
            .changed
            .wait_timeout_while(state, WAIT, |s| s.ops[k].answers.is_none())
            .unwrap();
        if timeout.timed_out() {
            return error(500, "internal", "the other nodes never made this call");
        }
        state.ops[k].answers.as_ref().unwrap()[node as usize].clone()
    }
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"code": code, "message": message}))
}

/// One connection: one request, one answer.
fn serve(shared: &Shared, node: u32, stream: UnixStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Some((method, path, body)) = read_request(&mut reader) else {
        return;
    };
    let (status, body, chunked) = match (method.as_str(), path.as_str()) {
        ("GET", "/v1/node") => {
            let body = json!({
                "job": 1, "node": node, "nodes": shared.nodes, "alive": shared.alive(),
                "topology": {"kind": "complete", "degree": shared.nodes - 1, "seed": 0},
                "decimals": DECIMALS,
            });
            (200, body, true)
        }
        ("POST", "/v1/average" | "/v1/agree") => {
            let values = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| serde_json::from_value::<Vec<f64>>(v["values"].clone()).ok());
            let (status, body) = match values {
                Some(values) => shared.consensus(node, &path, values),
                None => error(400, "bad_request", "expected {\"values\": [f64]}"),
            };
            (status, body, false)
        }
        _ => {
            let (status, body) = error(404, "bad_request", "no such endpoint");
            (status, body, false)
        }
    };
    let _ = write_response(stream, status, &serde_json::to_vec(&body).unwrap(), chunked);
}

/// Method, path and body (framed by `Content-Length`).
fn read_request(reader: &mut impl BufRead) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn write_response(
    mut stream: UnixStream,
    status: u16,
    body: &[u8],
    chunked: bool,
) -> std::io::Result<()> {
    let mut out =
        format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nConnection: close\r\n")
            .into_bytes();
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        for chunk in body.chunks(16) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()
}
