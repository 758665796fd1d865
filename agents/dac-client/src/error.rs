//! What can go wrong: the server's refusals (with its `code`) and the client's own errors.

use std::path::PathBuf;

/// An error of a DAC call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered a non-2xx status with `{"code", "message"}`. Codes (DAC-API.md):
    /// `bad_request`, `dropped` (this node was declared dropped: it must stop), `isolated` (no
    /// live neighbour is left), `internal`.
    #[error("DAC server refused the call ({status}, {code}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's error code.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The socket could not be reached (no server, or a wrong `PF_DAC_SOCKET`).
    #[error("cannot connect to the DAC socket {}: {source}", socket.display())]
    Connect {
        /// The socket's path.
        socket: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading or writing the connection failed (a timeout included).
    #[error("DAC connection: {0}")]
    Io(#[from] std::io::Error),
    /// The server's answer is not HTTP/1.1 as expected, or not the JSON the API describes.
    #[error("malformed DAC response: {0}")]
    Protocol(String),
    /// The caller's input cannot be sent (ragged rows, non-finite values, mismatched lengths).
    #[error("invalid input: {0}")]
    Input(String),
    /// The averaged normal equations of a least-squares call have no unique solution.
    #[error("singular normal equations: {0}")]
    Singular(String),
}

impl Error {
    /// A short machine-readable code: the server's own (`dropped`, `isolated`, ...) for
    /// [`Error::Server`], else `connect`, `io`, `protocol`, `input` or `singular`.
    pub fn code(&self) -> &str {
        match self {
            Error::Server { code, .. } => code,
            Error::Connect { .. } => "connect",
            Error::Io(_) => "io",
            Error::Protocol(_) => "protocol",
            Error::Input(_) => "input",
            Error::Singular(_) => "singular",
        }
    }
}

/// The result of a DAC call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
