//! The orchestrator against a dishonest transcoder holding the shared token, over real HTTP
//! against anvil: it cannot answer a job handed to another transcoder, and the pixel counts it
//! reports never set what the broadcaster is charged.

use crate::common;

use common::*;

/// Takes one job as `name`; its header and segment.
async fn take(http: &reqwest::Client, url: &str, name: &str) -> (JobHeader, Vec<u8>) {
    let job = http
        .get(format!("{url}/v1/transcoder/work?wait=10"))
        .bearer_auth(TOKEN)
        .header("x-peerflow-transcoder", name)
        .send()
        .await
        .unwrap();
    assert_eq!(job.status(), 200);
    let meta: JobHeader = serde_json::from_slice(job.headers()[JOB_HEADER].as_bytes()).unwrap();
    (meta, job.bytes().await.unwrap().to_vec())
}

fn answer(meta: &JobHeader, body: &[u8], pixels: &str) -> (String, Vec<u8>) {
    let part = Part::new("video/mp2t", body.to_vec())
        .with_header(RENDITION_HEADER, meta.request.profiles[0].name.clone())
        .with_header(PIXELS_HEADER, pixels);
    multipart::encode(&[part])
}

#[tokio::test]
async fn a_job_is_answered_only_by_its_transcoder_and_its_pixel_claims_are_not_charged() {
    let net = start().await;
    let b = net.chain.address(2);
    let info = net.info(b).await;
    let (http, url) = (net.http.clone(), net.url.clone());
    let honest = tokio::spawn(async move {
        let (meta, _) = take(&http, &url, "honest").await;
        // Another token holder that learned the job id answers first: with no secret, with a
        // guessed one, and with the right length but wrong bytes. Each is refused.
        let (content_type, body) = answer(&meta, b"forged rendition", "999999999999");
        for secret in [None, Some("00".repeat(32)), Some("zz".into())] {
            let mut post = http
                .post(format!("{url}/v1/transcoder/result/{}", meta.id))
                .bearer_auth(TOKEN)
                .header("content-type", content_type.clone());
            if let Some(s) = secret {
                post = post.header(JOB_SECRET_HEADER, s);
            }
            let r = post.body(body.clone()).send().await.unwrap();
            assert_eq!(error_of(r).await.0, 403);
        }
        // The transcoder the job was handed to answers it, claiming a huge pixel count.
        let (content_type, body) = answer(&meta, b"honest rendition", "999999999999");
        let r = http
            .post(format!("{url}/v1/transcoder/result/{}", meta.id))
            .bearer_auth(TOKEN)
            .header(JOB_SECRET_HEADER, meta.secret.as_str())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    });
    let reply = net
        .submit(&info, &net.payment(2, &info, 0, 1), &net.segment)
        .await;
    assert_eq!(reply.status(), 200);
    honest.await.unwrap();
    let charged: U256 = reply.headers()["x-peerflow-charged"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(charged, U256::from(426 * 240 * net.frames * PRICE));
    let content_type = reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let parts = multipart::decode(&content_type, &reply.bytes().await.unwrap()).unwrap();
    assert_eq!(
        parts[0].body, b"honest rendition",
        "the forged answer never reached the broadcaster"
    );
    assert_eq!(
        net.info(b).await.balance,
        info.ticket_params.ticket_value - charged
    );
}
