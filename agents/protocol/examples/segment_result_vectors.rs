//! Prints the shared segment-result vectors (`test/vectors/segment_results.json`), asserted by
//! `agents/protocol/tests/segment_result_vectors.rs` and `test/vectors/SegmentResultVectors.t.sol`:
//!
//! ```sh
//! cargo run -p peerflow-protocol --example segment_result_vectors > test/vectors/segment_results.json
//! ```

use alloy_primitives::{Address, B256, U256, hex, keccak256};
use alloy_sol_types::SolStruct;
use peerflow_protocol::api::{ProfileSpec, SegmentRequest};
use peerflow_protocol::result::{DOMAIN_NAME, DOMAIN_VERSION, ResultDomain};
use peerflow_protocol::signature::address_of_secret;
use peerflow_protocol::{SegmentResult, Signature};
use serde_json::{Value, json};

/// Chain and Staking address of every vector (the ticket vectors' chain; a fixed address).
const CHAIN_ID: u64 = 31337;
const STAKING: Address = Address::new([
    0x5a, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01,
]);

fn key(byte: u8) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[31] = byte;
    k
}

fn profile(name: &str, width: u32, height: u32, bitrate_kbps: u32, codec: &str) -> ProfileSpec {
    ProfileSpec {
        name: name.into(),
        width,
        height,
        bitrate_kbps,
        codec: codec.into(),
    }
}

fn vector(
    name: &str,
    description: &str,
    orchestrator_key: u8,
    request: &SegmentRequest,
    seq: U256,
    segment: &[u8],
    renditions: &[&[u8]],
) -> Value {
    let domain = ResultDomain {
        chain_id: CHAIN_ID,
        staking: STAKING,
    };
    let secret = key(orchestrator_key);
    let mut result = SegmentResult::new(
        address_of_secret(&secret).unwrap(),
        address_of_secret(&key(1)).unwrap(),
        request,
        segment,
        renditions,
    );
    result.seq = seq;
    let digest = result.digest(&domain);
    let sig = Signature::sign(&secret, digest).unwrap();
    json!({
        "name": name,
        "description": description,
        "privateKey": B256::from(secret),
        "stream": request.stream,
        "input": hex::encode_prefixed(segment),
        "renditions": renditions.iter().map(hex::encode_prefixed).collect::<Vec<_>>(),
        "result": {
            "orchestrator": result.orchestrator.to_checksum(None),
            "broadcaster": result.broadcaster.to_checksum(None),
            "streamHash": result.streamHash,
            "seq": result.seq.to_string(),
            "inputHash": result.inputHash,
            "profiles": result.profiles.iter().map(|p| json!({
                "name": p.name,
                "width": p.width,
                "height": p.height,
                "bitrateKbps": p.bitrateKbps,
                "codec": p.codec,
            })).collect::<Vec<_>>(),
            "renditionHashes": result.renditionHashes,
        },
        "profileHashes": result.profiles.iter().map(|p| p.eip712_hash_struct()).collect::<Vec<_>>(),
        "structHash": result.eip712_hash_struct(),
        "digest": digest,
        "signature": {
            "r": sig.r,
            "s": sig.s,
            "v": sig.v,
            "bytes": hex::encode_prefixed(sig.to_bytes()),
        },
    })
}

fn main() {
    let domain = ResultDomain {
        chain_id: CHAIN_ID,
        staking: STAKING,
    };
    let ladder = SegmentRequest {
        stream: "demo".into(),
        seq: 0,
        format: "ts".into(),
        profiles: vec![
            profile("360p", 640, 360, 800, "h264"),
            profile("240p", 426, 240, 400, "h264"),
        ],
    };
    let unicode = SegmentRequest {
        stream: "flux-é-ストリーム".into(),
        seq: 0,
        format: "mp4".into(),
        profiles: vec![profile("1080p", 1920, 1080, u32::MAX, "av1-rav1e")],
    };
    let empty = SegmentRequest {
        stream: String::new(),
        seq: 0,
        format: "ts".into(),
        profiles: vec![],
    };
    let vectors = vec![
        vector(
            "two-profiles",
            "the default shape: two h264 renditions in ladder order, signed by key 0x03",
            3,
            &ladder,
            U256::from(7u64),
            b"segment 7",
            &[b"rendition 360p", b"rendition 240p"],
        ),
        vector(
            "unicode-and-extremes",
            "a non-ASCII stream id and profile strings, bitrate 2^32-1, seq 2^200, key 0x02",
            2,
            &unicode,
            U256::from(1u64) << 200,
            &[0u8; 0],
            &[&[0xffu8; 3]],
        ),
        vector(
            "empty-ladder",
            "no profiles and no renditions (empty arrays hash to keccak256 of nothing), empty stream id",
            3,
            &empty,
            U256::ZERO,
            b"x",
            &[],
        ),
    ];
    let profile_type =
        "Profile(string name,uint32 width,uint32 height,uint32 bitrateKbps,string codec)";
    let result_type = format!(
        "SegmentResult(address orchestrator,address broadcaster,bytes32 streamHash,uint256 seq,bytes32 inputHash,Profile[] profiles,bytes32[] renditionHashes){profile_type}"
    );
    assert_eq!(SegmentResult::eip712_encode_type(), result_type);
    let domain_type =
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
    let out = json!({
        "format": "peerflow-segment-result-vectors/1",
        "eip712": {
            "domainType": domain_type,
            "domainTypeHash": keccak256(domain_type),
            "domain": {
                "name": DOMAIN_NAME,
                "version": DOMAIN_VERSION,
                "chainId": CHAIN_ID,
                "verifyingContract": STAKING.to_checksum(None),
            },
            "domainSeparator": domain.eip712().separator(),
            "profileType": profile_type,
            "profileTypeHash": keccak256(profile_type),
            "segmentResultType": result_type,
            "segmentResultTypeHash": keccak256(&result_type),
        },
        "vectors": vectors,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
