// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice redeemWinningTickets: one status per ticket, TicketRejected events, skipping.
contract TicketBrokerBatchTest is BrokerTestBase {
    address internal o;
    address internal unlocked;
    uint256 internal unlockedKey;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 10 ether, 0, 0);
        fundSender(sender, 100 ether, 0);
        (unlocked, unlockedKey) = makeAddrAndKey("unlocked");
        fundSender(unlocked, 10 ether, 0);
        vm.prank(unlocked);
        broker.unlock(); // round 0: withdrawRound 3
        rollRounds(3); // round 3
    }

    function _status(ITicketBroker.RedeemStatus[] memory s, uint256 i) internal pure returns (uint256) {
        return uint256(s[i]);
    }

    function test_RedeemBatch_ReportsEveryStatusAndPaysTheRest() public {
        _redeem(o, _signedBy(o, 1 ether, 17 * 192)); // word 17 takes slot 1: word 1 is too old
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](12);
        sts[0] = _signedBy(o, 1 ether, 0); // Redeemed
        sts[1] = _signedBy(o, 0, 1); // ZeroFaceValue
        sts[2] = _signedAt(o, 1 ether, 2, 4); // FutureRound
        sts[3] = _signedAt(o, 1 ether, 3, 1); // Expired
        sts[4] = sign(senderKey, _t(o, sender, sender, 1 ether, 0, 4, RAND, 3), RAND); // NotWinning
        sts[5] = sign(hotKey, _t(o, sender, sender, 1 ether, ALWAYS, 5, RAND, 3), RAND); // InvalidSignature
        sts[6] = sign(hotKey, _t(o, sender, hot, 1 ether, ALWAYS, 6, RAND, 3), RAND); // UnauthorizedSigner
        sts[7] = _signedBy(o, 2 ether, 0); // NonceUsed: nonce 0 was just redeemed by sts[0]
        sts[8] = sign(unlockedKey, _t(o, unlocked, unlocked, 1 ether, ALWAYS, 0, RAND, 3), RAND); // FundsUnlocked
        sts[9] = _signedBy(o, 1000 ether, 9); // InsufficientFunds
        sts[10] = _signedBy(o, 5 ether, 10); // Redeemed
        sts[11] = _signedBy(o, 1 ether, 192 + 3); // NonceTooOld: word 1, evicted by word 17

        uint8[12] memory expected = [
            uint8(ITicketBroker.RedeemStatus.Redeemed),
            uint8(ITicketBroker.RedeemStatus.ZeroFaceValue),
            uint8(ITicketBroker.RedeemStatus.FutureRound),
            uint8(ITicketBroker.RedeemStatus.Expired),
            uint8(ITicketBroker.RedeemStatus.NotWinning),
            uint8(ITicketBroker.RedeemStatus.InvalidSignature),
            uint8(ITicketBroker.RedeemStatus.UnauthorizedSigner),
            uint8(ITicketBroker.RedeemStatus.NonceUsed),
            uint8(ITicketBroker.RedeemStatus.FundsUnlocked),
            uint8(ITicketBroker.RedeemStatus.InsufficientFunds),
            uint8(ITicketBroker.RedeemStatus.Redeemed),
            uint8(ITicketBroker.RedeemStatus.NonceTooOld)
        ];
        uint56[12] memory nonces = [uint56(0), 1, 2, 3, 4, 5, 6, 0, 0, 9, 10, 192 + 3];

        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 1 ether, 0, 0);
        for (uint256 i = 1; i < 10; ++i) {
            address from = i == 8 ? unlocked : sender;
            vm.expectEmit(address(broker));
            emit ITicketBroker.TicketRejected(from, o, nonces[i], ITicketBroker.RedeemStatus(expected[i]));
        }
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 5 ether, 10, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, o, nonces[11], ITicketBroker.RedeemStatus.NonceTooOld);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);

        assertEq(statuses.length, 12);
        for (uint256 i; i < 12; ++i) {
            assertEq(_status(statuses, i), expected[i], string.concat("status of ticket ", vm.toString(i)));
        }
        assertEq(broker.getSenderInfo(sender).deposit, 93 ether);
        assertEq(broker.getSenderInfo(unlocked).deposit, 10 ether);
        // Only the two paid tickets' nonces are used; every skipped one stays usable.
        assertEq(_wordBits(sender, o, 0), 1 << 0 | 1 << 10);
        assertEq(staking.pendingFees(o), 7 ether);
    }

    function test_RedeemBatch_SkippedTicketStaysRedeemable() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(o, 1 ether, 0);
        sts[1] = _signedBy(o, 200 ether, 1);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.InsufficientFunds));
        assertFalse(broker.isNonceUsed(sender, o, 1), "a skipped ticket does not use its nonce");
        fundSender(sender, 101 ether, 0);
        statuses = _batch(o, _one(sts[1]));
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(broker.getSenderInfo(sender).deposit, 0);
        assertEq(_wordBits(sender, o, 0), 3);
    }

    function test_RedeemBatch_AnyNonceOrderPaysEveryTicket() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](4);
        sts[0] = _signedBy(o, 1 ether, 300); // another replay word
        sts[1] = _signedBy(o, 1 ether, 1);
        sts[2] = _signedBy(o, 1 ether, 0);
        sts[3] = _signedBy(o, 1 ether, 2);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        for (uint256 i; i < 4; ++i) {
            assertEq(uint256(statuses[i]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        }
        assertEq(broker.getSenderInfo(sender).deposit, 96 ether);
        assertEq(_wordBits(sender, o, 0), 7);
        assertEq(_wordBits(sender, o, 1), 2 ** (300 - 192));
    }

    /// @dev Issue 14: a skipped ticket used to be burned by a later nonce of the same signer in the
    ///      same batch (the later one moved the nonce floor past it). Now it stays redeemable.
    function test_RedeemBatch_SkippedTicketIsNotBurnedByALaterNonce() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(o, 150 ether, 0); // more than the deposit: skipped
        sts[1] = _signedBy(o, 1 ether, 1); // paid
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.InsufficientFunds));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        fundSender(sender, 51 ether, 0);
        uint256 feesBefore = staking.pendingFees(o);
        statuses = _batch(o, _one(sts[0]));
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.Redeemed), "the skipped winner pays later");
        assertEq(staking.pendingFees(o) - feesBefore, 150 ether);
        assertEq(broker.getSenderInfo(sender).deposit, 0);
    }

    /// @dev Within one batch the window moves as tickets are paid: a ticket 16 words newer placed first
    ///      evicts an older one's word; placed oldest first, both pay.
    function test_RedeemBatch_OldestFirstKeepsEveryTicketInTheWindow() public {
        ITicketBroker.SignedTicket memory older = _signedBy(o, 1 ether, 5);
        ITicketBroker.SignedTicket memory newer = _signedBy(o, 1 ether, 16 * 192 + 5);
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        (sts[0], sts[1]) = (newer, older);
        uint256 snap = vm.snapshotState();
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, o, 5, ITicketBroker.RedeemStatus.NonceTooOld);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.NonceTooOld));
        assertEq(broker.getSenderInfo(sender).deposit, 99 ether);
        vm.revertToState(snap);

        (sts[0], sts[1]) = (older, newer);
        statuses = _batch(o, sts);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(broker.getSenderInfo(sender).deposit, 98 ether);
        assertEq(uint8(broker.nonceState(sender, o, 5)), uint8(ITicketBroker.NonceState.TooOld), "paid, then evicted");
    }

    function test_RedeemBatch_DuplicateTicketPaidOnce() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(o, 1 ether, 0);
        sts[1] = sts[0];
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.NonceUsed));
        assertEq(broker.getSenderInfo(sender).deposit, 99 ether);
    }

    function test_RedeemBatch_InterleavedSignersEachInOrder() public {
        vm.prank(sender);
        broker.authorizeSigner(hot);
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](4);
        sts[0] = _signedBy(o, 1 ether, 0);
        sts[1] = sign(hotKey, _t(o, sender, hot, 1 ether, ALWAYS, 0, RAND, 3), RAND);
        sts[2] = _signedBy(o, 1 ether, 1);
        sts[3] = sign(hotKey, _t(o, sender, hot, 1 ether, ALWAYS, 1, RAND, 3), RAND);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        for (uint256 i; i < 4; ++i) {
            assertEq(uint256(statuses[i]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        }
        assertEq(_wordBits(sender, o, 0), 3);
        assertEq(_wordBits(hot, o, 0), 3);
        assertEq(broker.getSenderInfo(sender).deposit, 96 ether);
    }

    function test_RedeemBatch_EmptyBatch() public {
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, new ITicketBroker.SignedTicket[](0));
        assertEq(statuses.length, 0);
    }

    function test_RedeemBatch_AllRejectedChangesNothing() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(o, 0, 0);
        sts[1] = _signedBy(o, 1000 ether, 1);
        View memory before = _view(sender, sender, o);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.ZeroFaceValue));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.InsufficientFunds));
        _assertSame(before, _view(sender, sender, o));
    }

    /// @notice Issue 18: a batch to a recipient that never registered (a compute provider) is paid
    ///         directly (see TicketBrokerProviders.t.sol); a rejected ticket in it is skipped as usual.
    function test_RedeemBatch_RecipientNeverRegistered_IsPaidDirectly() public {
        address stranger = makeAddr("stranger");
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(stranger, 0, 0);
        sts[1] = _signedBy(stranger, 1 ether, 1);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(stranger, sts);
        assertEq(_status(statuses, 0), uint256(ITicketBroker.RedeemStatus.ZeroFaceValue));
        assertEq(_status(statuses, 1), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(token.balanceOf(stranger), 1 ether, "paid to its address");
        assertEq(staking.pendingFees(stranger), 0, "nothing credited in Staking");
    }

    function test_RedeemBatch_FeesCreditedPerTicketWithItsCreationRound() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedAt(o, 1 ether, 0, 2);
        sts[1] = _signedAt(o, 2 ether, 1, 3);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0, 1 ether, 2);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0, 2 ether, 3);
        _batch(o, sts);
    }
}
