//! `peerflow support tip|subscribe|price|status`: tips and monthly subscriptions to a streamer
//! (the StreamSupport contract), paid in the work token straight to the streamer.

use alloy::primitives::{Address, U256};
use anyhow::{Context, Result, bail};
use peerflow_chain::bindings::stream_support::StreamSupport;

use super::{ChainOpts, Session, Step, Token, json_amount};

/// `peerflow support …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SupportCommand {
    /// Tip a streamer, with a message it sees on its page.
    Tip {
        /// The streamer: its address, or a stream URL of its broadcaster (http://HOST/watch/STREAM).
        streamer: String,
        /// Amount (e.g. `2` or `2 FLOW`).
        amount: String,
        /// Shown to the streamer (at most 280 bytes).
        #[arg(long, default_value = "")]
        message: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Subscribe to a streamer: its paid streams play without tickets for each period (30 days).
    Subscribe {
        streamer: String,
        #[arg(long, default_value_t = 1)]
        periods: u64,
        /// The most you pay per period (default: the current price, so a raise in between fails).
        #[arg(long)]
        max_price: Option<String>,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Set your own subscription price per period (0 closes subscriptions).
    Price {
        amount: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// A streamer's subscription price, and your subscription to it.
    Status {
        streamer: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        chain: ChainOpts,
    },
}

pub async fn run(c: &SupportCommand) -> Result<()> {
    match c {
        SupportCommand::Tip {
            streamer,
            amount,
            message,
            chain,
        } => {
            let s = Session::for_sending(chain).await?;
            let (support, token) = contract(&s).await?;
            let streamer = resolve(streamer).await?;
            let amount = token.parse(amount, "amount")?;
            if message.len() > 280 {
                bail!("the message is {} bytes; at most 280", message.len());
            }
            let mut steps: Vec<Step> = s
                .approval(&token, ("StreamSupport", support), amount)
                .await?
                .into_iter()
                .collect();
            steps.push(Step::new(
                "StreamSupport",
                support,
                StreamSupport::tipCall {
                    streamer,
                    amount,
                    message: message.clone(),
                },
                format!("tip({streamer}, {}, {message:?})", token.format(amount)),
                vec![
                    streamer.to_string(),
                    amount.to_string(),
                    format!("{message:?}"),
                ],
            ));
            s.run(steps).await?;
            if !s.is_dry_run() {
                println!("tipped {streamer} {}", token.format(amount));
            }
            Ok(())
        }
        SupportCommand::Subscribe {
            streamer,
            periods,
            max_price,
            chain,
        } => {
            let s = Session::for_sending(chain).await?;
            let (support, token) = contract(&s).await?;
            let streamer = resolve(streamer).await?;
            let price = StreamSupport::new(support, &s.chain)
                .subscriptionPrice(streamer)
                .call()
                .await?;
            if price.is_zero() {
                bail!("{streamer} takes no subscriptions (its price is 0)");
            }
            let max = match max_price {
                Some(m) => token.parse(m, "--max-price")?,
                None => price,
            };
            let cost = max
                .checked_mul(U256::from(*periods))
                .context("price × periods overflows")?;
            let mut steps: Vec<Step> = s
                .approval(&token, ("StreamSupport", support), cost)
                .await?
                .into_iter()
                .collect();
            steps.push(Step::new(
                "StreamSupport",
                support,
                StreamSupport::subscribeCall {
                    streamer,
                    periods: U256::from(*periods),
                    maxPricePerPeriod: max,
                },
                format!(
                    "subscribe({streamer}, {periods} periods, at most {} each)",
                    token.format(max)
                ),
                vec![streamer.to_string(), periods.to_string(), max.to_string()],
            ));
            s.run(steps).await?;
            if !s.is_dry_run() {
                let until = StreamSupport::new(support, &s.chain)
                    .subscribedUntil(streamer, s.me)
                    .call()
                    .await?;
                println!("subscribed to {streamer} until unix time {until}");
            }
            Ok(())
        }
        SupportCommand::Price { amount, chain } => {
            let s = Session::for_sending(chain).await?;
            let (support, token) = contract(&s).await?;
            let price = token.parse(amount, "amount")?;
            s.run(vec![Step::new(
                "StreamSupport",
                support,
                StreamSupport::setSubscriptionPriceCall {
                    pricePerPeriod: price,
                },
                format!("setSubscriptionPrice({})", token.format(price)),
                vec![price.to_string()],
            )])
            .await?;
            Ok(())
        }
        SupportCommand::Status {
            streamer,
            json,
            chain,
        } => {
            let s = Session::for_reading(chain).await?;
            let (support, token) = contract(&s).await?;
            let streamer = resolve(streamer).await?;
            let c = StreamSupport::new(support, &s.chain);
            let price = c.subscriptionPrice(streamer).call().await?;
            let until = c.subscribedUntil(streamer, s.me).call().await?;
            let active = c.isSubscribed(streamer, s.me).call().await?;
            if *json {
                println!(
                    "{}",
                    serde_json::json!({
                        "streamer": streamer,
                        "subscriptionPrice": json_amount(price, &token.symbol),
                        "account": s.me,
                        "subscribedUntil": until.to_string(),
                        "subscribed": active,
                    })
                );
            } else {
                println!(
                    "streamer {streamer}: subscription {} per 30 days",
                    token.format(price)
                );
                println!(
                    "{}: {}",
                    s.me,
                    if active {
                        format!("subscribed until unix time {until}")
                    } else {
                        "not subscribed".into()
                    }
                );
            }
            Ok(())
        }
    }
}

/// The StreamSupport contract of the deployment and its token.
async fn contract(s: &Session) -> Result<(Address, Token)> {
    let support = s.d.stream_support;
    if support.is_zero() {
        bail!(
            "this deployment has no StreamSupport contract (deployed before tips and subscriptions)"
        );
    }
    let token = StreamSupport::new(support, &s.chain).token().call().await?;
    Ok((support, s.token(token).await?))
}

/// An address, or the recipient a broadcaster's offer names for a stream URL.
async fn resolve(streamer: &str) -> Result<Address> {
    if let Ok(a) = streamer.parse::<Address>() {
        return Ok(a);
    }
    let (base, stream) = peerflow_paywall::viewer::parse_watch_url(streamer)?;
    let offer: peerflow_paywall::proto::Offer =
        reqwest::get(format!("{base}/v1/watch/{stream}/offer"))
            .await
            .with_context(|| format!("reaching {base}"))?
            .error_for_status()?
            .json()
            .await?;
    Ok(offer.recipient)
}
