//! `peerflow watch URL --key-file …`: watches a stream, paying for it as it plays when it is paid,
//! into a file (`--out`, `-` for stdout) or ffplay (`--ffplay`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use peerflow_paywall::viewer::{Limits, Viewer, parse_watch_url, watch};

use crate::keys::KeyArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// The stream: http://HOST/live/STREAM/index.m3u8 or http://HOST/watch/STREAM.
    pub url: String,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Write the stream (MPEG-TS) here; `-` is standard output.
    #[arg(long, conflicts_with = "ffplay")]
    pub out: Option<PathBuf>,
    /// Play it in ffplay (reading from a pipe).
    #[arg(long)]
    pub ffplay: bool,
    /// The rendition to watch (default: the highest bandwidth).
    #[arg(long)]
    pub rendition: Option<String>,
    /// Stop after this many seconds of video (default: until the stream ends).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Refuse a stream that costs more than this per minute, in tokens ("0.5", "1000 wei").
    #[arg(long, default_value = "1")]
    pub max_price_per_minute: String,
    /// The most the hot key may spend (face value of winning tickets) before a new grant is
    /// signed, in tokens (default: what the broadcaster suggests, 25 winning tickets).
    #[arg(long)]
    pub max_spend: Option<String>,
}

pub async fn run(a: &WatchArgs) -> Result<()> {
    let (base, stream) = parse_watch_url(&a.url)?;
    let limits = Limits {
        max_price_per_minute: Some(
            peerflow_chain::amount::parse_amount(&a.max_price_per_minute, "tokens")
                .context("--max-price-per-minute")?,
        ),
        max_spend: a
            .max_spend
            .as_deref()
            .map(|t| peerflow_chain::amount::parse_amount(t, "tokens"))
            .transpose()
            .context("--max-spend")?,
    };
    let duration = a.duration.map(Duration::from_secs_f64);
    if a.out.is_none() && !a.ffplay {
        bail!("give --out FILE (or - for standard output) or --ffplay");
    }
    let key = a.keys.signer()?;
    let mut viewer = Viewer::connect(&base, &stream, key.to_bytes().0, limits).await?;
    let offer = viewer.offer();
    if offer.paid {
        eprintln!(
            "watching {stream} at {} per minute as {} (hot key {}); a ticket pays {} ms, credit {} ms",
            peerflow_chain::amount::format_amount(offer.price_per_minute, "FLOW"),
            viewer.funder(),
            viewer.signer(),
            offer.ms_per_ticket,
            offer.credit_ms
        );
    } else {
        eprintln!("watching {stream}: free");
    }
    let report = match (&a.out, a.ffplay) {
        (Some(path), _) if path.as_os_str() == "-" => {
            let mut out = tokio::io::stdout();
            watch(&mut viewer, &mut out, a.rendition.as_deref(), duration).await?
        }
        (Some(path), _) => {
            let mut out = tokio::fs::File::create(path)
                .await
                .with_context(|| format!("creating {}", path.display()))?;
            watch(&mut viewer, &mut out, a.rendition.as_deref(), duration).await?
        }
        (None, _) => {
            let mut child = tokio::process::Command::new("ffplay")
                .args(["-loglevel", "error", "-autoexit", "-i", "pipe:0"])
                .stdin(Stdio::piped())
                .spawn()
                .context("starting ffplay (is it installed?)")?;
            let mut stdin = child.stdin.take().context("ffplay's stdin")?;
            let report = watch(&mut viewer, &mut stdin, a.rendition.as_deref(), duration).await?;
            drop(stdin);
            child.wait().await?;
            report
        }
    };
    eprintln!(
        "watched {:.1} s ({} segments, {} bytes); paid {} tickets",
        report.seconds, report.segments, report.bytes, report.tickets_paid
    );
    Ok(())
}
