//! `peerflow orchestrator register|set-price|set-service|set-keys|call-rewards|status`: an
//! operator's on-chain side (self-bond and registration, the service registry advertisement, rates,
//! the operator keys, rewards, earnings). Running the node itself is `peerflow orchestrator` with no
//! subcommand.
//!
//! Keys (Livepeer's LIP-118): the orchestrator's own key bonds, sets rates and names two others
//! with `set-keys`: a reward caller, which can only call `rewardFor` for it (`call-rewards`, each
//! round), and a redeemer, a hot key that can only redeem its winning tickets (the fees always go
//! to the orchestrator) and sign its segment results (`peerflow orchestrator --for`): fault claims
//! hold the orchestrator to what that key signs, so name only a key the operator holds.

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use anyhow::{Context, Result, bail};
use peerflow_chain::actions::{bytes32, string_of};
use peerflow_chain::amount::{format_ppm, parse_ppm};
use peerflow_chain::bindings::service_registry::{IServiceRegistry, ServiceRegistry};
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::stake_view;

use super::stake::{print_orchestrators, print_position, summary_json};
use super::{ChainOpts, Session, Step, Token, json_amount};

/// `peerflow orchestrator <action>`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum OrchestratorAction {
    /// Self-bond --stake and register as an orchestrator with its rates; with --service-uri, also
    /// advertise in the service registry.
    Register {
        /// Stake to self-bond (e.g. `1000` or `1000 FLOW`).
        #[arg(long)]
        stake: String,
        /// Share of each round's reward the orchestrator keeps (`10%`, `100000ppm`).
        #[arg(long, default_value = "10%")]
        reward_cut: String,
        /// Share of ticket fees passed to delegators.
        #[arg(long, default_value = "50%")]
        fee_share: String,
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Change the advertised price, keeping the rest of the advertisement.
    SetPrice {
        /// Fee-token wei per output pixel (a plain integer), or an amount with a unit (`0.000001 FLOW`).
        price: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Set the whole advertisement: endpoint, services, regions and price.
    SetService {
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Name (or clear, with `none`) the reward-caller key and the redemption key.
    SetKeys {
        /// The address that may call rewardFor(this orchestrator), or `none`.
        #[arg(long)]
        reward_caller: Option<String>,
        /// The address that may redeem this orchestrator's winning tickets, or `none`.
        #[arg(long)]
        redeemer: Option<String>,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Run as a reward caller: call rewardFor(--for) once in every round it is active, until
    /// interrupted. The key must be the orchestrator's or the reward caller it named.
    CallRewards {
        /// The orchestrator to call rewards for.
        #[arg(long = "for")]
        orchestrator: Address,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Registration, rates, stake, fees, the advertisement, reward calls and yield.
    Status {
        #[arg(long, default_value_t = 5)]
        rounds: u64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        chain: ChainOpts,
    },
}

/// An advertisement in the service registry.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// The orchestrator's public URL (e.g. https://o1.example:8935).
    #[arg(long)]
    pub service_uri: Option<String>,
    /// Offered services, e.g. transcode:h264,transcode:av1.
    #[arg(long, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Served regions, e.g. eu-west,us-east.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Advertised price: fee-token wei per output pixel (or an amount with a unit).
    #[arg(long)]
    pub price_per_pixel: Option<String>,
}

pub async fn run(a: &OrchestratorAction) -> Result<()> {
    match a {
        OrchestratorAction::Register {
            stake,
            reward_cut,
            fee_share,
            service,
            chain,
        } => {
            register(
                &Session::for_sending(chain).await?,
                stake,
                reward_cut,
                fee_share,
                service,
            )
            .await
        }
        OrchestratorAction::SetPrice { price, chain } => {
            set_price(&Session::for_sending(chain).await?, price).await
        }
        OrchestratorAction::SetService { service, chain } => {
            let s = Session::for_sending(chain).await?;
            let token = s.token(s.d.work_token).await?;
            let step = advertise(&s, &token, service)?.context("--service-uri is required")?;
            s.run(vec![step]).await?;
            show_service(&s).await
        }
        OrchestratorAction::SetKeys {
            reward_caller,
            redeemer,
            chain,
        } => {
            let s = Session::for_sending(chain).await?;
            set_keys(&s, reward_caller.as_deref(), redeemer.as_deref()).await
        }
        OrchestratorAction::CallRewards {
            orchestrator,
            chain,
        } => call_rewards(&Session::for_sending(chain).await?, *orchestrator).await,
        OrchestratorAction::Status {
            rounds,
            json,
            chain,
        } => status(&Session::for_reading(chain).await?, *rounds, *json).await,
    }
}

/// `none` (clear) or an address.
fn key_address(text: &str, flag: &str) -> Result<Address> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(Address::ZERO);
    }
    text.parse()
        .with_context(|| format!("{flag}: `{text}` is neither an address nor `none`"))
}

async fn set_keys(s: &Session, reward_caller: Option<&str>, redeemer: Option<&str>) -> Result<()> {
    let mut steps = Vec::new();
    if let Some(text) = reward_caller {
        let caller = key_address(text, "--reward-caller")?;
        steps.push(Step::new(
            "Staking",
            s.d.staking,
            Staking::setRewardCallerCall {
                rewardCaller: caller,
            },
            format!("setRewardCaller({caller})"),
            vec![caller.to_string()],
        ));
    }
    if let Some(text) = redeemer {
        let key = key_address(text, "--redeemer")?;
        steps.push(Step::new(
            "Staking",
            s.d.staking,
            Staking::setRedeemerCall { redeemer: key },
            format!("setRedeemer({key})"),
            vec![key.to_string()],
        ));
    }
    if steps.is_empty() {
        bail!("nothing to set: give --reward-caller and/or --redeemer (an address, or `none`)");
    }
    s.run(steps).await?;
    if !s.is_dry_run() {
        print_keys(s, s.me).await?;
    }
    Ok(())
}

async fn keys_of(s: &Session, o: Address) -> Result<(Address, Address)> {
    let staking = Staking::new(s.d.staking, &s.chain);
    Ok((
        staking.rewardCallerOf(o).call().await?,
        staking.redeemerOf(o).call().await?,
    ))
}

async fn print_keys(s: &Session, o: Address) -> Result<()> {
    let (caller, redeemer) = keys_of(s, o).await?;
    let show = |a: Address| {
        if a.is_zero() {
            "none".to_string()
        } else {
            a.to_string()
        }
    };
    println!(
        "keys      reward caller {}, redeemer {}",
        show(caller),
        show(redeemer)
    );
    Ok(())
}

async fn call_rewards(s: &Session, orchestrator: Address) -> Result<()> {
    let (caller, _) = keys_of(s, orchestrator).await?;
    if s.me != orchestrator && s.me != caller {
        bail!(
            "{} may not call rewards for {orchestrator}: its reward caller is {caller} \
             (the orchestrator names one with `peerflow orchestrator set-keys --reward-caller`)",
            s.me
        );
    }
    println!("calling rewardFor({orchestrator}) each round as {}", s.me);
    let metrics = std::sync::Arc::new(peerflow_protocol::metrics::Metrics::new());
    tokio::select! {
        _ = peerflow_orchestrator::service::reward_loop(s.chain.clone(), s.d.staking, orchestrator, metrics) => {}
        r = crate::shutdown::requested() => {
            r?;
        }
    }
    Ok(())
}

async fn register(
    s: &Session,
    stake: &str,
    reward_cut: &str,
    fee_share: &str,
    service: &ServiceArgs,
) -> Result<()> {
    let token = s.token(s.d.work_token).await?;
    let amount = token.parse(stake, "--stake")?;
    let cut = parse_ppm(reward_cut).context("--reward-cut")?;
    let share = parse_ppm(fee_share).context("--fee-share")?;
    let mut steps: Vec<Step> = s
        .approval(&token, ("Staking", s.d.staking), amount)
        .await?
        .into_iter()
        .collect();
    steps.push(Step::new(
        "Staking",
        s.d.staking,
        Staking::bondCall { amount, to: s.me },
        format!("bond({}, {} (itself))", token.format(amount), s.me),
        vec![amount.to_string(), s.me.to_string()],
    ));
    steps.push(Step::new(
        "Staking",
        s.d.staking,
        Staking::registerOrchestratorCall {
            rewardCut: cut,
            feeShare: share,
        },
        format!(
            "registerOrchestrator(reward cut {}, fee share {})",
            format_ppm(cut),
            format_ppm(share)
        ),
        vec![cut.to_string(), share.to_string()],
    ));
    steps.extend(advertise(s, &token, service)?);
    s.run(steps).await?;
    if !s.is_dry_run() {
        status(s, 1, false).await?;
    }
    Ok(())
}

/// The `setService` step for `service`, if it names a URI.
fn advertise(s: &Session, token: &Token, service: &ServiceArgs) -> Result<Option<Step>> {
    let Some(uri) = &service.service_uri else {
        return Ok(None);
    };
    let price = match &service.price_per_pixel {
        Some(p) => parse_price(token, p)?,
        None => U256::ZERO,
    };
    Ok(Some(set_service_step(
        s,
        uri,
        &service
            .services
            .iter()
            .map(|x| bytes32(x))
            .collect::<Vec<_>>(),
        &service
            .regions
            .iter()
            .map(|x| bytes32(x))
            .collect::<Vec<_>>(),
        price,
    )))
}

fn set_service_step(s: &Session, uri: &str, ids: &[B256], regions: &[B256], price: U256) -> Step {
    let list = |v: &[B256]| {
        format!(
            "[{}]",
            v.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let names = |v: &[B256]| v.iter().map(string_of).collect::<Vec<_>>().join(",");
    Step::new(
        "ServiceRegistry",
        s.d.service_registry,
        ServiceRegistry::setServiceCall {
            uri: uri.to_string(),
            serviceIds: ids.to_vec(),
            regions: regions.to_vec(),
            pricePerUnit: price,
        },
        format!(
            "setService({uri}, services [{}], regions [{}], {price} wei per pixel)",
            names(ids),
            names(regions)
        ),
        vec![
            format!("'{uri}'"),
            format!("'{}'", list(ids)),
            format!("'{}'", list(regions)),
            price.to_string(),
        ],
    )
}

/// A price: a plain integer is wei; anything else is an amount with a unit.
fn parse_price(token: &Token, text: &str) -> Result<U256> {
    match text.trim().parse::<u128>() {
        Ok(wei) => Ok(U256::from(wei)),
        Err(_) => token.parse(text, "price"),
    }
}

async fn set_price(s: &Session, price: &str) -> Result<()> {
    let token = s.token(s.d.work_token).await?;
    let price = parse_price(&token, price)?;
    let current = service_of(s, s.me).await?;
    if current.uri.is_empty() {
        bail!(
            "{} has no advertisement to reprice: run `peerflow orchestrator set-service --service-uri …` first",
            s.me
        );
    }
    s.run(vec![set_service_step(
        s,
        &current.uri,
        &current.serviceIds,
        &current.regions,
        price,
    )])
    .await?;
    show_service(s).await
}

async fn service_of(s: &Session, o: Address) -> Result<IServiceRegistry::Service> {
    Ok(ServiceRegistry::new(s.d.service_registry, &s.chain)
        .getService(o)
        .call()
        .await?)
}

async fn show_service(s: &Session) -> Result<()> {
    if s.is_dry_run() {
        return Ok(());
    }
    let svc = service_of(s, s.me).await?;
    print_service(&svc);
    Ok(())
}

fn print_service(svc: &IServiceRegistry::Service) {
    if svc.uri.is_empty() {
        println!("service   none advertised");
        return;
    }
    let names = |v: &[B256]| v.iter().map(string_of).collect::<Vec<_>>().join(",");
    println!(
        "service   {} (services {}; regions {}; {} wei per pixel; version {})",
        svc.uri,
        names(&svc.serviceIds),
        names(&svc.regions),
        svc.pricePerUnit,
        svc.version
    );
}

/// One `reward()` call.
struct RewardCall {
    round: u64,
    block: u64,
    minted: U256,
    cut: U256,
}

async fn reward_calls(s: &Session, o: Address, since_round: u64) -> Result<Vec<RewardCall>> {
    let filter = Filter::new()
        .address(s.d.staking)
        .event_signature(Staking::Reward::SIGNATURE_HASH)
        .topic1(o.into_word());
    let from = (s.d.start_block + since_round * s.d.round_length).max(s.d.scan_from());
    let logs = peerflow_chain::logscan::scan_to_head(&s.chain, filter, from).await?;
    Ok(logs
        .iter()
        .filter_map(|l| {
            let e = Staking::Reward::decode_log(&l.inner).ok()?;
            Some(RewardCall {
                round: e.data.round.saturating_to(),
                block: l.block_number.unwrap_or_default(),
                minted: e.data.minted,
                cut: e.data.orchestratorCut,
            })
        })
        .collect())
}

async fn status(s: &Session, rounds: u64, json: bool) -> Result<()> {
    let token = s.token(s.d.work_token).await?;
    let summary = stake_view::summary(&s.chain, &s.d, s.me, rounds).await?;
    let position = stake_view::position(&s.chain, &s.d, s.me).await?;
    let svc = service_of(s, s.me).await?;
    let since = position
        .current_round
        .saturating_sub(rounds.saturating_sub(1));
    let rewards = reward_calls(s, s.me, since).await?;
    if json {
        let value = serde_json::json!({
            "orchestrator": summary_json(&summary, &token.symbol),
            "own_stake": json_amount(position.stake, &token.symbol),
            "fees": json_amount(position.fees, &token.symbol),
            "frozen": position.frozen,
            "service": {
                "uri": svc.uri,
                "services": svc.serviceIds.iter().map(string_of).collect::<Vec<_>>(),
                "regions": svc.regions.iter().map(string_of).collect::<Vec<_>>(),
                "price_per_pixel_wei": svc.pricePerUnit.to_string(),
                "version": svc.version,
            },
            "reward_calls": rewards.iter().map(|r| serde_json::json!({
                "round": r.round, "block": r.block,
                "minted": json_amount(r.minted, &token.symbol),
                "orchestrator_cut": json_amount(r.cut, &token.symbol),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let i = &summary.info;
    println!(
        "orchestrator {} ({}{})",
        s.me,
        if i.registered {
            "registered"
        } else {
            "not registered"
        },
        if i.active_this_round {
            ", active this round"
        } else {
            ""
        }
    );
    println!(
        "rates     reward cut {}, fee share {}",
        format_ppm(i.reward_cut_ppm),
        format_ppm(i.fee_share_ppm)
    );
    println!(
        "pool      {} delegated in all, {} of it at risk of slashing (own stake and unbonding locks)",
        token.format(i.stake),
        token.format(summary.slashable)
    );
    print_position(&position, &token);
    print_keys(s, s.me).await?;
    print_service(&svc);
    if rewards.is_empty() {
        println!("rewards   no reward calls in the last {rounds} rounds");
    }
    for r in &rewards {
        println!(
            "reward    round {}: minted {} (cut {}) in block {}",
            r.round,
            token.format(r.minted),
            token.format(r.cut),
            r.block
        );
    }
    println!();
    print_orchestrators(std::slice::from_ref(&summary), &token, rounds);
    Ok(())
}
