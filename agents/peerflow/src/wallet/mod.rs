//! The token holder's and operator's CLI: `peerflow stake …`, `peerflow orchestrator register|…`,
//! `peerflow deposit …`. Each action is planned as a list of contract calls ([`Step`]), then either
//! printed and simulated (`--dry-run`: target, function, arguments, calldata and the equivalent
//! `cast send` line) or sent one by one with progress, waiting for each to be mined. A refusal names
//! the contract, its custom error and the rule behind it.

pub mod deposit;
pub mod gov;
pub mod operator;
pub mod stake;
pub mod support;

use std::path::PathBuf;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::simulate::{SimBlock, SimulatePayload};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use anyhow::{Context, Result, anyhow, bail};
use peerflow_chain::Deployment;
use peerflow_chain::amount::{format_amount, parse_amount};
use peerflow_chain::bindings::work_token::WorkToken;
use peerflow_chain::refusal;

use crate::chain_access::NetworkArgs;
use crate::keys::KeyArgs;

/// Where to act and as whom.
#[derive(Debug, Clone, clap::Args)]
pub struct ChainOpts {
    /// Chain RPC endpoint(s), http:// or https://: a comma-separated list is tried in order, the
    /// next when one keeps failing (default: the --network's, else http://127.0.0.1:8545).
    #[arg(long, env = "PEERFLOW_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Deployment file (addresses of the contract suite), as written by the deploy script
    /// (default with --network: deployments/<chain-id>.json).
    #[arg(long, env = "PEERFLOW_DEPLOYMENT")]
    pub deployment: Option<PathBuf>,
    #[command(flatten)]
    pub net: NetworkArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The account to show or to act as (default: the key's). With --dry-run no key is needed.
    #[arg(long)]
    pub account: Option<Address>,
    /// Print each call (contract, function, arguments, calldata, a `cast send` line) and simulate
    /// it; send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// A connection to the suite as one account.
pub struct Session {
    pub chain: DynProvider,
    pub d: Deployment,
    pub me: Address,
    rpc_url: String,
    can_sign: bool,
    dry_run: bool,
}

impl Session {
    /// Connects for sending: needs a key unless this is a dry run with `--account`.
    pub async fn for_sending(o: &ChainOpts) -> Result<Self> {
        Self::open(o, !o.dry_run || o.account.is_none()).await
    }

    /// Connects for reading: the key is used only when no `--account` is given.
    pub async fn for_reading(o: &ChainOpts) -> Result<Self> {
        Self::open(o, o.account.is_none()).await
    }

    async fn open(o: &ChainOpts, needs_key: bool) -> Result<Self> {
        let (signer, me, can_sign) = if needs_key {
            let signer = o.keys.signer()?;
            let me = signer.address();
            if let Some(account) = o.account
                && account != me
            {
                bail!("--account {account} is not the key's account {me}");
            }
            (Some(signer), me, true)
        } else {
            let me = o.account.context("--account or a key is required")?;
            (None, me, false)
        };
        let access = o
            .net
            .connect(o.rpc_url.as_deref(), o.deployment.as_deref(), signer)
            .await?;
        let rpc_url = access.rpc.urls.join(",");
        let rpc_url = rpc_url
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        Ok(Self {
            chain: access.chain,
            d: access.deployment,
            me,
            rpc_url,
            can_sign,
            dry_run: o.dry_run,
        })
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The token at `address` as an amount formatter and parser.
    pub async fn token(&self, address: Address) -> Result<Token> {
        let symbol = WorkToken::new(address, &self.chain)
            .symbol()
            .call()
            .await
            .with_context(|| format!("reading the symbol of the token at {address}"))?;
        Ok(Token { address, symbol })
    }

    /// An `approve` step if `spender` may not yet spend `amount` of `token` for this account.
    pub async fn approval(
        &self,
        token: &Token,
        spender: (&'static str, Address),
        amount: U256,
    ) -> Result<Option<Step>> {
        let allowance = WorkToken::new(token.address, &self.chain)
            .allowance(self.me, spender.1)
            .call()
            .await?;
        Ok((allowance < amount).then(|| {
            Step::new(
                "WorkToken",
                token.address,
                WorkToken::approveCall {
                    spender: spender.1,
                    value: amount,
                },
                format!("approve({}, {})", spender.0, token.format(amount)),
                vec![spender.1.to_string(), amount.to_string()],
            )
        }))
    }

    /// Runs the plan: prints and simulates it on a dry run; else simulates the whole plan first
    /// (so that a step the contracts would refuse stops it before anything is sent), then sends
    /// each step and waits for it to be mined.
    pub async fn run(&self, steps: Vec<Step>) -> Result<Vec<TransactionReceipt>> {
        let outcomes = self.simulate(&steps).await?;
        if self.dry_run {
            self.print_plan(&steps, &outcomes);
            return Ok(Vec::new());
        }
        if let Some((step, Some(Err(why)))) = steps
            .iter()
            .zip(&outcomes)
            .find(|(_, o)| matches!(o, Some(Err(_))))
        {
            bail!("{}.{}: {why}; nothing was sent", step.contract, step.call);
        }
        if !self.can_sign {
            bail!("a key is needed to send (give --keystore or --key-file)");
        }
        let n = steps.len();
        let mut receipts = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            println!("[{}/{n}] {}.{}", i + 1, step.contract, step.call);
            let pending = self
                .chain
                .send_transaction(step.request(self.me))
                .await
                .map_err(|e| anyhow!("{}.{}: {}", step.contract, step.call, step.why(&e)))?;
            println!("      sent {}; waiting to be mined…", pending.tx_hash());
            let receipt = pending
                .get_receipt()
                .await
                .with_context(|| format!("waiting for {}", step.call))?;
            if !receipt.status() {
                bail!(
                    "{}.{} reverted in transaction {}",
                    step.contract,
                    step.call,
                    receipt.transaction_hash
                );
            }
            println!(
                "      mined in block {} (gas {})",
                receipt.block_number.unwrap_or_default(),
                receipt.gas_used
            );
            receipts.push(receipt);
        }
        Ok(receipts)
    }

    /// Each step's outcome when the plan runs in order on the current state (`eth_simulateV1`).
    /// Where the node cannot simulate a sequence, only the first step is tried (`eth_call`) and
    /// the others are `None`.
    async fn simulate(&self, steps: &[Step]) -> Result<Vec<Option<Result<(), String>>>> {
        let payload = SimulatePayload {
            block_state_calls: vec![SimBlock {
                block_overrides: None,
                state_overrides: None,
                calls: steps.iter().map(|s| s.request(self.me)).collect(),
            }],
            trace_transfers: false,
            validation: false,
            return_full_transactions: false,
        };
        if let Ok(blocks) = self.chain.simulate(&payload).await
            && let Some(block) = blocks.first()
            && block.calls.len() == steps.len()
        {
            return Ok(steps
                .iter()
                .zip(&block.calls)
                .map(|(step, call)| {
                    Some(if call.status {
                        Ok(())
                    } else {
                        let data = call
                            .error
                            .as_ref()
                            .and_then(|e| e.data.clone())
                            .unwrap_or_else(|| call.return_data.clone());
                        Err(step.why_data(&data, call.error.as_ref().map(|e| e.message.as_str())))
                    })
                })
                .collect());
        }
        let mut outcomes: Vec<Option<Result<(), String>>> = vec![None; steps.len()];
        if let Some(first) = steps.first() {
            outcomes[0] = Some(match self.chain.call(first.request(self.me)).await {
                Ok(_) => Ok(()),
                Err(e) => Err(first.why(&e)),
            });
        }
        Ok(outcomes)
    }

    fn print_plan(&self, steps: &[Step], outcomes: &[Option<Result<(), String>>]) {
        let n = steps.len();
        println!("dry run as {}: nothing is sent", self.me);
        for (i, (step, outcome)) in steps.iter().zip(outcomes).enumerate() {
            println!("[{}/{n}] {}.{}", i + 1, step.contract, step.call);
            println!("      to   {}", step.to);
            println!("      data {}", step.data);
            println!(
                "      cast send {} '{}' {} --rpc-url {}",
                step.to,
                step.signature,
                step.cast_args.join(" "),
                self.rpc_url
            );
            match outcome {
                Some(Ok(())) => println!("      simulation: ok"),
                Some(Err(why)) => println!("      simulation: {why}"),
                None => println!("      simulation: not run (the node cannot simulate a sequence)"),
            }
        }
    }
}

/// An ERC-20 of the suite with its symbol.
pub struct Token {
    pub address: Address,
    pub symbol: String,
}

impl Token {
    pub fn parse(&self, text: &str, what: &str) -> Result<U256> {
        parse_amount(text, &self.symbol).with_context(|| format!("{what}: `{text}`"))
    }

    pub fn format(&self, amount: U256) -> String {
        format_amount(amount, &self.symbol)
    }
}

/// One contract call of a plan.
pub struct Step {
    pub contract: &'static str,
    pub to: Address,
    /// The call as a person reads it: `bond(100 FLOW, 0x…)`.
    pub call: String,
    pub signature: &'static str,
    /// The raw arguments, as `cast send` takes them.
    pub cast_args: Vec<String>,
    pub data: Bytes,
}

impl Step {
    pub fn new<C: alloy::sol_types::SolCall>(
        contract: &'static str,
        to: Address,
        call: C,
        human: String,
        cast_args: Vec<String>,
    ) -> Self {
        Self {
            contract,
            to,
            call: human,
            signature: C::SIGNATURE,
            cast_args,
            data: call.abi_encode().into(),
        }
    }

    fn request(&self, from: Address) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(from)
            .with_to(self.to)
            .with_input(self.data.clone())
    }

    /// Why the node refused to send or simulate this call.
    fn why(&self, e: &alloy::transports::TransportError) -> String {
        match refusal::revert_data_of(e) {
            Some(data) => self.why_data(&data, None),
            None => format!("failed: {e}"),
        }
    }

    /// The refusal behind revert `data`, by name and rule where it is a custom error of the suite.
    fn why_data(&self, data: &[u8], message: Option<&str>) -> String {
        match refusal::decode(data, Some(self.contract)) {
            Some(r) => r.to_string(),
            None => format!(
                "reverted ({}; data {})",
                message.unwrap_or("no reason given"),
                Bytes::copy_from_slice(data)
            ),
        }
    }
}

/// `amount` as a JSON object: wei as a decimal string and the human form.
pub fn json_amount(amount: U256, symbol: &str) -> serde_json::Value {
    serde_json::json!({ "wei": amount.to_string(), "tokens": peerflow_chain::amount::format_tokens(amount), "symbol": symbol })
}
