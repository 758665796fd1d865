//! `peerflow deposit fund|unlock|cancel-unlock|withdraw|status`: a broadcaster's deposit (pays
//! winning tickets) and reserve (backs them when the deposit runs out) at the ticket broker.

use anyhow::{Result, bail};
use peerflow_chain::bindings::ticket_broker::{ITicketBroker, TicketBroker};

use super::{ChainOpts, Session, Step, Token, json_amount};

/// `peerflow deposit …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DepositCommand {
    /// Add to the deposit and/or the reserve, approving the tokens first when needed.
    Fund {
        /// Amount added to the deposit (e.g. `10` or `10 FLOW`).
        #[arg(long, default_value = "0")]
        deposit: String,
        /// Amount added to the reserve.
        #[arg(long, default_value = "0")]
        reserve: String,
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Start the unlock period; the funds can be withdrawn when it is over.
    Unlock {
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Stop unlocking: the funds back tickets again.
    CancelUnlock {
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Withdraw the whole deposit and reserve after the unlock period.
    Withdraw {
        #[command(flatten)]
        chain: ChainOpts,
    },
    /// Deposit, reserve and unlock state.
    Status {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        chain: ChainOpts,
    },
}

pub async fn run(c: &DepositCommand) -> Result<()> {
    match c {
        DepositCommand::Fund {
            deposit,
            reserve,
            chain,
        } => fund(&Session::for_sending(chain).await?, deposit, reserve).await,
        DepositCommand::Unlock { chain } => {
            simple(chain, TicketBroker::unlockCall {}, "unlock()").await
        }
        DepositCommand::CancelUnlock { chain } => {
            simple(chain, TicketBroker::cancelUnlockCall {}, "cancelUnlock()").await
        }
        DepositCommand::Withdraw { chain } => {
            simple(chain, TicketBroker::withdrawCall {}, "withdraw()").await
        }
        DepositCommand::Status { json, chain } => {
            let s = Session::for_reading(chain).await?;
            let token = fee_token(&s).await?;
            status(&s, &token, *json).await
        }
    }
}

/// The token the broker holds deposits in (the work token unless deployed with another).
async fn fee_token(s: &Session) -> Result<Token> {
    let address = TicketBroker::new(s.d.ticket_broker, &s.chain)
        .token()
        .call()
        .await?;
    s.token(address).await
}

async fn fund(s: &Session, deposit: &str, reserve: &str) -> Result<()> {
    let token = fee_token(s).await?;
    let deposit = token.parse(deposit, "--deposit")?;
    let reserve = token.parse(reserve, "--reserve")?;
    if deposit.is_zero() && reserve.is_zero() {
        bail!("give --deposit and/or --reserve");
    }
    let mut steps: Vec<Step> = s
        .approval(
            &token,
            ("TicketBroker", s.d.ticket_broker),
            deposit + reserve,
        )
        .await?
        .into_iter()
        .collect();
    let step = match (deposit.is_zero(), reserve.is_zero()) {
        (false, true) => Step::new(
            "TicketBroker",
            s.d.ticket_broker,
            TicketBroker::fundDepositCall { amount: deposit },
            format!("fundDeposit({})", token.format(deposit)),
            vec![deposit.to_string()],
        ),
        (true, false) => Step::new(
            "TicketBroker",
            s.d.ticket_broker,
            TicketBroker::fundReserveCall { amount: reserve },
            format!("fundReserve({})", token.format(reserve)),
            vec![reserve.to_string()],
        ),
        _ => Step::new(
            "TicketBroker",
            s.d.ticket_broker,
            TicketBroker::fundDepositAndReserveCall {
                depositAmount: deposit,
                reserveAmount: reserve,
            },
            format!(
                "fundDepositAndReserve({}, {})",
                token.format(deposit),
                token.format(reserve)
            ),
            vec![deposit.to_string(), reserve.to_string()],
        ),
    };
    steps.push(step);
    s.run(steps).await?;
    after(s, &token).await
}

async fn simple<C: alloy::sol_types::SolCall>(
    chain: &ChainOpts,
    call: C,
    human: &str,
) -> Result<()> {
    let s = Session::for_sending(chain).await?;
    let token = fee_token(&s).await?;
    s.run(vec![Step::new(
        "TicketBroker",
        s.d.ticket_broker,
        call,
        human.into(),
        vec![],
    )])
    .await?;
    after(&s, &token).await
}

async fn after(s: &Session, token: &Token) -> Result<()> {
    if s.is_dry_run() {
        return Ok(());
    }
    status(s, token, false).await
}

async fn status(s: &Session, token: &Token, json: bool) -> Result<()> {
    let broker = TicketBroker::new(s.d.ticket_broker, &s.chain);
    let info: ITicketBroker::SenderInfo = broker.getSenderInfo(s.me).call().await?;
    let round: u64 = broker.currentRound().call().await?.saturating_to();
    let withdraw_round: u64 = info.withdrawRound.saturating_to();
    let wallet = peerflow_chain::bindings::work_token::WorkToken::new(token.address, &s.chain)
        .balanceOf(s.me)
        .call()
        .await?;
    if json {
        let value = serde_json::json!({
            "account": s.me,
            "round": round,
            "deposit": json_amount(info.deposit, &token.symbol),
            "reserve": json_amount(info.reserve, &token.symbol),
            "wallet": json_amount(wallet, &token.symbol),
            "withdraw_round": (withdraw_round != 0).then_some(withdraw_round),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("account   {}", s.me);
    println!("round     {round}");
    println!("deposit   {}", token.format(info.deposit));
    println!("reserve   {}", token.format(info.reserve));
    println!("wallet    {}", token.format(wallet));
    match withdraw_round {
        0 => println!("unlock    not unlocking (the funds back tickets)"),
        w if w <= round => println!("unlock    withdrawable now (since round {w})"),
        w => println!("unlock    unlocking: withdrawable from round {w}"),
    }
    Ok(())
}
