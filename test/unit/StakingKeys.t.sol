// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Operator keys in Staking: setRewardCaller / setRedeemer (the orchestrator's own record, any
///         time, with an event) and rewardFor (the orchestrator or its current reward caller, every rule
///         of reward() applied to the orchestrator, the same Reward event).
/// @dev Setup (round 0): o self-bonds 100 (10%, 50%), d delegates 100 to o, o2 self-bonds 200 (0%, 0%);
///      both active from round 1. `caller` and `redeemer` are o's hot keys once o names them.
contract StakingKeysTest is StakingHelpers {
    address internal o;
    address internal o2;
    address internal d = makeAddr("d");
    address internal caller = makeAddr("rewardCallerKey");
    address internal redeemer = makeAddr("redeemerKey");
    address internal stranger = makeAddr("stranger");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        bondAs(d, 100 ether, o);
        o2 = newOrchestrator("o2", 200 ether, 0, 0);
    }

    function setCaller(address orchestrator, address key) internal {
        vm.prank(orchestrator);
        staking.setRewardCaller(key);
    }

    function notRewardCaller(address who, address orchestrator) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IStaking.NotRewardCaller.selector, who, orchestrator);
    }

    /* SETTING KEYS */

    function test_SetRewardCaller_StoresReplacesClearsAndEmits() public {
        assertEq(staking.rewardCallerOf(o), address(0), "none by default");
        vm.expectEmit(address(staking));
        emit IStaking.RewardCallerSet(o, caller);
        setCaller(o, caller);
        assertEq(staking.rewardCallerOf(o), caller);
        assertEq(staking.redeemerOf(o), address(0), "the other key is untouched");

        address next = makeAddr("nextCaller");
        vm.expectEmit(address(staking));
        emit IStaking.RewardCallerSet(o, next);
        setCaller(o, next);
        assertEq(staking.rewardCallerOf(o), next);

        vm.expectEmit(address(staking));
        emit IStaking.RewardCallerSet(o, address(0));
        setCaller(o, address(0));
        assertEq(staking.rewardCallerOf(o), address(0));
    }

    function test_SetRedeemer_StoresReplacesClearsAndEmits() public {
        assertEq(staking.redeemerOf(o), address(0), "none by default");
        vm.expectEmit(address(staking));
        emit IStaking.RedeemerSet(o, redeemer);
        vm.prank(o);
        staking.setRedeemer(redeemer);
        assertEq(staking.redeemerOf(o), redeemer);
        assertEq(staking.rewardCallerOf(o), address(0), "the other key is untouched");

        vm.expectEmit(address(staking));
        emit IStaking.RedeemerSet(o, address(0));
        vm.prank(o);
        staking.setRedeemer(address(0));
        assertEq(staking.redeemerOf(o), address(0));
    }

    /* SIGNING SEGMENT RESULTS */

    /// @notice The orchestrator and its redeemer sign its results; a replaced redeemer for
    ///         `unbondingPeriod` rounds after it was replaced; the reward caller and strangers never.
    function test_SignsResultsFor_OwnKeyRedeemerAndReplacedRedeemerForAWhile() public {
        assertTrue(staking.signsResultsFor(o, o));
        assertFalse(staking.signsResultsFor(o, redeemer), "not named yet");
        vm.prank(o);
        staking.setRedeemer(redeemer);
        setCaller(o, caller);
        assertTrue(staking.signsResultsFor(o, redeemer));
        assertFalse(staking.signsResultsFor(o, caller), "the reward caller only calls reward");
        assertFalse(staking.signsResultsFor(o2, redeemer), "only for the orchestrator that named it");
        assertFalse(staking.signsResultsFor(o, o2));
        vm.prank(o);
        staking.setRedeemer(stranger);
        for (uint256 i; i < params.unbondingPeriod; ++i) {
            assertTrue(staking.signsResultsFor(o, redeemer), "replaced, still answerable");
            nextRound();
        }
        assertFalse(staking.signsResultsFor(o, redeemer), "replaced unbondingPeriod rounds ago");
        assertTrue(staking.signsResultsFor(o, stranger));
    }

    /// @notice Whoever names whatever: a key signs for `o` only if it is `o` or one `o` named.
    function testFuzz_SignsResultsFor_OnlyKeysTheOrchestratorNamed(address key, address signer, uint8 rounds) public {
        vm.assume(signer != o && signer != address(0));
        vm.prank(o2);
        staking.setRedeemer(signer); // named by another orchestrator: nothing for o
        vm.prank(o);
        staking.setRedeemer(key);
        rollRounds(bound(rounds, 0, 10));
        assertEq(staking.signsResultsFor(o, signer), signer == key);
        vm.prank(o);
        staking.setRedeemer(address(0));
        uint256 r = bound(rounds, 0, 2 * params.unbondingPeriod);
        rollRounds(r);
        assertEq(staking.signsResultsFor(o, signer), signer == key && r < params.unbondingPeriod);
    }

    /// @notice Each account writes its own record only; the same key may be named by several.
    function test_SetKeys_ArePerOrchestrator() public {
        setCaller(o, caller);
        setCaller(o2, caller);
        vm.prank(o2);
        staking.setRedeemer(redeemer);
        assertEq(staking.rewardCallerOf(o), caller);
        assertEq(staking.rewardCallerOf(o2), caller);
        assertEq(staking.redeemerOf(o), address(0));
        assertEq(staking.redeemerOf(o2), redeemer);
        setCaller(o, address(0));
        assertEq(staking.rewardCallerOf(o2), caller, "o's change leaves o2's key");
    }

    /// @notice Setting keys needs no registration and works while frozen or slashed: revoking a
    ///         compromised key is never blocked.
    function test_SetKeys_AllowedUnregisteredFrozenAndSlashed() public {
        setCaller(stranger, caller); // not an orchestrator: a record with no power
        assertEq(staking.rewardCallerOf(stranger), caller);
        nextRound();
        setCaller(o, caller);
        vm.prank(verifier);
        staking.freeze(o);
        setCaller(o, address(0));
        vm.prank(o);
        staking.setRedeemer(redeemer);
        vm.prank(verifier);
        staking.slash(o, address(0), 100_000, 0);
        vm.prank(o);
        staking.setRedeemer(address(0));
        setCaller(o, caller);
        assertEq(staking.rewardCallerOf(o), caller);
        assertEq(staking.redeemerOf(o), address(0));
    }

    /* REWARD FOR */

    /// @notice The reward caller's rewardFor(o) is o's reward() exactly: same mint, same cut, same
    ///         event naming o, the same state afterwards; the caller gains nothing.
    function test_RewardFor_ByRewardCaller_IsTheOrchestratorsReward() public {
        setCaller(o, caller);
        nextRound();
        uint256 snap = vm.snapshotState();
        vm.prank(o);
        staking.reward();
        uint256 stakeO = staking.pendingStake(o);
        uint256 stakeD = staking.pendingStake(d);
        uint256 minted = minter.currentMinted();
        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(o);
        vm.revertToState(snap);

        // minted = 3285 × 200 / 400 = 1642.5; cut 10 % (see StakingRewards).
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o, 1, 1642.5 ether, 164.25 ether);
        vm.prank(caller);
        staking.rewardFor(o);
        assertEq(minter.currentMinted(), minted);
        assertEq(staking.pendingStake(o), stakeO);
        assertEq(staking.pendingStake(d), stakeD);
        assertEq(staking.orchestratorInfo(o).stake, info.stake);
        assertEq(staking.orchestratorInfo(o).lastRewardRound, 1);
        assertEq(staking.pendingStake(caller), 0, "the caller earns nothing");
        assertEq(token.balanceOf(caller), 0);
    }

    function test_RewardFor_ByTheOrchestratorItself_NeedsNoKey() public {
        nextRound();
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o, 1, 1642.5 ether, 164.25 ether);
        vm.prank(o);
        staking.rewardFor(o);
    }

    function test_RewardFor_ByAnyoneElse_Reverts() public {
        setCaller(o, caller);
        nextRound();
        vm.prank(stranger);
        vm.expectRevert(notRewardCaller(stranger, o));
        staking.rewardFor(o);
        vm.prank(o2); // another orchestrator is no one's caller by default
        vm.expectRevert(notRewardCaller(o2, o));
        staking.rewardFor(o);
        vm.prank(caller); // o's caller is not o2's
        vm.expectRevert(notRewardCaller(caller, o2));
        staking.rewardFor(o2);
        vm.prank(o);
        vm.expectRevert(notRewardCaller(o, o2));
        staking.rewardFor(o2);
        assertEq(minter.currentMinted(), 0);
    }

    /// @notice Unset, the zero record matches no caller (msg.sender is never zero), zero included.
    function test_RewardFor_ZeroAddressOrchestrator_Reverts() public {
        nextRound();
        vm.prank(caller);
        vm.expectRevert(notRewardCaller(caller, address(0)));
        staking.rewardFor(address(0));
    }

    function test_RewardFor_ClearedOrReplacedCaller_Reverts() public {
        address next = makeAddr("nextCaller");
        setCaller(o, caller);
        setCaller(o, next);
        nextRound();
        vm.prank(caller);
        vm.expectRevert(notRewardCaller(caller, o));
        staking.rewardFor(o);
        setCaller(o, address(0));
        vm.prank(next);
        vm.expectRevert(notRewardCaller(next, o));
        staking.rewardFor(o);
    }

    /// @notice Every rule of reward() holds for the orchestrator named: not yet active, once per round
    ///         (whoever called first), frozen, unregistered.
    function test_RewardFor_SameRulesAsReward() public {
        setCaller(o, caller);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, o, 0));
        staking.rewardFor(o);

        nextRound();
        vm.prank(o);
        staking.reward();
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyRewarded.selector, o, 1));
        staking.rewardFor(o);

        nextRound();
        vm.prank(caller);
        staking.rewardFor(o);
        vm.prank(o);
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyRewarded.selector, o, 2));
        staking.reward();

        nextRound();
        vm.prank(verifier);
        staking.freeze(o);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IStaking.StakeFrozen.selector, o));
        staking.rewardFor(o);
        vm.prank(verifier);
        staking.unfreeze(o);
        vm.prank(caller);
        staking.rewardFor(o);

        nextRound();
        vm.prank(verifier);
        staking.slash(o, address(0), 100_000, 0);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, o, 4));
        staking.rewardFor(o);
    }

    /// @notice reward() is rewardFor(msg.sender): the reward caller calling reward() rewards itself,
    ///         not its orchestrator (and it is no orchestrator).
    function test_Reward_IsForTheCallerOnly() public {
        setCaller(o, caller);
        nextRound();
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, caller, 1));
        staking.reward();
        assertEq(staking.orchestratorInfo(o).lastRewardRound, 0);
    }

    /// @notice One key may be the reward caller of several orchestrators; it rewards each when named.
    function test_RewardFor_SharedCallerRewardsEachNamedOrchestrator() public {
        setCaller(o, caller);
        setCaller(o2, caller);
        nextRound();
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o, 1, 1642.5 ether, 164.25 ether);
        vm.prank(caller);
        staking.rewardFor(o);
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o2, 1, 1642.5 ether, 0);
        vm.prank(caller);
        staking.rewardFor(o2);
        assertEq(minter.currentMinted(), 3285 ether);
    }
}
