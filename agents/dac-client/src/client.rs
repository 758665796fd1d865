//! The client of the container's local DAC API (DAC-API.md, *Local API*): `GET /v1/node`,
//! `POST /v1/average`, `POST /v1/agree`. The derived operations are in [`crate::ops`].

use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::{Transport, UnixTransport};

/// The environment variable naming the socket.
pub const SOCKET_ENV: &str = "PF_DAC_SOCKET";
/// The socket's path when [`SOCKET_ENV`] is unset.
pub const DEFAULT_SOCKET: &str = "/run/peerflow/dac.sock";
/// The environment variable that overrides the per-call timeout, in seconds.
pub const TIMEOUT_ENV: &str = "PF_DAC_TIMEOUT_S";

/// This node's view of the job (`GET /v1/node`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The escrow job's id.
    pub job: u64,
    /// This node's index (its provider's slot).
    pub node: u32,
    /// How many nodes the job has.
    pub nodes: u32,
    /// The nodes still alive.
    pub alive: Vec<u32>,
    /// The graph the consensus runs on.
    pub topology: Topology,
    /// The decimals [`Client::agree`] rounds to.
    pub decimals: u8,
}

/// The consensus graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// `ring`, `regular` or `complete`.
    pub kind: String,
    /// Each node's number of neighbours.
    pub degree: u32,
    /// The seed a random regular graph is drawn from.
    pub seed: u64,
}

/// A vector reached by consensus, and how close it is known to be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// This node's value (one per input component).
    pub value: Vec<f64>,
    /// Bound on |value − exact| per component, exact being the operation's value computed on
    /// one machine from every alive node's input. (A JSON `null`, which is how an infinite
    /// bound serialises, reads as infinity.)
    #[serde(deserialize_with = "bound_or_infinity")]
    pub residual_bound: f64,
    /// Averaging rounds the consensus ran.
    pub rounds: u32,
    /// The nodes whose inputs the answer covers.
    pub alive: Vec<u32>,
    /// Restarts after a peer dropped (0: none).
    pub epoch: u32,
}

/// A scalar reached by consensus ([`Client::dot`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scalar {
    /// This node's value.
    pub value: f64,
    /// Bound on |value − exact|.
    pub residual_bound: f64,
    /// Averaging rounds the consensus ran.
    pub rounds: u32,
    /// The nodes whose inputs the answer covers.
    pub alive: Vec<u32>,
}

/// The rounded values every honest node writes (`POST /v1/agree`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreed {
    /// The values, rounded to `decimals`.
    pub values: Vec<f64>,
    /// The decimals they were rounded to.
    pub decimals: u8,
    /// The node whose rounding was adopted (this node's own when it disagreed).
    pub source: u32,
}

#[derive(Serialize)]
struct Values<'a> {
    values: &'a [f64],
}

#[derive(Serialize)]
struct Bounded<'a> {
    values: &'a [f64],
    bound: f64,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

/// A client of the DAC server of this container's provider. Calls block until the consensus
/// answers; every node must make the same sequence of calls with vectors of the same lengths.
pub struct Client {
    transport: Box<dyn Transport>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// The client of the socket named by `PF_DAC_SOCKET` (default [`DEFAULT_SOCKET`]), with the
    /// timeout `PF_DAC_TIMEOUT_S` gives in seconds (default an hour).
    pub fn from_env() -> Client {
        let socket = std::env::var_os(SOCKET_ENV)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
        let mut transport = UnixTransport::new(socket);
        if let Some(seconds) = std::env::var(TIMEOUT_ENV)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        {
            transport = transport.with_timeout(Duration::from_secs_f64(seconds));
        }
        Client::with_transport(transport)
    }

    /// The client of the server listening at `socket`.
    pub fn unix(socket: impl Into<PathBuf>) -> Client {
        Client::with_transport(UnixTransport::new(socket))
    }

    /// The client over any transport (a fake, in tests).
    pub fn with_transport(transport: impl Transport + 'static) -> Client {
        Client {
            transport: Box::new(transport),
        }
    }

    /// This node's index, the number of nodes, the alive ones, the topology and the decimals.
    pub fn node(&self) -> Result<NodeInfo> {
        self.call("GET", "/v1/node", None)
    }

    /// The average over the alive nodes of each node's `values` (same length everywhere).
    pub fn average(&self, values: &[f64]) -> Result<Outcome> {
        check_finite(values)?;
        let body = serde_json::to_vec(&Values { values }).expect("a vector of finite f64");
        let outcome: Outcome = self.call("POST", "/v1/average", Some(&body))?;
        if outcome.value.len() != values.len() {
            return Err(Error::Protocol(format!(
                "average of {} values answered with {}",
                values.len(),
                outcome.value.len()
            )));
        }
        if outcome.alive.is_empty() {
            return Err(Error::Protocol(
                "average answered with no alive node".into(),
            ));
        }
        Ok(outcome)
    }

    /// `values` rounded to the job's decimals, adopting the lowest-index alive node's rounding
    /// where it is within one unit of the last decimal of this node's: honest nodes end up with
    /// identical vectors (call it last, on what is written out).
    pub fn agree(&self, values: &[f64]) -> Result<Agreed> {
        self.agree_within(values, None)
    }

    /// [`Client::agree`] for values known to lie within `bound` of the consensus value (the
    /// residual bound of the operation that produced them): a node then adopts the flooded
    /// rounding whenever it lies within 10^-decimals / 2 + 2·bound of its own value, so honest
    /// nodes agree even when their values differ by more than a rounding step.
    pub fn agree_within(&self, values: &[f64], bound: Option<f64>) -> Result<Agreed> {
        check_finite(values)?;
        let body = match bound.filter(|b| b.is_finite() && *b >= 0.0) {
            Some(bound) => serde_json::to_vec(&Bounded { values, bound }),
            None => serde_json::to_vec(&Values { values }),
        }
        .expect("a vector of finite f64");
        let agreed: Agreed = self.call("POST", "/v1/agree", Some(&body))?;
        if agreed.values.len() != values.len() {
            return Err(Error::Protocol(format!(
                "agree on {} values answered with {}",
                values.len(),
                agreed.values.len()
            )));
        }
        Ok(agreed)
    }

    /// One call: the 2xx body as `T`, or the server's error.
    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<T> {
        let response = self.transport.exchange(method, path, body)?;
        if !(200..300).contains(&response.status) {
            return Err(match serde_json::from_slice::<ErrorBody>(&response.body) {
                Ok(e) => Error::Server {
                    status: response.status,
                    code: e.code,
                    message: e.message,
                },
                Err(_) => Error::Server {
                    status: response.status,
                    code: if response.status >= 500 {
                        "internal".into()
                    } else {
                        "bad_request".into()
                    },
                    message: String::from_utf8_lossy(&response.body).trim().to_string(),
                },
            });
        }
        serde_json::from_slice(&response.body)
            .map_err(|e| Error::Protocol(format!("{method} {path}: {e}")))
    }
}

/// A bound, `null` meaning infinite (serde_json writes non-finite floats as `null`).
fn bound_or_infinity<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// JSON carries no NaN or infinity: refuse them before sending.
pub(crate) fn check_finite(values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::Input(format!(
            "component {i} is {} (only finite values can be averaged)",
            values[i]
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Response;

    /// Answers every call with one canned response.
    struct Canned(u16, &'static str);

    impl Transport for Canned {
        fn exchange(&self, _: &str, _: &str, _: Option<&[u8]>) -> Result<Response> {
            Ok(Response {
                status: self.0,
                body: self.1.as_bytes().to_vec(),
            })
        }
    }

    #[test]
    fn server_errors_carry_their_code() {
        let client = Client::with_transport(Canned(
            409,
            r#"{"code":"dropped","message":"node 2 was declared dropped"}"#,
        ));
        let err = client.average(&[1.0]).unwrap_err();
        assert_eq!(err.code(), "dropped");
        assert!(
            err.to_string().contains("node 2 was declared dropped"),
            "{err}"
        );
        assert!(matches!(err, Error::Server { status: 409, .. }), "{err:?}");
        // A body that is not the API's error: the status decides the code.
        let err = Client::with_transport(Canned(502, "bad gateway"))
            .node()
            .unwrap_err();
        assert_eq!(err.code(), "internal");
    }

    #[test]
    fn answers_are_parsed_and_checked() {
        let node = Client::with_transport(Canned(
            200,
            r#"{"job":7,"node":1,"nodes":3,"alive":[0,1,2],
                "topology":{"kind":"ring","degree":2,"seed":9},"decimals":6}"#,
        ))
        .node()
        .unwrap();
        assert_eq!(
            (node.job, node.node, node.nodes, node.decimals),
            (7, 1, 3, 6)
        );
        assert_eq!(node.topology.kind, "ring");

        let agreed = Client::with_transport(Canned(
            200,
            r#"{"values":[0.333333,2.0],"decimals":6,"source":0}"#,
        ))
        .agree(&[0.3333334, 2.0])
        .unwrap();
        assert_eq!(agreed.values, [0.333333, 2.0]);

        let unbounded = Client::with_transport(Canned(
            200,
            r#"{"value":[1.0],"residual_bound":null,"rounds":1,"alive":[0],"epoch":0}"#,
        ))
        .average(&[1.0])
        .unwrap();
        assert_eq!(unbounded.residual_bound, f64::INFINITY);

        let short = Client::with_transport(Canned(
            200,
            r#"{"value":[1.0],"residual_bound":0,"rounds":1,"alive":[0],"epoch":0}"#,
        ))
        .average(&[1.0, 2.0]);
        assert!(matches!(short, Err(Error::Protocol(_))), "{short:?}");
        let garbage = Client::with_transport(Canned(200, "not json")).average(&[1.0]);
        assert!(matches!(garbage, Err(Error::Protocol(_))), "{garbage:?}");
    }

    #[test]
    fn a_missing_socket_is_a_connect_error() {
        let err = Client::unix("/nonexistent/peerflow-dac.sock")
            .node()
            .unwrap_err();
        assert_eq!(err.code(), "connect");
        assert!(
            err.to_string().contains("/nonexistent/peerflow-dac.sock"),
            "{err}"
        );
    }
}
