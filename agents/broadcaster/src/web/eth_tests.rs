//! The viewer page's Ethereum (eth.js, run by node on the very bytes the broadcaster serves) against
//! the protocol crate's: the page must sign the ticket digest `peerflow_protocol::Ticket::hash`
//! computes, in the one encoding the broker accepts, and its SignerGrant and calldata must be what
//! alloy's `sol!` types make of the same values. Skipped, with a note, where node is not installed.

use std::process::Command;

use alloy::hex;
use alloy::primitives::{Address, B256, U256, address, b256};
use alloy::sol_types::{SolCall, SolStruct};
use peerflow_protocol::signature::address_of_secret;
use peerflow_protocol::{Signature, Ticket, TicketDomain};
use serde_json::{Value, json};

use super::ASSETS;

alloy::sol! {
    struct SignerGrant {
        address funder;
        address signer;
        address recipient;
        uint256 maxSpend;
        uint256 untilRound;
        uint256 nonce;
        uint256 deadline;
    }
    function approve(address spender, uint256 amount);
    function tip(address streamer, uint256 amount, string message);
    function subscribe(address streamer, uint256 periods, uint256 maxPricePerPeriod);
}

/// Loads the page's modules as the browser does (js-sha3 as a script defining `keccak256` on the
/// global object, then eth.js) and prints what eth.js makes of the input.
const DRIVER: &str = r#"
import { readFileSync } from 'node:fs';
new Function(readFileSync(new URL('./sha3.min.js', import.meta.url), 'utf8'))();
const eth = await import('./eth.js');
const { key, domain, ticket, grant, message } = JSON.parse(process.argv[2]);
const secret = eth.hexToBytes(key);
const ticketDigest = eth.hashTypedData(eth.ticketTypedData(domain, ticket));
const grantDigest = eth.hashTypedData(eth.signerGrantTypedData({ ...domain, ...grant }));
console.log(JSON.stringify({
  address: eth.addressOf(secret),
  ticketDigest: eth.bytesToHex(ticketDigest),
  ticketSignature: eth.signDigest(ticketDigest, secret),
  grantDigest: eth.bytesToHex(grantDigest),
  grantSignature: eth.signDigest(grantDigest, secret),
  approve: eth.encodeCall('approve(address,uint256)', [domain.broker, ticket.faceValue]),
  tip: eth.encodeCall('tip(address,uint256,string)', [ticket.recipient, ticket.faceValue, message]),
  subscribe: eth.encodeCall('subscribe(address,uint256,uint256)', [ticket.recipient, 3, ticket.winProb]),
}));
"#;

/// What eth.js prints for `input`, or None without node.
fn run_eth_js(input: &Value) -> Option<Value> {
    let dir = tempfile::tempdir().unwrap();
    for name in ["eth.js", "secp256k1.js", "sha256.min.mjs", "sha3.min.js"] {
        let asset = ASSETS.iter().find(|a| a.name == name).unwrap();
        std::fs::write(dir.path().join(name), asset.bytes).unwrap();
    }
    std::fs::write(dir.path().join("driver.mjs"), DRIVER).unwrap();
    let out = match Command::new("node")
        .arg(dir.path().join("driver.mjs"))
        .arg(input.to_string())
        .output()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("node absent: the page's crypto was not run");
            return None;
        }
        out => out.unwrap(),
    };
    assert!(
        out.status.success(),
        "eth.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("the driver prints JSON"))
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("a hex string")).expect("hex")
}

fn b256(v: &Value) -> B256 {
    B256::from_slice(&bytes(v))
}

#[test]
fn the_page_signs_tickets_and_grants_as_the_broker_checks_them() {
    let domain = TicketDomain {
        chain_id: 31337,
        broker: address!("5FbDB2315678afecb367f0512aa3Fa5d180aa3F1"),
    };
    let recipient = address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720");
    let message = "thanks <b>a lot</b> for the stream 🎉, long enough for two words";
    for (i, key) in [[0x11u8; 32], [0x42; 32], [0xfe; 32]]
        .into_iter()
        .enumerate()
    {
        let signer = address_of_secret(&key).unwrap();
        let ticket = Ticket {
            recipient,
            sender: Address::repeat_byte(0xab),
            signer,
            faceValue: U256::from(10u64).pow(U256::from(18u64)) + U256::from(i),
            winProb: U256::MAX / U256::from(3u64 + i as u64),
            senderNonce: U256::from(7 + i),
            recipientRandHash: b256!(
                "c0ffee0000000000000000000000000000000000000000000000000000c0ffee"
            ),
            creationRound: U256::from(12u64),
        };
        let grant = SignerGrant {
            funder: signer,
            signer: Address::repeat_byte(0x5a),
            recipient,
            maxSpend: U256::from(25u64) * U256::from(10u64).pow(U256::from(18u64)),
            untilRound: U256::from(20u64),
            nonce: U256::from(i),
            deadline: U256::from(1_900_000_000u64),
        };
        let Some(js) = run_eth_js(&json!({
            "key": hex::encode_prefixed(key),
            "domain": { "chainId": domain.chain_id, "broker": domain.broker },
            "ticket": {
                "recipient": ticket.recipient, "sender": ticket.sender, "signer": ticket.signer,
                "faceValue": ticket.faceValue.to_string(), "winProb": ticket.winProb.to_string(),
                "senderNonce": ticket.senderNonce.to_string(),
                "recipientRandHash": ticket.recipientRandHash,
                "creationRound": ticket.creationRound.to_string(),
            },
            "grant": {
                "funder": grant.funder, "signer": grant.signer,
                "recipient": grant.recipient, "maxSpend": grant.maxSpend.to_string(),
                "untilRound": grant.untilRound.to_string(), "nonce": grant.nonce.to_string(),
                "deadline": grant.deadline.to_string(),
            },
            "message": message,
        })) else {
            return;
        };
        assert_eq!(
            js["address"].as_str().unwrap().parse::<Address>().unwrap(),
            signer
        );

        let digest = ticket.hash(&domain);
        assert_eq!(b256(&js["ticketDigest"]), digest, "the ticket digest");
        let signature = Signature::from_bytes(&bytes(&js["ticketSignature"])).unwrap();
        // recover applies the broker's rules: v in {27, 28}, low s.
        assert_eq!(signature.recover(digest), Ok(signer));
        assert_eq!(
            signature,
            Signature::sign(&key, digest).unwrap(),
            "RFC 6979: the page's signature is libsecp256k1's"
        );

        let grant_digest = grant.eip712_signing_hash(&domain.eip712());
        assert_eq!(b256(&js["grantDigest"]), grant_digest, "the grant digest");
        let grant_signature = Signature::from_bytes(&bytes(&js["grantSignature"])).unwrap();
        assert_eq!(grant_signature.recover(grant_digest), Ok(signer));

        let approve = approveCall {
            spender: domain.broker,
            amount: ticket.faceValue,
        };
        assert_eq!(bytes(&js["approve"]), approve.abi_encode());
        let tip = tipCall {
            streamer: recipient,
            amount: ticket.faceValue,
            message: message.into(),
        };
        assert_eq!(bytes(&js["tip"]), tip.abi_encode());
        let subscribe = subscribeCall {
            streamer: recipient,
            periods: U256::from(3u64),
            maxPricePerPeriod: ticket.winProb,
        };
        assert_eq!(bytes(&js["subscribe"]), subscribe.abi_encode());
    }
}
