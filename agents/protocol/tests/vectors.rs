//! The shared ticket vectors (`test/vectors/tickets.json`, produced and checked by the contracts)
//! hold in Rust too: EIP-712 domain and digest, deterministic signature, recovery, wire packing and
//! the lottery draw (over the signature and recipientRand).

use std::str::FromStr;

use alloy_primitives::{Address, B256, U256, keccak256};
use peerflow_protocol::signature::address_of_secret;
use peerflow_protocol::{
    Signature, SignedTicket, Ticket, TicketDomain, is_winning_ticket, recipient_rand_hash,
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/vectors/tickets.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("test/vectors/tickets.json"))
        .expect("json")
}

fn b256(v: &Value) -> B256 {
    B256::from_str(v.as_str().expect("hex string")).expect("bytes32")
}

fn address(v: &Value) -> Address {
    Address::from_str(v.as_str().expect("address string")).expect("address")
}

fn uint(v: &Value) -> U256 {
    U256::from_str_radix(v.as_str().expect("decimal string"), 10).expect("uint256")
}

fn domain(v: &Value) -> TicketDomain {
    assert_eq!(v["name"], peerflow_protocol::ticket::DOMAIN_NAME);
    assert_eq!(v["version"], peerflow_protocol::ticket::DOMAIN_VERSION);
    TicketDomain {
        chain_id: v["chainId"].as_u64().expect("chainId"),
        broker: address(&v["verifyingContract"]),
    }
}

#[test]
fn domain_separator_matches_the_contract() {
    let all = vectors();
    assert_eq!(all["format"], "peerflow-ticket-vectors/2");
    let eip712 = &all["eip712"];
    assert_eq!(
        domain(&eip712["domain"]).eip712().separator(),
        b256(&eip712["domainSeparator"])
    );
    assert_eq!(
        keccak256(eip712["ticketType"].as_str().unwrap()),
        b256(&eip712["ticketTypeHash"])
    );
}

#[test]
fn every_vector_hashes_signs_packs_and_draws_like_the_contract() {
    let all = vectors();
    let list = all["vectors"].as_array().expect("vectors");
    assert!(list.len() >= 4);
    for v in list {
        let name = v["name"].as_str().unwrap();
        let t = &v["ticket"];
        let ticket = Ticket {
            recipient: address(&t["recipient"]),
            sender: address(&t["sender"]),
            signer: address(&t["signer"]),
            faceValue: uint(&t["faceValue"]),
            winProb: uint(&t["winProb"]),
            senderNonce: uint(&t["senderNonce"]),
            recipientRandHash: b256(&t["recipientRandHash"]),
            creationRound: uint(&t["creationRound"]),
        };
        let rand = b256(&v["recipientRand"]);
        assert_eq!(
            recipient_rand_hash(rand),
            ticket.recipientRandHash,
            "{name}: commitment"
        );

        let hash = ticket.hash(&domain(&v["domain"]));
        assert_eq!(hash, b256(&v["ticketHash"]), "{name}: EIP-712 digest");
        assert_eq!(
            ticket.hash_under(domain(&v["domain"]).separator()),
            hash,
            "{name}: digest under a separator computed once"
        );

        let key = b256(&v["privateKey"]).0;
        assert_eq!(
            address_of_secret(&key).unwrap(),
            ticket.signer,
            "{name}: signer key"
        );
        let sig = Signature::sign(&key, hash).unwrap();
        let expected = &v["signature"];
        assert_eq!(sig.r, b256(&expected["r"]), "{name}: r");
        assert_eq!(sig.s, b256(&expected["s"]), "{name}: s");
        assert_eq!(
            u64::from(sig.v),
            expected["v"].as_u64().unwrap(),
            "{name}: v"
        );
        let bytes = alloy_primitives::hex::decode(expected["bytes"].as_str().unwrap()).unwrap();
        assert_eq!(
            Signature::from_bytes(&bytes).unwrap(),
            sig,
            "{name}: 65-byte form"
        );
        assert_eq!(
            sig.recover(hash).unwrap(),
            ticket.signer,
            "{name}: recovery"
        );

        let wire = SignedTicket::pack(&ticket, rand, &sig).unwrap();
        let packed = &v["packed"];
        let words = wire.words();
        for (i, key) in ["senderFace", "winProb", "meta", "recipientRand", "r", "s"]
            .iter()
            .enumerate()
        {
            assert_eq!(words[i], b256(&packed[*key]), "{name}: packed {key}");
        }
        assert_eq!(
            wire.unpack(ticket.recipient),
            (ticket.clone(), sig),
            "{name}: unpack"
        );

        let wins = is_winning_ticket(&sig, rand, ticket.winProb);
        assert_eq!(wins, v["wins"].as_bool().unwrap(), "{name}: lottery draw");
        // The draw is keccak256 of the listed 65 signature bytes, then recipientRand.
        let mut preimage = bytes.clone();
        preimage.extend_from_slice(rand.as_slice());
        assert_eq!(
            U256::from_be_bytes(keccak256(&preimage).0) < ticket.winProb,
            wins,
            "{name}: draw preimage"
        );
    }
}
