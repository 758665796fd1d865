// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {IMinter} from "../../contracts/interfaces/IMinter.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice reward, creditFees, withdrawFees and claimEarnings, with amounts computed by hand.
/// @dev Setup (round 0): o self-bonds 100 (rewardCut 10%, feeShare 50%), d delegates 100 to o,
///      o2 self-bonds 200 (0%, 0%). From round 1 both are active with 200 each: total 400.
///      First initialized round: bonding rate 400 / 15M < 50%, so inflation 218_500 + 500 = 219_000 ppb
///      and mintable = 15_000_000 × 219_000 / 1e9 = 3285 ether.
contract StakingRewardsTest is StakingHelpers {
    uint256 internal constant MINTABLE_R1 = 3285 ether;

    address internal o;
    address internal o2;
    address internal d = makeAddr("d");
    address internal d2 = makeAddr("d2");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        bondAs(d, 100 ether, o);
        o2 = newOrchestrator("o2", 200 ether, 0, 0);
    }

    /* REWARD */

    function test_Reward_MintsShareOfMintableByRoundStartStake() public {
        nextRound();
        // minted = 3285 × 200 / 400 = 1642.5; cut = 10% = 164.25;
        // CRF = 1e27 × (200 + 1642.5 − 164.25) / 200 = 8.39125e27: d 100 → 839.125, o 839.125 + 164.25.
        vm.expectEmit(address(minter));
        emit IMinter.RoundInitialized(1, 219_000, MINTABLE_R1, 26_666);
        vm.expectEmit(address(minter));
        emit IMinter.RewardMinted(1, address(staking), 1642.5 ether);
        vm.expectEmit(address(staking));
        emit IStaking.EarningsClaimed(o, o, 739.125 ether, 0);
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o, 1, 1642.5 ether, 164.25 ether);
        vm.prank(o);
        staking.reward();

        assertEq(minter.currentMintable(), MINTABLE_R1);
        assertEq(minter.currentMinted(), 1642.5 ether);
        assertEq(staking.pendingStake(d), 839.125 ether);
        assertEq(staking.pendingStake(o), 1003.375 ether);
        assertEq(staking.orchestratorInfo(o).stake, 1842.5 ether);
        assertEq(staking.orchestratorInfo(o).lastRewardRound, 1);
        assertEq(staking.totalBonded(), 2042.5 ether);
        assertEq(token.totalSupply(), GENESIS_SUPPLY + 1642.5 ether);
        assertEq(token.balanceOf(address(staking)), 2042.5 ether);
        // the active totals of this round are fixed at its start
        (uint256 count, uint256 stake) = staking.activeTotalsThisRound();
        assertEq(count, 2);
        assertEq(stake, 400 ether);
    }

    function test_Reward_StakeArrivedThisRoundEarnsNothing() public {
        nextRound();
        bondAs(d2, 200 ether, o); // o: 400 now, 200 of it earning this round
        assertEq(staking.earningStake(o), 200 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o, 1, 1642.5 ether, 164.25 ether);
        vm.prank(o);
        staking.reward();
        // Spread over the earning 200 only: CRF = 1e27 × (200 + 1642.5 − 164.25) / 200 = 8.39125e27
        assertEq(staking.pendingStake(d), 839.125 ether);
        assertEq(staking.pendingStake(d2), 200 ether);
        assertEq(staking.pendingStake(o), 839.125 ether + 164.25 ether);
        assertEq(staking.orchestratorInfo(o).stake, 2042.5 ether);
        // From the next round d2 earns at the pool's rate like everyone else.
        nextRound();
        uint256 dBefore = staking.pendingStake(d);
        vm.prank(o);
        staking.reward();
        assertApproxEqAbs(
            (staking.pendingStake(d2) - 200 ether) * dBefore, (staking.pendingStake(d) - dBefore) * 200 ether, dBefore
        );
    }

    function test_Reward_AllActiveOrchestratorsMintExactlyTheMintable() public {
        nextRound();
        vm.prank(o);
        staking.reward();
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o2, 1, 1642.5 ether, 0);
        vm.prank(o2);
        staking.reward();
        assertEq(minter.currentMinted(), MINTABLE_R1);
        assertEq(staking.pendingStake(o2), 1842.5 ether);
        assertEq(token.totalSupply(), GENESIS_SUPPLY + MINTABLE_R1);
        assertEq(staking.totalBonded(), 400 ether + MINTABLE_R1);
    }

    function test_Reward_AgainNextRoundWithNewInflation() public {
        nextRound();
        vm.prank(o);
        staking.reward();
        nextRound();
        // supply 15_001_642.5, bonding rate still < 50%: inflation 219_500 ppb.
        uint256 mintable = 3292.86052875 ether; // 15_001_642.5 × 219_500 / 1e9
        uint256 minted = mintable * 1842.5 ether / 2042.5 ether;
        uint256 cut = minted * 100_000 / PPM;
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o, 2, minted, cut);
        vm.prank(o);
        staking.reward();
        assertEq(minter.inflation(), 219_500);
        assertEq(minter.currentMintable(), mintable);
        assertEq(staking.orchestratorInfo(o).stake, 1842.5 ether + minted);
        assertEq(staking.orchestratorInfo(o).lastRewardRound, 2);
    }

    function test_Reward_UsesRewardCutInForceThisRound() public {
        nextRound();
        vm.prank(o);
        staking.setRates(500_000, 500_000); // effective round 2
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o, 1, 1642.5 ether, 164.25 ether);
        vm.prank(o);
        staking.reward();
        nextRound();
        uint256 mintable = 3292.86052875 ether;
        uint256 minted = mintable * 1842.5 ether / 2042.5 ether;
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o, 2, minted, minted / 2);
        vm.prank(o);
        staking.reward();
    }

    function test_Reward_NoCutWithoutSelfBond() public {
        vm.prank(governance());
        staking.setMinSelfBond(0);
        address x = makeAddr("x");
        vm.prank(x);
        staking.registerOrchestrator(500_000, 0);
        bondAs(d2, 100 ether, x);
        nextRound();
        // total 500: minted = 3285 × 100 / 500 = 657, all to the pool.
        vm.expectEmit(address(staking));
        emit IStaking.Reward(x, 1, 657 ether, 0);
        vm.prank(x);
        staking.reward();
        assertEq(staking.pendingStake(d2), 757 ether);
        assertEq(staking.pendingStake(x), 0);
    }

    function test_Reward_FullRewardCutGoesToOrchestrator() public {
        address x = newOrchestrator("x", 100 ether, 1_000_000, 0);
        bondAs(d2, 100 ether, x);
        nextRound();
        // total 600: minted = 3285 × 200 / 600 = 1095, all of it the cut.
        vm.expectEmit(address(staking));
        emit IStaking.Reward(x, 1, 1095 ether, 1095 ether);
        vm.prank(x);
        staking.reward();
        assertEq(staking.pendingStake(d2), 100 ether);
        assertEq(staking.pendingStake(x), 1195 ether);
    }

    function test_Reward_ZeroCutLeavesAllToPool() public {
        bondAs(d2, 200 ether, o2);
        nextRound();
        // total 600: minted = 3285 × 400 / 600 = 2190 over 400: CRF × 2590/400.
        vm.prank(o2);
        staking.reward();
        assertEq(staking.pendingStake(o2), 1295 ether);
        assertEq(staking.pendingStake(d2), 1295 ether);
    }

    function test_Reward_MintsNothingWhenPoolEmptiedThisRound() public {
        nextRound();
        vm.prank(o2);
        staking.unbond(200 ether);
        vm.expectEmit(address(staking));
        emit IStaking.Reward(o2, 1, 0, 0);
        vm.prank(o2);
        staking.reward();
        assertEq(token.totalSupply(), GENESIS_SUPPLY);
        assertEq(staking.orchestratorInfo(o2).lastRewardRound, 1);
    }

    function test_RevertWhen_RewardTwiceInOneRound() public {
        nextRound();
        vm.prank(o);
        staking.reward();
        vm.expectRevert(abi.encodeWithSelector(IStaking.AlreadyRewarded.selector, o, 1));
        vm.prank(o);
        staking.reward();
    }

    function test_RevertWhen_RewardInRegistrationRound() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, o, 0));
        vm.prank(o);
        staking.reward();
    }

    function test_RevertWhen_RewardByNonOrchestrator() public {
        nextRound();
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, d, 1));
        vm.prank(d);
        staking.reward();
    }

    function test_RevertWhen_RewardAfterLeavingActiveSet() public {
        nextRound();
        vm.prank(o2);
        staking.unbond(200 ether);
        nextRound();
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotActiveOrchestrator.selector, o2, 2));
        vm.prank(o2);
        staking.reward();
    }

    /// @dev A pool whose members have all unbonded keeps the rounding dust of their claims as stake
    ///      (here 1 wei). x: 3 self + 7 ether + 1 wei from dd, rewarded once, then both leave.
    function emptyPoolWithDust() internal returns (address x, address dd) {
        x = newOrchestrator("x", 3 ether, 100_000, 500_000);
        dd = makeAddr("dd");
        bondAs(dd, 7 ether + 1, x);
        nextRound();
        vm.prank(x);
        staking.reward();
        nextRound();
        uint256 ddStake = staking.pendingStake(dd);
        uint256 xStake = staking.pendingStake(x);
        vm.prank(dd);
        staking.unbond(ddStake);
        vm.prank(x);
        staking.unbond(xStake);
        assertEq(staking.pendingStake(x) + staking.pendingStake(dd), 0);
        assertEq(staking.orchestratorInfo(x).stake, 1); // dust owned by nobody
    }

    /// @dev Suspected bug. Staking.reward() mints nothing when the pool is empty ("Nobody left to
    ///      pay"), but a pool holding only rounding dust (1 wei, no member) still mints its full
    ///      round-start share; everything but the cut becomes pool stake that no account owns, locked
    ///      in Staking forever and counted in totalBonded. Expected: nothing minted to nobody.
    function test_Reward_MintsNothingToPoolOfOnlyRoundingDust() public {
        (address x, address dd) = emptyPoolWithDust();
        vm.prank(x);
        staking.reward(); // x is still active this round (it left the set during it)
        uint256 owned = staking.pendingStake(x) + staking.pendingStake(dd);
        assertApproxEqAbs(staking.orchestratorInfo(x).stake, owned, 2, "minted stake owned by nobody");
    }

    /* CREDIT FEES */

    function test_RevertWhen_CreditFeesNotTicketBroker() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotTicketBroker.selector, address(this)));
        staking.creditFees(o, 1 ether, 0);
    }

    function test_RevertWhen_CreditFeesForUnregistered() public {
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, d));
        vm.prank(address(broker));
        staking.creditFees(d, 1 ether, 0);
    }

    function test_CreditFees_SplitsByFeeShare() public {
        nextRound(); // o and d earn from round 1
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0.5 ether, 0.5 ether, 0);
        vm.prank(address(broker));
        staking.creditFees(o, 1 ether, 0);
        // pool half shared 100:100 between o and d; the other half is o's own
        assertEq(staking.pendingFees(d), 0.25 ether);
        assertEq(staking.pendingFees(o), 0.75 ether);
    }

    function test_PoolFactors_FeeFactorMovesWithCreditedFeesBeforeAnyFold() public {
        nextRound();
        (uint256 crf0, uint256 cff0) = staking.poolFactors(o);
        vm.prank(address(broker));
        staking.creditFees(o, 1 ether, 0);
        (uint256 crf1, uint256 cff1) = staking.poolFactors(o);
        assertEq(crf1, crf0);
        // 0.5 to the pool of 200: 0.0025 per staked token, in 1e27 precision over the reward factor
        assertEq((cff1 - cff0) * 1 ether / crf0, 0.0025 ether);
        // the same figure d's pendingFees shows for its 100 tokens
        assertEq(staking.pendingFees(d), 100 * (cff1 - cff0) * 1 ether / crf0);
        // folding (a reward call) leaves the factor where the view already put it
        nextRound();
        vm.prank(o);
        staking.reward();
        (, uint256 cff2) = staking.poolFactors(o);
        assertEq(cff2, cff1);
    }

    function test_CreditFees_ThroughTicketRedemption() public {
        nextRound();
        ITicketBroker.SignedTicket memory st = signedTicket(o, 1 ether);
        uint256 brokerBalance = token.balanceOf(address(broker));
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0.5 ether, 0.5 ether, 1);
        redeem(o, st);
        assertEq(broker.getSenderInfo(bcast).deposit, 0);
        assertEq(token.balanceOf(address(broker)), brokerBalance);
        assertEq(staking.pendingFees(d), 0.25 ether);
        assertEq(staking.pendingFees(o), 0.75 ether);
        assertEq(staking.pendingFees(o2), 0);
    }

    function test_CreditFees_UsesFeeShareInForceAtTicketCreation() public {
        ITicketBroker.SignedTicket memory old = signedTicket(o, 1 ether);
        vm.prank(o);
        staking.setRates(100_000, 200_000); // effective round 1
        nextRound();
        ITicketBroker.SignedTicket memory fresh = signedTicket(o, 1 ether);

        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0.5 ether, 0.5 ether, 0);
        redeem(o, old);
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(o, 0.2 ether, 0.8 ether, 1);
        redeem(o, fresh);
        assertEq(staking.pendingFees(d), 0.35 ether);
        assertEq(staking.pendingFees(o), 1.65 ether);
    }

    function test_CreditFees_FullFeeShareAndZeroFeeShare() public {
        vm.prank(address(broker));
        staking.creditFees(o2, 1 ether, 0); // feeShare 0: all to o2's cut
        assertEq(staking.pendingFees(o2), 1 ether);
        address x = newOrchestrator("x", 100 ether, 0, 1_000_000);
        bondAs(d2, 300 ether, x);
        nextRound();
        vm.expectEmit(address(staking));
        emit IStaking.FeesCredited(x, 1 ether, 0, 0);
        vm.prank(address(broker));
        staking.creditFees(x, 1 ether, 0);
        assertEq(staking.pendingFees(x), 0.25 ether);
        assertEq(staking.pendingFees(d2), 0.75 ether);
    }

    function test_CreditFees_PoolFeesGoToOrchestratorWhenPoolEmpty() public {
        address x = makeAddr("x");
        vm.prank(x);
        staking.registerOrchestrator(0, 500_000);
        payFees(x, 1 ether);
        assertEq(staking.pendingFees(x), 1 ether);
        vm.prank(x);
        staking.withdrawFees(x, 1 ether);
        assertEq(token.balanceOf(x), 1 ether);
    }

    /// @dev Suspected bug. With an empty pool the delegators' fee share goes to the orchestrator
    ///      (_foldFees: stake == 0), but a pool holding only rounding dust (1 wei, no member) takes
    ///      the whole share into the fee factor, where nobody can ever claim it: here 0.5 of a 1 ether
    ///      ticket stays in the broker forever. Expected: x gets the whole face value.
    function test_CreditFees_NotLostToPoolOfOnlyRoundingDust() public {
        (address x,) = emptyPoolWithDust();
        payFees(x, 1 ether);
        assertEq(staking.pendingFees(x), 1 ether);
    }

    function test_CreditFees_SharedOnlyOverStakeThatEarnedThem() public {
        nextRound();
        bondAs(d2, 100 ether, o); // arrives this round: earns nothing of it
        payFees(o, 1 ether);
        assertEq(staking.pendingFees(d2), 0);
        assertEq(staking.pendingFees(d), 0.25 ether);
        assertEq(staking.pendingFees(o), 0.75 ether);
    }

    function test_CreditFees_NotSharedWithStakeRebondedAfterwards() public {
        nextRound();
        bondAs(d2, 100 ether, o2);
        vm.prank(d2);
        staking.unbond(100 ether);
        payFees(o, 1 ether); // pool 0.5 over o 100 and d 100
        vm.prank(d2);
        staking.rebondFromUnbonded(o, 0);
        assertEq(staking.pendingFees(d2), 0);
        assertEq(staking.pendingFees(d), 0.25 ether);
        nextRound(); // d2's rebonded stake earns from here
        payFees(o, 1.5 ether); // pool 0.75 over 300
        assertEq(staking.pendingFees(d2), 0.25 ether);
        assertEq(staking.pendingFees(d), 0.5 ether);
        assertEq(staking.pendingFees(o), 0.75 ether + 0.25 ether + 0.75 ether);
    }

    /* WITHDRAW FEES */

    function test_WithdrawFees_PaysDelegatorFromBroker() public {
        nextRound();
        payFees(o, 1 ether);
        uint256 brokerBalance = token.balanceOf(address(broker));
        vm.expectEmit(address(staking));
        emit IStaking.WithdrawFees(d, d, 0.25 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.FeesPaid(d, 0.25 ether);
        vm.prank(d);
        staking.withdrawFees(d, 0.25 ether);
        assertEq(token.balanceOf(d), 0.25 ether);
        assertEq(token.balanceOf(address(broker)), brokerBalance - 0.25 ether);
        assertEq(staking.pendingFees(d), 0);
        assertEq(staking.pendingStake(d), 100 ether);
    }

    function test_WithdrawFees_OrchestratorToAnotherAddress() public {
        nextRound();
        payFees(o, 1 ether);
        address to = makeAddr("to");
        vm.expectEmit(address(staking));
        emit IStaking.WithdrawFees(o, to, 0.75 ether);
        vm.prank(o);
        staking.withdrawFees(to, 0.75 ether);
        assertEq(token.balanceOf(to), 0.75 ether);
        assertEq(token.balanceOf(o), 0);
        assertEq(staking.pendingFees(o), 0);
        assertEq(staking.pendingFees(d), 0.25 ether);
    }

    function test_WithdrawFees_Partial() public {
        nextRound();
        payFees(o, 1 ether);
        vm.prank(d);
        staking.withdrawFees(d, 0.1 ether);
        assertEq(staking.pendingFees(d), 0.15 ether);
        vm.prank(d);
        staking.withdrawFees(d, 0.15 ether);
        assertEq(token.balanceOf(d), 0.25 ether);
    }

    function test_WithdrawFees_AfterFullUnbond() public {
        nextRound();
        payFees(o, 1 ether);
        vm.prank(d);
        staking.unbond(100 ether);
        assertEq(staking.pendingFees(d), 0.25 ether);
        vm.prank(d);
        staking.withdrawFees(d, 0.25 ether);
        assertEq(token.balanceOf(d), 0.25 ether);
    }

    function test_WithdrawFees_OrchestratorWithoutSelfBond() public {
        address x = makeAddr("x");
        vm.prank(x);
        staking.registerOrchestrator(0, 500_000);
        bondAs(d2, 10 ether, x);
        nextRound();
        payFees(x, 1 ether);
        assertEq(staking.pendingFees(x), 0.5 ether);
        assertEq(staking.pendingFees(d2), 0.5 ether);
        vm.prank(x);
        staking.withdrawFees(x, 0.5 ether);
        vm.prank(d2);
        staking.withdrawFees(d2, 0.5 ether);
        assertEq(token.balanceOf(x), 0.5 ether);
        assertEq(token.balanceOf(d2), 0.5 ether);
    }

    function test_RevertWhen_WithdrawFeesZero() public {
        vm.expectRevert(IStaking.ZeroAmount.selector);
        vm.prank(d);
        staking.withdrawFees(d, 0);
    }

    function test_RevertWhen_WithdrawFeesToZeroAddress() public {
        payFees(o, 1 ether);
        vm.expectRevert(IStaking.ZeroAddress.selector);
        vm.prank(d);
        staking.withdrawFees(address(0), 0.25 ether);
    }

    function test_RevertWhen_WithdrawFeesMoreThanEarned() public {
        nextRound();
        payFees(o, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.InsufficientFees.selector, 0.25 ether, 0.25 ether + 1));
        vm.prank(d);
        staking.withdrawFees(d, 0.25 ether + 1);
    }

    function test_RevertWhen_WithdrawFeesWithoutFees() public {
        address x = makeAddr("x");
        vm.expectRevert(abi.encodeWithSelector(IStaking.InsufficientFees.selector, 0, 1));
        vm.prank(x);
        staking.withdrawFees(x, 1);
    }

    /* CLAIM EARNINGS */

    function test_ClaimEarnings_SettlesRewardsAndFees() public {
        nextRound();
        payFees(o, 1 ether); // pool 0.5 over 200: d 0.25
        vm.prank(o);
        staking.reward(); // d: 100 → 839.125
        assertEq(staking.pendingStake(d), 839.125 ether);
        assertEq(staking.pendingFees(d), 0.25 ether);

        vm.expectEmit(address(staking));
        emit IStaking.EarningsClaimed(d, o, 739.125 ether, 0.25 ether);
        vm.prank(d);
        staking.claimEarnings();
        assertEq(staking.pendingStake(d), 839.125 ether);
        assertEq(staking.pendingFees(d), 0.25 ether);

        vm.recordLogs();
        vm.prank(d);
        staking.claimEarnings();
        assertEq(vm.getRecordedLogs().length, 0);
    }

    function test_ClaimEarnings_EveryRoundOrOnceGivesSameResult() public {
        bondAs(d2, 100 ether, o); // d and d2 hold identical positions
        for (uint256 i; i < 5; ++i) {
            nextRound();
            payFees(o, 1 ether + i);
            vm.prank(o);
            staking.reward();
            payFees(o, 0.3 ether);
            vm.prank(d);
            staking.claimEarnings();
        }
        assertApproxEqAbs(staking.pendingStake(d), staking.pendingStake(d2), 5);
        assertApproxEqAbs(staking.pendingFees(d), staking.pendingFees(d2), 5);
        assertLe(staking.pendingStake(d), staking.pendingStake(d2));
    }
}
