//! The orchestrator's HTTP API over real HTTP against anvil: quoting, payment, every refusal with
//! its code (and nothing debited), the transcoder pull protocol, and charging at its own price.

use crate::common;

use common::*;

#[tokio::test]
async fn info_binds_ticket_params_to_the_sender_and_reuses_them_while_fresh() {
    let net = start().await;
    let (b, other) = (net.chain.address(2), net.chain.address(3));
    let first = net.info(b).await;
    assert_eq!(first.orchestrator, net.chain.address(1));
    assert_eq!(
        (first.chain_id, first.ticket_broker),
        (net.chain.chain_id(), net.d.ticket_broker)
    );
    assert_eq!(first.ticket_params.sender, b);
    assert_eq!(
        first.ticket_params.ticket_value,
        parse_ether("0.001").unwrap() - U256::from(1u64)
    );
    assert_eq!(
        net.info(b).await.ticket_params,
        first.ticket_params,
        "reused while fresh"
    );
    assert_ne!(
        net.info(other).await.ticket_params.recipient_rand_hash,
        first.ticket_params.recipient_rand_hash
    );

    provider(&net.chain, 0)
        .anvil_mine(Some(20), None)
        .await
        .unwrap();
    let later = net.info(b).await.ticket_params;
    assert_ne!(
        later.recipient_rand_hash, first.ticket_params.recipient_rand_hash,
        "refreshed near expiry"
    );
}

#[tokio::test]
async fn paid_segment_is_transcoded_by_a_pulling_transcoder_and_charged_at_the_orchestrators_price()
{
    let net = start().await;
    let info = net.info(net.chain.address(2)).await;

    let unauthorized = net
        .http
        .get(format!("{}/v1/transcoder/work?wait=0", net.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let idle = net
        .http
        .get(format!("{}/v1/transcoder/work?wait=0", net.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(idle.status(), 204);

    // A transcoder behind NAT: it pulls the job and posts a rendition back.
    let (http, url, segment) = (net.http.clone(), net.url.clone(), net.segment.clone());
    let transcoder = tokio::spawn(async move {
        let job = http
            .get(format!("{url}/v1/transcoder/work?wait=10"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(job.status(), 200);
        let meta: JobHeader = serde_json::from_slice(job.headers()[JOB_HEADER].as_bytes()).unwrap();
        assert_eq!(job.bytes().await.unwrap().as_ref(), segment.as_slice());
        let part = Part::new("video/mp2t", b"rendition bytes".to_vec())
            .with_header(RENDITION_HEADER, meta.request.profiles[0].name.clone())
            .with_header(PIXELS_HEADER, "6000");
        let (content_type, body) = multipart::encode(&[part]);
        let done = http
            .post(format!("{url}/v1/transcoder/result/{}", meta.id))
            .bearer_auth(TOKEN)
            .header(JOB_SECRET_HEADER, meta.secret.as_str())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 204);
    });

    let reply = net
        .submit(&info, &net.payment(2, &info, 0, 2), &net.segment)
        .await;
    assert_eq!(reply.status(), 200);
    let charged: U256 = reply.headers()["x-peerflow-charged"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Where the segment's time went here, stage by stage, in the standard Server-Timing header.
    let timing = peerflow_protocol::timing::parse_server_timing(
        reply.headers()["server-timing"].to_str().unwrap(),
    );
    assert_eq!(
        timing.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["auth", "probe", "pay", "queue", "transcode", "sign"]
    );
    // The transcoder's own pixel count (6000) is not believed: the orchestrator charges the
    // profile's size × the frames it counted in the segment, at its price.
    let pixels = 426 * 240 * net.frames;
    assert_eq!(
        charged,
        U256::from(pixels * PRICE),
        "price × pixels of the requested renditions, at the orchestrator's price"
    );
    let content_type = reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let signature = parse_signature_header(
        reply
            .headers()
            .get(RESULT_SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok()),
    )
    .unwrap();
    let parts = multipart::decode(&content_type, &reply.bytes().await.unwrap()).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(
        (parts[0].header(RENDITION_HEADER), parts[0].body.as_slice()),
        (Some("240p"), &b"rendition bytes"[..])
    );
    assert_eq!(
        parts[0].header(PIXELS_HEADER),
        Some(pixels.to_string().as_str())
    );
    // The reply is signed by the orchestrator over the input, the profile and the rendition.
    let result = SegmentResult::new(
        net.chain.address(1),
        net.chain.address(2),
        &request(),
        &net.segment,
        &[b"rendition bytes"],
    );
    let domain = result_domain(&net.chain, &net.d);
    assert_eq!(result.verify(&domain, &signature, None), Ok(()));
    let tampered = SegmentResult::new(
        net.chain.address(1),
        net.chain.address(2),
        &request(),
        &net.segment,
        &[b"rendition bytez"],
    );
    assert!(tampered.verify(&domain, &signature, None).is_err());
    transcoder.await.unwrap();
    let balance = net.info(net.chain.address(2)).await.balance;
    assert_eq!(
        balance,
        info.ticket_params.ticket_value * U256::from(2u64) - charged
    );
}

#[tokio::test]
async fn refused_payments_say_why_and_debit_nothing() {
    let net = start().await;
    let b = net.chain.address(2);
    let info = net.info(b).await;

    // No transcoder connected: the tickets pay, the work is refused with "no_transcoder" (the
    // job waited for one in vain), nothing is charged.
    let (status, body) = error_of(
        net.submit(&info, &net.payment(2, &info, 0, 1), &net.segment)
            .await,
    )
    .await;
    assert_eq!(
        (status, body.code.as_str(), body.retry_elsewhere),
        (503, "no_transcoder", true)
    );
    let credit = net.info(b).await.balance;
    assert_eq!(credit, info.ticket_params.ticket_value);

    let (status, body) = error_of(
        net.submit(&info, &net.payment(2, &info, 0, 1), &net.segment)
            .await,
    )
    .await;
    assert_eq!(
        (status, body.code.as_str(), body.retry_elsewhere),
        (409, "ticket_replayed", false)
    );

    let mut foreign = net.payment(2, &info, 5, 1);
    foreign.tickets[0].recipient_rand_hash = alloy::primitives::B256::repeat_byte(7);
    let (status, body) = error_of(net.submit(&info, &foreign, &net.segment).await).await;
    assert_eq!((status, body.code.as_str()), (402, "ticket_params_expired"));

    // Signed for another orchestrator: the signature does not match a ticket addressed here.
    let mut elsewhere = info.clone();
    elsewhere.ticket_params.recipient = net.chain.address(9);
    let (status, body) = error_of(
        net.submit(&elsewhere, &net.payment(2, &elsewhere, 6, 1), &net.segment)
            .await,
    )
    .await;
    assert_eq!((status, body.code.as_str()), (400, "invalid_signature"));

    let poor = net.info(net.chain.address(3)).await;
    let (status, body) = error_of(
        net.submit(&poor, &net.payment(3, &poor, 0, 1), &net.segment)
            .await,
    )
    .await;
    assert_eq!((status, body.code.as_str()), (402, "insufficient_deposit"));

    provider(&net.chain, 0)
        .anvil_mine(Some(21), None)
        .await
        .unwrap();
    let (status, body) = error_of(
        net.submit(&info, &net.payment(2, &info, 7, 1), &net.segment)
            .await,
    )
    .await;
    assert_eq!((status, body.code.as_str()), (402, "ticket_params_expired"));

    let (status, body) = error_of(net.submit(&info, &net.payment(2, &info, 8, 0), b"").await).await;
    assert_eq!((status, body.code.as_str()), (400, "bad_segment"));
    let missing = net
        .http
        .post(format!("{}/v1/segment", net.url))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(missing).await.1.code, "bad_request");

    assert_eq!(
        net.info(b).await.balance,
        credit,
        "no refusal debited anything"
    );
}
