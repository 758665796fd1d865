//! `Accept: multipart/mixed`: the push reply carries every rendition's bytes.

use crate::common;

use common::media::{probe, source_segment};
use common::processor::{FfmpegProcessor, LADDER};
use common::server::TestServer;
use reqwest::StatusCode;

/// One part of a multipart body.
struct Part {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Part {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("part has no {name} header"))
    }
}

/// Parses a multipart body strictly: delimiter, headers, `Content-Length` bytes, CRLF, …,
/// closing delimiter.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}\r\n");
    let close = format!("--{boundary}--\r\n");
    let mut rest = body;
    let mut parts = Vec::new();
    while !rest.starts_with(close.as_bytes()) {
        rest = rest
            .strip_prefix(delimiter.as_bytes())
            .expect("a part starts with the delimiter");
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let headers: Vec<(String, String)> = std::str::from_utf8(&rest[..end])
            .unwrap()
            .split("\r\n")
            .map(|line| {
                let (name, value) = line.split_once(": ").unwrap();
                (name.to_owned(), value.to_owned())
            })
            .collect();
        rest = &rest[end + 4..];
        let mut part = Part {
            headers,
            body: Vec::new(),
        };
        let len: usize = part.header("Content-Length").parse().unwrap();
        part.body = rest[..len].to_vec();
        rest = rest[len..]
            .strip_prefix(b"\r\n")
            .expect("CRLF after a part");
        parts.push(part);
    }
    assert_eq!(rest, close.as_bytes());
    parts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_reply_carries_every_rendition() {
    let server = TestServer::start(FfmpegProcessor, |c| c.idle_timeout = None).await;
    let response = server
        .client
        .put(server.url("/live/mp/0.ts"))
        .header("accept", "multipart/mixed")
        .body(source_segment(0).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let boundary = content_type
        .strip_prefix("multipart/mixed; boundary=")
        .expect("multipart/mixed with a boundary");
    let parts = parse_multipart(&response.bytes().await.unwrap(), boundary);

    assert_eq!(parts.len(), LADDER.len());
    let work = tempfile::tempdir().unwrap();
    for (part, profile) in parts.iter().zip(LADDER) {
        assert_eq!(part.header("Content-Type"), "video/mp2t");
        assert_eq!(part.header("Rendition-Name"), profile.name);
        let resolution = format!("{}x{}", profile.width, profile.height);
        assert_eq!(part.header("Rendition-Resolution"), resolution);
        assert_eq!(
            part.header("Content-Disposition"),
            format!("attachment; filename=\"{}_0.ts\"", profile.name)
        );

        let (_, _, published) = server.get(&format!("/live/mp/{}/0.ts", profile.name)).await;
        assert_eq!(
            part.body, published,
            "the reply carries the published bytes"
        );
        let file = work.path().join(format!("{}.ts", profile.name));
        std::fs::write(&file, &part.body).unwrap();
        let decoded = probe(file.to_str().unwrap()).await;
        assert_eq!(
            (decoded.width, decoded.height),
            (profile.width.into(), profile.height.into())
        );
    }
}
