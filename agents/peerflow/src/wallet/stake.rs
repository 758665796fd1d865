//! `peerflow stake bond|unbond|rebond|withdraw|claim|status`: a token holder's stake, and the
//! orchestrators to compare before delegating (stake, rates, yield per staked token per round).

use alloy::primitives::{Address, U256};
use anyhow::{Result, bail};
use peerflow_chain::amount::{format_ppm, format_tokens};
use peerflow_chain::bindings::staking::Staking;
use peerflow_chain::stake_view::{self, OrchestratorSummary, Position};

use super::{ChainOpts, Session, Step, Token, json_amount};

/// `peerflow stake …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum StakeCommand {
    /// Bond AMOUNT (e.g. `100` or `100 FLOW`) to an orchestrator, approving the tokens first when
    /// needed. Without --to, adds to the current delegate.
    Bond {
        amount: String,
        /// The orchestrator to delegate to.
        #[arg(long)]
        to: Option<Address>,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Unbond AMOUNT (or `all`): it becomes withdrawable after the unbonding period.
    Unbond {
        amount: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Bond an unbonding lock again (to --to when the account is no longer bonded).
    Rebond {
        lock: u64,
        #[arg(long)]
        to: Option<Address>,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Withdraw an unbonding lock to the wallet (default: every lock whose period is over).
    Withdraw {
        lock: Option<u64>,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Claim rewards into the stake and withdraw the fees earned to the wallet.
    Claim {
        /// Claim only; leave the fees in the contract.
        #[arg(long)]
        keep_fees: bool,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// The account's stake, fees and locks, and every orchestrator with its yield per staked token.
    Status {
        /// Rounds of yield to show (the current one included).
        #[arg(long, default_value_t = 5)]
        rounds: u64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        chain: ChainOpts,
    },
}

pub async fn run(c: &StakeCommand) -> Result<()> {
    match c {
        StakeCommand::Bond { amount, to, chain } => {
            bond(&Session::for_sending(chain).await?, amount, *to).await
        }
        StakeCommand::Unbond { amount, chain } => {
            unbond(&Session::for_sending(chain).await?, amount).await
        }
        StakeCommand::Rebond { lock, to, chain } => {
            rebond(&Session::for_sending(chain).await?, *lock, *to).await
        }
        StakeCommand::Withdraw { lock, chain } => {
            withdraw(&Session::for_sending(chain).await?, *lock).await
        }
        StakeCommand::Claim { keep_fees, chain } => {
            claim(&Session::for_sending(chain).await?, *keep_fees).await
        }
        StakeCommand::Status {
            rounds,
            json,
            chain,
        } => status(&Session::for_reading(chain).await?, *rounds, *json).await,
    }
}

fn staking(s: &Session) -> Staking::StakingInstance<&alloy::providers::DynProvider> {
    Staking::new(s.d.staking, &s.chain)
}

async fn work_token(s: &Session) -> Result<Token> {
    s.token(s.d.work_token).await
}

async fn bond(s: &Session, amount: &str, to: Option<Address>) -> Result<()> {
    let token = work_token(s).await?;
    let amount = token.parse(amount, "amount")?;
    let current = staking(s).delegateOf(s.me).call().await?;
    let to = match (to, current.is_zero()) {
        (Some(to), _) => to,
        (None, false) => current,
        (None, true) => {
            bail!("not bonded yet: give --to ORCHESTRATOR (`peerflow stake status` lists them)")
        }
    };
    let mut steps: Vec<Step> = s
        .approval(&token, ("Staking", s.d.staking), amount)
        .await?
        .into_iter()
        .collect();
    steps.push(Step::new(
        "Staking",
        s.d.staking,
        Staking::bondCall { amount, to },
        format!("bond({}, {to})", token.format(amount)),
        vec![amount.to_string(), to.to_string()],
    ));
    s.run(steps).await?;
    report(s, &token).await
}

async fn unbond(s: &Session, amount: &str) -> Result<()> {
    let token = work_token(s).await?;
    let amount = if amount.trim() == "all" {
        staking(s).pendingStake(s.me).call().await?
    } else {
        token.parse(amount, "amount")?
    };
    s.run(vec![Step::new(
        "Staking",
        s.d.staking,
        Staking::unbondCall { amount },
        format!("unbond({})", token.format(amount)),
        vec![amount.to_string()],
    )])
    .await?;
    report(s, &token).await
}

async fn rebond(s: &Session, lock: u64, to: Option<Address>) -> Result<()> {
    let token = work_token(s).await?;
    let lock_id = U256::from(lock);
    let bonded = !staking(s).delegateOf(s.me).call().await?.is_zero();
    let step = match (bonded, to) {
        (true, None) => Step::new(
            "Staking",
            s.d.staking,
            Staking::rebondCall { lockId: lock_id },
            format!("rebond(lock {lock})"),
            vec![lock.to_string()],
        ),
        (_, Some(to)) => Step::new(
            "Staking",
            s.d.staking,
            Staking::rebondFromUnbondedCall {
                to,
                lockId: lock_id,
            },
            format!("rebondFromUnbonded({to}, lock {lock})"),
            vec![to.to_string(), lock.to_string()],
        ),
        (false, None) => bail!("not bonded any more: give --to ORCHESTRATOR to rebond the lock to"),
    };
    s.run(vec![step]).await?;
    report(s, &token).await
}

async fn withdraw(s: &Session, lock: Option<u64>) -> Result<()> {
    let token = work_token(s).await?;
    let locks = match lock {
        Some(id) => vec![id],
        None => {
            let p = stake_view::position(&s.chain, &s.d, s.me).await?;
            let due: Vec<u64> = p
                .locks
                .iter()
                .filter(|l| l.withdraw_round <= p.current_round)
                .map(|l| l.id)
                .collect();
            match (due.is_empty(), p.locks.first()) {
                (false, _) => due,
                // Nothing is due: try the earliest lock so that the contract says when it is.
                (true, Some(first)) => vec![first.id],
                (true, None) => bail!("no unbonding locks to withdraw (unbond first)"),
            }
        }
    };
    let steps = locks
        .iter()
        .map(|&id| {
            Step::new(
                "Staking",
                s.d.staking,
                Staking::withdrawStakeCall {
                    lockId: U256::from(id),
                },
                format!("withdrawStake(lock {id})"),
                vec![id.to_string()],
            )
        })
        .collect();
    s.run(steps).await?;
    report(s, &token).await
}

async fn claim(s: &Session, keep_fees: bool) -> Result<()> {
    let token = work_token(s).await?;
    let fees = staking(s).pendingFees(s.me).call().await?;
    let mut steps = vec![Step::new(
        "Staking",
        s.d.staking,
        Staking::claimEarningsCall {},
        "claimEarnings()".into(),
        vec![],
    )];
    if !keep_fees && !fees.is_zero() {
        steps.push(Step::new(
            "Staking",
            s.d.staking,
            Staking::withdrawFeesCall {
                to: s.me,
                amount: fees,
            },
            format!("withdrawFees({}, {})", s.me, token.format(fees)),
            vec![s.me.to_string(), fees.to_string()],
        ));
    }
    s.run(steps).await?;
    report(s, &token).await
}

/// After an action: the position it left (not on a dry run, where nothing changed).
async fn report(s: &Session, token: &Token) -> Result<()> {
    if s.is_dry_run() {
        return Ok(());
    }
    let p = stake_view::position(&s.chain, &s.d, s.me).await?;
    print_position(&p, token);
    Ok(())
}

async fn status(s: &Session, rounds: u64, json: bool) -> Result<()> {
    let token = work_token(s).await?;
    let p = stake_view::position(&s.chain, &s.d, s.me).await?;
    let mut summaries = Vec::new();
    for o in stake_view::registered_orchestrators(&s.chain, &s.d).await? {
        summaries.push(stake_view::summary(&s.chain, &s.d, o, rounds).await?);
    }
    if json {
        let value = serde_json::json!({
            "position": position_json(&p, &token.symbol),
            "orchestrators": summaries.iter().map(|o| summary_json(o, &token.symbol)).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    print_position(&p, &token);
    println!();
    print_orchestrators(&summaries, &token, rounds);
    Ok(())
}

pub fn print_position(p: &Position, token: &Token) {
    println!("account   {}", p.account);
    println!("round     {}", p.current_round);
    println!("wallet    {}", token.format(p.balance));
    match p.delegate {
        Some(d) => println!(
            "bonded    {} to {d}{}",
            token.format(p.stake),
            if p.frozen {
                " (frozen by an open fault claim)"
            } else {
                ""
            }
        ),
        None => println!("bonded    nothing"),
    }
    println!("fees      {}", token.format(p.fees));
    for l in &p.locks {
        let when = if l.withdraw_round <= p.current_round {
            "withdrawable now".to_string()
        } else {
            format!("withdrawable from round {}", l.withdraw_round)
        };
        println!(
            "unbonding lock {}: {}, {when}",
            l.id,
            token.format(l.amount)
        );
    }
}

pub fn print_orchestrators(summaries: &[OrchestratorSummary], token: &Token, rounds: u64) {
    println!(
        "orchestrators: yield per staked {} over the last {rounds} rounds (the current one so far)",
        token.symbol
    );
    println!(
        "{:<42}  {:>18}  {:>18}  {:>10}  {:>9}  {:>6}  {:>14}  {:>14}",
        "address", "stake", "at risk", "reward cut", "fee share", "active", "rewards", "fees"
    );
    for o in summaries {
        println!(
            "{:<42}  {:>18}  {:>18}  {:>10}  {:>9}  {:>6}  {:>14}  {:>14}",
            o.address.to_string(),
            token.format(o.info.stake),
            token.format(o.slashable),
            format_ppm(o.info.reward_cut_ppm),
            format_ppm(o.info.fee_share_ppm),
            if o.info.active_this_round {
                "yes"
            } else {
                "no"
            },
            percent(o.reward_per_token),
            percent(o.fee_per_token),
        );
    }
}

/// Wei per token (1e18 = 100 %) as a percentage with four decimals.
fn percent(per_token: U256) -> String {
    // 1e18 per token is 100 %: per_token / 1e12 is hundredths of a basis point (1e-6 = 0.0001 %).
    let micro = per_token / U256::from(1_000_000_000_000u64);
    let micro: u128 = micro.saturating_to();
    format!("{}.{:04}%", micro / 10_000, micro % 10_000)
}

fn position_json(p: &Position, symbol: &str) -> serde_json::Value {
    serde_json::json!({
        "account": p.account,
        "round": p.current_round,
        "delegate": p.delegate,
        "stake": json_amount(p.stake, symbol),
        "fees": json_amount(p.fees, symbol),
        "wallet": json_amount(p.balance, symbol),
        "frozen": p.frozen,
        "locks": p.locks.iter().map(|l| serde_json::json!({
            "id": l.id, "amount": json_amount(l.amount, symbol), "withdraw_round": l.withdraw_round,
        })).collect::<Vec<_>>(),
    })
}

pub fn summary_json(o: &OrchestratorSummary, symbol: &str) -> serde_json::Value {
    serde_json::json!({
        "address": o.address,
        "registered": o.info.registered,
        "active_this_round": o.info.active_this_round,
        "in_active_set": o.info.in_active_set,
        "stake": json_amount(o.info.stake, symbol),
        "slashable_stake": json_amount(o.slashable, symbol),
        "reward_cut_ppm": o.info.reward_cut_ppm,
        "fee_share_ppm": o.info.fee_share_ppm,
        "last_reward_round": o.info.last_reward_round,
        "reward_per_token": per_token_json(o.reward_per_token),
        "fee_per_token": per_token_json(o.fee_per_token),
        "rounds": o.yields.iter().map(|y| serde_json::json!({
            "round": y.round,
            "complete": y.complete,
            "reward_per_token": per_token_json(y.reward_per_token),
            "fee_per_token": per_token_json(y.fee_per_token),
        })).collect::<Vec<_>>(),
    })
}

fn per_token_json(v: U256) -> serde_json::Value {
    serde_json::json!({ "wei": v.to_string(), "tokens": format_tokens(v), "percent": percent(v) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_of_per_token_yields() {
        let e = |n: u64| U256::from(n) * U256::from(10u64).pow(U256::from(14)); // 1e14 = 0.01 %
        assert_eq!(percent(U256::ZERO), "0.0000%");
        assert_eq!(percent(e(1)), "0.0100%");
        assert_eq!(percent(e(10_000)), "100.0000%");
        assert_eq!(percent(e(123)), "1.2300%");
        assert_eq!(percent(U256::from(1_000_000_000_000u64)), "0.0001%");
    }
}
