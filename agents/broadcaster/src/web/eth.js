// The Ethereum a viewer's page needs, as an ES module with no build step: keccak-256 (vendored
// js-sha3, loaded as a classic script before this module: it defines globalThis.keccak256),
// secp256k1 (vendored noble-secp256k1, whose deterministic RFC 6979 nonces take HMAC-SHA256 from
// the vendored js-sha256: WebCrypto's async hashes are missing on a plain-http page), EIP-712
// hashing of the flat typed data the TicketBroker signs (SignerGrant, Ticket), and ABI encoding of
// the few calls the page sends (approve, tip, subscribe). Values are hex strings with 0x, uint256
// BigInt or decimal strings, addresses lower-case.
import * as secp from './secp256k1.js';
import { sha256 } from './sha256.min.mjs';

secp.hashes.sha256 = (msg) => new Uint8Array(sha256.arrayBuffer(msg));
secp.hashes.hmacSha256 = (key, msg) => new Uint8Array(sha256.hmac.arrayBuffer(key, msg));

const HALF_N = secp.Point.CURVE().n >> 1n;

export function hexToBytes(hex) {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (h.length % 2 || /[^0-9a-fA-F]/.test(h)) throw new Error(`not hex: ${hex}`);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const bytesToHex = (bytes) => `0x${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

/** keccak-256 of bytes (or of a string's UTF-8), as 32 bytes. */
export function keccak(data) {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return new Uint8Array(globalThis.keccak256.arrayBuffer(bytes));
}

/** A 32-byte big-endian word. */
function word(value) {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << 256n) throw new Error(`${value} does not fit a uint256`);
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

export function normalizeAddress(address) {
  if (typeof address !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(address)) throw new Error(`not an address: ${address}`);
  return address.toLowerCase();
}

const addressWord = (address) => concat(new Uint8Array(12), hexToBytes(normalizeAddress(address)));

/** One atomic EIP-712 / ABI value as its 32-byte head (dynamic types hashed, as EIP-712 encodes them). */
function encodeValue(type, value) {
  if (type === 'address') return addressWord(value);
  if (/^uint\d*$/.test(type)) return word(value);
  if (type === 'bytes32') {
    const b = hexToBytes(value);
    if (b.length !== 32) throw new Error(`bytes32 of ${b.length} bytes`);
    return b;
  }
  if (type === 'bool') return word(value ? 1 : 0);
  if (type === 'string') return keccak(String(value));
  if (type === 'bytes') return keccak(hexToBytes(value));
  throw new Error(`EIP-712 type ${type} is not supported here`);
}

function hashStruct(types, name, data) {
  const fields = types[name];
  if (!fields) throw new Error(`no type ${name}`);
  const typeString = `${name}(${fields.map((f) => `${f.type} ${f.name}`).join(',')})`;
  return keccak(concat(keccak(typeString), ...fields.map((f) => encodeValue(f.type, data[f.name]))));
}

/** The EIP-712 digest of typed data as eth_signTypedData_v4 takes it (flat structs only). */
export function hashTypedData(typed) {
  return keccak(concat(
    Uint8Array.of(0x19, 0x01),
    hashStruct(typed.types, 'EIP712Domain', typed.domain),
    hashStruct(typed.types, typed.primaryType, typed.message),
  ));
}

const DOMAIN_TYPE = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
];

const brokerDomain = (chainId, broker) => ({ name: 'peerflow TicketBroker', version: '1', chainId, verifyingContract: normalizeAddress(broker) });

/**
 * The SignerGrant a viewer's wallet signs to let `signer` sign the funder's tickets to `recipient`
 * alone, for at most `maxSpend` of face value redeemed, before round `untilRound`.
 */
export function signerGrantTypedData({ chainId, broker, funder, signer, recipient, maxSpend, untilRound, nonce, deadline }) {
  return {
    types: {
      EIP712Domain: DOMAIN_TYPE,
      SignerGrant: [
        { name: 'funder', type: 'address' },
        { name: 'signer', type: 'address' },
        { name: 'recipient', type: 'address' },
        { name: 'maxSpend', type: 'uint256' },
        { name: 'untilRound', type: 'uint256' },
        { name: 'nonce', type: 'uint256' },
        { name: 'deadline', type: 'uint256' },
      ],
    },
    primaryType: 'SignerGrant',
    domain: brokerDomain(chainId, broker),
    message: {
      funder: normalizeAddress(funder),
      signer: normalizeAddress(signer),
      recipient: normalizeAddress(recipient),
      maxSpend: String(maxSpend),
      untilRound: String(untilRound),
      nonce: String(nonce),
      deadline: String(deadline),
    },
  };
}

/** A lottery ticket (as SessionView.ticket, plus recipientRandHash and senderNonce) as typed data. */
export function ticketTypedData({ chainId, broker }, ticket) {
  return {
    types: {
      EIP712Domain: DOMAIN_TYPE,
      Ticket: [
        { name: 'recipient', type: 'address' },
        { name: 'sender', type: 'address' },
        { name: 'signer', type: 'address' },
        { name: 'faceValue', type: 'uint256' },
        { name: 'winProb', type: 'uint256' },
        { name: 'senderNonce', type: 'uint256' },
        { name: 'recipientRandHash', type: 'bytes32' },
        { name: 'creationRound', type: 'uint256' },
      ],
    },
    primaryType: 'Ticket',
    domain: brokerDomain(chainId, broker),
    message: { ...ticket },
  };
}

/** The address of a public key (65 bytes uncompressed or 33 compressed). */
export function publicKeyAddress(publicKey) {
  const point = secp.Point.fromBytes(publicKey).toBytes(false);
  return bytesToHex(keccak(point.slice(1)).slice(12));
}

/** The address of a 32-byte secret key. */
export const addressOf = (secretKey) => publicKeyAddress(secp.getPublicKey(secretKey, false));

/** A fresh key: { secretKey, address }. */
export function newKey() {
  const secretKey = secp.utils.randomSecretKey();
  return { secretKey, address: addressOf(secretKey) };
}

/** Signs a 32-byte digest as Ethereum does: r ‖ s ‖ v, low s, v = 27 + recovery bit. */
export function signDigest(digest, secretKey) {
  const sig = secp.sign(digest, secretKey, { prehash: false, lowS: true, format: 'recovered' });
  const recovery = sig[0];
  if (recovery > 1) throw new Error('signature with an unrecoverable R (x >= n): sign again');
  return bytesToHex(concat(sig.slice(1), Uint8Array.of(27 + recovery)));
}

/** The signer of an r ‖ s ‖ v signature of `digest`, or throws when it is not canonical. */
export function recoverAddress(digest, signature) {
  const b = hexToBytes(signature);
  if (b.length !== 65) throw new Error(`a signature is 65 bytes, not ${b.length}`);
  const v = b[64] < 27 ? b[64] + 27 : b[64];
  if (v !== 27 && v !== 28) throw new Error(`signature v is ${b[64]}`);
  const s = BigInt(bytesToHex(b.slice(32, 64)));
  if (s > HALF_N) throw new Error('signature s is high (not canonical)');
  const recovered = concat(Uint8Array.of(v - 27), b.slice(0, 64));
  return publicKeyAddress(secp.recoverPublicKey(recovered, digest, { prehash: false }));
}

/** Puts v in {27, 28}: some wallets return 0 or 1. */
export function canonicalV(signature) {
  const b = hexToBytes(signature);
  if (b.length === 65 && b[64] < 27) b[64] += 27;
  return bytesToHex(b);
}

/** The 4-byte selector of a function signature such as `approve(address,uint256)`. */
export const selector = (signature) => bytesToHex(keccak(signature).slice(0, 4));

/** Calldata for `signature` with static arguments (address, uint*, bool, bytes32) and strings. */
export function encodeCall(signature, args) {
  const types = signature.slice(signature.indexOf('(') + 1, -1).split(',').filter(Boolean);
  if (types.length !== args.length) throw new Error(`${signature} takes ${types.length} arguments`);
  const heads = [];
  const tails = [];
  let tailAt = 32 * types.length;
  types.forEach((type, i) => {
    if (type === 'string') {
      const bytes = new TextEncoder().encode(args[i]);
      const padded = new Uint8Array(Math.ceil(bytes.length / 32) * 32);
      padded.set(bytes);
      heads.push(word(tailAt));
      tails.push(word(bytes.length), padded);
      tailAt += 32 + padded.length;
    } else {
      heads.push(encodeValue(type, args[i]));
    }
  });
  return bytesToHex(concat(hexToBytes(selector(signature)), ...heads, ...tails));
}

/** A decimal token amount ("1.5") as wei, with 18 decimals. */
export function parseUnits(text, decimals = 18) {
  const m = /^\s*(\d*)(?:\.(\d*))?\s*$/.exec(text);
  if (!m || (!m[1] && !m[2])) throw new Error(`not an amount: ${text}`);
  const frac = m[2] || '';
  if (frac.length > decimals) throw new Error(`at most ${decimals} decimals`);
  return BigInt(m[1] || '0') * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
}

/** Wei as a decimal token amount, trailing zeros trimmed ("1.5"). */
export function formatUnits(wei, decimals = 18) {
  const v = BigInt(wei);
  const unit = 10n ** BigInt(decimals);
  const frac = (v % unit).toString().padStart(decimals, '0').replace(/0+$/, '');
  return frac ? `${v / unit}.${frac}` : `${v / unit}`;
}
