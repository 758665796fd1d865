//! A minimal blocking HTTP/1.1 client over a Unix socket: one request per connection
//! (`Connection: close`), small JSON bodies, and a long read timeout, since one consensus call
//! can take minutes. Responses may carry a `Content-Length` body, a chunked one, or one that ends
//! when the server closes the connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;

/// Longest status or header line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Most headers accepted in one response.
const MAX_HEADERS: usize = 128;
/// Largest body accepted (a least-squares call over many columns carries a long vector).
const MAX_BODY: usize = 1 << 30;

/// An HTTP response: its status and body (headers are only used to frame the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// How a [`crate::Client`] reaches its DAC server: one HTTP exchange per call. The real one is
/// [`UnixTransport`]; tests substitute fakes.
pub trait Transport: Send + Sync {
    /// Sends `method path` with a JSON `body` (if any) and returns the response, whatever its
    /// status (the client maps non-2xx statuses to [`Error::Server`]).
    fn exchange(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response, Error>;
}

/// HTTP/1.1 over the Unix socket of the container's DAC server (one connection per request).
#[derive(Debug, Clone)]
pub struct UnixTransport {
    socket: PathBuf,
    timeout: Duration,
}

impl UnixTransport {
    /// How long a call may wait for its answer by default: an hour (a consensus operation waits
    /// for every node to make the same call, then runs its rounds).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

    /// The transport to the server listening at `socket`, with [`Self::DEFAULT_TIMEOUT`].
    pub fn new(socket: impl Into<PathBuf>) -> UnixTransport {
        UnixTransport {
            socket: socket.into(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// The same transport with another read/write timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> UnixTransport {
        self.timeout = timeout;
        self
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Transport for UnixTransport {
    fn exchange(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response, Error> {
        let mut stream = UnixStream::connect(&self.socket).map_err(|source| Error::Connect {
            socket: self.socket.clone(),
            source,
        })?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        stream.write_all(&encode_request(method, path, body))?;
        stream.flush()?;
        read_response(&mut BufReader::new(stream))
    }
}

/// The request's bytes: request line, headers (`Host`, `Content-Type`, `Content-Length`,
/// `Connection: close`) and the body.
pub(crate) fn encode_request(method: &str, path: &str, body: Option<&[u8]>) -> Vec<u8> {
    let body = body.unwrap_or_default();
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Reads one response (skipping interim `1xx` ones) and its body.
pub(crate) fn read_response(reader: &mut impl BufRead) -> Result<Response, Error> {
    loop {
        let status = parse_status_line(&read_line(reader)?)?;
        let headers = read_headers(reader)?;
        if (100..200).contains(&status) {
            continue;
        }
        let body = if status == 204 || status == 304 {
            Vec::new()
        } else {
            read_body(reader, &headers)?
        };
        return Ok(Response { status, body });
    }
}

/// `HTTP/1.x CODE REASON` → CODE.
fn parse_status_line(line: &str) -> Result<u16, Error> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(protocol(format!("bad status line {line:?}")));
    }
    parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..600).contains(code))
        .ok_or_else(|| protocol(format!("bad status line {line:?}")))
}

/// The headers up to the blank line, names lower-cased.
fn read_headers(reader: &mut impl BufRead) -> Result<Vec<(String, String)>, Error> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok(headers);
        }
        if headers.len() == MAX_HEADERS {
            return Err(protocol("too many headers".into()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| protocol(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// The body, framed by `Transfer-Encoding: chunked`, `Content-Length`, or the connection's end.
fn read_body(reader: &mut impl BufRead, headers: &[(String, String)]) -> Result<Vec<u8>, Error> {
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .next_back()
    };
    if header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked")) {
        return read_chunked(reader);
    }
    if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| protocol(format!("bad Content-Length {length:?}")))?;
        if length > MAX_BODY {
            return Err(protocol(format!("body of {length} bytes is too large")));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    reader.take(MAX_BODY as u64 + 1).read_to_end(&mut body)?;
    if body.len() > MAX_BODY {
        return Err(protocol("body is too large".into()));
    }
    Ok(body)
}

/// A chunked body: hex-sized chunks (extensions ignored), a zero-sized last one, trailers.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| protocol(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            read_headers(reader)?; // trailers
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(protocol("body is too large".into()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader)?.is_empty() {
            return Err(protocol("chunk not followed by CRLF".into()));
        }
    }
}

/// One line without its CRLF (or LF); an early end of the stream is an error.
fn read_line(reader: &mut impl BufRead) -> Result<String, Error> {
    let mut line = Vec::new();
    reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE {
            protocol("line too long".into())
        } else {
            protocol("connection closed mid-response".into())
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| protocol("non-UTF-8 header".into()))
}

fn protocol(message: String) -> Error {
    Error::Protocol(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Response, Error> {
        read_response(&mut raw.as_bytes())
    }

    #[test]
    fn request_has_the_headers_and_body() {
        let raw = String::from_utf8(encode_request("POST", "/v1/average", Some(b"{}"))).unwrap();
        assert!(raw.starts_with("POST /v1/average HTTP/1.1\r\n"), "{raw}");
        for header in [
            "Host: localhost\r\n",
            "Content-Type: application/json\r\n",
            "Content-Length: 2\r\n",
            "Connection: close\r\n",
        ] {
            assert!(raw.contains(header), "{raw}");
        }
        assert!(raw.ends_with("\r\n\r\n{}"), "{raw}");
    }

    #[test]
    fn content_length_body() {
        let r = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloEXTRA").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let raw = "HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\n\r\n\
                   4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nTrailer: t\r\n\r\n";
        let r = parse(raw).unwrap();
        assert_eq!(r.status, 409);
        assert_eq!(r.body, b"{\"a\":1}");
    }

    #[test]
    fn body_to_the_end_and_interim_responses() {
        let r =
            parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\nServer: x\n\nall of it").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"all of it");
    }

    #[test]
    fn malformed_responses_are_protocol_errors() {
        for raw in [
            "",
            "SMTP 220 hi\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3",
        ] {
            assert!(
                matches!(parse(raw), Err(Error::Protocol(_))),
                "{raw:?} gave {:?}",
                parse(raw)
            );
        }
        // A body cut short by the connection's end is an I/O error.
        let short = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        assert!(matches!(short, Err(Error::Io(_))), "{short:?}");
    }
}
