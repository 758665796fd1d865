// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {Minter} from "../../contracts/Minter.sol";
import {IMinter} from "../../contracts/interfaces/IMinter.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {IWorkToken} from "../../contracts/interfaces/IWorkToken.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @notice Minter: construction, round initialization and the inflation step toward the 50% target
///         bonding rate, mintReward (staking only, bounded by the round's mintable).
/// @dev Deployment: inflation 218_500 ppb, step 500 ppb, target 500_000_000 ppb, supply 15M.
contract MinterTest is StakingHelpers {
    /* CONSTRUCTOR AND PARAMETERS */

    function test_Deployment_Parameters() public view {
        assertEq(address(minter.token()), address(token));
        assertEq(address(minter.staking()), address(staking));
        assertEq(minter.inflation(), INFLATION);
        assertEq(minter.inflationChange(), INFLATION_CHANGE);
        assertEq(minter.targetBondingRate(), TARGET_BONDING_RATE);
        assertEq(minter.currentMintable(), 0);
        assertEq(minter.currentMinted(), 0);
        assertEq(minter.lastInitializedRound(), 0);
        assertFalse(minter.roundInitialized(0));
        assertEq(token.minter(), address(minter));
    }

    function test_RevertWhen_ConstructedWithZeroToken() public {
        vm.expectRevert(IMinter.InvalidParameters.selector);
        new Minter(IWorkToken(address(0)), staking, 1, 1, 1, address(this));
    }

    function test_RevertWhen_ConstructedWithZeroStaking() public {
        vm.expectRevert(IMinter.InvalidParameters.selector);
        new Minter(token, IStaking(address(0)), 1, 1, 1, address(this));
    }

    function test_RevertWhen_ConstructedWithRatesAbovePpb() public {
        vm.expectRevert(IMinter.InvalidParameters.selector);
        new Minter(token, staking, PPB + 1, 1, 1, address(this));
        vm.expectRevert(IMinter.InvalidParameters.selector);
        new Minter(token, staking, 1, PPB + 1, 1, address(this));
        vm.expectRevert(IMinter.InvalidParameters.selector);
        new Minter(token, staking, 1, 1, PPB + 1, address(this));
    }

    function test_Constructor_AcceptsPpbBounds() public {
        Minter m = new Minter(token, staking, PPB, PPB, PPB, address(this));
        assertEq(m.inflation(), PPB);
        assertEq(m.inflationChange(), PPB);
        assertEq(m.targetBondingRate(), PPB);
    }

    /* INITIALIZE ROUND */

    function test_InitializeRound_RaisesInflationBelowTarget() public {
        // nothing bonded: rate 0 < 50%: 218_500 + 500; mintable = 15M × 219_000 / 1e9 = 3285
        vm.expectEmit(address(minter));
        emit IMinter.RoundInitialized(0, 219_000, 3285 ether, 0);
        minter.initializeRound();
        assertEq(minter.inflation(), 219_000);
        assertEq(minter.currentMintable(), 3285 ether);
        assertEq(minter.currentMinted(), 0);
        assertTrue(minter.roundInitialized(0));
        assertEq(minter.lastInitializedRound(), 0);
    }

    function test_InitializeRound_OncePerRound() public {
        minter.initializeRound();
        vm.expectRevert(abi.encodeWithSelector(IMinter.RoundAlreadyInitialized.selector, 0));
        minter.initializeRound();
        rollRounds(3);
        minter.initializeRound();
        vm.expectRevert(abi.encodeWithSelector(IMinter.RoundAlreadyInitialized.selector, 3));
        minter.initializeRound();
    }

    function test_InitializeRound_StepsOncePerInitializedRoundNotPerElapsedRound() public {
        minter.initializeRound();
        rollRounds(5);
        vm.expectEmit(address(minter));
        emit IMinter.RoundInitialized(5, 219_500, 3292.5 ether, 0);
        minter.initializeRound();
        assertEq(minter.lastInitializedRound(), 5);
        assertTrue(minter.roundInitialized(5));
    }

    function test_InitializeRound_LowersInflationAboveTarget() public {
        bondAs(makeAddr("whale"), 8_000_000 ether, makeAddr("whale"));
        // rate = 8M / 15M = 533_333_333 ppb > 50%: 218_500 − 500; mintable = 15M × 218_000 / 1e9 = 3270
        vm.expectEmit(address(minter));
        emit IMinter.RoundInitialized(0, 218_000, 3270 ether, 533_333_333);
        minter.initializeRound();
        assertEq(minter.inflation(), 218_000);
    }

    function test_InitializeRound_KeepsInflationAtTarget() public {
        bondAs(makeAddr("whale"), 7_500_000 ether, makeAddr("whale"));
        vm.expectEmit(address(minter));
        emit IMinter.RoundInitialized(0, 218_500, 3277.5 ether, 500_000_000);
        minter.initializeRound();
        assertEq(minter.inflation(), 218_500);
    }

    function test_InitializeRound_InflationFloorsAtZero() public {
        bondAs(makeAddr("whale"), 8_000_000 ether, makeAddr("whale"));
        Minter m = new Minter(token, staking, 300, 500, TARGET_BONDING_RATE, address(this));
        m.initializeRound();
        assertEq(m.inflation(), 0);
        assertEq(m.currentMintable(), 0);
    }

    function test_InitializeRound_InflationCapsAtPpb() public {
        Minter m = new Minter(token, staking, PPB - 100, 500, TARGET_BONDING_RATE, address(this));
        m.initializeRound();
        assertEq(m.inflation(), PPB);
        assertEq(m.currentMintable(), GENESIS_SUPPLY);
    }

    function test_InitializeRound_MovesTowardTargetEveryRound() public {
        for (uint256 i; i < 4; ++i) {
            minter.initializeRound();
            assertEq(minter.inflation(), INFLATION + (i + 1) * INFLATION_CHANGE);
            nextRound();
        }
    }

    function test_RoundInitialized_FalseForUninitializedRounds() public {
        minter.initializeRound();
        assertFalse(minter.roundInitialized(1));
        rollRounds(2);
        assertFalse(minter.roundInitialized(2));
        minter.initializeRound();
        assertFalse(minter.roundInitialized(1)); // skipped, never initialized
    }

    /// @dev IMinter.roundInitialized: "True if `round` has been initialized." Round 0 was initialized,
    ///      but the view only recognises the last initialized round. Suspected bug (view or NatSpec).
    function test_RoundInitialized_OnlyForTheLastInitializedRound() public {
        minter.initializeRound();
        nextRound();
        minter.initializeRound();
        assertTrue(minter.roundInitialized(1));
        assertFalse(minter.roundInitialized(0), "only the last initialized round's state is kept");
        assertEq(minter.lastInitializedRound(), 1);
    }

    /* MINT REWARD */

    function test_RevertWhen_MintRewardNotStaking() public {
        vm.expectRevert(abi.encodeWithSelector(IMinter.NotStaking.selector, address(this)));
        minter.mintReward(1, 2);
    }

    function test_MintReward_InitializesRoundAndMintsShareToStaking() public {
        vm.expectEmit(address(minter));
        emit IMinter.RoundInitialized(0, 219_000, 3285 ether, 0);
        vm.expectEmit(address(minter));
        emit IMinter.RewardMinted(0, address(staking), 1642.5 ether);
        vm.prank(address(staking));
        uint256 minted = minter.mintReward(1, 2);
        assertEq(minted, 1642.5 ether);
        assertEq(minter.currentMinted(), 1642.5 ether);
        assertEq(token.balanceOf(address(staking)), 1642.5 ether);
        assertEq(token.totalSupply(), GENESIS_SUPPLY + 1642.5 ether);
        assertTrue(minter.roundInitialized(0));
    }

    function test_MintReward_ZeroTotalStakeMintsNothing() public {
        vm.prank(address(staking));
        assertEq(minter.mintReward(0, 0), 0);
        assertTrue(minter.roundInitialized(0));
        assertEq(token.totalSupply(), GENESIS_SUPPLY);
    }

    function test_MintReward_UpToExactlyTheMintable() public {
        vm.startPrank(address(staking));
        minter.mintReward(1, 3);
        minter.mintReward(2, 3);
        vm.stopPrank();
        assertEq(minter.currentMinted(), 3285 ether);
        assertEq(token.totalSupply(), GENESIS_SUPPLY + 3285 ether);
    }

    function test_RevertWhen_MintRewardAboveMintable() public {
        vm.expectRevert(abi.encodeWithSelector(IMinter.MintableExceeded.selector, 0, 4927.5 ether, 3285 ether));
        vm.prank(address(staking));
        minter.mintReward(3, 2);
    }

    function test_RevertWhen_MintRewardCumulativelyAboveMintable() public {
        vm.prank(address(staking));
        minter.mintReward(1, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IMinter.MintableExceeded.selector, 0, 3285 ether + 3.285 ether, 3285 ether)
        );
        vm.prank(address(staking));
        minter.mintReward(1, 1000);
    }

    function test_MintReward_NewRoundResetsMinted() public {
        vm.prank(address(staking));
        minter.mintReward(1, 1);
        nextRound();
        // supply 15_003_285, still below target: 219_500 ppb
        vm.prank(address(staking));
        uint256 minted = minter.mintReward(1, 1);
        assertEq(minted, 15_003_285 ether * 219_500 / PPB);
        assertEq(minter.currentMinted(), minted);
    }

    /// @dev Through Staking the round's mints never exceed the mintable, however stakes move during
    ///      the round: joins, leaves, evictions and bonds after the round's start.
    function test_MintReward_ThroughStakingNeverExceedsMintable() public {
        address[] memory os = fillOrchestrators("f", 100, 3 ether);
        nextRound();
        // churn during round 1: bonds, an unbond below the minimum, an eviction
        bondAs(makeAddr("d1"), 500 ether, os[1]);
        address x = newOrchestrator("x", 50 ether, 0, 0);
        vm.prank(x);
        staking.joinActiveSet(os[3]);
        vm.prank(os[2]);
        staking.unbond(2.5 ether);
        for (uint256 i; i < os.length; ++i) {
            vm.prank(os[i]);
            staking.reward();
        }
        assertLe(minter.currentMinted(), minter.currentMintable());
        // Everyone is paid on its round-start stake, except os[2]: it fell below the active minimum
        // (0.5 of 1 ether) during the round and mints nothing.
        uint256 mintable = minter.currentMintable();
        assertApproxEqAbs(minter.currentMinted(), mintable - mintable * 3 ether / 300 ether, 100);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, x, 1));
        vm.prank(x);
        staking.reward();
    }

    /* GOVERNANCE AND TREASURY */

    /// @dev The deployed Minter with `treasury` at `rate` and `ceiling`, set by governance.
    function setTreasury(address treasury, uint256 rate, uint256 ceiling) internal {
        vm.startPrank(governance());
        minter.setTreasury(treasury);
        minter.setTreasuryBalanceCeiling(ceiling);
        minter.setTreasuryRewardCutRate(rate);
        vm.stopPrank();
    }

    function test_Treasury_ShareMintedAtRoundInitialization() public {
        address t = makeAddr("treasury");
        setTreasury(t, 100_000_000, 750_000 ether);
        // 3285 of inflation: 10% (328.5) to the treasury, the rest mintable as rewards.
        vm.expectEmit(address(minter));
        emit IMinter.RoundInitialized(0, 219_000, 3285 ether, 0);
        vm.expectEmit(address(minter));
        emit IMinter.TreasuryRewardMinted(0, t, 328.5 ether);
        minter.initializeRound();
        assertEq(token.balanceOf(t), 328.5 ether);
        assertEq(minter.currentMintable(), 3285 ether - 328.5 ether);
        assertEq(minter.treasuryRewardCutRate(), 100_000_000);
        assertEq(token.totalSupply(), GENESIS_SUPPLY + 328.5 ether);
    }

    function test_Treasury_ShareCappedAtTheCeilingThenRateZeroed() public {
        address t = makeAddr("treasury");
        setTreasury(t, 100_000_000, 500 ether);
        give(t, 300 ether);
        // 328.5 due, 200 of room: 200 minted, the balance reaches the ceiling, the rate goes to 0.
        vm.expectEmit(address(minter));
        emit IMinter.TreasuryCeilingReached(0, 500 ether, 500 ether);
        vm.expectEmit(address(minter));
        emit IMinter.TreasuryRewardCutRateSet(0);
        vm.expectEmit(address(minter));
        emit IMinter.TreasuryRewardMinted(0, t, 200 ether);
        minter.initializeRound();
        assertEq(token.balanceOf(t), 500 ether);
        assertEq(minter.currentMintable(), 3285 ether - 200 ether);
        assertEq(minter.treasuryRewardCutRate(), 0);
        // Spending below the ceiling does not restart the share: governance must set the rate again.
        vm.prank(t);
        assertTrue(token.transfer(makeAddr("grantee"), 100 ether));
        nextRound();
        minter.initializeRound();
        assertEq(token.balanceOf(t), 400 ether);
        vm.prank(governance());
        minter.setTreasuryRewardCutRate(100_000_000);
        nextRound();
        minter.initializeRound();
        assertEq(token.balanceOf(t), 500 ether);
    }

    function test_Treasury_NothingMintedAtOrAboveTheCeiling() public {
        address t = makeAddr("treasury");
        setTreasury(t, 100_000_000, 100 ether);
        give(t, 150 ether);
        uint256 supply = token.totalSupply();
        minter.initializeRound();
        assertEq(token.balanceOf(t), 150 ether);
        assertEq(token.totalSupply(), supply);
        assertEq(minter.currentMintable(), 3285 ether);
        assertEq(minter.treasuryRewardCutRate(), 0);
    }

    function test_Treasury_RewardsAndShareNeverExceedTheRoundsInflation() public {
        address t = makeAddr("treasury");
        setTreasury(t, 500_000_000, 1_000_000 ether);
        vm.startPrank(address(staking));
        minter.mintReward(1, 2);
        minter.mintReward(1, 2);
        vm.stopPrank();
        assertEq(token.balanceOf(t), 1642.5 ether);
        assertEq(token.totalSupply(), GENESIS_SUPPLY + 3285 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IMinter.MintableExceeded.selector, 0, 1642.5 ether + 1.6425 ether, 1642.5 ether)
        );
        vm.prank(address(staking));
        minter.mintReward(1, 1000);
    }

    function test_Governance_SettersBoundedAndOwnerOnly() public {
        address gov = governance();
        vm.startPrank(gov);
        vm.expectEmit(address(minter));
        emit IMinter.InflationChangeSet(PPB);
        minter.setInflationChange(PPB);
        vm.expectRevert(abi.encodeWithSelector(IMinter.RateOutOfBounds.selector, PPB + 1, PPB));
        minter.setInflationChange(PPB + 1);
        vm.expectEmit(address(minter));
        emit IMinter.TargetBondingRateSet(0);
        minter.setTargetBondingRate(0);
        vm.expectRevert(abi.encodeWithSelector(IMinter.RateOutOfBounds.selector, PPB + 1, PPB));
        minter.setTargetBondingRate(PPB + 1);
        vm.expectRevert(IMinter.ZeroTreasury.selector);
        minter.setTreasury(address(0));
        vm.expectRevert(abi.encodeWithSelector(IMinter.RateOutOfBounds.selector, PPB / 2 + 1, PPB / 2));
        minter.setTreasuryRewardCutRate(PPB / 2 + 1);
        vm.stopPrank();
        assertEq(minter.inflationChange(), PPB);
        assertEq(minter.targetBondingRate(), 0);

        address stranger = makeAddr("stranger");
        vm.startPrank(stranger);
        bytes memory unauthorized = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger);
        vm.expectRevert(unauthorized);
        minter.setInflationChange(1);
        vm.expectRevert(unauthorized);
        minter.setTargetBondingRate(1);
        vm.expectRevert(unauthorized);
        minter.setTreasury(stranger);
        vm.expectRevert(unauthorized);
        minter.setTreasuryRewardCutRate(1);
        vm.expectRevert(unauthorized);
        minter.setTreasuryBalanceCeiling(1);
        vm.stopPrank();
    }

    function test_Governance_RateNeedsATreasury() public {
        Minter m = new Minter(token, staking, INFLATION, INFLATION_CHANGE, TARGET_BONDING_RATE, address(this));
        vm.expectRevert(IMinter.TreasuryNotSet.selector);
        m.setTreasuryRewardCutRate(1);
        m.setTreasuryRewardCutRate(0);
    }

    function test_Governance_NewStepAndTargetApplyFromTheNextRound() public {
        minter.initializeRound();
        vm.startPrank(governance());
        minter.setInflationChange(10_000);
        minter.setTargetBondingRate(0);
        vm.stopPrank();
        assertEq(minter.inflation(), 219_000, "the current round keeps its inflation");
        nextRound();
        bondAs(makeAddr("whale"), 1 ether, makeAddr("whale"));
        minter.initializeRound();
        assertEq(minter.inflation(), 209_000, "bonded above the 0 target: one new step down");
    }
}
