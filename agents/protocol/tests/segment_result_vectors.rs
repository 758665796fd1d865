//! The shared segment-result vectors (`test/vectors/segment_results.json`, also asserted by
//! `test/vectors/SegmentResultVectors.t.sol` against `SegmentResultHash.sol`) hold in Rust: type
//! hashes, domain separator, struct hashes, digest, deterministic signature and recovery, and the
//! result rebuilt from the raw stream id, segment and rendition bytes.

use std::str::FromStr;

use alloy_primitives::{Address, B256, U256, hex, keccak256};
use alloy_sol_types::SolStruct;
use peerflow_protocol::api::{ProfileSpec, SegmentRequest};
use peerflow_protocol::result::{DOMAIN_NAME, DOMAIN_VERSION, Profile, ResultDomain};
use peerflow_protocol::signature::address_of_secret;
use peerflow_protocol::{SegmentResult, Signature};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test/vectors/segment_results.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("segment_results.json"))
        .expect("json")
}

fn b256(v: &Value) -> B256 {
    B256::from_str(v.as_str().expect("hex string")).expect("bytes32")
}

fn address(v: &Value) -> Address {
    Address::from_str(v.as_str().expect("address string")).expect("address")
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn domain(all: &Value) -> ResultDomain {
    let d = &all["eip712"]["domain"];
    assert_eq!(d["name"], DOMAIN_NAME);
    assert_eq!(d["version"], DOMAIN_VERSION);
    ResultDomain {
        chain_id: d["chainId"].as_u64().expect("chainId"),
        staking: address(&d["verifyingContract"]),
    }
}

#[test]
fn type_hashes_and_domain_separator_match() {
    let all = vectors();
    assert_eq!(all["format"], "peerflow-segment-result-vectors/1");
    let e = &all["eip712"];
    assert_eq!(
        SegmentResult::eip712_encode_type(),
        e["segmentResultType"].as_str().unwrap()
    );
    assert_eq!(
        Profile::eip712_encode_type(),
        e["profileType"].as_str().unwrap()
    );
    assert_eq!(
        SegmentResult::eip712_type_hash(&SegmentResult::new(
            Address::ZERO,
            Address::ZERO,
            &SegmentRequest {
                stream: String::new(),
                seq: 0,
                format: "ts".into(),
                profiles: vec![],
            },
            b"",
            &[],
        )),
        b256(&e["segmentResultTypeHash"])
    );
    assert_eq!(
        keccak256(e["profileType"].as_str().unwrap()),
        b256(&e["profileTypeHash"])
    );
    assert_eq!(
        domain(&all).eip712().separator(),
        b256(&e["domainSeparator"])
    );
}

#[test]
fn every_vector_rebuilds_hashes_signs_and_recovers() {
    let all = vectors();
    let domain = domain(&all);
    let list = all["vectors"].as_array().expect("vectors");
    assert!(list.len() >= 3);
    for v in list {
        let name = v["name"].as_str().unwrap();
        let r = &v["result"];
        let profiles: Vec<ProfileSpec> = r["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| ProfileSpec {
                name: p["name"].as_str().unwrap().into(),
                width: p["width"].as_u64().unwrap() as u32,
                height: p["height"].as_u64().unwrap() as u32,
                bitrate_kbps: p["bitrateKbps"].as_u64().unwrap() as u32,
                codec: p["codec"].as_str().unwrap().into(),
            })
            .collect();
        let request = SegmentRequest {
            stream: v["stream"].as_str().unwrap().into(),
            seq: 0,
            format: "ts".into(),
            profiles,
        };
        let renditions: Vec<Vec<u8>> = v["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(bytes)
            .collect();
        let renditions: Vec<&[u8]> = renditions.iter().map(Vec::as_slice).collect();
        let mut result = SegmentResult::new(
            address(&r["orchestrator"]),
            address(&r["broadcaster"]),
            &request,
            &bytes(&v["input"]),
            &renditions,
        );
        result.seq = U256::from_str_radix(r["seq"].as_str().unwrap(), 10).unwrap();
        assert_eq!(result.streamHash, b256(&r["streamHash"]), "{name}: stream");
        assert_eq!(result.inputHash, b256(&r["inputHash"]), "{name}: input");
        let hashes: Vec<B256> = r["renditionHashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(b256)
            .collect();
        assert_eq!(result.renditionHashes, hashes, "{name}: renditions");
        for (p, h) in result
            .profiles
            .iter()
            .zip(v["profileHashes"].as_array().unwrap())
        {
            assert_eq!(
                p.eip712_hash_struct(),
                b256(h),
                "{name}: profile {}",
                p.name
            );
        }
        assert_eq!(
            result.eip712_hash_struct(),
            b256(&v["structHash"]),
            "{name}: struct hash"
        );
        let digest = result.digest(&domain);
        assert_eq!(digest, b256(&v["digest"]), "{name}: digest");

        let key = b256(&v["privateKey"]).0;
        assert_eq!(address_of_secret(&key).unwrap(), result.orchestrator);
        let sig = Signature::sign(&key, digest).unwrap();
        let expected = &v["signature"];
        assert_eq!(sig.r, b256(&expected["r"]), "{name}: r");
        assert_eq!(sig.s, b256(&expected["s"]), "{name}: s");
        assert_eq!(
            u64::from(sig.v),
            expected["v"].as_u64().unwrap(),
            "{name}: v"
        );
        assert_eq!(
            Signature::from_bytes(&bytes(&expected["bytes"])).unwrap(),
            sig,
            "{name}: 65-byte form"
        );
        assert_eq!(
            result.verify(&domain, &sig, None),
            Ok(()),
            "{name}: recovery"
        );
    }
}
