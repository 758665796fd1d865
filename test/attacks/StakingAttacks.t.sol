// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Attacks on Staking by someone who reads its source (issue 14, items 2–4 and the staking
///         medium items). Each test performs the attack through the real entry points and asserts
///         the safe outcome, balances included.
contract StakingAttacksTest is StakingHelpers {
    uint256 internal constant POOLS = 5;
    address[] internal orchs;
    address[] internal honest;

    /// @dev POOLS orchestrators (1,000 self-bonded, reward cut 0, fee share 50 %), each with an honest
    ///      delegator of 1,000, all active from the next round.
    function setUpPools() internal {
        for (uint256 i; i < POOLS; ++i) {
            address o = newOrchestrator(string.concat("pool", vm.toString(i)), 1000 ether, 0, 500_000);
            address h = makeAddr(string.concat("honest", vm.toString(i)));
            bondAs(h, 1000 ether, o);
            orchs.push(o);
            honest.push(h);
        }
        nextRound();
    }

    /* ITEM 2: JUST-IN-TIME STAKE */

    /// @notice Bond just before each pool's reward(), unbond and rebondFromUnbonded to the next pool in
    ///         the same round: the attacker's capital earns nothing and every honest delegator gets its
    ///         full share of its pool's mint. (On the old code this took ~half of every pool's mint.)
    function test_Attack_JustInTimeRewardHopping_EarnsNothing() public {
        setUpPools();
        address attacker = makeAddr("attacker");
        uint256 capital = 2000 ether;
        fund(attacker, capital);
        uint256[] memory minted = new uint256[](POOLS);
        uint256[] memory before = new uint256[](POOLS);
        uint256 lockId;
        for (uint256 i; i < POOLS; ++i) {
            before[i] = staking.pendingStake(honest[i]);
            vm.prank(attacker);
            if (i == 0) staking.bond(capital, orchs[i]);
            else staking.rebondFromUnbonded(orchs[i], lockId);
            uint256 mintedBefore = minter.currentMinted();
            vm.prank(orchs[i]);
            staking.reward();
            minted[i] = minter.currentMinted() - mintedBefore;
            vm.prank(attacker);
            lockId = staking.unbond(capital);
        }
        // The attacker's whole capital sits in one lock, not a wei more.
        assertEq(staking.unbondingLock(attacker, lockId).amount, capital, "attacker gained");
        assertEq(staking.pendingStake(attacker), 0);
        for (uint256 i; i < POOLS; ++i) {
            assertGt(minted[i], 0);
            // Half the pool (1,000 of 2,000 earning), rounded down by at most a few wei.
            assertApproxEqAbs(staking.pendingStake(honest[i]) - before[i], minted[i] / 2, 2, "honest share");
        }
        rollRounds(3);
        uint256 balance = token.balanceOf(attacker);
        vm.prank(attacker);
        staking.withdrawStake(lockId);
        assertEq(token.balanceOf(attacker) - balance, capital);
    }

    /// @notice Stake bonded in round r shares neither round r's reward nor its fees, and earns like
    ///         everyone else from round r + 1.
    function test_Attack_JustInTimeBond_EarnsFromNextRound() public {
        setUpPools();
        address o = orchs[0];
        address late = makeAddr("late");
        bondAs(late, 1000 ether, o);
        assertEq(staking.earningStake(o), 2000 ether);
        vm.prank(o);
        staking.reward();
        payFees(o, 10 ether);
        assertEq(staking.pendingStake(late), 1000 ether, "earned in its arrival round");
        assertEq(staking.pendingFees(late), 0);
        nextRound();
        // Everyone's stake now earns: the three bonds and the reward minted on the first two.
        assertApproxEqAbs(staking.earningStake(o), 3000 ether + (staking.pendingStake(o) - 1000 ether) * 2, 2);
        uint256 h0 = staking.pendingStake(honest[0]);
        uint256 l0 = staking.pendingStake(late);
        vm.prank(o);
        staking.reward();
        payFees(o, 9 ether);
        // Now it earns at the same rate per token as the honest delegator (which has more stake).
        uint256 hGain = staking.pendingStake(honest[0]) - h0;
        uint256 lGain = staking.pendingStake(late) - l0;
        assertGt(lGain, 0);
        assertApproxEqAbs(lGain * h0, hGain * l0, h0, "same rate per token");
        assertGt(staking.pendingFees(late), 0);
    }

    /// @notice A bond placed just before a large ticket is redeemed takes none of its fees; the honest
    ///         delegator (half the earning pool) gets half the delegators' share.
    function test_Attack_JustInTimeBondBeforeLargeTicket_TakesNoFees() public {
        setUpPools();
        address o = orchs[0];
        address whale = makeAddr("whale");
        bondAs(whale, 1_000_000 ether, o);
        payFees(o, 100 ether); // 50 % to delegators
        nextRound();
        vm.prank(whale);
        staking.claimEarnings();
        assertEq(staking.pendingFees(whale), 0, "whale took fees");
        assertApproxEqAbs(staking.pendingFees(honest[0]), 25 ether, 1, "honest share");
        // The whale leaves with exactly what it brought.
        vm.prank(whale);
        uint256 lockId = staking.unbond(1_000_000 ether);
        assertEq(staking.unbondingLock(whale, lockId).amount, 1_000_000 ether);
    }

    /// @notice Moving a whole bond to another pool (bond with a new delegate) makes it arrive there:
    ///         it earns nothing at the new pool in the round it moves.
    function test_Attack_RedelegateBeforeReward_EarnsNothingAtNewPool() public {
        setUpPools();
        address mover = makeAddr("mover");
        bondAs(mover, 1000 ether, orchs[0]);
        nextRound();
        vm.prank(orchs[0]);
        staking.reward(); // the mover earns here: it was in pool 0 all round
        uint256 stake = staking.pendingStake(mover);
        assertGt(stake, 1000 ether);
        vm.prank(mover);
        staking.bond(0, orchs[1]);
        vm.prank(orchs[1]);
        staking.reward();
        assertEq(staking.pendingStake(mover), stake, "earned twice in one round");
    }

    /* ITEM 3: FEE FACTOR SATURATION */

    /// @notice A 1-gwei pool pays itself one huge ticket, then delegators join: their fee share is
    ///         still shared with them (the 256-bit fee factor does not saturate) and nothing is
    ///         diverted without an event.
    function test_Attack_FeeFactorSaturation_DelegatorsStillPaid() public {
        address o = newOrchestrator("tiny", 1 gwei, 0, 1_000_000);
        nextRound();
        payFees(o, 400 ether); // old code: factor += 400e18 * 1e27 / 1e9 ≈ 2^128
        (, uint256 cff) = staking.poolFactors(o);
        assertGt(cff, uint256(type(uint128).max) / 2);
        address d = makeAddr("delegator");
        bondAs(d, 1000 ether, o);
        nextRound();
        vm.recordLogs();
        payFees(o, 10 ether);
        nextRound();
        vm.prank(d);
        staking.claimEarnings();
        assertEq(vm.getRecordedLogs().length > 0, true);
        // d holds 1000 ether of a 1000 ether + 1 gwei pool: all but dust of the 10 ether fee share.
        assertApproxEqAbs(staking.pendingFees(d), 10 ether, 1e10, "delegator fees diverted");
        uint256 balance = token.balanceOf(d);
        uint256 fees = staking.pendingFees(d);
        vm.prank(d);
        staking.withdrawFees(d, fees);
        assertEq(token.balanceOf(d) - balance, fees);
    }

    /// @notice Fees that a pool cannot share (no earning stake above dust) go to the orchestrator with
    ///         a FeesNotShared event naming the amount.
    function test_FeesOfEmptyPool_EmitFeesNotShared() public {
        address o = newOrchestrator("dust", 1 gwei - 1, 0, 1_000_000);
        nextRound();
        payFees(o, 3 ether);
        nextRound();
        vm.expectEmit(address(staking));
        emit IStaking.FeesNotShared(o, 3 ether, 1 gwei - 1);
        vm.prank(o);
        staking.claimEarnings();
        assertEq(staking.pendingFees(o), 3 ether);
    }

    /* ITEM 4: SLASHING IS ESCAPABLE */

    /// @dev An orchestrator with 1,000 self-bonded and 10,000 delegated, active.
    function slashable() internal returns (address o, address d) {
        o = newOrchestrator("faulty", 1000 ether, 0, 500_000);
        d = makeAddr("trusting");
        bondAs(d, 10_000 ether, o);
        nextRound();
        assertTrue(staking.isActive(o, staking.currentRound()));
    }

    /// @notice The orchestrator unbonds its own stake right after a fault (before the claim): the lock
    ///         stays slashable, it leaves the active set (below the minimum self-bond), and the slash
    ///         takes its share of the lock.
    function test_Attack_UnbondBeforeClaim_LockStillSlashed() public {
        (address o,) = slashable();
        vm.prank(o);
        uint256 lockId = staking.unbond(1000 ether);
        assertFalse(inActiveSet(o), "active on delegated stake alone");
        assertEq(staking.slashableStake(o), 1000 ether);
        vm.prank(verifier);
        staking.freeze(o);
        vm.prank(o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.StakeFrozen.selector, o));
        staking.withdrawStake(lockId);

        address finder = makeAddr("finder");
        uint256 supply = token.totalSupply();
        vm.prank(verifier);
        staking.slash(o, finder, 250_000, 500_000);
        assertEq(token.balanceOf(finder), 125 ether, "finder fee");
        assertEq(supply - token.totalSupply(), 125 ether, "burned");
        assertEq(staking.unbondingLock(o, lockId).amount, 750 ether);
        assertEq(staking.slashableStake(o), 750 ether);

        vm.prank(verifier);
        staking.unfreeze(o);
        rollRounds(3);
        uint256 balance = token.balanceOf(o);
        vm.prank(o);
        staking.withdrawStake(lockId);
        assertEq(token.balanceOf(o) - balance, 750 ether);
    }

    /// @notice After a slash the orchestrator cannot rebond, register again or call reward() (not in
    ///         the slash round, not for unbondingPeriod rounds); while frozen it cannot either.
    function test_Attack_SlashThenRebondAndReregister_Refused() public {
        (address o,) = slashable();
        vm.prank(o);
        uint256 lockId = staking.unbond(400 ether);
        vm.prank(verifier);
        staking.freeze(o);
        vm.startPrank(o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.StakeFrozen.selector, o));
        staking.reward();
        vm.expectRevert(abi.encodeWithSelector(IStaking.StakeFrozen.selector, o));
        staking.rebond(lockId);
        vm.stopPrank();

        vm.prank(verifier);
        staking.slash(o, address(0), 500_000, 0);
        vm.prank(verifier);
        staking.unfreeze(o);
        uint256 round = staking.currentRound();
        uint256 until = round + params.unbondingPeriod;
        assertEq(staking.slashedUntil(o), until);
        vm.startPrank(o);
        // Still "active" this round by the set's bookkeeping, but unregistered: no reward.
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, o, round));
        staking.reward();
        vm.expectRevert(abi.encodeWithSelector(IStaking.RecentlySlashed.selector, o, until));
        staking.rebond(lockId);
        vm.expectRevert(abi.encodeWithSelector(IStaking.RecentlySlashed.selector, o, until));
        staking.registerOrchestrator(0, 500_000);
        vm.stopPrank();
        rollRounds(params.unbondingPeriod);
        vm.prank(o);
        staking.rebond(lockId);
        assertEq(staking.pendingStake(o), 300 ether + 200 ether);
    }

    /// @notice Delegated stake does not share the slash: the delegator keeps every token.
    function test_Slash_TakesOwnStakeOnly() public {
        (address o, address d) = slashable();
        vm.prank(verifier);
        staking.slash(o, address(0), 1_000_000, 0);
        assertEq(staking.pendingStake(o), 0);
        assertEq(staking.pendingStake(d), 10_000 ether);
        assertEq(staking.orchestratorInfo(o).stake, 10_000 ether);
    }

    /// @notice Re-registering after a slash is a rate change: a ticket issued before it is credited
    ///         with the old fee share; the new share applies from the next round.
    function test_Attack_ReregisterAfterSlash_KeepsOldRatesForIssuedTickets() public {
        (address o, address d) = slashable();
        vm.prank(verifier);
        staking.slash(o, address(0), 100_000, 0);
        rollRounds(params.unbondingPeriod);
        ITicketBroker.SignedTicket memory old = signedTicket(o, 10 ether); // created at 50 % share
        vm.prank(o);
        staking.registerOrchestrator(0, 0); // delegators would get nothing
        assertEq(staking.orchestratorInfo(o).feeShare, 500_000, "new rates in force at once");
        uint256 before = staking.pendingFees(d);
        redeem(o, old);
        assertApproxEqAbs(staking.pendingFees(d) - before, uint256(5 ether) * 10_000 / 10_900, 1e9);
        nextRound();
        assertEq(staking.orchestratorInfo(o).feeShare, 0);
    }

    /// @notice A minimum self-bond: an orchestrator cannot stay active on delegated stake alone.
    function test_Attack_ActiveOnDelegatedStakeOnly_Refused() public {
        address o = newOrchestrator("hollow", 0.5 ether, 0, 500_000);
        bondAs(makeAddr("backer"), 10_000 ether, o);
        assertFalse(inActiveSet(o));
        vm.prank(o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotEligibleForActiveSet.selector, o));
        staking.joinActiveSet(address(0));
        bondAs(o, 0.5 ether, o);
        assertTrue(inActiveSet(o));
    }

    /* VERIFIER ROTATION */

    /// @notice Rotating the verifier strands no claim: the old verifier still lifts (or slashes on)
    ///         the freezes it made, and nobody else can.
    function test_Attack_VerifierRotation_OldFreezeStillResolvable() public {
        (address o,) = slashable();
        vm.prank(verifier);
        staking.freeze(o);
        vm.prank(verifier);
        staking.freeze(o);
        address next = makeAddr("nextVerifier");
        vm.prank(governance());
        staking.setVerifier(next);
        vm.prank(next);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotFrozen.selector, o));
        staking.unfreeze(o);
        vm.prank(makeAddr("stranger"));
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotVerifier.selector, makeAddr("stranger")));
        staking.unfreeze(o);
        vm.prank(verifier);
        staking.unfreeze(o);
        assertEq(staking.freezeCount(o), 1);
        vm.prank(verifier);
        staking.slash(o, address(0), 100_000, 0);
        vm.prank(verifier);
        staking.unfreeze(o);
        assertFalse(staking.frozen(o));
        // The old verifier cannot slash an account it holds no freeze on.
        address other = newOrchestrator("other", 10 ether, 0, 0);
        vm.prank(verifier);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotVerifier.selector, verifier));
        staking.slash(other, address(0), 100_000, 0);
    }

    /* OPERATOR KEYS: THE REWARD CALLER */

    /// @dev o (cold stake key) names `key` its reward caller; o and o2 active from the next round.
    function withRewardCaller() internal returns (address o, address o2, address key) {
        o = newOrchestrator("cold", 1000 ether, 100_000, 500_000);
        o2 = newOrchestrator("neighbour", 1000 ether, 100_000, 500_000);
        key = makeAddr("rewardKey");
        vm.prank(o);
        staking.setRewardCaller(key);
        nextRound();
    }

    /// @notice o's reward caller calls rewardFor for another orchestrator (to mint for a pool it is
    ///         delegated to, or to time a competitor's reward): refused, nothing minted.
    function test_Attack_RewardCallerCallsForAnotherOrchestrator_Refused() public {
        (, address o2, address key) = withRewardCaller();
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, key, o2));
        staking.rewardFor(o2);
        assertEq(minter.currentMinted(), 0);
        assertEq(staking.orchestratorInfo(o2).lastRewardRound, 0);
    }

    /// @notice A reward caller that was replaced, or cleared, keeps calling: refused from the
    ///         transaction after the change on; the new key works.
    function test_Attack_RevokedRewardCallerStillActs_Refused() public {
        (address o,, address key) = withRewardCaller();
        address next = makeAddr("nextRewardKey");
        vm.prank(o);
        staking.setRewardCaller(next);
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, key, o));
        staking.rewardFor(o);
        vm.prank(next);
        staking.rewardFor(o);
        nextRound();
        vm.prank(o);
        staking.setRewardCaller(address(0));
        vm.prank(next);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, next, o));
        staking.rewardFor(o);
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, key, o));
        staking.rewardFor(o);
    }

    /// @notice A stolen reward-caller key tries every other power of the stake key: rates, bonding,
    ///         unbonding, fees, registration, the keys themselves. Each acts on the key's own (empty)
    ///         account or is refused; o's rates, stake, fees and keys do not move.
    function test_Attack_RewardCallerTriesEverythingElse_OrchestratorUntouched() public {
        (address o,, address key) = withRewardCaller();
        payFees(o, 10 ether);
        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(o);
        uint256 stake = staking.pendingStake(o);
        uint256 fees = staking.pendingFees(o);
        vm.startPrank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, key));
        staking.setRates(1_000_000, 0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotBonded.selector, key));
        staking.unbond(1 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.InsufficientFees.selector, 0, fees));
        staking.withdrawFees(key, fees);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotBonded.selector, key));
        staking.claimEarnings();
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnknownUnbondingLock.selector, key, 0));
        staking.withdrawStake(0);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotEligibleForActiveSet.selector, key));
        staking.joinActiveSet(o);
        // Writing keys writes the key's own record: o's are unchanged.
        staking.setRewardCaller(key);
        staking.setRedeemer(key);
        // reward() rewards the caller's own account, which is no orchestrator.
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, key, 1));
        staking.reward();
        vm.stopPrank();
        assertEq(staking.rewardCallerOf(o), key);
        assertEq(staking.redeemerOf(o), address(0));
        IStaking.OrchestratorInfo memory now_ = staking.orchestratorInfo(o);
        assertEq(now_.rewardCut, info.rewardCut);
        assertEq(now_.feeShare, info.feeShare);
        assertEq(now_.stake, info.stake);
        assertEq(staking.pendingStake(o), stake);
        assertEq(staking.pendingFees(o), fees);
        assertEq(token.balanceOf(key), 0);
    }

    /// @notice A third party names itself (or a key it controls) as o's reward caller: it can only
    ///         write its own record, so the key it named is refused for o.
    function test_Attack_KeySetByAnotherThanTheOrchestrator_Refused() public {
        (address o,,) = withRewardCaller();
        address attacker = makeAddr("keyAttacker");
        vm.prank(attacker);
        staking.setRewardCaller(attacker);
        vm.prank(attacker);
        staking.setRedeemer(attacker);
        assertEq(staking.rewardCallerOf(attacker), attacker, "its own record");
        assertEq(staking.rewardCallerOf(o), makeAddr("rewardKey"), "o's record unchanged");
        assertEq(staking.redeemerOf(o), address(0));
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, attacker, o));
        staking.rewardFor(o);
    }

    /// @notice The old reward caller sees o's rotation in the mempool and calls rewardFor first (or
    ///         twice): o's pool gets its one reward of the round, exactly as o's own call would mint;
    ///         the key gains nothing, the new key finds the round rewarded, the old key is refused after.
    function test_Attack_FrontRunRewardCallerRotation_GainsNothing() public {
        (address o,, address key) = withRewardCaller();
        uint256 snap = vm.snapshotState();
        vm.prank(o);
        staking.reward();
        uint256 honestStake = staking.pendingStake(o);
        uint256 honestMinted = minter.currentMinted();
        vm.revertToState(snap);

        vm.prank(key);
        staking.rewardFor(o); // front-run
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyRewarded.selector, o, 1));
        staking.rewardFor(o);
        address next = makeAddr("nextRewardKey");
        vm.prank(o);
        staking.setRewardCaller(next); // the rotation lands
        vm.prank(next);
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyRewarded.selector, o, 1));
        staking.rewardFor(o);
        assertEq(staking.pendingStake(o), honestStake, "the same reward as o's own call");
        assertEq(minter.currentMinted(), honestMinted);
        assertEq(staking.pendingStake(key), 0);
        assertEq(token.balanceOf(key), 0);
        nextRound();
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, key, o));
        staking.rewardFor(o);
    }

    /// @notice While o is frozen (a claim is open) its reward caller cannot reward it, no more than o
    ///         can; once slashed (unregistered) neither can; the key outlives neither rule.
    function test_Attack_RewardCallerOfFrozenOrSlashedOrchestrator_Refused() public {
        (address o,, address key) = withRewardCaller();
        vm.prank(verifier);
        staking.freeze(o);
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.StakeFrozen.selector, o));
        staking.rewardFor(o);
        vm.prank(verifier);
        staking.slash(o, address(0), 500_000, 0);
        vm.prank(verifier);
        staking.unfreeze(o);
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, o, 1));
        staking.rewardFor(o);
        nextRound();
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, o, 2));
        staking.rewardFor(o);
        assertEq(minter.currentMinted(), 0);
    }

    /// @notice One key serving as reward caller of two orchestrators (allowed: a reward service) acts
    ///         for each only where named, and one orchestrator's revocation leaves the other's.
    function test_Attack_SharedRewardCaller_ActsOnlyWhereNamed() public {
        (address o, address o2, address key) = withRewardCaller();
        address o3 = newOrchestrator("third", 1000 ether, 0, 0);
        vm.prank(o2);
        staking.setRewardCaller(key);
        nextRound();
        vm.startPrank(key);
        staking.rewardFor(o);
        staking.rewardFor(o2);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, key, o3));
        staking.rewardFor(o3);
        vm.stopPrank();
        vm.prank(o);
        staking.setRewardCaller(address(0));
        nextRound();
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, key, o));
        staking.rewardFor(o);
        vm.prank(key);
        staking.rewardFor(o2);
        assertEq(staking.orchestratorInfo(o2).lastRewardRound, 3);
    }

    /* ACTIVE SET SIZE */

    function test_Attack_UnboundedActiveSet_Capped() public {
        uint256 limit = staking.MAX_ACTIVE_LIMIT();
        vm.expectRevert(abi.encodeWithSelector(IStaking.MaxActiveTooLarge.selector, limit + 1, limit));
        vm.prank(governance());
        staking.setMaxActive(limit + 1);
        vm.prank(governance());
        staking.setMaxActive(limit);
        address[] memory os = fillOrchestrators("paged", 5, 10 ether);
        (address[] memory page, uint256 total) = staking.activeSetPage(1, 3);
        assertEq(total, 5);
        assertEq(page.length, 3);
        assertEq(page[0], os[1]);
        (page,) = staking.activeSetPage(4, 3);
        assertEq(page.length, 1);
        (page,) = staking.activeSetPage(9, 3);
        assertEq(page.length, 0);
    }
}
