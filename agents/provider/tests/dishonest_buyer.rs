//! A dishonest buyer against a real provider (anvil, the provider's loop and HTTP API, Docker):
//! every attack goes through a job posted on-chain or the provider's API, and afterwards the
//! provider still answers, its balance is what the escrow owes it, and an honest buyer's job
//! completes.
//!
//! - another buyer's archive tagged like mine cannot change the image my job runs;
//! - a job asking for a network is not taken unless the operator allows network jobs;
//! - spec and input URLs naming private or loopback addresses are never fetched, and the job
//!   view gives a reason code, not the URL or the error;
//! - a job that writes past its disk fails cleanly (its result says so) and the provider goes on;
//! - the blob store takes signed uploads only, and gives a job's spec, inputs, results and log
//!   to its buyer, not to another key (401/403 with a code).

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alloy::primitives::{U256, utils::parse_ether};
use common::{BUYER, Market, wallet};
use peerflow_chain::actions::give;
use peerflow_compute::buyer::{fetch_results, submit};
use peerflow_compute::escrow::Escrow;
use peerflow_compute::{BlobClient, BlobRef, ImageSpec, InputFile, JobSpec, Resources, Workload};
use peerflow_protocol::blobauth::{BLOB_AUTH_HEADER, RequestKey};
use peerflow_protocol::metrics::Exposition;
use peerflow_provider::agent::Executors;
use peerflow_provider::container::ContainerExecutor;
use peerflow_provider::metrics as pm;
use peerflow_provider::{JobPhase, ProviderConfig};
use peerflow_runner::{BuildContext, Engine, Runner};

/// A second buyer (an anvil account no other role uses).
const OTHER_BUYER: usize = 9;

struct Docker {
    engine: Engine,
    runner: Runner,
    busybox: String,
}

async fn docker() -> Docker {
    let engine = Engine::connect()
        .await
        .expect("a Docker engine (./script/test starts one)");
    let busybox = peerflow_runner::testimage::busybox_image(&engine)
        .await
        .unwrap();
    let runner = Runner::new(engine.clone()).with_sample_interval(Duration::from_millis(250));
    Docker {
        engine,
        runner,
        busybox,
    }
}

fn containers(d: &Docker, label: &str) -> Vec<Executors> {
    vec![Executors {
        container: Some(Arc::new(ContainerExecutor::new(d.runner.clone(), label))),
        vod: None,
    }]
}

/// Builds `FROM busybox` with `/who` holding `who`, tagged `tag`, and returns its archive.
async fn image_saying(d: &Docker, who: &str, tag: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {}\nRUN echo {who} > /who\n", d.busybox),
    )
    .unwrap();
    d.engine
        .build_image(BuildContext::Dir(dir.path().to_path_buf()), tag)
        .await
        .unwrap();
    d.engine.save_image(tag).await.unwrap()
}

/// Submits `spec` as the market's buyer, through `store`, for one replica at the tests' terms.
async fn submit_one(m: &Market, store: &str, spec: &JobSpec) -> (u64, String) {
    submit(&m.buyer, &m.blobs, store, spec, &m.terms(1, "1", 600).await)
        .await
        .unwrap()
}

fn spec(image: ImageSpec, script: &str, inputs: Vec<InputFile>, network: bool) -> JobSpec {
    JobSpec {
        version: 1,
        workload: Workload::Container {
            image,
            cmd: vec!["sh".into(), "-c".into(), script.into()],
            env: vec![],
            inputs,
            output_dir: "/out".into(),
            network,
        },
        resources: Resources {
            milli_cpus: 500,
            memory_mb: 64,
            disk_mb: 16,
            gpus: 0,
        },
        timeout_secs: 60,
        max_output_bytes: 1 << 20,
        cooperative: None,
    }
}

fn phase(m: &Market, k: usize, job: u64) -> Option<JobPhase> {
    m.providers[k].job(job).unwrap().map(|r| r.phase)
}

fn detail(m: &Market, k: usize, job: u64) -> String {
    m.providers[k].job(job).unwrap().unwrap().detail
}

async fn settle(m: &Market, jobs: &[u64]) {
    m.drive_until(Duration::from_secs(180), || async {
        jobs.iter()
            .all(|&j| phase(m, 0, j) == Some(JobPhase::Settled))
    })
    .await;
}

async fn charge_of(m: &Market, job: u64) -> U256 {
    m.buyer.results(job).await.unwrap()[0].charge
}

async fn scrape(url: &str) -> Exposition {
    let reply = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(reply.status(), 200, "the provider still answers");
    Exposition::parse(&reply.text().await.unwrap()).unwrap()
}

/// The honest buyer's job: sorts its input. Settles paid, with the right output.
async fn honest_job_completes(m: &Market, image: &ImageSpec) {
    let store = &m.urls[0];
    let words = m
        .blobs
        .upload(store, b"pear\napple\nfig\n".to_vec())
        .await
        .unwrap();
    let s = spec(
        image.clone(),
        "sort /in/words > /out/sorted",
        vec![InputFile {
            path: "/in/words".into(),
            blob: words,
        }],
        false,
    );
    let provider = m.provider_address(0);
    let before = m.balance(provider).await;
    let (job, _) = submit_one(m, store, &s).await;
    settle(m, &[job]).await;
    assert_eq!(detail(m, 0, job), "paid");
    let charge = charge_of(m, job).await;
    assert!(charge > U256::ZERO);
    assert_eq!(m.balance(provider).await, before + charge);
    let out = m.dir.path().join(format!("honest-{job}"));
    fetch_results(&m.buyer, &m.blobs, job, &out).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("sorted")).unwrap(),
        "apple\nfig\npear\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_buyers_archive_tagged_like_mine_does_not_change_what_my_job_runs() {
    let d = docker().await;
    let tag = format!("peerflow/dishonest-tag:{}", std::process::id());
    // The victim's image, then the attacker's under the same tag (the tag now names it).
    let mine = image_saying(&d, "victim", &tag).await;
    let theirs = image_saying(&d, "attacker", &tag).await;
    let m = Market::start(containers(&d, "tag")).await;
    let store = m.urls[0].clone();
    let deployer = wallet(&m.chain, 0);
    give(
        &deployer,
        &m.d,
        m.chain.address(OTHER_BUYER),
        parse_ether("100").unwrap(),
    )
    .await
    .unwrap();
    let attacker = Escrow::new(
        m.d.job_escrow,
        m.d.work_token,
        wallet(&m.chain, OTHER_BUYER),
    );
    let image = |archive: BlobRef| ImageSpec {
        archive,
        reference: tag.clone(),
    };
    let attacker_blobs =
        BlobClient::new().with_key(RequestKey::new(m.chain.secret_key(OTHER_BUYER)).unwrap());
    let my_image = image(m.blobs.upload(&store, mine).await.unwrap());
    let their_image = image(attacker_blobs.upload(&store, theirs).await.unwrap());

    // The attacker's job runs first: its archive is loaded and re-tags the shared name.
    let (theirs_job, _) = submit(
        &attacker,
        &attacker_blobs,
        &store,
        &spec(their_image, "cat /who > /out/who", vec![], false),
        &m.terms(1, "1", 600).await,
    )
    .await
    .unwrap();
    settle(&m, &[theirs_job]).await;
    let provider = m.provider_address(0);
    let before = m.balance(provider).await;
    let b0 = m.balance(m.chain.address(BUYER)).await;
    let (my_job, _) = submit_one(
        &m,
        &store,
        &spec(my_image.clone(), "cat /who > /out/who", vec![], false),
    )
    .await;
    settle(&m, &[my_job]).await;
    let out = m.dir.path().join("mine");
    fetch_results(&m.buyer, &m.blobs, my_job, &out)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("who")).unwrap().trim(),
        "victim",
        "my job ran the image of my archive, not the one the tag names now"
    );
    let charge = charge_of(&m, my_job).await;
    assert_eq!(m.balance(provider).await, before + charge);
    assert_eq!(m.balance(m.chain.address(BUYER)).await, b0 - charge);
    assert_eq!(m.balance(m.d.job_escrow).await, U256::ZERO);
    honest_job_completes(&m, &my_image).await;
}

/// The busybox image as a job image, uploaded to provider 0's store.
async fn busybox_spec_image(d: &Docker, m: &Market) -> ImageSpec {
    let archive = d.engine.save_image(&d.busybox).await.unwrap();
    ImageSpec {
        archive: m.blobs.upload(&m.urls[0], archive).await.unwrap(),
        reference: d.busybox.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_job_is_not_taken_unless_the_operator_allows_it() {
    let d = docker().await;
    let m = Market::start(containers(&d, "nonet")).await;
    let image = busybox_spec_image(&d, &m).await;
    let provider = m.provider_address(0);
    let before = m.balance(provider).await;
    let net = spec(
        image.clone(),
        "ls /sys/class/net > /out/ifaces",
        vec![],
        true,
    );
    let (job, _) = submit_one(&m, &m.urls[0], &net).await;
    m.drive_until(Duration::from_secs(60), || async {
        phase(&m, 0, job).is_some()
    })
    .await;
    assert_eq!(phase(&m, 0, job), Some(JobPhase::Skipped));
    assert_eq!(detail(&m, 0, job), "network_not_allowed");
    let metrics = scrape(&m.urls[0]).await;
    assert_eq!(
        metrics.value(pm::JOBS_SKIPPED, &[("reason", "network_not_allowed")]),
        1.0
    );
    let view: serde_json::Value = reqwest::get(format!("{}/v1/jobs/{job}", m.urls[0]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["detail"], "network_not_allowed");
    assert_eq!(m.balance(provider).await, before, "no collateral posted");
    honest_job_completes(&m, &image).await;

    // An operator who allows network jobs takes it: it joins the jobs' bridge.
    let allowing = Market::start_with(containers(&d, "net"), |_, c: &mut ProviderConfig| {
        c.allow_network_jobs = true;
    })
    .await;
    let image = busybox_spec_image(&d, &allowing).await;
    let net = spec(image, "ls /sys/class/net > /out/ifaces", vec![], true);
    let (job, _) = submit_one(&allowing, &allowing.urls[0], &net).await;
    settle(&allowing, &[job]).await;
    let out = allowing.dir.path().join("net");
    fetch_results(&allowing.buyer, &allowing.blobs, job, &out)
        .await
        .unwrap();
    let ifaces = std::fs::read_to_string(out.join("ifaces")).unwrap();
    assert!(ifaces.split_whitespace().count() >= 2, "{ifaces}");
}

/// An HTTP server counting the requests it gets (any path), answering 404.
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let app = axum::Router::new().fallback(move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            axum::http::StatusCode::NOT_FOUND
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("127.0.0.1:{port}"), hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_naming_private_addresses_are_never_fetched_and_the_view_gives_a_code() {
    let d = docker().await;
    let m = Market::start_with(containers(&d, "urls"), |_, c: &mut ProviderConfig| {
        c.allow_private_urls = false;
    })
    .await;
    let (internal, hits) = counting_server().await;
    let image = busybox_spec_image(&d, &m).await;
    let provider = m.provider_address(0);
    let before = m.balance(provider).await;

    // A spec whose URI is an internal address, by literal and by a name resolving to loopback.
    let mut jobs = Vec::new();
    for host in [internal.clone(), internal.replace("127.0.0.1", "localhost")] {
        let s = spec(image.clone(), "echo hi > /out/x", vec![], false);
        let digest = s.digest();
        let terms = m.terms(1, "1", 600).await;
        let params = peerflow_compute::escrow::JobParams {
            specHash: digest.to_b256(),
            arbiter: terms.arbiter,
            resources: peerflow_chain::bindings::job_escrow::IJobEscrow::Resources {
                milliCpus: 500,
                memoryMb: 64,
                diskMb: 16,
                gpus: 0,
            },
            mode: 0,
            price: alloy::primitives::Uint::from(terms.price.to::<u128>()),
            collateral: alloy::primitives::Uint::from(terms.collateral.to::<u128>()),
            replicas: 1,
            checkpoints: 0,
            minCompleted: 0,
            bidDeadline: 0,
            revealDeadline: 0,
            deadline: terms.deadline,
            reviewPeriod: 0,
        };
        let uri = format!("http://{host}/v1/blobs/{digest}");
        jobs.push(m.buyer.create(params, &uri).await.unwrap());
    }
    // A spec held by the provider's store whose input names an internal source.
    let input = BlobRef {
        sha256: peerflow_compute::Digest::of(b"secret"),
        size: 6,
        sources: vec![format!("http://{internal}")],
    };
    let s = spec(
        image.clone(),
        "cat /in/x > /out/x",
        vec![InputFile {
            path: "/in/x".into(),
            blob: input,
        }],
        false,
    );
    let (job, _) = submit_one(&m, &m.urls[0], &s).await;
    jobs.push(job);
    m.drive_until(Duration::from_secs(60), || async {
        jobs.iter().all(|&j| phase(&m, 0, j).is_some())
    })
    .await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing internal was fetched"
    );
    let expected = [
        "spec_url_not_public",
        "spec_unavailable",
        "input_url_not_public",
    ];
    for (&job, want) in jobs.iter().zip(expected) {
        assert_eq!(phase(&m, 0, job), Some(JobPhase::Skipped));
        let body = reqwest::get(format!("{}/v1/jobs/{job}", m.urls[0]))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let view: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(view["detail"], want, "{body}");
        assert!(
            !body.contains("127.0.0.1") && !body.contains("localhost"),
            "the view leaks the internal URL: {body}"
        );
    }
    assert_eq!(m.balance(provider).await, before);
    honest_job_completes(&m, &image).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_writing_past_its_disk_fails_cleanly_and_the_provider_goes_on() {
    let d = docker().await;
    let m = Market::start(containers(&d, "disk")).await;
    let image = busybox_spec_image(&d, &m).await;
    let provider = m.provider_address(0);
    let before = m.balance(provider).await;
    // 16 MiB of disk; it tries to write 256 MiB.
    let s = spec(
        image.clone(),
        "echo started > /out/log; head -c 256m /dev/zero > /tmp/fill",
        vec![],
        false,
    );
    let (job, _) = submit_one(&m, &m.urls[0], &s).await;
    settle(&m, &[job]).await;
    // A result, not an error: committed with the failing exit code, and the log says why.
    let out = m.dir.path().join("disk");
    let manifest = fetch_results(&m.buyer, &m.blobs, job, &out).await.unwrap();
    assert_ne!(manifest.exit_code, 0);
    let log = std::fs::read_to_string(m.providers[0].log_path(job)).unwrap();
    assert!(log.contains("(disk limit reached)"), "{log}");
    assert!(!log.contains("out of memory"), "{log}");
    let charge = charge_of(&m, job).await;
    assert_eq!(m.balance(provider).await, before + charge);
    assert_eq!(m.balance(m.d.job_escrow).await, U256::ZERO);
    // Nothing of the job is left on the host.
    let scratch = std::env::temp_dir().join("peerflow-runner");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|r| r.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().starts_with("disk-job")),
        "{left:?}"
    );
    honest_job_completes(&m, &image).await;
}

/// A GET by `client` (signed when it has a key): the status and the JSON `code`, if any.
async fn get_as(client: &BlobClient, url: &str) -> (u16, Option<String>, Vec<u8>) {
    let resp = client
        .signed(reqwest::Client::new().get(url), "GET", url)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap().to_vec();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned));
    (status, code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_and_logs_are_only_for_the_jobs_buyer_and_uploads_are_signed() {
    let d = docker().await;
    let m = Market::start(containers(&d, "auth")).await;
    let url = m.urls[0].clone();
    let image = busybox_spec_image(&d, &m).await;
    let stranger =
        BlobClient::new().with_key(RequestKey::new(m.chain.secret_key(OTHER_BUYER)).unwrap());
    let unsigned = BlobClient::new();

    // An unsigned upload is refused and stores nothing.
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/blobs"))
        .body("anonymous")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    assert!(
        !m.providers[0]
            .blobs()
            .contains(peerflow_compute::Digest::of(b"anonymous"))
    );
    let err = unsigned
        .upload(&url, b"anonymous".to_vec())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    // The buyer's job: a secret input, a result, a log.
    let secret = m
        .blobs
        .upload(&url, b"the buyer's secret\n".to_vec())
        .await
        .unwrap();
    let s = spec(
        image.clone(),
        "cat /in/secret > /out/copy; echo logged",
        vec![InputFile {
            path: "/in/secret".into(),
            blob: secret.clone(),
        }],
        false,
    );
    let provider = m.provider_address(0);
    let before = m.balance(provider).await;
    let (job, _) = submit_one(&m, &url, &s).await;
    settle(&m, &[job]).await;
    let result = m.buyer.results(job).await.unwrap()[0].clone();
    let manifest_url = format!(
        "{url}/v1/blobs/{}",
        peerflow_compute::Digest::from(result.result_hash)
    );
    let usage_url = format!(
        "{url}/v1/blobs/{}",
        peerflow_compute::Digest::from(result.usage_hash)
    );
    let spec_url = format!("{url}/v1/blobs/{}", s.digest());
    let input_url = format!("{url}/v1/blobs/{}", secret.sha256);
    let log_url = format!("{url}/v1/jobs/{job}/logs");

    for target in [&spec_url, &input_url, &manifest_url, &usage_url, &log_url] {
        let (status, code, body) = get_as(&stranger, target).await;
        assert_eq!(
            (status, code.as_deref()),
            (403, Some("forbidden")),
            "{target}"
        );
        assert!(
            !String::from_utf8_lossy(&body).contains("secret"),
            "{target}"
        );
        let (status, code, _) = get_as(&unsigned, target).await;
        assert_eq!(
            (status, code.as_deref()),
            (401, Some("unauthorized")),
            "{target}"
        );
        let (status, _, _) = get_as(&m.blobs, target).await;
        assert_eq!(status, 200, "the buyer reads {target}");
    }
    let (_, _, log) = get_as(&m.blobs, &log_url).await;
    assert!(String::from_utf8_lossy(&log).contains("[stdout] logged"));

    // A signature is good for its own path only, and only its signer's.
    let signed_for_spec = stranger.key().unwrap().authorize("GET", "/v1/blobs/00");
    let resp = reqwest::Client::new()
        .get(&input_url)
        .header(BLOB_AUTH_HEADER, signed_for_spec.to_header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let buyer_key = m.blobs.key().unwrap();
    let path = format!("/v1/blobs/{}", secret.sha256);
    let mut forged = stranger.key().unwrap().authorize("GET", &path);
    forged.signer = buyer_key.address();
    let resp = reqwest::Client::new()
        .get(&input_url)
        .header(BLOB_AUTH_HEADER, forged.to_header())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "a signature claiming the buyer's address"
    );
    let expired = buyer_key.sign("GET", &path, 1);
    let resp = reqwest::Client::new()
        .get(&input_url)
        .header(BLOB_AUTH_HEADER, expired.to_header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "an expired signature");

    // The buyer fetches its results through the normal path; the provider was paid its charge.
    let out = m.dir.path().join("auth");
    fetch_results(&m.buyer, &m.blobs, job, &out).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("copy")).unwrap(),
        "the buyer's secret\n"
    );
    assert!(
        fetch_results(&m.buyer, &stranger, job, &out).await.is_err(),
        "another key cannot fetch the results"
    );
    assert_eq!(m.balance(provider).await, before + result.charge);
    let metrics = scrape(&url).await;
    assert!(metrics.value(pm::ERRORS, &[("source", "api"), ("code", "forbidden")]) >= 5.0);
    honest_job_completes(&m, &image).await;
}
