//! `multipart/mixed` bodies (RFC 2046) carrying renditions: the orchestrator's segment reply, the
//! transcoder's result upload and the broadcaster's reply to `Accept: multipart/mixed`.

use alloy_primitives::B256;

/// One part: its headers (lower-case names) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Part {
    pub fn new(content_type: &str, body: Vec<u8>) -> Self {
        Self {
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a body is not a multipart body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MultipartError {
    #[error("content type is not multipart/mixed with a boundary")]
    NotMultipart,
    #[error("malformed multipart body: {0}")]
    Malformed(&'static str),
}

/// Encodes `parts`; returns the `Content-Type` header value and the body.
pub fn encode(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = format!(
        "peerflow-{}",
        alloy_primitives::hex::encode(&B256::random()[..12])
    );
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        for (name, value) in &part.headers {
            body.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        body.extend_from_slice(format!("content-length: {}\r\n\r\n", part.body.len()).as_bytes());
        body.extend_from_slice(&part.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/mixed; boundary={boundary}"), body)
}

/// Decodes a body whose `Content-Type` is `content_type`. Parts are delimited by their
/// `content-length` header when present (binary-safe), by the boundary otherwise.
pub fn decode(content_type: &str, body: &[u8]) -> Result<Vec<Part>, MultipartError> {
    let (mime, params) = content_type
        .split_once(';')
        .ok_or(MultipartError::NotMultipart)?;
    if !mime.trim().eq_ignore_ascii_case("multipart/mixed") {
        return Err(MultipartError::NotMultipart);
    }
    let boundary = params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim_matches('"'))
        .ok_or(MultipartError::NotMultipart)?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    loop {
        let start = find(rest, &delimiter).ok_or(MultipartError::Malformed("missing boundary"))?;
        rest = &rest[start + delimiter.len()..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or(MultipartError::Malformed("boundary line"))?;
        let head_end = find(rest, b"\r\n\r\n").ok_or(MultipartError::Malformed("part headers"))?;
        let head = std::str::from_utf8(&rest[..head_end])
            .map_err(|_| MultipartError::Malformed("header text"))?;
        let mut headers = Vec::new();
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or(MultipartError::Malformed("header line"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        rest = &rest[head_end + 4..];
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse::<usize>());
        let body_len = match length {
            Some(Ok(n)) if n <= rest.len() => n,
            Some(_) => return Err(MultipartError::Malformed("content-length")),
            None => find(rest, &delimiter)
                .ok_or(MultipartError::Malformed("unterminated part"))?
                .saturating_sub(2),
        };
        let part_body = rest[..body_len].to_vec();
        headers.retain(|(n, _)| n != "content-length");
        parts.push(Part {
            headers,
            body: part_body,
        });
        rest = &rest[body_len..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_parts_round_trip_even_when_they_contain_the_delimiter_text() {
        let tricky = b"\r\n--peerflow-not-the-boundary\r\n\x00\xff".to_vec();
        let parts = vec![
            Part::new("video/mp2t", tricky).with_header("X-Peerflow-Rendition", "360p"),
            Part::new("video/mp2t", vec![]).with_header("x-peerflow-rendition", "240p"),
        ];
        let (content_type, body) = encode(&parts);
        let decoded = decode(&content_type, &body).unwrap();
        assert_eq!(decoded, parts);
        assert_eq!(decoded[0].header("x-peerflow-rendition"), Some("360p"));
    }

    #[test]
    fn rejects_what_is_not_multipart() {
        assert_eq!(
            decode("application/json", b"{}"),
            Err(MultipartError::NotMultipart)
        );
        assert!(decode("multipart/mixed; boundary=x", b"garbage").is_err());
    }
}
