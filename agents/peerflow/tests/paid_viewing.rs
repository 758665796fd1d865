//! Viewers pay streamers, end to end on a devnet (anvil mining a block a second, loopback): a
//! stream key with a price per minute, a live stream pushed with it in real time, and viewers
//! paying the broadcaster with tickets signed by a hot key their grant authorized.
//!
//! - `peerflow watch` pays as it plays; what it wrote plays through ffprobe.
//! - A viewer that stops paying is refused (402 `payment_due`) once it is a credit behind.
//! - A viewer with no deposit gets no session and no segment.
//! - Every viewer ticket wins (winProb 1): the broadcaster is paid from the viewers' deposits
//!   exactly the tickets' face value, a ticket per 4 s of video it served.
//! - `peerflow support tip|price|subscribe` move exactly their amounts, the tip's message reaches
//!   the streamer's status, and a subscriber without a deposit watches without tickets.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use alloy::providers::ext::AnvilApi;
use peerflow::devnet::{Devnet, DevnetOptions, start};
use peerflow::roles::ViewerTerms;
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_media::testsrc;
use peerflow_paywall::grant::SignerGrant;
use peerflow_paywall::proto::OpenSession;
use peerflow_paywall::viewer::{Limits, Viewer};
use serde_json::Value;

const STREAM: &str = "paid";
const SEGMENTS: usize = 24;
/// 0.6 tokens a minute: 0.04 a ticket of 4 s.
const PRICE_PER_MINUTE: &str = "0.6";
const TICKET_WEI: u128 = 40_000_000_000_000_000;

/// Dev accounts free on a devnet with one orchestrator and no providers.
const WATCHER: usize = 3;
const QUITTER: usize = 4;
const PENNILESS: usize = 5;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerflow"));
    cmd.env("RUST_LOG", "warn");
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn key_file(net: &Devnet, dir: &Path, index: usize) -> PathBuf {
    let path = dir.join(format!("account{index}.key"));
    std::fs::write(
        &path,
        alloy::primitives::hex::encode(net.chain.secret_key(index)),
    )
    .unwrap();
    path
}

/// `--rpc-url … --deployment … --key-file …` for a wallet command as `index`.
fn chain_args(net: &Devnet, dir: &Path, index: usize) -> Vec<String> {
    vec![
        "--rpc-url".into(),
        net.chain.endpoint(),
        "--deployment".into(),
        dir.join("deployment.json").display().to_string(),
        "--key-file".into(),
        key_file(net, dir, index).display().to_string(),
    ]
}

async fn get_json(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn token_balance(net: &Devnet, who: Address, block: Option<u64>) -> U256 {
    let token = WorkToken::new(net.deployment.work_token, &net.deployer);
    let call = token.balanceOf(who);
    match block {
        Some(b) => call.block(BlockId::number(b)).call().await.unwrap(),
        None => call.call().await.unwrap(),
    }
}

async fn deposit_of(net: &Devnet, who: Address) -> U256 {
    TicketBroker::new(net.deployment.ticket_broker, &net.deployer)
        .getSenderInfo(who)
        .call()
        .await
        .unwrap()
        .deposit
}

/// Pushes the segments with `key` at the pace they play.
fn push_live(net: &Devnet, key: String, segments: Vec<PathBuf>) -> tokio::task::JoinHandle<()> {
    let (url, started) = (net.broadcaster_url.clone(), Instant::now());
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        for (seq, path) in segments.iter().enumerate() {
            tokio::time::sleep_until((started + Duration::from_secs(2 * seq as u64)).into()).await;
            let reply = http
                .put(format!("{url}/live/{key}/{STREAM}/{seq}.ts"))
                .body(std::fs::read(path).unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(
                reply.status(),
                200,
                "segment {seq}: {}",
                reply.text().await.unwrap()
            );
        }
    })
}

async fn wait_for_published(net: &Devnet, segments: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) =
            get_json(&format!("{}/v1/streams/{STREAM}", net.broadcaster_url)).await;
        if status == 200 && body["segmentsOut"].as_u64() >= Some(segments) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{segments} segments never published: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The newest segment URL of the stream's first rendition.
async fn newest_segment(net: &Devnet) -> String {
    let base = &net.broadcaster_url;
    let name = &net.ladder[0].name;
    let text = reqwest::get(format!("{base}/live/{STREAM}/{name}.m3u8"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let last = text
        .lines()
        .rfind(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    format!("{base}/live/{STREAM}/{last}")
}

/// A devnet whose viewer tickets all win, three viewers with 50 tokens each (two of them with a
/// deposit of 5), a stream key at [`PRICE_PER_MINUTE`], and the paid stream pushed with it in real
/// time, two segments of it published.
async fn paid_stream() -> (tempfile::TempDir, Devnet, tokio::task::JoinHandle<()>) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DevnetOptions::new(dir.path());
    options.orchestrators = 1;
    options.providers = 0;
    options.jurors = false;
    options.viewers = ViewerTerms {
        win_prob: U256::MAX,
        ..ViewerTerms::default()
    };
    let net = start(&options).await.unwrap();
    let data = dir.path();
    let token = WorkToken::new(net.deployment.work_token, &net.deployer);
    for i in [WATCHER, QUITTER, PENNILESS] {
        token
            .transfer(net.chain.address(i), U256::from(50u128 * 10u128.pow(18)))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    for i in [WATCHER, QUITTER] {
        run_ok(
            bin()
                .args(["deposit", "fund", "--deposit", "5"])
                .args(chain_args(&net, data, i)),
        );
    }
    // The streamer's key charges 0.6 tokens a minute.
    let key = run_ok(bin().args([
        "broadcaster",
        "keys",
        "create",
        "--data-dir",
        &data.join("broadcaster").display().to_string(),
        "--label",
        "paid",
        "--price-per-minute",
        PRICE_PER_MINUTE,
    ]));
    let segments =
        testsrc::generate_segments(&data.join("src"), SEGMENTS, 2, 320, 180, 30).unwrap();
    let pusher = push_live(&net, key.trim().to_owned(), segments);
    wait_for_published(&net, 2).await;
    (dir, net, pusher)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn viewers_pay_for_what_they_watch_tip_and_subscribe() {
    let (dir, net, pusher) = paid_stream().await;
    let base = net.broadcaster_url.clone();
    let data = dir.path();

    // The offer: price, ticket size, face value (winProb 1: face = price of 4 s).
    let (status, offer) = get_json(&format!("{base}/v1/watch/{STREAM}/offer")).await;
    assert_eq!(status, 200, "{offer}");
    assert_eq!(offer["paid"], true);
    assert_eq!(offer["faceValue"], TICKET_WEI.to_string());
    assert_eq!(
        offer["recipient"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        net.broadcaster
    );

    // Nobody gets a paid segment without a session.
    let url = newest_segment(&net).await;
    let refused = reqwest::get(&url).await.unwrap();
    assert_eq!(refused.status(), 402);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payment_required", "{body}");

    // A viewer with no deposit gets no session, so no segment.
    let penniless = Viewer::connect(
        &base,
        STREAM,
        net.chain.secret_key(PENNILESS),
        Limits::default(),
    )
    .await;
    let err = penniless.err().expect("no deposit, no session");
    assert_eq!(err.code(), Some("insufficient_deposit"), "{err}");

    // A grant must name this broadcaster as the only recipient, and cap at least one ticket.
    let funder = net.chain.address(QUITTER);
    let (_, mine) = get_json(&format!("{base}/v1/watch/{STREAM}/offer?viewer={funder}")).await;
    let domain = peerflow_protocol::TicketDomain {
        chain_id: net.deployment.chain_id,
        broker: net.deployment.ticket_broker,
    };
    let nonce: U256 = mine["viewer"]["grantNonce"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let round = mine["round"].as_u64().unwrap();
    for (recipient, max_spend) in [
        (Address::repeat_byte(7), U256::from(10u128.pow(18))),
        (net.broadcaster, U256::from(TICKET_WEI - 1)),
    ] {
        let grant = SignerGrant::new(
            funder,
            Address::repeat_byte(0x42),
            recipient,
            max_spend,
            round + 50,
            nonce,
            4_000_000_000,
        );
        let signature = grant.sign(&net.chain.secret_key(QUITTER), &domain).unwrap();
        let body = OpenSession {
            funder,
            signer: grant.signer,
            recipient,
            max_spend,
            until_round: grant.untilRound,
            nonce,
            deadline: grant.deadline,
            signature: format!("0x{}", alloy::primitives::hex::encode(signature.to_bytes())),
        };
        let r = reqwest::Client::new()
            .post(format!("{base}/v1/watch/{STREAM}/sessions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "bad_grant", "{e}");
    }

    // `peerflow watch` pays as it plays, for 14 s of video.
    let out = data.join("watched.ts");
    let watcher_deposit = deposit_of(&net, net.chain.address(WATCHER)).await;
    let watch = {
        let mut cmd = bin();
        cmd.args(["watch", &format!("{base}/watch/{STREAM}"), "--out"])
            .arg(&out)
            .args([
                "--duration",
                "14",
                "--max-price-per-minute",
                "1",
                "--key-file",
            ])
            .arg(key_file(&net, data, WATCHER));
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };

    // Meanwhile a viewer pays for 8 s, then stops: it is refused once a credit behind.
    let mut quitter = Viewer::connect(
        &base,
        STREAM,
        net.chain.secret_key(QUITTER),
        Limits::default(),
    )
    .await
    .unwrap();
    let mut got_ms = 0u64;
    let mut last = String::new();
    let give_up = Instant::now() + Duration::from_secs(90);
    let refusal = loop {
        assert!(
            Instant::now() < give_up,
            "never cut off: {:?}",
            quitter.session()
        );
        let url = newest_segment(&net).await;
        if url == last {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        if quitter.tickets_paid < 2 {
            quitter.segment(&url, 2_000).await.unwrap();
            quitter.refresh().await.unwrap();
            quitter.pay_due().await.unwrap();
        } else {
            // No more payments: fetch with the session until refused.
            let r = reqwest::Client::new()
                .get(&url)
                .header("x-peerflow-viewer", &quitter.session().unwrap().session)
                .send()
                .await
                .unwrap();
            if r.status() == 402 {
                break r.json::<Value>().await.unwrap();
            }
            assert_eq!(r.status(), 200);
        }
        got_ms += 2000;
        last = url;
        assert!(got_ms <= 60_000, "never cut off");
    };
    assert_eq!(refusal["error"]["code"], "payment_due", "{refusal}");
    let view = quitter.refresh().await.unwrap().unwrap().clone();
    assert_eq!(view.tickets_accepted, 2);
    assert_eq!(view.paid_ms, 8_000);
    assert!(
        view.consumed_ms <= view.paid_ms + view.credit_ms
            && view.consumed_ms + 2_000 > view.paid_ms + view.credit_ms,
        "cut off as soon as the credit ran out: {view:?}"
    );
    assert_eq!(serde_json::to_value(view.state).unwrap(), "cut_off");

    let watched = watch.await.unwrap();
    assert!(
        watched.status.success(),
        "watch failed: {}",
        String::from_utf8_lossy(&watched.stderr)
    );
    let stderr = String::from_utf8_lossy(&watched.stderr).into_owned();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let seconds: f64 = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0);
    assert!(
        seconds >= 13.0,
        "ffprobe reads {seconds} s of {}: {stderr}",
        out.display()
    );
    pusher.await.unwrap();

    // Every ticket wins: once the parameters expire, the broadcaster redeems them all, paid from
    // each viewer's deposit exactly the tickets' face value.
    net.deployer.anvil_mine(Some(25), None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let (_, s) = get_json(&format!("{base}/v1/watch/status")).await;
        if s["totals"]["ticketsRedeemed"] == s["totals"]["ticketsReceived"]
            && s["totals"]["ticketsWon"] == s["totals"]["ticketsReceived"]
        {
            break s;
        }
        if Instant::now() > deadline {
            let book = peerflow_orchestrator::PaymentStore::open(
                &data.join("broadcaster/viewers/viewers.sqlite"),
            )
            .unwrap();
            use peerflow_orchestrator::WinningTicketStatus::*;
            let pending: Vec<_> = [Pending, Submitted, Failed]
                .into_iter()
                .flat_map(|s| book.winning_tickets(s).unwrap())
                .map(|t| (t.status, t.attempts, t.last_error))
                .collect();
            panic!("viewer tickets never redeemed: {s}\npending: {pending:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let token = &quitter.session().unwrap().session;
    assert!(
        !status.to_string().contains(token.as_str()),
        "the public status never shows a session's token: {status}"
    );
    let viewers = status["viewers"].as_array().unwrap();
    let row = |who: usize| {
        viewers
            .iter()
            .find(|v| {
                v["funder"].as_str().unwrap().parse::<Address>().unwrap() == net.chain.address(who)
            })
            .unwrap_or_else(|| panic!("no viewer {who} in {status}"))
    };
    let watcher_tickets = row(WATCHER)["ticketsAccepted"].as_u64().unwrap();
    let watcher_ms = row(WATCHER)["consumedMs"].as_u64().unwrap();
    assert!(
        watcher_tickets * 4_000 <= watcher_ms && watcher_ms < watcher_tickets * 4_000 + 4_000,
        "the watcher paid for what it got, to the ticket: {status}"
    );
    assert!(
        stderr.contains(&format!("paid {watcher_tickets} tickets")),
        "{stderr}"
    );
    assert_eq!(
        watcher_deposit - deposit_of(&net, net.chain.address(WATCHER)).await,
        U256::from(TICKET_WEI) * U256::from(watcher_tickets),
        "the watcher's deposit paid exactly its tickets"
    );
    assert_eq!(
        status["totals"]["redeemedWei"],
        (TICKET_WEI * (watcher_tickets as u128 + 2)).to_string(),
        "{status}"
    );

    // A tip with a message, from the CLI: exactly the amount moves, and the streamer sees it.
    let streamer_url = format!("{base}/watch/{STREAM}");
    let before = token_balance(&net, net.chain.address(WATCHER), None).await;
    let tipped = run_ok(
        bin()
            .args([
                "support",
                "tip",
                &streamer_url,
                "2",
                "--message",
                "great stream",
            ])
            .args(chain_args(&net, data, WATCHER)),
    );
    assert!(tipped.contains("tipped"), "{tipped}");
    assert_eq!(
        before - token_balance(&net, net.chain.address(WATCHER), None).await,
        U256::from(2u128 * 10u128.pow(18))
    );
    // The streamer sets a subscription price; a viewer with no deposit subscribes and watches.
    run_ok(
        bin()
            .args(["support", "price", "3"])
            .args(chain_args(&net, data, 9)),
    );
    let streamer_before = token_balance(&net, net.broadcaster, None).await;
    let penniless_before = token_balance(&net, net.chain.address(PENNILESS), None).await;
    run_ok(
        bin()
            .args(["support", "subscribe", &streamer_url, "--periods", "2"])
            .args(chain_args(&net, data, PENNILESS)),
    );
    let six = U256::from(6u128 * 10u128.pow(18));
    assert_eq!(
        penniless_before - token_balance(&net, net.chain.address(PENNILESS), None).await,
        six
    );
    assert_eq!(
        token_balance(&net, net.broadcaster, None).await - streamer_before,
        six
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let (_, s) = get_json(&format!("{base}/v1/watch/status")).await;
        if s["tips"].as_array().is_some_and(|t| !t.is_empty())
            && s["subscribers"].as_array().is_some_and(|t| !t.is_empty())
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "tips and subscribers never shown: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(status["tips"][0]["message"], "great stream");
    assert_eq!(
        status["tips"][0]["amount"],
        (2u128 * 10u128.pow(18)).to_string()
    );
    assert_eq!(status["tipsWei"], (2u128 * 10u128.pow(18)).to_string());
    assert_eq!(status["subscriptionsWei"], six.to_string());

    // The subscriber opens a session without a deposit; its segments need no ticket.
    let mut subscriber = Viewer::connect(
        &base,
        STREAM,
        net.chain.secret_key(PENNILESS),
        Limits::default(),
    )
    .await
    .unwrap();
    let view = subscriber.session().unwrap().clone();
    assert!(view.subscriber && view.ticket.is_none(), "{view:?}");
    // The stream ended; its recording is still served, and still paid.
    let ended = format!(
        "{base}/live/{STREAM}/{}/{}.ts",
        net.ladder[0].name,
        SEGMENTS - 1
    );
    subscriber.get(&ended).await.unwrap();

    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "peerflow_broadcaster_viewer_tickets_total",
        "peerflow_broadcaster_viewer_segments_total",
        "peerflow_broadcaster_viewer_refusals_total{code=\"payment_due\"}",
        "peerflow_broadcaster_tips_wei",
        "peerflow_broadcaster_subscribers",
    ] {
        assert!(metrics.contains(name), "no {name} in /metrics");
    }
}

/// Runs `script/viewer-check.mjs` with `args`; its JSON report.
async fn viewer_check(args: &[String]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tokio::process::Command::new("node")
        .arg(root.join("script/viewer-check.mjs"))
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "viewer-check {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("viewer-check output {e}: {stdout}"))
}

/// Two paying viewers and one with no deposit watch the stream's page in headless Chromium, each
/// with an injected EIP-1193 test wallet (no extension store is reachable here): the wallet signs
/// the grant (`eth_signTypedData_v4`, by `cast`) and sends the tip and subscription transactions;
/// the page signs the tickets with its hot key. One viewer stops paying and is cut off within the
/// credit while the other plays on; the one with no deposit never plays. Every ticket wins, so the
/// broadcaster's token balance rises by exactly the tickets redeemed, the tip and the subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paying_viewers_play_in_the_browser_and_a_quitter_is_cut_off() {
    crate::web::require_browser();
    let (dir, net, pusher) = paid_stream().await;
    let base = net.broadcaster_url.clone();
    let data = dir.path();
    run_ok(
        bin()
            .args(["support", "price", "3"])
            .args(chain_args(&net, data, 9)),
    );

    let deposits = [
        deposit_of(&net, net.chain.address(WATCHER)).await,
        deposit_of(&net, net.chain.address(QUITTER)).await,
    ];
    let watcher_tokens = token_balance(&net, net.chain.address(WATCHER), None).await;
    let streamer_tokens = token_balance(&net, net.broadcaster, None).await;
    let hex = |i: usize| alloy::primitives::hex::encode(net.chain.secret_key(i));
    let report = viewer_check(&[
        "--url".into(),
        format!("{base}/watch/{STREAM}"),
        "--rpc".into(),
        net.chain.endpoint(),
        "--viewer".into(),
        hex(WATCHER),
        "--viewer".into(),
        hex(QUITTER),
        "--viewer".into(),
        hex(PENNILESS),
        "--watch-ms".into(),
        "24000".into(),
        "--stop-paying".into(),
        "1:6000".into(),
        "--tip".into(),
        "0:1000000000000000000:thanks from the page".into(),
        "--subscribe".into(),
        "0:1".into(),
    ])
    .await;
    let viewers = report["viewers"].as_array().unwrap();
    let (watcher, quitter, penniless) = (&viewers[0], &viewers[1], &viewers[2]);

    // The payer played on; the quitter stopped paying and was cut off within the credit.
    assert!(
        watcher["playedSeconds"].as_f64().unwrap() >= 14.0,
        "{watcher}"
    );
    assert_eq!(watcher["stalledSince"], Value::Null, "{watcher}");
    assert_eq!(watcher["state"]["cutOff"], false, "{watcher}");
    assert_eq!(watcher["tip"]["status"], "success", "{watcher}");
    assert_eq!(watcher["subscribe"]["status"], "success", "{watcher}");
    assert_eq!(quitter["state"]["last402Code"], "payment_due", "{quitter}");
    assert!(quitter["stalledSince"].is_number(), "{quitter}");
    let q_paid = quitter["state"]["paidMs"].as_u64().unwrap();
    let q_got = quitter["state"]["consumedMs"].as_u64().unwrap();
    assert!(
        q_got <= q_paid + 10_000,
        "cut off within the credit: {quitter}"
    );
    assert!(
        quitter["playedSeconds"].as_f64().unwrap() < watcher["playedSeconds"].as_f64().unwrap(),
        "{quitter}"
    );
    // No deposit: no session, no segment.
    assert_eq!(penniless["state"]["session"], Value::Null, "{penniless}");
    assert_eq!(
        penniless["playedSeconds"].as_f64(),
        Some(0.0),
        "{penniless}"
    );
    assert!(
        penniless.to_string().contains("insufficient_deposit"),
        "{penniless}"
    );

    pusher.await.unwrap();
    net.deployer.anvil_mine(Some(25), None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let (_, s) = get_json(&format!("{base}/v1/watch/status")).await;
        let t = &s["totals"];
        if t["ticketsRedeemed"] == t["ticketsReceived"]
            && t["ticketsWon"] == t["ticketsReceived"]
            && s["tips"].as_array().is_some_and(|a| !a.is_empty())
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "viewer tickets never redeemed: {s}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let rows = status["viewers"].as_array().unwrap();
    let mut redeemed = U256::ZERO;
    for (k, (who, seen)) in [(WATCHER, watcher), (QUITTER, quitter)]
        .into_iter()
        .enumerate()
    {
        let row = rows
            .iter()
            .find(|v| {
                v["funder"].as_str().unwrap().parse::<Address>().unwrap() == net.chain.address(who)
            })
            .unwrap();
        let tickets = row["ticketsAccepted"].as_u64().unwrap();
        assert!(tickets >= 1, "{row}");
        assert_eq!(
            seen["state"]["ticketsSigned"].as_u64(),
            Some(tickets),
            "{seen} {row}"
        );
        let paid = U256::from(TICKET_WEI) * U256::from(tickets);
        assert_eq!(
            deposits[k] - deposit_of(&net, net.chain.address(who)).await,
            paid,
            "{row}"
        );
        assert!(
            row["paidMs"].as_u64() <= row["consumedMs"].as_u64(),
            "never paid ahead: {row}"
        );
        redeemed += paid;
    }
    assert_eq!(
        status["totals"]["redeemedWei"],
        redeemed.to_string(),
        "{status}"
    );
    assert_eq!(
        status["tips"][0]["message"], "thanks from the page",
        "{status}"
    );
    let (tip, sub) = (
        U256::from(10u128.pow(18)),
        U256::from(3u128 * 10u128.pow(18)),
    );
    assert_eq!(
        watcher_tokens - token_balance(&net, net.chain.address(WATCHER), None).await,
        tip + sub,
        "the tip and the subscription cost exactly their amounts"
    );
    assert_eq!(
        token_balance(&net, net.broadcaster, None).await - streamer_tokens,
        redeemed + tip + sub,
        "the streamer got the redeemed tickets, the tip and the subscription"
    );

    // The streamer's page shows the same: viewers, tickets, the tip and its message, the subscriber.
    let page = crate::web::browser_check(
        &format!("{base}/"),
        &["--wait-for", "[data-field=tip-message]", "--fields"],
    )
    .await;
    let fields = crate::web::page_fields(&page);
    let node = &fields[""];
    let totals = &status["totals"];
    assert_eq!(
        node["tickets-received"],
        as_text(&totals["ticketsReceived"]),
        "{page}"
    );
    assert_eq!(
        node["tickets-redeemed"],
        as_text(&totals["ticketsRedeemed"]),
        "{page}"
    );
    assert_eq!(node["tips-count"], "1", "{page}");
    assert_eq!(node["subscribers"], "1", "{page}");
    let tx = status["tips"][0]["tx"].as_str().unwrap();
    assert_eq!(
        node[&format!("tip-message:{tx}")],
        "thanks from the page",
        "{page}"
    );
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
