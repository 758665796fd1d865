// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {SuiteDeployer} from "../../script/SuiteDeployer.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";

/// @notice One test per attack known against Livepeer's contracts (see shared/reference): each shows
///         the attack failing, or doing no harm, against this suite.
contract LivepeerAttacksTest is Fixture {
    address internal o;
    address internal attacker = makeAddr("attacker");
    address internal sender;
    uint256 internal senderKey;
    bytes32 internal constant RAND = keccak256("recipient secret");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("orchestrator", 100 ether, 100_000, 500_000);
        (sender, senderKey) = makeAddrAndKey("broadcaster");
        nextRound();
    }

    function signedTicket(uint256 faceValue, uint256 nonce) internal view returns (ITicketBroker.SignedTicket memory) {
        return sign(senderKey, ticketFor(o, sender, faceValue, nonce, RAND), RAND);
    }

    function redeemAs(address who, ITicketBroker.SignedTicket memory st) internal {
        vm.prank(who);
        broker.redeemWinningTicket(st);
    }

    /* TICKET BROKER */

    /// Livepeer 2023-08: fundDepositAndReserveFor(victim, 0, 0) cancelled the victim's unlock.
    function test_ThirdPartyCannotCancelSendersUnlock() public {
        fundSender(sender, 10 ether, 0);
        vm.prank(sender);
        broker.unlock();
        uint256 withdrawRound = broker.getSenderInfo(sender).withdrawRound;

        give(attacker, 2);
        vm.startPrank(attacker);
        token.approve(address(broker), 2);
        broker.fundDepositAndReserveFor(sender, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotUnlocking.selector, attacker));
        broker.cancelUnlock();
        vm.stopPrank();

        assertEq(broker.getSenderInfo(sender).withdrawRound, withdrawRound, "unlock untouched");
        rollRounds(params.unlockPeriod);
        vm.prank(sender);
        broker.withdraw();
        assertEq(token.balanceOf(sender), 10 ether + 2, "sender withdraws everything, gift included");
    }

    /// Livepeer 2022-02 (EIP-2098): re-encoding the 65-byte signature in compact form gave a second,
    /// independent lottery draw. Here the draw reads the signature (as Livepeer's does), but only its
    /// canonical 65-byte encoding (v 27/28, low s) can win or redeem: the wire format has no
    /// variable-length signature, and a yParity-style v (0/1) never wins and never verifies.
    function test_CompactSignatureGivesNoSecondDraw() public {
        fundSender(sender, 10 ether, 0);
        ITicketBroker.Ticket memory t = ticketFor(o, sender, 1 ether, 0, RAND);
        t.winProb = type(uint256).max / 2;
        bytes32 ticketHash = broker.hashTicket(t);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(senderKey, ticketHash);
        bool wins = broker.isWinningTicket(r, s, v, RAND, t.winProb);

        // EIP-2098 encodes v as yParity (0/1) folded into s; present it as v - 27.
        ITicketBroker.SignedTicket memory compactStyle = pack(t, RAND, v - 27, r, s);
        assertFalse(broker.isWinningTicket(r, s, v - 27, RAND, type(uint256).max), "no second draw");
        bool compactDrawWins = uint256(keccak256(abi.encodePacked(r, s, v - 27, RAND))) < t.winProb;
        vm.expectRevert(compactDrawWins ? ITicketBroker.TicketInvalidSignature.selector : ITicketBroker.TicketNotWinning.selector);
        redeemAs(o, compactStyle);

        // The canonical encoding is the one draw.
        if (wins) {
            redeemAs(o, pack(t, RAND, v, r, s));
            assertEq(broker.getSenderInfo(sender).deposit, 9 ether);
        } else {
            vm.expectRevert(ITicketBroker.TicketNotWinning.selector);
            redeemAs(o, pack(t, RAND, v, r, s));
        }
    }

    /// High-s twin (s' = n - s, v flipped) of a valid signature must not be accepted.
    function test_RevertWhen_HighSMalleableSignature() public {
        fundSender(sender, 10 ether, 0);
        ITicketBroker.Ticket memory t = ticketFor(o, sender, 1 ether, 0, RAND);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(senderKey, broker.hashTicket(t));
        ITicketBroker.SignedTicket memory twin = pack(t, RAND, v == 27 ? 28 : 27, r, bytes32(SECP256K1_N - uint256(s)));
        assertEq(ecrecover(broker.hashTicket(t), v == 27 ? 28 : 27, r, bytes32(SECP256K1_N - uint256(s))), sender);

        vm.expectRevert(ITicketBroker.TicketInvalidSignature.selector);
        redeemAs(o, twin);
        redeemAs(o, pack(t, RAND, v, r, s));
        vm.expectRevert(ITicketBroker.TicketNonceUsed.selector);
        redeemAs(o, pack(t, RAND, v, r, s));
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether, "paid exactly once");
    }

    /// Livepeer PR #657: a 1-wei top-up of an emptied sender made a winning ticket pay dust and be
    /// burned. Here redemption is all-or-nothing and the ticket survives until it can be paid.
    function test_DustTopUpCannotBurnWinningTicket() public {
        fundSender(sender, 1 ether, 0);
        redeemAs(o, signedTicket(1 ether, 0)); // empties the deposit
        ITicketBroker.SignedTicket memory winner = signedTicket(5 ether, 1);

        give(attacker, 1);
        vm.startPrank(attacker);
        token.approve(address(broker), 1);
        broker.fundDepositAndReserveFor(sender, 1, 0);
        vm.stopPrank();

        uint256 feesBefore = staking.pendingFees(o);
        vm.expectRevert(ITicketBroker.TicketInsufficientFunds.selector);
        redeemAs(o, winner);
        assertEq(staking.pendingFees(o), feesBefore, "no dust paid");
        assertFalse(broker.isNonceUsed(sender, o, 1), "ticket not burned");

        fundSender(sender, 5 ether, 0);
        redeemAs(o, winner);
        assertEq(broker.getSenderInfo(sender).deposit, 1, "paid in full once funded");
    }

    /// Livepeer 2025: only active orchestrators may redeem, so one deactivated at a round boundary
    /// lost tickets it had already won. Here deposit payment needs only registration, and the
    /// reserve pays an orchestrator that was active when the ticket was created.
    function test_OrchestratorDeactivatedBetweenWinningAndRedeeming() public {
        address peer = newOrchestrator("peer", 100 ether, 0, 0);
        fundSender(sender, 1 ether, 0);
        give(sender, 20 ether);
        vm.startPrank(sender);
        token.approve(address(broker), 20 ether);
        broker.fundReserve(20 ether);
        vm.stopPrank();
        nextRound(); // reserve counts from this round; o and peer are both active
        assertTrue(staking.isActive(o, staking.currentRound()));

        ITicketBroker.SignedTicket memory fromDeposit = signedTicket(1 ether, 0);
        ITicketBroker.SignedTicket memory fromReserve = signedTicket(3 ether, 1);

        // o unbonds below the minimum: it leaves the active set from the next round.
        vm.prank(o);
        staking.unbond(99.5 ether);
        nextRound();
        assertFalse(staking.isActive(o, staking.currentRound()), "o is inactive now");
        assertTrue(staking.isActive(peer, staking.currentRound()));

        redeemAs(o, fromDeposit);
        redeemAs(o, fromReserve); // 3 ether ≤ 20 ether / 2 active orchestrators
        assertEq(broker.getSenderInfo(sender).reserve, 17 ether);
        // o's 50% cut, plus the pool's 50%: o is the only staker left in its pool.
        assertEq(staking.pendingFees(o), 4 ether, "both tickets paid to o");
    }

    /// Livepeer protocol#366: tickets carried no chain id or broker address, so they could be replayed
    /// against another deployment. Here the EIP-712 domain binds both.
    function test_RevertWhen_TicketReplayedOnAnotherBrokerOrChain() public {
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket memory st = signedTicket(1 ether, 0);

        // Same chain, another broker deployment with the same parameters.
        TicketBroker other = new TicketBroker(token, staking, params.unlockPeriod, params.ticketValidity);
        give(sender, 10 ether);
        vm.startPrank(sender);
        token.approve(address(other), 10 ether);
        other.fundDeposit(10 ether);
        vm.stopPrank();
        vm.expectRevert(ITicketBroker.TicketInvalidSignature.selector);
        vm.prank(o);
        other.redeemWinningTicket(st);

        // Same broker, another chain id (e.g. after a fork).
        uint256 chainId = block.chainid;
        vm.chainId(chainId + 1);
        vm.expectRevert(ITicketBroker.TicketInvalidSignature.selector);
        redeemAs(o, st);
        vm.chainId(chainId);
        redeemAs(o, st);
    }

    /// Delegator fee theft: an orchestrator sits on winning tickets, lowers its fee share, then redeems.
    /// Delegators still get the fee share in force when the tickets were created.
    function test_DelegatorsKeepFeeShareOfTicketsIssuedBeforeAChange() public {
        address delegator = makeAddr("delegator");
        bondAs(delegator, 100 ether, o); // pool: o 100 + delegator 100, feeShare 50%
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket memory early = signedTicket(4 ether, 0);

        vm.prank(o);
        staking.setRates(100_000, 0); // delegators' share 0% from the next round
        nextRound();
        redeemAs(o, early);
        // 50% of 4 ether to the pool, shared 50/50 by stake; 50% to o.
        assertEq(staking.pendingFees(delegator), 1 ether, "delegator keeps its share");
        assertEq(staking.pendingFees(o), 3 ether);

        ITicketBroker.SignedTicket memory late = signedTicket(4 ether, 1);
        redeemAs(o, late);
        assertEq(staking.pendingFees(delegator), 1 ether, "new tickets use the new share");
        assertEq(staking.pendingFees(o), 7 ether);

        // And it cannot flip the share back and forth within the tickets' validity.
        vm.expectRevert();
        vm.prank(o);
        staking.setRates(100_000, 1_000_000);
    }

    /* STAKING */

    /// Livepeer 2023-06: bondForWithHint(1 wei, victim, victim) made the victim a self-delegated
    /// transcoder that could never delegate elsewhere.
    function test_RevertWhen_ThirdPartyForcesSelfDelegation() public {
        address victim = makeAddr("victim");
        give(attacker, 1);
        vm.startPrank(attacker);
        token.approve(address(staking), 1);
        vm.expectRevert(abi.encodeWithSelector(IStaking.ThirdPartyCannotOpenPosition.selector, victim));
        staking.bondFor(victim, 1, victim);
        vm.stopPrank();

        bondAs(victim, 10 ether, o);
        assertEq(staking.delegateOf(victim), o, "victim delegates freely");
    }

    /// Livepeer 2022-03: bondForWithHint(0, delegator, newDelegate) changed someone else's delegate.
    function test_RevertWhen_ThirdPartyChangesSomeoneElsesDelegate() public {
        address victim = makeAddr("victim");
        bondAs(victim, 10 ether, o);
        address rogue = newOrchestrator("rogue", 10 ether, 1_000_000, 0);

        give(attacker, 1);
        vm.startPrank(attacker);
        token.approve(address(staking), 1);
        vm.expectRevert(abi.encodeWithSelector(IStaking.ThirdPartyCannotChangeDelegate.selector, victim, o, rogue));
        staking.bondFor(victim, 0, rogue);
        vm.expectRevert(abi.encodeWithSelector(IStaking.ThirdPartyCannotChangeDelegate.selector, victim, o, rogue));
        staking.bondFor(victim, 1, rogue);
        staking.bondFor(victim, 1, o); // topping up to the victim's own delegate is allowed
        vm.stopPrank();
        assertEq(staking.delegateOf(victim), o);
        assertEq(staking.pendingStake(victim), 10 ether + 1);
    }

    /// Livepeer 2024-03: a 1-wei bondFor before reward() auto-claimed the victim's earnings and made it
    /// lose the round's reward. Here claiming is path independent: the griefed run pays the same.
    function test_OneWeiBondBeforeRewardDoesNotGrief() public {
        address delegator = makeAddr("delegator");
        bondAs(delegator, 100 ether, o);
        nextRound();

        uint256 snapshot = vm.snapshotState();
        vm.prank(o);
        staking.reward();
        uint256 orchestratorStake = staking.pendingStake(o);
        uint256 delegatorStake = staking.pendingStake(delegator);
        vm.revertToState(snapshot);

        give(attacker, 2);
        vm.startPrank(attacker);
        token.approve(address(staking), 2);
        staking.bondFor(o, 1, o);
        staking.bondFor(delegator, 1, o);
        vm.stopPrank();
        vm.prank(o);
        staking.reward();
        assertApproxEqAbs(staking.pendingStake(o), orchestratorStake + 1, 1, "orchestrator lost nothing");
        assertApproxEqAbs(staking.pendingStake(delegator), delegatorStake + 1, 1, "delegator lost nothing");
    }

    /// Livepeer 2023-10: rebondFromUnbonded into an orchestrator whose factors for the round were not
    /// initialized inflated the attacker's stake at its next claim.
    function test_RebondIntoOrchestratorThatMissedRewardsIsNotInflated() public {
        address lazy = newOrchestrator("lazy", 50 ether, 0, 0); // never calls reward()
        bondAs(attacker, 10 ether, o);
        nextRound();
        vm.prank(o);
        staking.reward();
        uint256 stake = staking.pendingStake(attacker);
        vm.prank(attacker);
        uint256 lockId = staking.unbond(stake);
        uint256 unbonded = staking.unbondingLock(attacker, lockId).amount;

        for (uint256 i; i < 3; ++i) {
            nextRound();
            vm.prank(o);
            staking.reward();
        }
        vm.prank(attacker);
        staking.rebondFromUnbonded(lazy, lockId);
        rollRounds(3);
        vm.prank(attacker);
        staking.claimEarnings();
        assertEq(staking.pendingStake(attacker), unbonded, "no stake out of thin air");

        // When the pool is rewarded, the attacker gets exactly its pro-rata share.
        uint256 poolBefore = staking.orchestratorInfo(lazy).stake;
        vm.prank(lazy);
        staking.reward();
        uint256 minted = staking.orchestratorInfo(lazy).stake - poolBefore;
        assertApproxEqAbs(staking.pendingStake(attacker), unbonded + minted * unbonded / poolBefore, 2);
    }
}
