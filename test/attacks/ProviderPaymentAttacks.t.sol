// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Vm} from "forge-std/Vm.sol";
import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Issue 18: the attacks on direct payment of compute providers (recipients that never
///         registered as orchestrators), each played by the party that would gain, with the safe
///         outcome asserted (balances included): an orchestrator routing its fees around its
///         delegators, a slashed one cashing old tickets, a third party redeeming a provider's
///         tickets, a provider drawing on a sender's reserve, a provider keeping the direct path after
///         it registers.
/// @dev Setup: o (10% / 50%, 100 self + 100 delegated by d) with redeemer key rk, and o2 (10 self),
///      both active from round 1; `provider` never registers. Round 1.
contract ProviderPaymentAttacksTest is BrokerTestBase {
    address internal o;
    address internal o2;
    address internal d = makeAddr("delegator");
    address internal rk = makeAddr("redeemerKey");
    address internal provider = makeAddr("provider");
    address internal thief = makeAddr("thief");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        bondAs(d, 100 ether, o);
        o2 = newOrchestrator("o2", 10 ether, 0, 0);
        vm.prank(o);
        staking.setRedeemer(rk);
        nextRound(); // round 1: o and o2 active
    }

    /// @dev PaidToRecipient events in `logs` (any recipient).
    function _directEvents(Vm.Log[] memory logs) internal view returns (uint256 n) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(broker) && logs[i].topics[0] == ITicketBroker.PaidToRecipient.selector) ++n;
        }
    }

    function _notRedeemer(address by, address recipient) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ITicketBroker.NotRedeemer.selector, by, recipient);
    }

    /* AN ORCHESTRATOR ROUTES ITS FEES AROUND ITS DELEGATORS */

    /// @notice o redeems its tickets every way it can (itself, through its redeemer, single and batch):
    ///         each lands in its fee pool, split by its 50% fee share; no token leaves the broker and no
    ///         PaidToRecipient is emitted. d keeps its share: 4 ether of tickets give the pool 2 ether,
    ///         half of it d's (100 of 200 earning stake).
    function test_Attack_OrchestratorTicketsNeverTakeTheDirectPath() public {
        fundSender(sender, 10 ether, 0);
        uint256 brokerBalance = token.balanceOf(address(broker));
        uint256 oBalance = token.balanceOf(o);
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(o, 1 ether, 2);
        sts[1] = _signedBy(o, 1 ether, 3);
        ITicketBroker.SignedTicket[] memory viaKey = new ITicketBroker.SignedTicket[](1);
        viaKey[0] = _signedBy(o, 0.5 ether, 5);
        ITicketBroker.SignedTicket memory single = _signedBy(o, 0.5 ether, 1);

        vm.recordLogs();
        _redeem(o, _signedBy(o, 1 ether, 0));
        vm.prank(rk);
        broker.redeemWinningTicketFor(o, single);
        _batch(o, sts);
        vm.prank(rk);
        broker.redeemWinningTicketsFor(o, viaKey);
        assertEq(_directEvents(vm.getRecordedLogs()), 0, "no direct payment to an orchestrator");

        assertEq(token.balanceOf(address(broker)), brokerBalance, "every fee stays in the broker");
        assertEq(token.balanceOf(o), oBalance, "nothing reached o's address");
        assertEq(token.balanceOf(rk), 0, "nor its key's");
        assertEq(broker.getSenderInfo(sender).deposit, 6 ether);
        assertEq(staking.pendingFees(d), 1 ether, "the delegator's fee share is intact");
        assertEq(staking.pendingFees(o), 3 ether, "o: its 50% cut and its own half of the pool");
    }

    /// @notice Even with no stake left at all (o unbonds everything, d leaves), a registered
    ///         orchestrator's tickets still go to its pool, not to its address.
    function test_Attack_OrchestratorWithNoStakeStillPaidThroughItsPool() public {
        fundSender(sender, 10 ether, 0);
        vm.prank(o);
        staking.unbond(100 ether);
        vm.prank(d);
        staking.unbond(100 ether);
        assertTrue(staking.isRegistered(o));
        uint256 brokerBalance = token.balanceOf(address(broker));
        vm.expectCall(address(staking), abi.encodeWithSelector(IStaking.creditFees.selector, o, 1 ether), 1);
        _redeem(o, _signedBy(o, 1 ether, 0));
        assertEq(token.balanceOf(address(broker)), brokerBalance, "no token left the broker");
        assertEq(token.balanceOf(o), 0);
    }

    /* A SLASHED ORCHESTRATOR CASHES OLD TICKETS */

    /// @notice Slashed, o is unregistered: it cannot be credited, and it does not become a "provider":
    ///         every redemption of its tickets (old or new, itself or its key, single or batch, during
    ///         its hold or after it, while not registered again) reverts NotOrchestrator, exactly as
    ///         before issue 18. Nothing is paid, nothing is burned.
    function test_Attack_SlashedOrchestratorCannotCashTicketsDirectly() public {
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket memory old = _signedBy(o, 1 ether, 0);
        vm.prank(verifier);
        staking.slash(o, address(0), 100_000, 0);
        assertTrue(staking.everRegistered(o));
        uint256 brokerBalance = token.balanceOf(address(broker));
        bytes memory refused = abi.encodeWithSelector(IStaking.NotOrchestrator.selector, o);

        vm.prank(o);
        vm.expectRevert(refused);
        broker.redeemWinningTicket(old);
        vm.prank(rk);
        vm.expectRevert(refused);
        broker.redeemWinningTicketFor(o, old);
        vm.prank(o);
        vm.expectRevert(refused);
        broker.redeemWinningTickets(_one(old));
        vm.prank(rk);
        vm.expectRevert(refused);
        broker.redeemWinningTicketsFor(o, _one(old));

        rollRounds(staking.slashedUntil(o) - staking.currentRound()); // the hold is over; not registered again
        ITicketBroker.SignedTicket memory fresh = _signedBy(o, 1 ether, 1);
        vm.prank(o);
        vm.expectRevert(refused);
        broker.redeemWinningTicket(fresh);
        vm.prank(o);
        vm.expectRevert(refused);
        broker.redeemWinningTickets(_one(fresh));

        assertEq(token.balanceOf(o), 0, "nothing reached o");
        assertEq(token.balanceOf(address(broker)), brokerBalance);
        assertEq(broker.getSenderInfo(sender).deposit, 10 ether);
        assertFalse(broker.isNonceUsed(sender, o, 1), "not burned either");
    }

    /* A THIRD PARTY REDEEMS A PROVIDER'S TICKETS */

    /// @notice A provider named no redeemer: a thief (or another orchestrator's key) cannot redeem its
    ///         tickets for it, nor to itself (the signature names the provider). The tickets stay the
    ///         provider's, and it redeems them afterwards.
    function test_Attack_ThirdPartyRedeemsProvidersTicket_NotRedeemer() public {
        fundSender(sender, 10 ether, 0);
        assertEq(staking.redeemerOf(provider), address(0));
        ITicketBroker.SignedTicket memory st = _signedBy(provider, 2 ether, 0);
        address[2] memory callers = [thief, rk];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(_notRedeemer(callers[i], provider));
            broker.redeemWinningTicketFor(provider, st);
            vm.prank(callers[i]);
            vm.expectRevert(_notRedeemer(callers[i], provider));
            broker.redeemWinningTicketsFor(provider, _one(st));
            vm.prank(callers[i]);
            vm.expectRevert(ITicketBroker.TicketInvalidSignature.selector);
            broker.redeemWinningTicket(st); // as its own recipient
        }
        assertEq(token.balanceOf(thief), 0);
        assertEq(token.balanceOf(rk), 0);
        assertEq(broker.getSenderInfo(sender).deposit, 10 ether);

        _redeem(provider, st);
        assertEq(token.balanceOf(provider), 2 ether, "still the provider's");
    }

    /* A PROVIDER DRAWS ON THE RESERVE */

    /// @notice The reserve backs orchestrators only: a provider's ticket beyond the deposit is
    ///         InsufficientFunds even though the sender has a reserve that an orchestrator can draw on
    ///         for the very same face value.
    function test_Attack_ProviderCannotClaimReserve() public {
        fundSender(sender, 1 ether, 9 ether); // round 1: the reserve backs tickets from round 2
        nextRound(); // round 2
        uint256 round = broker.currentRound();
        assertEq(broker.claimableReserve(sender, provider, round), 0, "no share for a provider");
        assertEq(broker.claimableReserve(sender, o2, round), 4.5 ether, "an orchestrator's share");
        (bool eligible,) = staking.reserveEligibility(provider, round, round);
        assertFalse(eligible);

        ITicketBroker.SignedTicket memory big = _signedBy(provider, 2 ether, 0);
        _expectRedeemRevert(provider, big, ITicketBroker.TicketInsufficientFunds.selector);
        assertEq(uint256(_statusOf(provider, big)), uint256(ITicketBroker.RedeemStatus.InsufficientFunds));
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = big;
        sts[1] = _signedBy(provider, 1.5 ether, 1);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(provider, sts);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.InsufficientFunds));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.InsufficientFunds));
        assertEq(token.balanceOf(provider), 0);
        ITicketBroker.SenderInfo memory info = broker.getSenderInfo(sender);
        assertEq(info.deposit, 1 ether, "deposit untouched");
        assertEq(info.reserve, 9 ether, "reserve untouched");

        // The deposit alone pays the provider; the same 2 ether ticket to o2 draws on the reserve.
        _redeem(provider, _signedBy(provider, 1 ether, 2));
        assertEq(token.balanceOf(provider), 1 ether);
        _redeem(o2, _signedBy(o2, 2 ether, 0));
        assertEq(broker.getSenderInfo(sender).reserve, 7 ether, "an orchestrator draws on it");
        assertEq(token.balanceOf(provider), 1 ether, "the provider never did");
    }

    /* A PROVIDER REGISTERS LATER */

    /// @notice A provider paid directly registers as an orchestrator (with a delegator): from then on
    ///         its redemptions, of tickets issued before or after, are credited to its pool and shared
    ///         by its fee share; it can no longer take the direct path, and slashed it cannot either.
    function test_Attack_ProviderRegistersLater_LaterRedemptionsCreditedToPool() public {
        fundSender(sender, 20 ether, 0);
        _redeem(provider, _signedBy(provider, 1 ether, 0));
        assertEq(token.balanceOf(provider), 1 ether, "paid directly while a provider");
        ITicketBroker.SignedTicket memory issuedBefore = _signedBy(provider, 2 ether, 1);

        bondAs(provider, 10 ether, provider);
        vm.prank(provider);
        staking.registerOrchestrator(0, 500_000); // half of its fees to its pool
        address d2 = makeAddr("providerDelegator");
        bondAs(d2, 10 ether, provider);
        nextRound(); // round 2: d2's stake earns; the round-1 ticket is still valid
        assertTrue(staking.everRegistered(provider));
        uint256 balance = token.balanceOf(provider);
        uint256 brokerBalance = token.balanceOf(address(broker));

        vm.recordLogs();
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(provider, 1 ether, 1 ether, 1);
        _redeem(provider, issuedBefore);
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(provider, 1 ether, 2);
        sts[1] = _signedBy(provider, 1 ether, 3);
        _batch(provider, sts);
        assertEq(_directEvents(vm.getRecordedLogs()), 0, "no direct payment once registered");
        assertEq(token.balanceOf(provider), balance, "nothing more to its address");
        assertEq(token.balanceOf(address(broker)), brokerBalance, "the fees stay in the broker");
        assertEq(staking.pendingFees(d2), 1 ether, "its delegator gets half of the pool's 2 ether");
        assertEq(staking.pendingFees(provider), 3 ether);

        vm.prank(verifier);
        staking.slash(provider, address(0), 0, 0);
        ITicketBroker.SignedTicket memory afterSlash = _signedBy(provider, 1 ether, 4);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, provider));
        broker.redeemWinningTicket(afterSlash);
        assertEq(token.balanceOf(provider), balance);
    }
}
