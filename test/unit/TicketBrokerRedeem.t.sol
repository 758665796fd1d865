// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice redeemWinningTicket: payment and every revert reason.
contract TicketBrokerRedeemTest is BrokerTestBase {
    address internal o;
    address internal d = makeAddr("delegator");
    address internal other;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000); // 50% of fees to the pool
        bondAs(d, 100 ether, o);
        other = newOrchestrator("other", 10 ether, 0, 0);
        nextRound(); // round 1: both active
        fundSender(sender, 10 ether, 0);
    }

    function _v() internal view returns (View memory) {
        return _view(sender, sender, o);
    }

    /* SUCCESS */

    function test_Redeem_PaysFaceValueFromDepositAndCreditsFees() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        uint256 brokerBalance = token.balanceOf(address(broker));
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 1 ether, 0, 0);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0.5 ether, 0.5 ether, 1);
        _redeem(o, st);

        assertEq(broker.getSenderInfo(sender).deposit, 9 ether, "deposit debited");
        assertTrue(broker.isNonceUsed(sender, o, 0), "nonce used");
        assertEq(_wordBits(sender, o, 0), 1, "exactly its bit");
        assertEq(token.balanceOf(address(broker)), brokerBalance, "tokens stay in the broker as fees");
        // 0.5 to o's cut, 0.5 shared over 200 ether of stake, half of it o's own.
        assertEq(staking.pendingFees(o), 0.75 ether);
        assertEq(staking.pendingFees(d), 0.25 ether);
        assertEq(staking.pendingFees(sender), 0);
    }

    function test_Redeem_ExactDeposit() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 10 ether, 0);
        _redeem(o, st);
        assertEq(broker.getSenderInfo(sender).deposit, 0);
    }

    function test_Redeem_TicketFromPreviousRoundStillValid() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        nextRound(); // creation round + 1 < creation round + ticketValidity
        _redeem(o, st);
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether);
    }

    function test_Redeem_HigherNoncesMaySkip() public {
        ITicketBroker.SignedTicket memory a = _signedBy(o, 1 ether, 5);
        ITicketBroker.SignedTicket memory b = _signedBy(o, 1 ether, 9);
        _redeem(o, a);
        assertEq(_wordBits(sender, o, 0), 1 << 5);
        _redeem(o, b);
        assertEq(_wordBits(sender, o, 0), 1 << 5 | 1 << 9);
        assertFalse(broker.isNonceUsed(sender, o, 6), "skipped nonces stay usable");
    }

    function test_Redeem_NoncesArePerRecipient() public {
        ITicketBroker.SignedTicket memory a = _signedBy(o, 1 ether, 3);
        ITicketBroker.SignedTicket memory b = _signedBy(other, 1 ether, 0);
        _redeem(o, a);
        _redeem(other, b);
        assertTrue(broker.isNonceUsed(sender, o, 3));
        assertFalse(broker.isNonceUsed(sender, o, 0));
        assertTrue(broker.isNonceUsed(sender, other, 0));
        assertFalse(broker.isNonceUsed(sender, other, 3));
        assertEq(staking.pendingFees(other), 1 ether);
    }

    /// @dev The largest nonce (type(uint56).max) is in word 375,299,968,947,541 (slot 5), bit 63: its
    ///      tag fits the slot, and it evicts nothing but its own slot's older word.
    function test_Redeem_LargestNonceFitsTheRing() public {
        uint256 maxNonce = type(uint56).max;
        uint256 word = maxNonce / 192;
        assertEq(word % 16, 5);
        _redeem(o, _signedBy(o, 1 ether, 5 * 192)); // word 5, slot 5
        _redeem(o, _signedBy(o, 1 ether, maxNonce));
        (uint64 wordId, uint192 bits) = broker.nonceSlot(sender, o, 5);
        assertEq(wordId, word);
        assertEq(bits, uint192(1) << 63);
        assertEq(uint8(broker.nonceState(sender, o, maxNonce)), uint8(ITicketBroker.NonceState.Used));
        _expectRedeemRevert(o, _signedBy(o, 1 ether, maxNonce), ITicketBroker.TicketNonceUsed.selector);
        // Word 5 was evicted by it: too old, paid or not.
        _expectRedeemRevert(o, _signedBy(o, 1 ether, 5 * 192), ITicketBroker.TicketNonceTooOld.selector);
        _expectRedeemRevert(o, _signedBy(o, 1 ether, 5 * 192 + 1), ITicketBroker.TicketNonceTooOld.selector);
        // Within the window (the word before, slot 4), nonces still pay.
        _redeem(o, _signedBy(o, 1 ether, maxNonce - 192));
        assertEq(broker.getSenderInfo(sender).deposit, 7 ether);
    }

    function test_Redeem_NonRoundedWinProb() public {
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1 ether, type(uint256).max / 3, 0, RAND, 1);
        bytes32 rand = _pickRand(t, true);
        ITicketBroker.SignedTicket memory st = sign(senderKey, t, rand);
        _redeem(o, st);
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether);
    }

    /* FAILURES */

    function test_RevertWhen_FaceValueIsZero() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 0, 0);
        View memory before = _v();
        _expectRedeemRevert(o, st, ITicketBroker.TicketZeroFaceValue.selector);
        _assertSame(before, _v());
    }

    function test_RevertWhen_TicketFromFutureRound() public {
        ITicketBroker.SignedTicket memory st = _signedAt(o, 1 ether, 0, 2);
        _expectRedeemRevert(o, st, ITicketBroker.TicketFromFutureRound.selector);
        nextRound();
        _redeem(o, st);
    }

    function test_RevertWhen_TicketExpired() public {
        ITicketBroker.SignedTicket memory st = _signedAt(o, 1 ether, 0, 1);
        rollRounds(2); // round 3 = creation round + ticketValidity
        View memory before = _v();
        _expectRedeemRevert(o, st, ITicketBroker.TicketExpired.selector);
        _assertSame(before, _v());
        rollRounds(5);
        _expectRedeemRevert(o, st, ITicketBroker.TicketExpired.selector);
    }

    function test_RevertWhen_TicketExpired_FirstBlockOfExpiryRound() public {
        ITicketBroker.SignedTicket memory st = _signedAt(o, 1 ether, 0, 1);
        vm.roll(staking.startBlock() + 3 * params.roundLength - 1); // last block of round 2
        uint256 snap = vm.snapshotState();
        _redeem(o, st);
        vm.revertToState(snap);
        vm.roll(block.number + 1); // round 3
        _expectRedeemRevert(o, st, ITicketBroker.TicketExpired.selector);
    }

    function test_RevertWhen_TicketNotWinning() public {
        uint256 winProb = type(uint256).max >> 6; // ~1/64
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1 ether, winProb, 0, RAND, 1);
        bytes32 rand = _pickRand(t, false);
        ITicketBroker.SignedTicket memory st = sign(senderKey, t, rand);
        assertFalse(broker.isWinningTicket(st.r, st.s, uint8(st.meta), rand, winProb));
        View memory before = _v();
        _expectRedeemRevert(o, st, ITicketBroker.TicketNotWinning.selector);
        _assertSame(before, _v());
    }

    function test_RevertWhen_WinProbIsZero() public {
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1 ether, 0, 0, RAND, 1);
        ITicketBroker.SignedTicket memory st = sign(senderKey, t, RAND);
        _expectRedeemRevert(o, st, ITicketBroker.TicketNotWinning.selector);
    }

    function test_RevertWhen_WrongRecipientRandRevealed() public {
        // The ticket commits to RAND; revealing anything else changes the hashed ticket.
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        st.recipientRand = keccak256("another rand");
        _expectRedeemRevert(o, st, ITicketBroker.TicketInvalidSignature.selector);
    }

    function test_RevertWhen_SignedByWrongKey() public {
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1 ether, ALWAYS, 0, RAND, 1);
        ITicketBroker.SignedTicket memory st = sign(hotKey, t, RAND);
        View memory before = _v();
        _expectRedeemRevert(o, st, ITicketBroker.TicketInvalidSignature.selector);
        _assertSame(before, _v());
    }

    function test_RevertWhen_SignatureHasHighS() public {
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1 ether, ALWAYS, 0, RAND, 1);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(senderKey, broker.hashTicket(t));
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flipped = v == 27 ? 28 : 27;
        // The malleated signature is valid for ecrecover...
        assertEq(ecrecover(broker.hashTicket(t), flipped, r, highS), sender);
        // ...but not for the broker.
        _expectRedeemRevert(o, pack(t, RAND, flipped, r, highS), ITicketBroker.TicketInvalidSignature.selector);
        _redeem(o, pack(t, RAND, v, r, s));
    }

    function test_RevertWhen_SignatureVIsNot27Or28() public {
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1 ether, ALWAYS, 0, RAND, 1);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(senderKey, broker.hashTicket(t));
        uint8[5] memory bad = [v - 27, 0, 29, 255, v == 27 ? 28 : 27];
        for (uint256 i; i < bad.length; ++i) {
            _expectRedeemRevert(o, pack(t, RAND, bad[i], r, s), ITicketBroker.TicketInvalidSignature.selector);
        }
    }

    function test_RevertWhen_SignatureIsZero() public {
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1 ether, ALWAYS, 0, RAND, 1);
        _expectRedeemRevert(o, pack(t, RAND, 27, 0, 0), ITicketBroker.TicketInvalidSignature.selector);
        _expectRedeemRevert(o, pack(t, RAND, 0, 0, 0), ITicketBroker.TicketInvalidSignature.selector);
    }

    function test_RevertWhen_RedeemedByAnotherRecipient() public {
        // The recipient is the caller and is part of the signed ticket.
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        _expectRedeemRevert(other, st, ITicketBroker.TicketInvalidSignature.selector);
    }

    function test_RevertWhen_AnySignedFieldIsTampered() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 7);
        ITicketBroker.SignedTicket memory x;

        x = _copy(st);
        x.senderFace = st.senderFace + 1; // face value
        _expectRedeemRevert(o, x, ITicketBroker.TicketInvalidSignature.selector);
        x = _copy(st);
        x.senderFace = uint256(uint160(hot)) << 96 | uint96(st.senderFace); // sender
        _expectRedeemRevert(o, x, ITicketBroker.TicketInvalidSignature.selector);
        x = _copy(st);
        x.winProb = st.winProb - 1;
        _expectRedeemRevert(o, x, ITicketBroker.TicketInvalidSignature.selector);
        x = _copy(st);
        x.meta = st.meta + (1 << 40); // nonce
        _expectRedeemRevert(o, x, ITicketBroker.TicketInvalidSignature.selector);
        x = _copy(st);
        x.meta = st.meta - (1 << 8); // creation round 0: still valid in round 1
        _expectRedeemRevert(o, x, ITicketBroker.TicketInvalidSignature.selector);
        x = _copy(st);
        x.meta = uint256(uint160(hot)) << 96 | uint96(st.meta); // signer
        _expectRedeemRevert(o, x, ITicketBroker.TicketInvalidSignature.selector);

        _redeem(o, st);
    }

    function _copy(ITicketBroker.SignedTicket memory st) internal pure returns (ITicketBroker.SignedTicket memory c) {
        c = ITicketBroker.SignedTicket(st.senderFace, st.winProb, st.meta, st.recipientRand, st.r, st.s);
    }

    function test_RevertWhen_SignerIsNotAuthorized() public {
        ITicketBroker.Ticket memory t = _t(o, sender, hot, 1 ether, ALWAYS, 0, RAND, 1);
        ITicketBroker.SignedTicket memory st = sign(hotKey, t, RAND);
        View memory before = _v();
        _expectRedeemRevert(o, st, ITicketBroker.TicketUnauthorizedSigner.selector);
        _assertSame(before, _v());
    }

    function test_RevertWhen_NonceReplayed() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        _redeem(o, st);
        View memory before = _v();
        _expectRedeemRevert(o, st, ITicketBroker.TicketNonceUsed.selector);
        _assertSame(before, _v());
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether, "paid once");
    }

    function test_RevertWhen_NonceTooOld_NothingChanges() public {
        _redeem(o, _signedBy(o, 1 ether, 16 * 192)); // word 16 takes slot 0
        ITicketBroker.SignedTicket memory old = _signedBy(o, 1 ether, 191); // word 0, never paid
        View memory before = _v();
        _expectRedeemRevert(o, old, ITicketBroker.TicketNonceTooOld.selector);
        _assertSame(before, _v());
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether, "only the newer one paid");
        _redeem(o, _signedBy(o, 1 ether, 192)); // word 1: slot 1 is empty, it pays
    }

    function test_Redeem_LowerNonceAfterHigherOnePays() public {
        ITicketBroker.SignedTicket memory low = _signedBy(o, 1 ether, 3);
        ITicketBroker.SignedTicket memory high = _signedBy(o, 1 ether, 4);
        _redeem(o, high);
        _redeem(o, low);
        assertEq(broker.getSenderInfo(sender).deposit, 8 ether, "both paid");
        _expectRedeemRevert(o, low, ITicketBroker.TicketNonceUsed.selector);
        _expectRedeemRevert(o, high, ITicketBroker.TicketNonceUsed.selector);
        assertEq(_wordBits(sender, o, 0), 1 << 3 | 1 << 4);
    }

    function test_RevertWhen_FundsUnlockedAtWithdrawRound() public {
        vm.prank(sender);
        broker.unlock(); // round 1: withdrawRound 4
        rollRounds(2); // round 3: unlocking but still paying
        ITicketBroker.SignedTicket memory paid = _signedBy(o, 1 ether, 0);
        _redeem(o, paid);
        ITicketBroker.SignedTicket memory late = _signedBy(o, 1 ether, 1); // created in round 3
        nextRound(); // round 4 = withdrawRound; the ticket is not expired
        View memory before = _v();
        _expectRedeemRevert(o, late, ITicketBroker.TicketFundsUnlocked.selector);
        _assertSame(before, _v());
        ITicketBroker.SignedTicket memory now_ = _signedBy(o, 1 ether, 2);
        _expectRedeemRevert(o, now_, ITicketBroker.TicketFundsUnlocked.selector);
        nextRound();
        ITicketBroker.SignedTicket memory after_ = _signedBy(o, 1 ether, 3);
        _expectRedeemRevert(o, after_, ITicketBroker.TicketFundsUnlocked.selector);
    }

    function test_Redeem_AfterCancelledUnlock() public {
        vm.prank(sender);
        broker.unlock();
        rollRounds(3); // withdraw round
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        _expectRedeemRevert(o, st, ITicketBroker.TicketFundsUnlocked.selector);
        vm.prank(sender);
        broker.cancelUnlock();
        _redeem(o, st);
    }

    function test_RevertWhen_DepositInsufficient_NothingChangesAndTicketStaysRedeemable() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 11 ether, 0);
        View memory before = _v();
        _expectRedeemRevert(o, st, ITicketBroker.TicketInsufficientFunds.selector);
        _assertSame(before, _v());
        assertEq(staking.pendingFees(d), 0);

        fundSender(sender, 1 ether, 0);
        _redeem(o, st);
        assertEq(broker.getSenderInfo(sender).deposit, 0);
        assertEq(staking.pendingFees(o) + staking.pendingFees(d), 11 ether);
    }

    function test_RevertWhen_SenderWithdrewEverything() public {
        vm.prank(sender);
        broker.unlock();
        rollRounds(3);
        vm.prank(sender);
        broker.withdraw();
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        _expectRedeemRevert(o, st, ITicketBroker.TicketInsufficientFunds.selector);
    }

    /// @notice Issue 18: a recipient that never registered (a compute provider) is no longer refused:
    ///         it is paid directly (see TicketBrokerProviders.t.sol), and nothing reaches Staking.
    function test_Redeem_RecipientNeverRegistered_IsPaidDirectly() public {
        address stranger = makeAddr("stranger");
        ITicketBroker.SignedTicket memory st = _signedBy(stranger, 1 ether, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.PaidToRecipient(stranger, 1 ether, 1);
        vm.prank(stranger);
        broker.redeemWinningTicket(st);
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether);
        assertTrue(broker.isNonceUsed(sender, stranger, 0));
        assertEq(token.balanceOf(stranger), 1 ether, "paid to its address");
        assertEq(staking.pendingFees(stranger), 0, "nothing credited in Staking");
    }

    function test_RevertWhen_RecipientWasSlashed() public {
        ITicketBroker.SignedTicket memory st = _signedBy(other, 1 ether, 0);
        vm.prank(verifier);
        staking.slash(other, address(0), 100_000, 0);
        vm.prank(other);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, other));
        broker.redeemWinningTicket(st);
    }

    function test_Redeem_ChecksRunInDocumentedOrder() public {
        // A ticket wrong in every way reports the first check: zero face value, then future round, ...
        ITicketBroker.Ticket memory t = _t(o, sender, hot, 0, 0, 0, RAND, 5);
        ITicketBroker.SignedTicket memory st = pack(t, RAND, 0, 0, 0);
        _expectRedeemRevert(o, st, ITicketBroker.TicketZeroFaceValue.selector);
        t.faceValue = 100 ether;
        st = pack(t, RAND, 0, 0, 0);
        _expectRedeemRevert(o, st, ITicketBroker.TicketFromFutureRound.selector);
        t.creationRound = 1;
        st = pack(t, RAND, 0, 0, 0);
        _expectRedeemRevert(o, st, ITicketBroker.TicketNotWinning.selector);
        t.winProb = ALWAYS;
        st = pack(t, RAND, 0, 0, 0);
        _expectRedeemRevert(o, st, ITicketBroker.TicketInvalidSignature.selector);
        st = sign(hotKey, t, RAND);
        _expectRedeemRevert(o, st, ITicketBroker.TicketUnauthorizedSigner.selector);
        vm.prank(sender);
        broker.authorizeSigner(hot);
        _expectRedeemRevert(o, st, ITicketBroker.TicketInsufficientFunds.selector);
    }
}
