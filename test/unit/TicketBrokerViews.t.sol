// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Views: hashTicket (EIP-712, recomputed here), isWinningTicket, unpackTicket, nextNonce,
///         getSenderInfo.
contract TicketBrokerViewsTest is BrokerTestBase {
    function _sample() internal view returns (ITicketBroker.Ticket memory) {
        return _t(address(0xA11CE), sender, hot, 1.5 ether, 1 << 200, 42, RAND, 7);
    }

    function test_HashTicket_IsTheEip712Digest() public view {
        ITicketBroker.Ticket memory t = _sample();
        assertEq(broker.hashTicket(t), _digest(t));
        // Every field is part of the digest.
        bytes32 h = broker.hashTicket(t);
        ITicketBroker.Ticket memory u;
        u = _sample();
        u.recipient = sender;
        assertNotEq(broker.hashTicket(u), h);
        u = _sample();
        u.sender = hot;
        assertNotEq(broker.hashTicket(u), h);
        u = _sample();
        u.signer = sender;
        assertNotEq(broker.hashTicket(u), h);
        u = _sample();
        u.faceValue++;
        assertNotEq(broker.hashTicket(u), h);
        u = _sample();
        u.winProb++;
        assertNotEq(broker.hashTicket(u), h);
        u = _sample();
        u.senderNonce++;
        assertNotEq(broker.hashTicket(u), h);
        u = _sample();
        u.recipientRandHash = bytes32(0);
        assertNotEq(broker.hashTicket(u), h);
        u = _sample();
        u.creationRound++;
        assertNotEq(broker.hashTicket(u), h);
        assertEq(broker.hashTicket(u), _digest(u));
    }

    function test_HashTicket_BoundToChainAndBroker() public {
        ITicketBroker.Ticket memory t = _sample();
        bytes32 h = broker.hashTicket(t);
        TicketBroker other = new TicketBroker(token, staking, 3, 2);
        assertNotEq(other.hashTicket(t), h);
        assertEq(other.hashTicket(t), _digest(t, address(other)));
        vm.chainId(4242);
        assertNotEq(broker.hashTicket(t), h);
        assertEq(broker.hashTicket(t), _digest(t), "digest follows the current chain id");
    }

    function test_IsWinningTicket_ComparesKeccakOfSignatureAndRandWithWinProb() public view {
        bytes32 r = keccak256("r");
        bytes32 s = bytes32(uint256(keccak256("s")) >> 1); // low s
        bytes32 rand = keccak256("rand");
        uint256 draw = uint256(keccak256(abi.encodePacked(r, s, uint8(27), rand)));
        assertEq(abi.encodePacked(r, s, uint8(27), rand).length, 97, "65-byte signature, then rand");
        assertTrue(_isWinning(r, s, 27, rand, draw + 1));
        assertFalse(_isWinning(r, s, 27, rand, draw), "strictly below winProb");
        assertFalse(_isWinning(r, s, 27, rand, draw - 1));
        assertFalse(_isWinning(r, s, 27, rand, 0));
        assertTrue(_isWinning(r, s, 27, rand, type(uint256).max));
        // v is part of the draw.
        uint256 draw28 = uint256(keccak256(abi.encodePacked(r, s, uint8(28), rand)));
        assertEq(_isWinning(r, s, 28, rand, draw), draw28 < draw);
        // Order of the packed operands matters.
        uint256 swapped = uint256(keccak256(abi.encodePacked(rand, r, s, uint8(27))));
        assertEq(_isWinning(r, s, 27, rand, swapped), draw < swapped);
    }

    function test_IsWinningTicket_NonCanonicalEncodingNeverWins() public view {
        bytes32 r = keccak256("r");
        bytes32 lowS = bytes32(uint256(keccak256("s")) >> 1);
        bytes32 highS = bytes32(SECP256K1_N - uint256(lowS));
        bytes32 rand = keccak256("rand");
        assertTrue(_isWinning(r, lowS, 27, rand, type(uint256).max));
        assertFalse(_isWinning(r, highS, 28, rand, type(uint256).max), "high-s twin");
        assertFalse(_isWinning(r, lowS, 0, rand, type(uint256).max), "yParity v");
        assertFalse(_isWinning(r, lowS, 1, rand, type(uint256).max), "yParity v");
        assertFalse(_isWinning(r, lowS, 29, rand, type(uint256).max));
        assertTrue(_isWinning(r, bytes32(SECP256K1_N / 2), 28, rand, type(uint256).max), "n/2 is low");
        assertFalse(_isWinning(r, bytes32(SECP256K1_N / 2 + 1), 28, rand, type(uint256).max), "n/2 + 1 is high");
    }

    function _isWinning(bytes32 r, bytes32 s, uint8 v, bytes32 rand, uint256 winProb) internal view returns (bool) {
        return broker.isWinningTicket(r, s, v, rand, winProb);
    }

    function test_UnpackTicket_SplitsTheWireFormat() public view {
        ITicketBroker.Ticket memory t = _sample();
        ITicketBroker.SignedTicket memory st = pack(t, RAND, 28, bytes32(uint256(1)), bytes32(uint256(2)));
        assertEq(st.senderFace, uint256(uint160(sender)) << 96 | 1.5 ether);
        assertEq(st.meta, uint256(uint160(hot)) << 96 | 42 << 40 | 7 << 8 | 28);
        (ITicketBroker.Ticket memory u, uint8 v) = broker.unpackTicket(st, t.recipient);
        assertEq(v, 28);
        assertEq(u.recipient, t.recipient);
        assertEq(u.sender, t.sender);
        assertEq(u.signer, t.signer);
        assertEq(u.faceValue, t.faceValue);
        assertEq(u.winProb, t.winProb);
        assertEq(u.senderNonce, t.senderNonce);
        assertEq(u.recipientRandHash, keccak256(abi.encodePacked(RAND)));
        assertEq(u.creationRound, t.creationRound);
        assertEq(broker.hashTicket(u), broker.hashTicket(t));
    }

    function test_UnpackTicket_FieldWidths() public view {
        ITicketBroker.SignedTicket memory st = ITicketBroker.SignedTicket({
            senderFace: type(uint256).max,
            winProb: 5,
            meta: type(uint256).max,
            recipientRand: bytes32(0),
            r: bytes32(0),
            s: bytes32(0)
        });
        (ITicketBroker.Ticket memory u, uint8 v) = broker.unpackTicket(st, address(1));
        assertEq(u.sender, address(type(uint160).max));
        assertEq(u.faceValue, type(uint96).max);
        assertEq(u.signer, address(type(uint160).max));
        assertEq(u.senderNonce, type(uint56).max);
        assertEq(u.creationRound, type(uint32).max);
        assertEq(v, 255);
        assertEq(u.recipientRandHash, keccak256(abi.encodePacked(bytes32(0))));
    }

    function test_NonceSlot_StartsEmptyAndRecordsEachRedeemedNonce() public {
        address o = newOrchestrator("o", 10 ether, 0, 0);
        assertFalse(broker.isNonceUsed(sender, o, 41));
        assertEq(uint8(broker.nonceState(sender, o, 41)), uint8(ITicketBroker.NonceState.Redeemable));
        for (uint256 i; i < 16; ++i) {
            (uint64 wordId, uint192 bits) = broker.nonceSlot(sender, o, i);
            assertEq(wordId, 0);
            assertEq(bits, 0);
        }
        fundSender(sender, 10 ether, 0);
        _redeem(o, _signedBy(o, 1, 41));
        _redeem(o, _signedBy(o, 1, 192 * 7 + 3));
        assertTrue(broker.isNonceUsed(sender, o, 41));
        assertFalse(broker.isNonceUsed(sender, o, 40));
        assertFalse(broker.isNonceUsed(sender, o, 42));
        (uint64 w0, uint192 b0) = broker.nonceSlot(sender, o, 0);
        (uint64 w7, uint192 b7) = broker.nonceSlot(sender, o, 7);
        (uint64 w1, uint192 b1) = broker.nonceSlot(sender, o, 1);
        assertEq(w0, 0);
        assertEq(b0, uint192(1) << 41);
        assertEq(w7, 7);
        assertEq(b7, uint192(1) << 3);
        assertEq(w1, 0, "untouched slot");
        assertEq(b1, 0, "untouched slot");
        assertTrue(broker.isNonceUsed(sender, o, 192 * 7 + 3));
        assertEq(uint8(broker.nonceState(sender, o, 192 * 7 + 3)), uint8(ITicketBroker.NonceState.Used));
        assertFalse(broker.isNonceUsed(o, sender, 41), "per (signer, recipient)");

        // Word 16 takes slot 0: word 0's nonces, paid or not, are too old; the view says so.
        _redeem(o, _signedBy(o, 1, 192 * 16 + 5));
        (w0, b0) = broker.nonceSlot(sender, o, 0);
        assertEq(w0, 16);
        assertEq(b0, uint192(1) << 5);
        assertEq(uint8(broker.nonceState(sender, o, 41)), uint8(ITicketBroker.NonceState.TooOld));
        assertEq(uint8(broker.nonceState(sender, o, 40)), uint8(ITicketBroker.NonceState.TooOld));
        assertTrue(broker.isNonceUsed(sender, o, 40), "too old counts as used");
        assertEq(uint8(broker.nonceState(sender, o, 192 * 16 + 6)), uint8(ITicketBroker.NonceState.Redeemable));
        assertEq(uint8(broker.nonceState(sender, o, 192 * 32)), uint8(ITicketBroker.NonceState.Redeemable));
    }

    function test_RevertWhen_NonceViewsOutOfRange() public {
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        broker.nonceSlot(sender, sender, 16);
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        broker.nonceState(sender, sender, uint256(type(uint56).max) + 1);
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        broker.isNonceUsed(sender, sender, type(uint256).max);
        broker.nonceSlot(sender, sender, 15);
        broker.nonceState(sender, sender, type(uint56).max);
    }

    function test_GetSenderInfo_UnknownSenderIsEmpty() public view {
        ITicketBroker.SenderInfo memory info = broker.getSenderInfo(address(0xB0B));
        assertEq(info.deposit, 0);
        assertEq(info.reserve, 0);
        assertEq(info.withdrawRound, 0);
    }

    function test_GetSenderInfo_ReflectsFundingUnlockAndRedemption() public {
        address o = newOrchestrator("o", 10 ether, 0, 0);
        fundSender(sender, 4 ether, 6 ether);
        nextRound();
        vm.prank(sender);
        broker.unlock();
        ITicketBroker.SignedTicket memory st = _signedBy(o, 5 ether, 0);
        _redeem(o, st);
        ITicketBroker.SenderInfo memory info = broker.getSenderInfo(sender);
        assertEq(info.deposit, 0);
        assertEq(info.reserve, 5 ether);
        assertEq(info.withdrawRound, 4);
    }
}
