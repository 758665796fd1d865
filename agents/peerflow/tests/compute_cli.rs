//! The compute marketplace through the binary: two `peerflow provider` processes and the local
//! dockerd, every role reaching the chain (50,000 blocks of history before the deployment) only
//! through a flaky public-provider stand-in (https with its own CA, a 500-block log cap, 429s,
//! 503s, dropped connections); a buyer runs `peerflow compute submit … -- cmd` (which follows the job until it
//! settles), then `status`, `logs` and `results`; a VOD job is submitted detached and fetched
//! later. Bad input gets a clear message and a non-zero exit.

use crate::common;

use common::{Kill, free_port, wait_http};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::utils::parse_ether;
use peerflow::roles::provider;
use peerflow_chain::actions::give;
use peerflow_chain::{DevChain, DevChainOptions, SuiteParams, deploy_suite};
use peerflow_rpc_standin::{PublicRpc, StandinConfig};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerflow"));
    cmd.env("RUST_LOG", "warn");
    cmd
}

fn run(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("peerflow binary");
    eprintln!(
        "$ peerflow {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn job_id(out: &Output) -> String {
    let text = stdout(out);
    let line = text
        .lines()
        .find(|l| l.starts_with("job ") && l.contains(" created"))
        .expect("a `job N created` line");
    line.split_whitespace().nth(1).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyer_and_providers_through_the_cli_and_a_public_provider() {
    let chain = DevChain::spawn_with(&DevChainOptions {
        genesis_block: Some(50_000),
        ..DevChainOptions::default()
    })
    .unwrap();
    let deployer = provider(&chain.endpoint(), chain.signer(0)).unwrap();
    let d = deploy_suite(&deployer, &SuiteParams::devnet(chain.address(0)))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployment = dir.path().join("deployment.json");
    d.save(&deployment).unwrap();
    let key_file = |i: usize| {
        let path = dir.path().join(format!("key{i}"));
        std::fs::write(&path, alloy::primitives::hex::encode(chain.secret_key(i))).unwrap();
        path.to_string_lossy().into_owned()
    };
    for i in [1, 2, 3] {
        give(
            &deployer,
            &d,
            chain.address(i),
            parse_ether("1000").unwrap(),
        )
        .await
        .unwrap();
    }
    let standin = PublicRpc::start(StandinConfig::flaky(chain.endpoint(), 100))
        .await
        .unwrap();
    let (rpc, ca) = (standin.url(), standin.ca_file().display().to_string());
    let deployment = deployment.to_string_lossy().into_owned();
    let mut urls = Vec::new();
    let mut providers = Vec::new();
    for i in [2, 3] {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let data = dir.path().join(format!("provider{i}"));
        providers.push(Kill(
            bin()
                .args(["provider", "--rpc-url", rpc, "--rpc-ca-cert", &ca])
                .args(["--deployment", &deployment])
                .args([
                    "--key-file",
                    &key_file(i),
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                ])
                .args(["--data-dir", data.to_str().unwrap(), "--poll-secs", "0.2"])
                .args(["--rates", "1e15,1e10,1e13", "--cpus", "2", "--memory", "1G"])
                // The buyer's store is the other provider, on 127.0.0.1.
                .args(["--allow-private-urls", "true"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        ));
        wait_http(&format!("{url}/v1/rates")).await;
        urls.push(url);
    }
    let buyer_key = key_file(1);
    let node = [
        "--rpc-url",
        rpc,
        "--rpc-ca-cert",
        ca.as_str(),
        "--deployment",
        deployment.as_str(),
        "--key-file",
        buyer_key.as_str(),
    ];

    // The image the buyer ships, and an input file.
    let engine = peerflow_runner::Engine::connect().await.unwrap();
    let image = peerflow_runner::testimage::busybox_image(&engine)
        .await
        .unwrap();
    let archive = dir.path().join("image.tar");
    std::fs::write(&archive, engine.save_image(&image).await.unwrap()).unwrap();
    let words = dir.path().join("words");
    std::fs::write(&words, "pear\napple\nfig\n").unwrap();
    let input = format!("/in/words={}", words.display());

    let submit = run(&[
        &["compute", "submit"][..],
        &node,
        &["--store", &urls[0], "--replicas", "2", "--max-price", "1"],
        &["--collateral", "2", "--deadline", "10m", "--timeout", "2m"],
        &["--cpus", "0.5", "--memory", "64M"],
        &[
            "--image-archive",
            archive.to_str().unwrap(),
            "--image",
            &image,
        ],
        &["--input", &input],
        &[
            "--",
            "sh",
            "-c",
            "sort /in/words > /out/sorted; echo sorted",
        ],
    ]
    .concat());
    assert!(submit.status.success());
    let text = stdout(&submit);
    assert!(text.contains("job 1: finalized"), "{text}");
    assert_eq!(text.matches(": paid —").count(), 2, "{text}");
    assert!(text.contains("(majority)"), "{text}");

    let status = run(&[&["compute", "status"][..], &node, &["1"]].concat());
    assert!(stdout(&status).contains("2 of 2 slots taken"));
    // Commit–reveal: both results were committed sealed, then revealed.
    assert!(
        stdout(&status).contains("2 results sealed, 2 revealed"),
        "{}",
        stdout(&status)
    );
    let logs = run(&[&["compute", "logs"][..], &node, &["1"]].concat());
    assert_eq!(stdout(&logs).matches("[stdout] sorted").count(), 2);
    let usage = run(&[&["compute", "usage"][..], &node, &["1"]].concat());
    assert_eq!(stdout(&usage).matches("  usage: ").count(), 2);
    assert!(!stdout(&usage).contains("WARNING"));
    // These providers have no GPU, and say so.
    let gpu = run(&[
        "compute",
        "gpu-check",
        &urls[0],
        "--n",
        "4096",
        "--rounds",
        "4",
    ]);
    if !peerflow_gpu::detect().found() {
        assert!(!gpu.status.success());
        assert!(String::from_utf8_lossy(&gpu.stderr).contains("no GPU"));
    }
    let out = dir.path().join("results");
    let results = run(&[
        &["compute", "results"][..],
        &node,
        &["1", "--out", out.to_str().unwrap()],
    ]
    .concat());
    assert!(results.status.success());
    assert_eq!(
        std::fs::read_to_string(out.join("sorted")).unwrap(),
        "apple\nfig\npear\n"
    );

    // Bad input: a clear message and a non-zero exit; nothing escrowed.
    let bad = run(&[
        &["compute", "submit"][..],
        &node,
        &["--store", &urls[0], "--max-price", "1", "--cpus", "0"],
        &[
            "--image-archive",
            archive.to_str().unwrap(),
            "--image",
            &image,
        ],
        &["--", "true"],
    ]
    .concat());
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--cpus"));
    let tight = run(&[
        &["compute", "submit"][..],
        &node,
        &[
            "--store",
            &urls[0],
            "--max-price",
            "1",
            "--deadline",
            "1m",
            "--timeout",
            "2m",
        ],
        &[
            "--image-archive",
            archive.to_str().unwrap(),
            "--image",
            &image,
        ],
        &["--", "true"],
    ]
    .concat());
    assert!(!tight.status.success());
    assert!(String::from_utf8_lossy(&tight.stderr).contains("must be longer than --timeout"));
    // Collateral below a tenth of the price would let sybils squat slots for free: refused.
    let cheap = run(&[
        &["compute", "submit"][..],
        &node,
        &["--store", &urls[0], "--max-price", "1", "--collateral", "0"],
        &[
            "--image-archive",
            archive.to_str().unwrap(),
            "--image",
            &image,
        ],
        &["--", "true"],
    ]
    .concat());
    assert!(!cheap.status.success());
    assert!(String::from_utf8_lossy(&cheap.stderr).contains("at least a tenth of --max-price"));
    let missing = run(&[&["compute", "status"][..], &node, &["99"]].concat());
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));

    // VOD: upload, fund two replicas, disconnect; fetch the package once it settled.
    let segs =
        peerflow_media::testsrc::generate_segments(&dir.path().join("v"), 1, 2, 320, 180, 15)
            .unwrap();
    let vod = run(&[
        &["vod", "submit", segs[0].to_str().unwrap()][..],
        &node,
        &[
            "--store",
            &urls[1],
            "--replicas",
            "2",
            "--max-price",
            "1",
            "--detach",
        ],
        &[
            "--ladder",
            "144p:256x144:100k",
            "--segment-secs",
            "1",
            "--timeout",
            "5m",
        ],
    ]
    .concat());
    assert!(vod.status.success());
    let job = job_id(&vod);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let s = run(&[&["vod", "status"][..], &node, &[job.as_str()]].concat());
        if stdout(&s).contains(": finalized") {
            break;
        }
        assert!(Instant::now() < deadline, "VOD job did not settle");
        std::thread::sleep(Duration::from_secs(1));
    }
    let pkg = dir.path().join("pkg");
    let fetch = run(&[
        &["vod", "fetch"][..],
        &node,
        &[job.as_str(), "--out", pkg.to_str().unwrap()],
    ]
    .concat());
    assert!(fetch.status.success());
    assert!(Path::new(&pkg.join("master.m3u8")).is_file());
    let info = peerflow_media::probe(&pkg.join("144p/index.m3u8")).unwrap();
    assert_eq!((info.width, info.height), (256, 144));
    drop(providers);

    // Everything went through the stand-in's faults, and no scan reached into the history.
    let stats = standin.stats();
    let deployed = d.deployment_block.unwrap();
    assert!(deployed >= 50_000, "{deployed}");
    assert!(stats.forwarded.contains_key("eth_getLogs"), "{stats:?}");
    assert!(stats.lowest_log_block >= deployed, "{stats:?}");
    assert!(stats.unavailable + stats.dropped > 0, "{stats:?}");
    eprintln!("through the stand-in: {stats:?}");
}
