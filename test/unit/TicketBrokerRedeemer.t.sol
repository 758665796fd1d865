// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice redeemWinningTicketFor / redeemWinningTicketsFor: redemption by the recipient or by the
///         redeemer it named in Staking, with everything keyed by the recipient (digest, replay ring,
///         reserve share, events, fees) and nothing by the caller.
/// @dev Setup: o (10% / 50%, 100 self + 100 delegated) and other (10 self), both active from round 1;
///      `rk` is o's redeemer (a hot key with no stake, no tokens, no role of its own).
contract TicketBrokerRedeemerTest is BrokerTestBase {
    address internal o;
    address internal other;
    address internal d = makeAddr("delegator");
    address internal rk = makeAddr("redeemerKey");
    address internal stranger = makeAddr("stranger");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        bondAs(d, 100 ether, o);
        other = newOrchestrator("other", 10 ether, 0, 0);
        vm.prank(o);
        staking.setRedeemer(rk);
        nextRound(); // round 1: both active
        fundSender(sender, 10 ether, 0);
    }

    function _redeemFor(address by, address recipient, ITicketBroker.SignedTicket memory st) internal {
        vm.prank(by);
        broker.redeemWinningTicketFor(recipient, st);
    }

    function _batchFor(address by, address recipient, ITicketBroker.SignedTicket[] memory sts)
        internal
        returns (ITicketBroker.RedeemStatus[] memory)
    {
        vm.prank(by);
        return broker.redeemWinningTicketsFor(recipient, sts);
    }

    function _notRedeemer(address by, address recipient) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ITicketBroker.NotRedeemer.selector, by, recipient);
    }

    /* SINGLE */

    /// @notice The redeemer's redemption is the recipient's: same events, same debit, same replay bit,
    ///         fees split into o's pool; the redeemer is credited nothing and holds nothing.
    function test_RedeemFor_ByRedeemer_PaysTheRecipient() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        uint256 brokerBalance = token.balanceOf(address(broker));
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 1 ether, 0, 0);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0.5 ether, 0.5 ether, 1);
        _redeemFor(rk, o, st);

        assertEq(broker.getSenderInfo(sender).deposit, 9 ether);
        assertTrue(broker.isNonceUsed(sender, o, 0), "o's replay ring");
        assertEq(_ringHash(sender, rk), _ringHash(sender, address(0)), "no ring for the redeemer");
        assertEq(token.balanceOf(address(broker)), brokerBalance);
        assertEq(staking.pendingFees(o), 0.75 ether);
        assertEq(staking.pendingFees(d), 0.25 ether);
        assertEq(staking.pendingFees(rk), 0, "nothing for the redeemer");
        assertEq(token.balanceOf(rk), 0);
    }

    function test_RedeemFor_ByTheRecipientItself_NeedsNoRedeemer() public {
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, other, 1 ether, 0, 0);
        _redeemFor(other, other, _signedBy(other, 1 ether, 0));
        assertEq(staking.pendingFees(other), 1 ether);
    }

    function test_RedeemFor_ByAnyoneElse_RevertsBeforeAnything() public {
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        View memory before = _view(sender, sender, o);
        vm.prank(stranger);
        vm.expectRevert(_notRedeemer(stranger, o));
        broker.redeemWinningTicketFor(o, st);
        vm.prank(other); // another orchestrator
        vm.expectRevert(_notRedeemer(other, o));
        broker.redeemWinningTicketFor(o, st);
        ITicketBroker.SignedTicket memory othersTicket = _signedBy(other, 1 ether, 0);
        vm.prank(rk); // o's redeemer is not other's
        vm.expectRevert(_notRedeemer(rk, other));
        broker.redeemWinningTicketFor(other, othersTicket);
        vm.prank(rk);
        vm.expectRevert(_notRedeemer(rk, address(0)));
        broker.redeemWinningTicketFor(address(0), st);
        _assertSame(before, _view(sender, sender, o));
    }

    function test_RedeemFor_ClearedOrReplacedRedeemer_Reverts() public {
        address next = makeAddr("nextRedeemerKey");
        vm.prank(o);
        staking.setRedeemer(next);
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        vm.prank(rk);
        vm.expectRevert(_notRedeemer(rk, o));
        broker.redeemWinningTicketFor(o, st);
        vm.prank(o);
        staking.setRedeemer(address(0));
        vm.prank(next);
        vm.expectRevert(_notRedeemer(next, o));
        broker.redeemWinningTicketFor(o, st);
        _redeem(o, st); // still o's to redeem
        assertEq(staking.pendingFees(o), 0.75 ether);
    }

    /// @notice The redeemer meets every rule the recipient meets, with the same reasons.
    function test_RedeemFor_SameRefusalsAsTheRecipient() public {
        _expectRedeemForRevert(_signedBy(o, 0, 0), ITicketBroker.TicketZeroFaceValue.selector);
        _expectRedeemForRevert(_signedAt(o, 1 ether, 0, 2), ITicketBroker.TicketFromFutureRound.selector);
        _expectRedeemForRevert(
            sign(senderKey, _t(o, sender, sender, 1 ether, 0, 0, RAND, 1), RAND), ITicketBroker.TicketNotWinning.selector
        );
        _expectRedeemForRevert(_signedBy(o, 11 ether, 0), ITicketBroker.TicketInsufficientFunds.selector);
        // Signed for the redeemer's own address, not for o: the digest is o's, so it does not verify.
        _expectRedeemForRevert(_signedBy(rk, 1 ether, 0), ITicketBroker.TicketInvalidSignature.selector);
        ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, 0);
        _redeem(o, st);
        _expectRedeemForRevert(st, ITicketBroker.TicketNonceUsed.selector);
        nextRound();
        nextRound();
        _expectRedeemForRevert(_signedAt(o, 1 ether, 1, 1), ITicketBroker.TicketExpired.selector);
    }

    function _expectRedeemForRevert(ITicketBroker.SignedTicket memory st, bytes4 err) internal {
        vm.prank(rk);
        vm.expectRevert(err);
        broker.redeemWinningTicketFor(o, st);
    }

    /// @notice One replay ring per (signer, recipient), whoever redeems: a ticket paid through one path
    ///         is used on the other.
    function test_RedeemFor_ShareTheRecipientsReplayRing() public {
        ITicketBroker.SignedTicket memory a = _signedBy(o, 1 ether, 0);
        ITicketBroker.SignedTicket memory b = _signedBy(o, 1 ether, 1);
        _redeemFor(rk, o, a);
        _expectRedeemRevert(o, a, ITicketBroker.TicketNonceUsed.selector);
        _redeem(o, b);
        vm.prank(rk);
        vm.expectRevert(ITicketBroker.TicketNonceUsed.selector);
        broker.redeemWinningTicketFor(o, b);
        assertEq(broker.getSenderInfo(sender).deposit, 8 ether, "each paid once");
    }

    /// @notice The reserve is drawn from the recipient's share, checked for the recipient's eligibility.
    function test_RedeemFor_DrawsTheRecipientsReserveShare() public {
        (address r, uint256 rKey) = makeAddrAndKey("reserveOnly");
        fundSender(r, 0, 4 ether); // round 1: backs tickets from round 2 on
        nextRound(); // 2 active: 2 ether each
        assertEq(broker.claimableReserve(r, o, 2), 2 ether);
        ITicketBroker.SignedTicket memory st =
            sign(rKey, _t(o, r, r, 1.5 ether, ALWAYS, 0, RAND, broker.currentRound()), RAND);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(r, o, 1.5 ether, 0, 1.5 ether);
        _redeemFor(rk, o, st);
        assertEq(broker.claimableReserve(r, o, 2), 0.5 ether, "o's share drawn");
        assertEq(broker.claimableReserve(r, other, 2), 2 ether, "other's untouched");
        assertEq(broker.claimableReserve(r, rk, 2), 0, "the redeemer has no share");
        ITicketBroker.SignedTicket memory more =
            sign(rKey, _t(o, r, r, 1 ether, ALWAYS, 1, RAND, broker.currentRound()), RAND);
        vm.prank(rk);
        vm.expectRevert(ITicketBroker.TicketInsufficientFunds.selector);
        broker.redeemWinningTicketFor(o, more);
    }

    /// @notice A frozen orchestrator still earns its fees, through its redeemer as through itself; a
    ///         slashed (unregistered) one cannot be credited, whoever redeems.
    function test_RedeemFor_FrozenPaysSlashedRefused() public {
        vm.prank(verifier);
        staking.freeze(o);
        _redeemFor(rk, o, _signedBy(o, 1 ether, 0));
        assertEq(staking.pendingFees(o), 0.75 ether);
        vm.prank(verifier);
        staking.slash(o, address(0), 100_000, 0);
        ITicketBroker.SignedTicket memory afterSlash = _signedBy(o, 1 ether, 1);
        vm.prank(rk);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, o));
        broker.redeemWinningTicketFor(o, afterSlash);
    }

    /* BATCH */

    function test_RedeemBatchFor_ByRedeemer_PaysTheRecipientPerTicket() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](4);
        sts[0] = _signedBy(o, 1 ether, 0);
        sts[1] = _signedBy(o, 20 ether, 1); // InsufficientFunds
        sts[2] = _signedBy(o, 2 ether, 2);
        sts[3] = sts[0]; // NonceUsed
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 1 ether, 0, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, o, 1, ITicketBroker.RedeemStatus.InsufficientFunds);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 2 ether, 2, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, o, 0, ITicketBroker.RedeemStatus.NonceUsed);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 1.5 ether, 1.5 ether, 1); // one credit for the run
        ITicketBroker.RedeemStatus[] memory statuses = _batchFor(rk, o, sts);
        assertEq(uint8(statuses[0]), uint8(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint8(statuses[1]), uint8(ITicketBroker.RedeemStatus.InsufficientFunds));
        assertEq(uint8(statuses[2]), uint8(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint8(statuses[3]), uint8(ITicketBroker.RedeemStatus.NonceUsed));
        assertEq(broker.getSenderInfo(sender).deposit, 7 ether);
        assertEq(staking.pendingFees(o), 2.25 ether);
        assertEq(staking.pendingFees(rk), 0);
    }

    /// @notice Runs of tickets of different creation rounds are credited to the recipient with the fee
    ///         share of each round.
    function test_RedeemBatchFor_CreditsEachCreationRoundToTheRecipient() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedAt(o, 1 ether, 0, 1);
        nextRound();
        sts[1] = _signedAt(o, 2 ether, 1, 2);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0.5 ether, 0.5 ether, 1);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 1 ether, 1 ether, 2);
        _batchFor(rk, o, sts);
    }

    /// @notice A batch pays one recipient: another recipient's ticket in it fails its signature check
    ///         under the recipient named, is skipped with its event, and stays redeemable by its own.
    function test_RedeemBatchFor_AnotherRecipientsTicketIsSkipped() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(other, 1 ether, 0);
        sts[1] = _signedBy(o, 1 ether, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, o, 0, ITicketBroker.RedeemStatus.InvalidSignature);
        ITicketBroker.RedeemStatus[] memory statuses = _batchFor(rk, o, sts);
        assertEq(uint8(statuses[0]), uint8(ITicketBroker.RedeemStatus.InvalidSignature));
        assertEq(uint8(statuses[1]), uint8(ITicketBroker.RedeemStatus.Redeemed));
        assertFalse(broker.isNonceUsed(sender, other, 0));
        assertEq(staking.pendingFees(other), 0);
        _redeem(other, sts[0]);
        assertEq(staking.pendingFees(other), 1 ether);
    }

    function test_RedeemBatchFor_ByAnyoneElse_RevertsWholeBatch() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](1);
        sts[0] = _signedBy(o, 1 ether, 0);
        View memory before = _view(sender, sender, o);
        vm.prank(stranger);
        vm.expectRevert(_notRedeemer(stranger, o));
        broker.redeemWinningTicketsFor(o, sts);
        vm.prank(rk);
        vm.expectRevert(_notRedeemer(rk, other));
        broker.redeemWinningTicketsFor(other, new ITicketBroker.SignedTicket[](0));
        _assertSame(before, _view(sender, sender, o));
    }

    function test_RedeemBatchFor_ByTheRecipientItselfAndEmpty() public {
        ITicketBroker.RedeemStatus[] memory statuses = _batchFor(o, o, new ITicketBroker.SignedTicket[](0));
        assertEq(statuses.length, 0);
        statuses = _batchFor(rk, o, new ITicketBroker.SignedTicket[](0));
        assertEq(statuses.length, 0);
        statuses = _batchFor(other, other, _one(_signedBy(other, 1 ether, 0)));
        assertEq(uint8(statuses[0]), uint8(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(staking.pendingFees(other), 1 ether);
    }
}
