// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {console} from "forge-std/console.sol";
import {stdStorage, StdStorage} from "forge-std/StdStorage.sol";
import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice The suite with the broker at a fixed address on chain 31337, so that ticket digests and
///         signatures are reproducible outside Foundry (see test/vectors/README.md).
abstract contract VectorSuite is BrokerTestBase {
    using stdStorage for StdStorage;

    uint256 internal constant CHAIN_ID = 31337;
    address internal constant VECTOR_BROKER = 0xb40cE70000000000000000000000000000000001;
    uint256 internal constant SENDER_KEY = 0x01;
    uint256 internal constant HOT_KEY = 0x02;
    uint256 internal constant RECIPIENT_KEY = 0x03;
    uint256 internal constant VECTOR_ROUND = 1;
    string internal constant VECTORS_PATH = "test/vectors/tickets.json";

    function setUp() public virtual override {
        vm.chainId(CHAIN_ID);
        super.setUp();
        // Same constructor arguments as the deployed broker, at a fixed address; staking credits it.
        deployCodeTo(
            "TicketBroker.sol:TicketBroker",
            abi.encode(address(token), address(staking), params.unlockPeriod, params.ticketValidity),
            VECTOR_BROKER
        );
        stdstore.target(address(staking)).sig("ticketBroker()").checked_write(VECTOR_BROKER);
        broker = TicketBroker(VECTOR_BROKER);
        assertEq(staking.ticketBroker(), VECTOR_BROKER);
    }

    /* THE VECTORS' DEFINITIONS */

    enum Draw {
        AsIs, // use `rand` as given
        SearchWin, // first rand keccak256(seed, i) that wins
        SearchLose // first that loses
    }

    struct Spec {
        string name;
        string description;
        uint256 signerKey;
        uint256 faceValue;
        uint256 winProb;
        uint256 nonce;
        uint256 creationRound;
        bytes32 rand;
        Draw draw;
    }

    function _specs() internal pure returns (Spec[] memory s) {
        s = new Spec[](6);
        s[0].name = "winprob-max";
        s[0].description = "winProb = 2^256-1: wins unless the draw is exactly 2^256-1";
        s[0].signerKey = SENDER_KEY;
        s[0].faceValue = 1 ether;
        s[0].winProb = type(uint256).max;
        s[0].nonce = 0;
        s[0].creationRound = VECTOR_ROUND;
        s[0].rand = bytes32(uint256(1));
        s[0].draw = Draw.AsIs;
        s[1].name = "winprob-zero";
        s[1].description = "winProb = 0: never wins";
        s[1].signerKey = SENDER_KEY;
        s[1].faceValue = 1 ether;
        s[1].winProb = 0;
        s[1].nonce = 1;
        s[1].creationRound = VECTOR_ROUND;
        s[1].rand = bytes32(uint256(2));
        s[1].draw = Draw.AsIs;
        s[2].name = "winprob-half-wins";
        s[2].description = "winProb = 2^255 with a recipientRand whose draw is below it";
        s[2].signerKey = SENDER_KEY;
        s[2].faceValue = 0.5 ether;
        s[2].winProb = 1 << 255;
        s[2].nonce = 2;
        s[2].creationRound = VECTOR_ROUND;
        s[2].rand = bytes32(uint256(3));
        s[2].draw = Draw.SearchWin;
        s[3].name = "winprob-half-loses";
        s[3].description = "winProb = 2^255 with a recipientRand whose draw is not below it";
        s[3].signerKey = SENDER_KEY;
        s[3].faceValue = 0.5 ether;
        s[3].winProb = 1 << 255;
        s[3].nonce = 3;
        s[3].creationRound = VECTOR_ROUND;
        s[3].rand = bytes32(uint256(4));
        s[3].draw = Draw.SearchLose;
        s[4].name = "hot-signer";
        s[4].description = "signed by an authorized hot key (private key 0x02) for sender 0x01; nonces are the signer's";
        s[4].signerKey = HOT_KEY;
        s[4].faceValue = 0.25 ether;
        s[4].winProb = type(uint256).max;
        s[4].nonce = 0;
        s[4].creationRound = VECTOR_ROUND;
        s[4].rand = bytes32(uint256(5));
        s[4].draw = Draw.AsIs;
        s[5].name = "wire-extremes";
        s[5].description =
            "largest faceValue (uint96), senderNonce (uint56) and creationRound (uint32) the wire format holds; winProb 1 loses";
        s[5].signerKey = SENDER_KEY;
        s[5].faceValue = type(uint96).max;
        s[5].winProb = 1;
        s[5].nonce = type(uint56).max;
        s[5].creationRound = type(uint32).max;
        s[5].rand = bytes32(type(uint256).max);
        s[5].draw = Draw.AsIs;
    }

    struct Vector {
        string name;
        string description;
        uint256 signerKey;
        ITicketBroker.Ticket ticket;
        bytes32 recipientRand;
        bytes32 ticketHash;
        uint8 v;
        bytes32 r;
        bytes32 s;
        bytes signature;
        ITicketBroker.SignedTicket packed;
        bool wins;
    }

    /// @dev Computes a vector from its definition, with the broker, vm.sign and Fixture.pack.
    function _compute(Spec memory sp) internal view returns (Vector memory v) {
        v.name = sp.name;
        v.description = sp.description;
        v.signerKey = sp.signerKey;
        v.ticket.recipient = vm.addr(RECIPIENT_KEY);
        v.ticket.sender = vm.addr(SENDER_KEY);
        v.ticket.signer = vm.addr(sp.signerKey);
        v.ticket.faceValue = sp.faceValue;
        v.ticket.winProb = sp.winProb;
        v.ticket.senderNonce = sp.nonce;
        v.ticket.recipientRandHash = keccak256(abi.encodePacked(sp.rand));
        v.ticket.creationRound = sp.creationRound;
        v.recipientRand = sp.rand;
        if (sp.draw != Draw.AsIs) {
            // The draw reads the signature, which changes with recipientRandHash: re-sign each try.
            bool want = sp.draw == Draw.SearchWin;
            for (uint256 i;; ++i) {
                bytes32 rand = keccak256(abi.encode(sp.rand, i));
                v.ticket.recipientRandHash = keccak256(abi.encodePacked(rand));
                (uint8 sv, bytes32 sr, bytes32 ss) = vm.sign(sp.signerKey, broker.hashTicket(v.ticket));
                if (broker.isWinningTicket(sr, ss, sv, rand, sp.winProb) == want) {
                    v.recipientRand = rand;
                    break;
                }
            }
        }
        v.ticketHash = broker.hashTicket(v.ticket);
        (v.v, v.r, v.s) = vm.sign(sp.signerKey, v.ticketHash);
        v.signature = abi.encodePacked(v.r, v.s, v.v);
        v.packed = pack(v.ticket, v.recipientRand, v.v, v.r, v.s);
        v.wins = broker.isWinningTicket(v.r, v.s, v.v, v.recipientRand, v.ticket.winProb);
    }

    /* JSON OUTPUT */

    function _q(string memory s) internal pure returns (string memory) {
        return string.concat('"', s, '"');
    }

    function _kv(string memory indent, string memory key, string memory value, bool last)
        internal
        pure
        returns (string memory)
    {
        return string.concat(indent, _q(key), ": ", value, last ? "\n" : ",\n");
    }

    function _hex32(uint256 x) internal pure returns (string memory) {
        return vm.toString(bytes32(x));
    }

    function _domainJson(string memory indent) internal view returns (string memory) {
        string memory i2 = string.concat(indent, "  ");
        return string.concat(
            "{\n",
            _kv(i2, "name", _q("peerflow TicketBroker"), false),
            _kv(i2, "version", _q("1"), false),
            _kv(i2, "chainId", vm.toString(block.chainid), false),
            _kv(i2, "verifyingContract", _q(vm.toString(address(broker))), true),
            indent,
            "}"
        );
    }

    function _ticketJson(ITicketBroker.Ticket memory t) internal pure returns (string memory) {
        string memory i = "        ";
        return string.concat(
            "{\n",
            _kv(i, "recipient", _q(vm.toString(t.recipient)), false),
            _kv(i, "sender", _q(vm.toString(t.sender)), false),
            _kv(i, "signer", _q(vm.toString(t.signer)), false),
            string.concat(
                _kv(i, "faceValue", _q(vm.toString(t.faceValue)), false),
                _kv(i, "winProb", _q(vm.toString(t.winProb)), false)
            ),
            string.concat(
                _kv(i, "senderNonce", _q(vm.toString(t.senderNonce)), false),
                _kv(i, "recipientRandHash", _q(vm.toString(t.recipientRandHash)), false),
                _kv(i, "creationRound", _q(vm.toString(t.creationRound)), true)
            ),
            "      }"
        );
    }

    function _signatureJson(Vector memory v) internal pure returns (string memory) {
        string memory i = "        ";
        return string.concat(
            "{\n",
            _kv(i, "r", _q(vm.toString(v.r)), false),
            _kv(i, "s", _q(vm.toString(v.s)), false),
            _kv(i, "v", vm.toString(v.v), false),
            _kv(i, "bytes", _q(vm.toString(v.signature)), true),
            "      }"
        );
    }

    function _packedJson(ITicketBroker.SignedTicket memory p) internal pure returns (string memory) {
        string memory i = "        ";
        return string.concat(
            "{\n",
            _kv(i, "senderFace", _q(_hex32(p.senderFace)), false),
            _kv(i, "winProb", _q(_hex32(p.winProb)), false),
            string.concat(
                _kv(i, "meta", _q(_hex32(p.meta)), false),
                _kv(i, "recipientRand", _q(vm.toString(p.recipientRand)), false),
                _kv(i, "r", _q(vm.toString(p.r)), false),
                _kv(i, "s", _q(vm.toString(p.s)), true)
            ),
            "      }"
        );
    }

    function _vectorJson(Vector memory v, bool last) internal view returns (string memory) {
        string memory i = "      ";
        return string.concat(
            "    {\n",
            _kv(i, "name", _q(v.name), false),
            _kv(i, "description", _q(v.description), false),
            string.concat(
                _kv(i, "domain", _domainJson(i), false),
                _kv(i, "privateKey", _q(_hex32(v.signerKey)), false),
                _kv(i, "ticket", _ticketJson(v.ticket), false)
            ),
            string.concat(
                _kv(i, "recipientRand", _q(vm.toString(v.recipientRand)), false),
                _kv(i, "ticketHash", _q(vm.toString(v.ticketHash)), false),
                _kv(i, "signature", _signatureJson(v), false)
            ),
            string.concat(
                _kv(i, "packed", _packedJson(v.packed), false), _kv(i, "wins", v.wins ? "true" : "false", true)
            ),
            last ? "    }\n" : "    },\n"
        );
    }

    function _eip712Json() internal view returns (string memory) {
        string memory i = "    ";
        bytes32 domainSeparator = keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH,
                keccak256("peerflow TicketBroker"),
                keccak256("1"),
                block.chainid,
                address(broker)
            )
        );
        return string.concat(
            "{\n",
            _kv(
                i,
                "domainType",
                _q("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                false
            ),
            string.concat(
                _kv(i, "domainTypeHash", _q(vm.toString(EIP712_DOMAIN_TYPEHASH)), false),
                _kv(i, "domain", _domainJson(i), false),
                _kv(i, "domainSeparator", _q(vm.toString(domainSeparator)), false)
            ),
            string.concat(
                _kv(i, "ticketType", _q(TICKET_TYPE), false),
                _kv(i, "ticketTypeHash", _q(vm.toString(keccak256(bytes(TICKET_TYPE)))), true)
            ),
            "  }"
        );
    }

    /// @dev The whole file, as committed.
    function _generate() internal view returns (string memory json) {
        Spec[] memory specs = _specs();
        json = string.concat(
            "{\n",
            _kv("  ", "format", _q("peerflow-ticket-vectors/2"), false),
            _kv("  ", "eip712", _eip712Json(), false),
            '  "vectors": [\n'
        );
        for (uint256 k; k < specs.length; ++k) {
            json = string.concat(json, _vectorJson(_compute(specs[k]), k + 1 == specs.length));
        }
        json = string.concat(json, "  ]\n}\n");
    }
}

/// @notice Checks test/vectors/tickets.json field by field against the broker and independent
///         computations, and that the generator still reproduces it byte for byte.
contract TicketVectorsTest is VectorSuite {
    string internal json;
    uint256 internal count;

    function setUp() public override {
        super.setUp();
        json = vm.readFile(VECTORS_PATH);
        while (vm.keyExistsJson(json, _p(count, ""))) {
            ++count;
        }
    }

    function _p(uint256 i, string memory field) internal pure returns (string memory) {
        return string.concat(".vectors[", vm.toString(i), "]", field);
    }

    function _u(uint256 i, string memory field) internal view returns (uint256) {
        return vm.parseJsonUint(json, _p(i, field));
    }

    function _b(uint256 i, string memory field) internal view returns (bytes32) {
        return vm.parseJsonBytes32(json, _p(i, field));
    }

    function _a(uint256 i, string memory field) internal view returns (address) {
        return vm.parseJsonAddress(json, _p(i, field));
    }

    function _ticketOf(uint256 i) internal view returns (ITicketBroker.Ticket memory t) {
        t.recipient = _a(i, ".ticket.recipient");
        t.sender = _a(i, ".ticket.sender");
        t.signer = _a(i, ".ticket.signer");
        t.faceValue = _u(i, ".ticket.faceValue");
        t.winProb = _u(i, ".ticket.winProb");
        t.senderNonce = _u(i, ".ticket.senderNonce");
        t.recipientRandHash = _b(i, ".ticket.recipientRandHash");
        t.creationRound = _u(i, ".ticket.creationRound");
    }

    function _packedOf(uint256 i) internal view returns (ITicketBroker.SignedTicket memory p) {
        p.senderFace = uint256(_b(i, ".packed.senderFace"));
        p.winProb = uint256(_b(i, ".packed.winProb"));
        p.meta = uint256(_b(i, ".packed.meta"));
        p.recipientRand = _b(i, ".packed.recipientRand");
        p.r = _b(i, ".packed.r");
        p.s = _b(i, ".packed.s");
    }

    function _name(uint256 i) internal view returns (string memory) {
        return vm.parseJsonString(json, _p(i, ".name"));
    }

    function test_Vectors_FileCoversTheRequiredCases() public view {
        assertGe(count, 4);
        bool max;
        bool zero;
        bool midWin;
        bool midLose;
        bool hotSigner;
        for (uint256 i; i < count; ++i) {
            ITicketBroker.Ticket memory t = _ticketOf(i);
            bool wins = vm.parseJsonBool(json, _p(i, ".wins"));
            if (t.winProb == type(uint256).max) max = true;
            if (t.winProb == 0) zero = true;
            if (t.winProb != 0 && t.winProb != type(uint256).max && t.winProb > 1) {
                if (wins) midWin = true;
                else midLose = true;
            }
            if (t.signer != t.sender) hotSigner = true;
        }
        assertTrue(max && zero && midWin && midLose && hotSigner);
    }

    function test_Vectors_DomainMatchesTheBroker() public view {
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = broker.eip712Domain();
        assertEq(vm.parseJsonString(json, ".eip712.domain.name"), name);
        assertEq(vm.parseJsonString(json, ".eip712.domain.version"), version);
        assertEq(vm.parseJsonUint(json, ".eip712.domain.chainId"), chainId);
        assertEq(vm.parseJsonAddress(json, ".eip712.domain.verifyingContract"), verifying);
        assertEq(verifying, VECTOR_BROKER);
        assertEq(chainId, CHAIN_ID);
        assertEq(
            keccak256(bytes(vm.parseJsonString(json, ".eip712.domainType"))),
            vm.parseJsonBytes32(json, ".eip712.domainTypeHash")
        );
        assertEq(vm.parseJsonBytes32(json, ".eip712.domainTypeHash"), EIP712_DOMAIN_TYPEHASH);
        assertEq(vm.parseJsonString(json, ".eip712.ticketType"), TICKET_TYPE);
        assertEq(vm.parseJsonBytes32(json, ".eip712.ticketTypeHash"), broker.TICKET_TYPEHASH());
        assertEq(vm.parseJsonBytes32(json, ".eip712.domainSeparator"), _separator(name, version, chainId, verifying));
        for (uint256 i; i < count; ++i) {
            assertEq(vm.parseJsonString(json, _p(i, ".domain.name")), name, _name(i));
            assertEq(vm.parseJsonString(json, _p(i, ".domain.version")), version, _name(i));
            assertEq(_u(i, ".domain.chainId"), chainId, _name(i));
            assertEq(_a(i, ".domain.verifyingContract"), verifying, _name(i));
        }
    }

    function _separator(string memory name, string memory version, uint256 chainId, address verifying)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(EIP712_DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256(bytes(version)), chainId, verifying)
        );
    }

    function test_Vectors_TicketHash() public view {
        for (uint256 i; i < count; ++i) {
            ITicketBroker.Ticket memory t = _ticketOf(i);
            bytes32 expected = _b(i, ".ticketHash");
            assertEq(broker.hashTicket(t), expected, _name(i));
            assertEq(_digest(t), expected, _name(i));
            assertEq(keccak256(abi.encodePacked(_b(i, ".recipientRand"))), t.recipientRandHash, _name(i));
        }
    }

    function test_Vectors_Signature() public view {
        for (uint256 i; i < count; ++i) {
            _checkSignature(i);
        }
    }

    function _checkSignature(uint256 i) internal view {
        bytes32 h = _b(i, ".ticketHash");
        uint256 key = uint256(vm.parseJsonBytes32(json, _p(i, ".privateKey")));
        bytes32 r = _b(i, ".signature.r");
        bytes32 s = _b(i, ".signature.s");
        uint8 v = uint8(_u(i, ".signature.v"));
        address signer = _a(i, ".ticket.signer");
        assertEq(vm.addr(key), signer, _name(i));
        assertTrue(v == 27 || v == 28, _name(i));
        assertLe(uint256(s), SECP256K1_N / 2, "low s");
        assertEq(ecrecover(h, v, r, s), signer, _name(i));
        assertEq(vm.parseJsonBytes(json, _p(i, ".signature.bytes")), abi.encodePacked(r, s, v), _name(i));
        _checkDeterministic(i, key, h);
    }

    /// @dev RFC 6979 signatures are deterministic: signing again gives the vector's (v, r, s).
    function _checkDeterministic(uint256 i, uint256 key, bytes32 h) internal view {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, h);
        assertEq(v, _u(i, ".signature.v"), _name(i));
        assertEq(r, _b(i, ".signature.r"), _name(i));
        assertEq(s, _b(i, ".signature.s"), _name(i));
    }

    function test_Vectors_Packing() public view {
        for (uint256 i; i < count; ++i) {
            ITicketBroker.Ticket memory t = _ticketOf(i);
            ITicketBroker.SignedTicket memory p = _packedOf(i);
            uint8 v = uint8(_u(i, ".signature.v"));
            bytes32 rand = _b(i, ".recipientRand");
            // Packed independently of Fixture.pack, from the documented layout.
            assertEq(p.senderFace, uint256(uint160(t.sender)) << 96 | t.faceValue, _name(i));
            assertEq(p.winProb, t.winProb, _name(i));
            assertEq(
                p.meta, uint256(uint160(t.signer)) << 96 | t.senderNonce << 40 | t.creationRound << 8 | v, _name(i)
            );
            assertEq(p.recipientRand, rand, _name(i));
            assertEq(p.r, _b(i, ".signature.r"), _name(i));
            assertEq(p.s, _b(i, ".signature.s"), _name(i));
            (ITicketBroker.Ticket memory u, uint8 uv) = broker.unpackTicket(p, t.recipient);
            assertEq(uv, v, _name(i));
            assertEq(keccak256(abi.encode(u)), keccak256(abi.encode(t)), _name(i));
        }
    }

    function test_Vectors_WinResult() public view {
        for (uint256 i; i < count; ++i) {
            ITicketBroker.Ticket memory t = _ticketOf(i);
            bytes32 rand = _b(i, ".recipientRand");
            bytes32 r = _b(i, ".signature.r");
            bytes32 s = _b(i, ".signature.s");
            uint8 v = uint8(_u(i, ".signature.v"));
            bool wins = vm.parseJsonBool(json, _p(i, ".wins"));
            assertEq(broker.isWinningTicket(r, s, v, rand, t.winProb), wins, _name(i));
            assertEq(_wins(r, s, v, rand, t.winProb), wins, _name(i));
            // The draw hashes the 65-byte signature as listed, then recipientRand.
            bytes memory sig = vm.parseJsonBytes(json, _p(i, ".signature.bytes"));
            assertEq(uint256(keccak256(bytes.concat(sig, rand))) < t.winProb, wins, _name(i));
        }
    }

    function test_Vectors_WinningOnesRedeemOnTheBroker() public {
        address recipient = vm.addr(RECIPIENT_KEY);
        address from = vm.addr(SENDER_KEY);
        bondAs(recipient, 10 ether, recipient);
        vm.prank(recipient);
        staking.registerOrchestrator(0, 0);
        fundSender(from, 10 ether, 0);
        vm.prank(from);
        broker.authorizeSigner(vm.addr(HOT_KEY));
        vm.roll(staking.startBlock() + VECTOR_ROUND * params.roundLength);

        uint256 paid;
        uint256 winners;
        for (uint256 i; i < count; ++i) {
            uint256 face = _redeemVector(i, recipient);
            paid += face;
            if (face > 0) ++winners;
        }
        assertGe(winners, 3);
        assertEq(broker.getSenderInfo(from).deposit, 10 ether - paid);
        assertEq(staking.pendingFees(recipient), paid);
    }

    /// @dev Redeems vector `i` as its recipient: paid if it wins, else the expected revert. Returns what was paid.
    function _redeemVector(uint256 i, address recipient) internal returns (uint256) {
        ITicketBroker.Ticket memory t = _ticketOf(i);
        ITicketBroker.SignedTicket memory p = _packedOf(i);
        assertEq(t.recipient, recipient);
        bool wins = vm.parseJsonBool(json, _p(i, ".wins"));
        if (!wins) {
            bytes4 err = t.creationRound > VECTOR_ROUND
                ? ITicketBroker.TicketFromFutureRound.selector
                : ITicketBroker.TicketNotWinning.selector;
            _expectRedeemRevert(recipient, p, err);
            return 0;
        }
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(t.sender, recipient, t.faceValue, t.senderNonce, 0);
        _redeem(recipient, p);
        return t.faceValue;
    }

    /// @dev Regenerate with:
    ///      forge test --match-test test_Vectors_GeneratorReproducesTheFile -vv | sed -n '/^  {$/,/^}$/p' | sed 's/^  //'
    function test_Vectors_GeneratorReproducesTheFile() public view {
        string memory generated = _generate();
        console.log(generated);
        assertEq(json, generated, "tickets.json differs from the generator's output");
    }
}
