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

    function test_IsWinningTicket_ComparesKeccakOfRandAndHashWithWinProb() public view {
        bytes32 h = keccak256("hash");
        bytes32 rand = keccak256("rand");
        uint256 draw = uint256(keccak256(abi.encodePacked(rand, h)));
        assertTrue(broker.isWinningTicket(h, rand, draw + 1));
        assertFalse(broker.isWinningTicket(h, rand, draw), "strictly below winProb");
        assertFalse(broker.isWinningTicket(h, rand, draw - 1));
        assertFalse(broker.isWinningTicket(h, rand, 0));
        assertTrue(broker.isWinningTicket(h, rand, type(uint256).max));
        // Order of the packed operands matters.
        uint256 swapped = uint256(keccak256(abi.encodePacked(h, rand)));
        assertEq(broker.isWinningTicket(h, rand, swapped), draw < swapped);
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

    function test_NextNonce_StartsAtZeroAndFollowsRedemptions() public {
        address o = newOrchestrator("o", 10 ether, 0, 0);
        assertEq(broker.nextNonce(sender, o), 0);
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1, 41);
        _redeem(o, st);
        assertEq(broker.nextNonce(sender, o), 42);
        assertEq(broker.nextNonce(o, sender), 0);
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
