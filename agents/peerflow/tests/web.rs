//! The broadcaster's web page in a real browser: a devnet, a live stream pushed in real time, and
//! the page opened in headless Chromium (Debian's, driven by playwright-core through
//! `script/browser-check.mjs`). The player's clock must advance on the live stream, and every
//! number on the page must match the status JSON, the broadcaster's Prometheus metrics, the
//! orchestrator's own ticket store and the chain (TicketBroker's deposit, reserve and redeemed
//! winners, read at the block the page shows). Then the orchestrator's page: tickets received,
//! won and redeemed, segments, transcoders, and its earnings against Staking and TicketBroker
//! read at the block that page shows.
//!
//! Needs `/usr/bin/chromium` and `node_modules` (playwright-core): `script/test` installs both
//! (`source script/lib.sh; ensure_node_toolchain; ensure_browser`); without them the test fails
//! saying so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::eips::BlockId;
use alloy::primitives::U256;
use alloy::providers::ext::AnvilApi;
use peerflow::devnet::{Devnet, DevnetOptions, start};
use peerflow_chain::bindings::ticket_broker::TicketBroker;
use peerflow_media::testsrc;
use peerflow_orchestrator::WinningTicketStatus;
use serde_json::Value;

const STREAM: &str = "web";
/// Segments pushed, two seconds each, one every two seconds.
const SEGMENTS: usize = 12;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fails (never skips) when the browser or the harness's packages are missing.
pub(crate) fn require_browser() {
    let root = repo_root();
    let missing: Vec<&str> = [
        (
            Path::new("/usr/bin/chromium").is_file(),
            "/usr/bin/chromium",
        ),
        (
            root.join("node_modules/playwright-core/package.json")
                .is_file(),
            "node_modules/playwright-core",
        ),
        (
            std::process::Command::new("node")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "node",
        ),
    ]
    .into_iter()
    .filter(|(present, _)| !present)
    .map(|(_, what)| what)
    .collect();
    assert!(
        missing.is_empty(),
        "the web page test needs {}: run `source script/lib.sh; ensure_node_toolchain; ensure_browser` \
         (script/test does)",
        missing.join(", ")
    );
}

/// Runs the browser harness on `url` with `args`; its JSON report.
pub(crate) async fn browser_check(url: &str, args: &[&str]) -> Value {
    let root = repo_root();
    let mut command = std::process::Command::new("node");
    command
        .arg(root.join("script/browser-check.mjs"))
        .arg(url)
        .args(args)
        .current_dir(&root);
    // The harness ends Chromium itself and has its own time limits.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser-check {url} {args:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("the harness prints JSON");
    assert_eq!(
        report["pageErrors"],
        serde_json::json!([]),
        "the page threw: {report}"
    );
    report
}

/// The page's `data-field` values: node-wide ones under `""`, per stream under its id; each
/// field's `data-value` (exact) by name.
pub(crate) fn page_fields(report: &Value) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    for f in report["fields"].as_array().expect("fields collected") {
        let data = &f["data"];
        let scope = data["stream"].as_str().unwrap_or_default().to_string();
        // Per-rendition, per-fault, per-viewer, per-tip and per-subscriber entries are keyed by
        // their name too.
        let mut name = f["field"].as_str().unwrap().to_string();
        for key in ["rendition", "fault", "viewer", "tip", "subscriber"] {
            if let Some(v) = data[key].as_str() {
                name = format!("{name}:{v}");
            }
        }
        let value = f["value"].as_str().unwrap().to_string();
        let previous = out.entry(scope).or_default().insert(name.clone(), value);
        assert!(previous.is_none(), "{name} shown twice in one scope");
    }
    out
}

async fn get_json(url: &str) -> (u16, Value) {
    let reply = reqwest::get(url).await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

/// `name{labels} value` lines of the Prometheus text format, by series.
async fn metrics(net: &Devnet) -> HashMap<String, f64> {
    let text = reqwest::get(format!("{}/metrics", net.broadcaster_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

/// A JSON number or a decimal string as the page writes it into `data-value`.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// In the page: plays each rendition's media playlist (`NAMES`, a JSON array) alone with hls.js,
/// and reports, per rendition, the clock 2 s apart once playing, fatal player errors and the
/// tracks hls.js handed to Media Source Extensions (codec and container).
const RENDITION_PLAYBACK: &str = r#"(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const out = [];
  for (const name of NAMES) {
    const video = Object.assign(document.createElement('video'), { muted: true, autoplay: true });
    document.body.append(video);
    const hls = new Hls();
    const errors = [];
    let tracks = null;
    hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) errors.push(d.details); });
    hls.on(Hls.Events.BUFFER_CODECS, (_, d) => {
      tracks = Object.fromEntries(Object.entries(d).filter(([k]) => k === 'audio' || k === 'video' || k === 'audiovideo')
        .map(([k, t]) => [k, { codec: t.codec, container: t.container }]));
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch((e) => errors.push(String(e))));
    hls.loadSource(`/live/web/${name}.m3u8`);
    hls.attachMedia(video);
    const deadline = performance.now() + 20000;
    while (!(video.currentTime > 0 && !video.paused && video.readyState >= 2) && !errors.length && performance.now() < deadline) await sleep(100);
    const t0 = video.currentTime;
    await sleep(2000);
    const buffered = [...Array(video.buffered.length).keys()].map((i) => [video.buffered.start(i), video.buffered.end(i)]);
    out.push({ name, currentTime: [t0, video.currentTime], errors, tracks,
      paused: video.paused, readyState: video.readyState, buffered, error: video.error && video.error.message });
    hls.destroy();
    video.remove();
  }
  return out;
})()"#;

/// Pushes the segments at the pace they play: segment n at n × 2 s.
fn push_live(net: &Devnet, segments: Vec<PathBuf>) -> tokio::task::JoinHandle<()> {
    let (url, started) = (net.broadcaster_url.clone(), Instant::now());
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        for (seq, path) in segments.iter().enumerate() {
            tokio::time::sleep_until((started + Duration::from_secs(2 * seq as u64)).into()).await;
            let reply = http
                .put(format!("{url}/live/{STREAM}/{seq}.ts"))
                .body(std::fs::read(path).unwrap())
                .send()
                .await
                .unwrap();
            let status = reply.status();
            assert_eq!(
                status,
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

/// Lets the ticket parameters expire, then waits until the orchestrators redeemed every winner.
async fn redeem_all(net: &Devnet) -> usize {
    net.deployer.anvil_mine(Some(20), None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (mut pending, mut redeemed) = (0, 0);
        for (_, o) in &net.orchestrators {
            let store = o.node.store();
            pending += store
                .winning_tickets(WinningTicketStatus::Pending)
                .unwrap()
                .len();
            redeemed += store
                .winning_tickets(WinningTicketStatus::Redeemed)
                .unwrap()
                .len();
        }
        if pending == 0 {
            return redeemed;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} winners never redeemed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pages_play_the_live_stream_and_show_what_the_chain_says() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let mut options = DevnetOptions::new(dir.path());
    options.orchestrators = 1;
    options.providers = 0;
    options.jurors = false;
    // Every ticket wins, so after redemption the chain's count equals the tickets sent.
    options.win_probability = 1.0;
    let net = start(&options).await.unwrap();
    let base = net.broadcaster_url.clone();
    let broker = TicketBroker::new(net.deployment.ticket_broker, &net.deployer);
    let deposit_before = broker
        .getSenderInfo(net.broadcaster)
        .call()
        .await
        .unwrap()
        .deposit;

    // Bad input gets JSON errors with machine-readable codes.
    for (path, status, code) in [
        ("/v1/streams/not%20a%20name", 400, "bad_request"),
        ("/v1/streams/nosuch", 404, "unknown_stream"),
        ("/ui/nosuch.js", 404, "not_found"),
    ] {
        let (got, body) = get_json(&format!("{base}{path}")).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }

    let segments =
        testsrc::generate_segments(&dir.path().join("src"), SEGMENTS, 2, 640, 360, 30).unwrap();
    let pusher = push_live(&net, segments);
    wait_for_published(&net, 3).await;

    // While the stream is live: the page's player plays it, its clock advancing in real time;
    // and each rendition of the ladder alone plays in Chromium too (what its MSE was fed).
    let names: Vec<&str> = net.ladder.iter().map(|p| p.name.as_str()).collect();
    let each_rendition =
        RENDITION_PLAYBACK.replace("NAMES", &serde_json::to_string(&names).unwrap());
    let started = Instant::now();
    let live = browser_check(
        &format!("{base}/"),
        &[
            "--wait-for",
            "video[data-stream]",
            "--videos",
            "4000",
            "--play-timeout",
            "30000",
            "--eval",
            &each_rendition,
        ],
    )
    .await;
    for played in live["eval"][0]
        .as_array()
        .expect("rendition playback results")
    {
        let (t0, t1) = (
            played["currentTime"][0].as_f64().unwrap_or(0.0),
            played["currentTime"][1].as_f64().unwrap_or(0.0),
        );
        assert!(
            played["errors"] == serde_json::json!([]) && t1 - t0 >= 1.0,
            "rendition {} does not play in Chromium: {played}",
            played["name"]
        );
        eprintln!(
            "rendition {} plays in Chromium: MSE got {}",
            played["name"], played["tracks"]
        );
    }
    eprintln!("live check took {:.1} s", started.elapsed().as_secs_f64());
    let videos = live["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 1, "one player per stream: {live}");
    let video = &videos[0];
    assert_eq!(video["data"]["stream"], STREAM);
    assert_eq!(video["error"], Value::Null, "{video}");
    let (t0, t1) = (
        video["currentTime"][0].as_f64().unwrap(),
        video["currentTime"][1].as_f64().unwrap(),
    );
    assert!(
        t1 - t0 >= 2.0,
        "the player's currentTime advanced {t0} → {t1} in 4 s of a live stream: {live}"
    );

    // Once every segment is in and every winner redeemed, the numbers stand still: the page's
    // must be the JSON's, the metrics', the orchestrator's and the chain's.
    pusher.await.unwrap();
    let redeemed = redeem_all(&net).await;
    let report = browser_check(
        &format!("{base}/"),
        &["--wait-for", "body[data-ready]", "--fields"],
    )
    .await;
    let page = page_fields(&report);
    let (status_code, status) = get_json(&format!("{base}/v1/status")).await;
    assert_eq!(status_code, 200);
    let node = &page[""];
    let shown = |scope: &HashMap<String, String>, field: &str| -> String {
        scope
            .get(field)
            .unwrap_or_else(|| panic!("no data-field {field} on the page: {scope:?}"))
            .clone()
    };

    // The broadcaster and its totals.
    let b = &status["broadcaster"];
    assert_eq!(shown(node, "address"), as_text(&b["address"]));
    assert_eq!(shown(node, "chain-id"), as_text(&b["chainId"]));
    assert_eq!(shown(node, "ticket-broker"), as_text(&b["ticketBroker"]));
    let totals = &status["totals"];
    for (field, key) in [
        ("segments-in", "segmentsIn"),
        ("segments-out", "segmentsOut"),
        ("tickets-sent", "ticketsSent"),
        ("renditions-checked", "renditionsChecked"),
        ("renditions-sampled", "renditionsSampled"),
        ("faults", "faults"),
    ] {
        assert_eq!(shown(node, field), as_text(&totals[key]), "{field}");
    }
    assert_eq!(
        shown(node, "face-value-sent"),
        as_text(&totals["faceValueSent"]["wei"])
    );
    assert_eq!(
        shown(node, "expected-value"),
        as_text(&totals["expectedValue"]["wei"])
    );
    assert_eq!(shown(node, "stream-count"), "1");

    // The stream.
    let s = &status["streams"][0];
    assert_eq!(s["id"], STREAM);
    let card = &page[STREAM];
    assert_eq!(shown(card, "stream-id"), STREAM);
    assert_eq!(shown(card, "state"), "live");
    for (field, json) in [
        ("segments-in", &s["segmentsIn"]),
        ("segments-out", &s["segmentsOut"]),
        ("latest-seq", &s["latestSeq"]),
        ("orchestrator", &s["orchestrator"]["address"]),
        ("orchestrator-url", &s["orchestrator"]["url"]),
        ("orchestrator-seq", &s["orchestrator"]["seq"]),
        ("latency-count", &s["latencyMs"]["count"]),
        (
            "renditions-checked",
            &s["verification"]["renditionsChecked"],
        ),
        (
            "renditions-sampled",
            &s["verification"]["renditionsSampled"],
        ),
        ("tickets-sent", &s["money"]["ticketsSent"]),
        ("face-value-sent", &s["money"]["faceValueSent"]["wei"]),
        ("expected-value", &s["money"]["expectedValue"]["wei"]),
    ] {
        assert_eq!(shown(card, field), as_text(json), "{field} of {STREAM}");
    }
    for (field, key) in [("latency-last-ms", "last"), ("latency-mean-ms", "mean")] {
        let on_page: f64 = shown(card, field).parse().unwrap();
        let json = s["latencyMs"][key].as_f64().unwrap();
        // serde_json's default float parser may be one ulp off; the values are the same.
        assert!(
            (on_page - json).abs() <= 1e-9 * json.abs(),
            "{field}: {on_page} vs {json}"
        );
    }
    assert_eq!(shown(card, "faults"), "0");
    for r in s["renditions"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        assert_eq!(
            shown(card, &format!("rendition-segments:{name}")),
            as_text(&r["segmentsOut"])
        );
        assert_eq!(
            r["segmentsOut"], SEGMENTS as u64,
            "every segment of {name} published"
        );
    }
    let ladder: Vec<&str> = net.ladder.iter().map(|p| p.name.as_str()).collect();
    let renditions: Vec<&str> = s["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(renditions, ladder);

    // The JSON against what the network and the orchestrator counted.
    let (o, running) = &net.orchestrators[0];
    assert_eq!(
        s["orchestrator"]["address"]
            .as_str()
            .unwrap()
            .parse::<alloy::primitives::Address>()
            .unwrap(),
        *o
    );
    assert_eq!(s["orchestrator"]["url"], running.url.trim_end_matches('/'));
    assert_eq!(s["orchestrator"]["seq"], SEGMENTS as u64 - 1);
    assert_eq!(s["segmentsIn"], SEGMENTS as u64);
    assert_eq!(s["segmentsOut"], SEGMENTS as u64);
    let tickets = s["money"]["ticketsSent"].as_u64().unwrap();
    let accepted = running.node.store().next_nonce(net.broadcaster).unwrap();
    assert_eq!(
        tickets, accepted,
        "tickets sent = tickets the orchestrator accepted"
    );
    let m = metrics(&net).await;
    assert_eq!(m["peerflow_broadcaster_tickets_total"], tickets as f64);
    assert_eq!(
        m[r#"peerflow_broadcaster_segments_total{outcome="published"}"#],
        SEGMENTS as f64
    );
    let checked: f64 = ["true", "false"]
        .iter()
        .map(|x| {
            m.get(&format!(
                r#"peerflow_broadcaster_renditions_checked_total{{sampled="{x}"}}"#
            ))
            .copied()
            .unwrap_or(0.0)
        })
        .sum();
    assert_eq!(
        s["verification"]["renditionsChecked"].as_f64(),
        Some(checked)
    );
    assert_eq!(checked, (SEGMENTS * ladder.len()) as f64);
    let sampled = m
        .get(r#"peerflow_broadcaster_renditions_checked_total{sampled="true"}"#)
        .copied()
        .unwrap_or(0.0);
    assert_eq!(
        s["verification"]["renditionsSampled"].as_f64(),
        Some(sampled)
    );
    let mean_ms = m["peerflow_broadcaster_segment_seconds_sum"]
        / m["peerflow_broadcaster_segment_seconds_count"]
        * 1e3;
    let json_mean = s["latencyMs"]["mean"].as_f64().unwrap();
    assert!(
        (json_mean - mean_ms).abs() < 1e-6,
        "mean latency {json_mean} ms vs the histogram's {mean_ms} ms"
    );
    let face = running.node.config.policy.face_value;
    assert_eq!(
        s["money"]["faceValueSent"]["wei"].as_str().unwrap(),
        (face * U256::from(tickets)).to_string()
    );
    // winProb = 1: a ticket's expected value is its face value.
    assert_eq!(s["money"]["expectedValue"], s["money"]["faceValueSent"]);

    // The chain, read at the block the page shows.
    let block: u64 = shown(node, "block").parse().unwrap();
    let info = broker
        .getSenderInfo(net.broadcaster)
        .block(BlockId::number(block))
        .call()
        .await
        .unwrap();
    assert_eq!(shown(node, "deposit"), info.deposit.to_string());
    assert_eq!(shown(node, "reserve"), info.reserve.to_string());
    let won = broker
        .WinningTicketRedeemed_filter()
        .topic1(net.broadcaster)
        .from_block(0)
        .to_block(block)
        .query()
        .await
        .unwrap();
    let paid: U256 = won.iter().map(|(e, _)| e.faceValue).sum();
    assert_eq!(shown(node, "tickets-won"), won.len().to_string());
    assert_eq!(shown(node, "paid"), paid.to_string());
    assert_eq!(
        won.len(),
        redeemed,
        "every winner the orchestrator redeemed is on-chain"
    );
    assert_eq!(
        won.len() as u64,
        tickets,
        "winProb = 1: every ticket sent won"
    );
    assert_eq!(
        deposit_before - info.deposit,
        paid,
        "the deposit went down by exactly the winners' face value"
    );
    // And the human form beside the exact one.
    let human = report["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "deposit")
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        human,
        format!(
            "{} tokens",
            status["chain"]["deposit"]["human"].as_str().unwrap()
        ),
        "the deposit as tokens"
    );

    // The orchestrator's page, in the same browser: its ticket counts are what the broadcaster
    // sent and the ticket store redeemed, its earnings what Staking and TicketBroker say at the
    // block the page shows.
    let o_report = browser_check(
        &format!("{}/", running.url.trim_end_matches('/')),
        &["--wait-for", "body[data-loaded=\"true\"]", "--fields"],
    )
    .await;
    let o_page: HashMap<String, (String, Option<String>)> = o_report["fields"]
        .as_array()
        .expect("fields collected")
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                (
                    f["value"].as_str().unwrap().trim().to_string(),
                    f["data"]["wei"].as_str().map(str::to_string),
                ),
            )
        })
        .collect();
    let o_text = |field: &str| -> String {
        o_page
            .get(field)
            .unwrap_or_else(|| panic!("no data-field {field} on the orchestrator page: {o_page:?}"))
            .0
            .clone()
    };
    let o_wei = |field: &str| -> U256 {
        o_page
            .get(field)
            .and_then(|(_, w)| w.clone())
            .unwrap_or_else(|| panic!("no data-wei on {field}: {o_page:?}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        o_text("orchestrator").to_lowercase(),
        o.to_string().to_lowercase()
    );
    assert_eq!(o_text("tickets.received"), tickets.to_string());
    assert_eq!(o_text("tickets.won"), tickets.to_string(), "winProb = 1");
    assert_eq!(o_text("tickets.redeemed"), redeemed.to_string());
    assert_eq!(o_text("pending.count"), "0");
    assert_eq!(o_text("segments.transcoded"), SEGMENTS.to_string());
    assert_eq!(o_text("transcoders.connected"), "1", "its local transcoder");
    let at: u64 = o_text("earnings.block").parse().unwrap();
    let staking =
        peerflow_chain::bindings::staking::Staking::new(net.deployment.staking, &net.deployer);
    let block = BlockId::number(at);
    assert_eq!(
        o_wei("earnings.bondedStake"),
        staking.pendingStake(*o).block(block).call().await.unwrap()
    );
    assert_eq!(
        o_wei("earnings.poolStake"),
        staking
            .orchestratorInfo(*o)
            .block(block)
            .call()
            .await
            .unwrap()
            .stake
    );
    assert_eq!(
        o_wei("earnings.pendingFees"),
        staking.pendingFees(*o).block(block).call().await.unwrap()
    );
    let credited = broker
        .WinningTicketRedeemed_filter()
        .topic2(*o)
        .from_block(0)
        .to_block(at)
        .query()
        .await
        .unwrap();
    assert_eq!(
        o_text("earnings.redeemed.count"),
        credited.len().to_string()
    );
    assert_eq!(
        o_wei("earnings.redeemed.faceValue"),
        credited.iter().map(|(e, _)| e.faceValue).sum::<U256>()
    );
    assert!(
        !o_wei("earnings.pendingFees").is_zero(),
        "the fees are the redeemed tickets'"
    );
}
