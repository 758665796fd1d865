// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {Staking} from "../../contracts/Staking.sol";
import {IStakeVotes} from "../../contracts/interfaces/IStakeVotes.sol";

/// @notice Staking's voting record (IStakeVotes): pool stake, own bonded stake and delegate at past
///         blocks, through every change (bond, bondFor, unbond, rebond, rebondFromUnbonded, moves,
///         claims, reward, slash); and the governance bounds added with it (setUnbondingPeriod,
///         setVerifier, packed eligibility parameters).
contract StakeVotesTest is StakingHelpers {
    address internal o;
    address internal o2;
    address internal d = makeAddr("d");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        o2 = newOrchestrator("o2", 100 ether, 0, 0);
    }

    function step() internal returns (uint256 b) {
        b = block.number;
        vm.roll(b + 1);
    }

    function bondMore(address who, uint256 amount, address to) internal {
        fund(who, amount);
        vm.prank(who);
        staking.bond(amount, to);
    }

    /* LOOKUPS */

    function test_RevertWhen_LookupAtCurrentOrFutureBlock() public {
        uint256 n = block.number;
        vm.expectRevert(abi.encodeWithSelector(IStakeVotes.FutureLookup.selector, n, n));
        staking.getPastPoolStake(o, n);
        vm.expectRevert(abi.encodeWithSelector(IStakeVotes.FutureLookup.selector, n + 1, n));
        staking.getPastBondedStake(o, n + 1);
        vm.expectRevert(abi.encodeWithSelector(IStakeVotes.FutureLookup.selector, n, n));
        staking.getPastDelegateOf(o, n);
    }

    function test_NeverBondedAccountIsEmptyAtEveryPastBlock() public {
        vm.roll(block.number + 10);
        for (uint256 t; t < block.number; ++t) {
            assertEq(staking.getPastPoolStake(d, t), 0);
            assertEq(staking.getPastBondedStake(d, t), 0);
            assertEq(staking.getPastDelegateOf(d, t), address(0));
        }
    }

    function test_Bond_RecordedFromItsBlock() public {
        uint256 before = step();
        uint256 at = block.number;
        bondMore(d, 10 ether, o);
        step();
        assertEq(staking.getPastPoolStake(o, before), 100 ether);
        assertEq(staking.getPastPoolStake(o, at), 110 ether);
        assertEq(staking.getPastBondedStake(d, before), 0);
        assertEq(staking.getPastBondedStake(d, at), 10 ether);
        assertEq(staking.getPastDelegateOf(d, before), address(0));
        assertEq(staking.getPastDelegateOf(d, at), o);
        // The orchestrator's own position and pool.
        assertEq(staking.getPastBondedStake(o, at), 100 ether);
        assertEq(staking.getPastDelegateOf(o, at), o);
        assertEq(staking.getPoolStake(o), 110 ether);
    }

    function test_SeveralChangesInOneBlock_EndOfBlockValueCounts() public {
        uint256 before = step();
        uint256 at = block.number;
        bondMore(d, 10 ether, o);
        bondMore(d, 5 ether, o);
        vm.prank(d);
        staking.unbond(3 ether);
        step();
        assertEq(staking.getPastBondedStake(d, before), 0);
        assertEq(staking.getPastBondedStake(d, at), 12 ether);
        assertEq(staking.getPastPoolStake(o, before), 100 ether);
        assertEq(staking.getPastPoolStake(o, at), 112 ether);
    }

    function test_TopUpLaterKeepsEarlierValue() public {
        uint256 first = block.number;
        bondMore(d, 10 ether, o);
        step();
        uint256 second = block.number;
        bondMore(d, 5 ether, o);
        step();
        assertEq(staking.getPastBondedStake(d, first), 10 ether);
        assertEq(staking.getPastBondedStake(d, second), 15 ether);
        assertEq(staking.getPastPoolStake(o, first), 110 ether);
        assertEq(staking.getPastPoolStake(o, second), 115 ether);
    }

    function test_BondFor_RecordsTheOwnersPosition() public {
        bondMore(d, 10 ether, o);
        step();
        address payer = makeAddr("payer");
        fund(payer, 4 ether);
        uint256 at = block.number;
        vm.prank(payer);
        staking.bondFor(d, 4 ether, o);
        step();
        assertEq(staking.getPastBondedStake(d, at), 14 ether);
        assertEq(staking.getPastBondedStake(payer, at), 0);
        assertEq(staking.getPastPoolStake(o, at), 114 ether);
    }

    function test_UnbondFully_ClearsDelegateFromItsBlock() public {
        bondMore(d, 10 ether, o);
        uint256 bonded = step();
        uint256 partial_ = block.number;
        vm.prank(d);
        staking.unbond(4 ether);
        step();
        uint256 full = block.number;
        vm.prank(d);
        staking.unbond(6 ether);
        step();
        assertEq(staking.getPastBondedStake(d, bonded), 10 ether);
        assertEq(staking.getPastBondedStake(d, partial_), 6 ether);
        assertEq(staking.getPastBondedStake(d, full), 0);
        assertEq(staking.getPastDelegateOf(d, partial_), o);
        assertEq(staking.getPastDelegateOf(d, full), address(0));
        assertEq(staking.getPastPoolStake(o, full), 100 ether);
    }

    function test_OrchestratorUnbondingFully_StaysItsOwnDelegate() public {
        step();
        uint256 at = block.number;
        vm.prank(o);
        staking.unbond(100 ether);
        step();
        assertEq(staking.getPastBondedStake(o, at), 0);
        assertEq(staking.getPastDelegateOf(o, at), o);
        assertEq(staking.getPastPoolStake(o, at), 0);
    }

    function test_Rebond_AndRebondFromUnbonded() public {
        bondMore(d, 10 ether, o);
        vm.prank(d);
        uint256 lock1 = staking.unbond(4 ether);
        step();
        uint256 rebonded = block.number;
        vm.prank(d);
        staking.rebond(lock1);
        step();
        assertEq(staking.getPastBondedStake(d, rebonded), 10 ether);
        vm.prank(d);
        uint256 lock2 = staking.unbond(10 ether);
        uint256 out = step();
        uint256 back = block.number;
        vm.prank(d);
        staking.rebondFromUnbonded(o2, lock2);
        step();
        assertEq(staking.getPastDelegateOf(d, out), address(0));
        assertEq(staking.getPastBondedStake(d, out), 0);
        assertEq(staking.getPastDelegateOf(d, back), o2);
        assertEq(staking.getPastBondedStake(d, back), 10 ether);
        assertEq(staking.getPastPoolStake(o, back), 100 ether);
        assertEq(staking.getPastPoolStake(o2, out), 100 ether);
        assertEq(staking.getPastPoolStake(o2, back), 110 ether);
    }

    function test_MoveDelegation_MovesPoolStakeAndDelegateAtItsBlock() public {
        bondMore(d, 10 ether, o);
        uint256 before = step();
        uint256 moved = block.number;
        vm.prank(d);
        staking.bond(0, o2);
        step();
        assertEq(staking.getPastDelegateOf(d, before), o);
        assertEq(staking.getPastDelegateOf(d, moved), o2);
        assertEq(staking.getPastBondedStake(d, moved), 10 ether);
        assertEq(staking.getPastPoolStake(o, before), 110 ether);
        assertEq(staking.getPastPoolStake(o, moved), 100 ether);
        assertEq(staking.getPastPoolStake(o2, before), 100 ether);
        assertEq(staking.getPastPoolStake(o2, moved), 110 ether);
    }

    function test_Reward_PoolGrowsByMinted_OrchestratorByItsCut() public {
        bondMore(d, 100 ether, o);
        nextRound(); // the delegator's stake earns from here
        nextRound();
        uint256 before = step();
        uint256 at = block.number;
        vm.prank(o);
        staking.reward();
        uint256 own = staking.pendingStake(o); // settled by reward(): its rewards and its cut
        step();
        uint256 minted = staking.getPastPoolStake(o, at) - staking.getPastPoolStake(o, before);
        assertGt(minted, 0);
        uint256 cut = minted * 100_000 / PPM;
        assertEq(staking.getPastBondedStake(o, at), own, "reward settles the orchestrator's own stake");
        assertGe(own, 100 ether + cut);
        assertEq(staking.getPastBondedStake(o, before), 100 ether);
        // The delegator's settled position moves only when it claims.
        assertEq(staking.getPastBondedStake(d, at), 100 ether);
        uint256 claimed = block.number;
        vm.prank(d);
        staking.claimEarnings();
        step();
        assertEq(staking.getPastBondedStake(d, at), 100 ether);
        assertEq(staking.getPastBondedStake(d, claimed), staking.pendingStake(d));
        assertGt(staking.pendingStake(d), 100 ether);
        assertLe(
            staking.getPastBondedStake(d, claimed) + staking.getPastBondedStake(o, claimed),
            staking.getPastPoolStake(o, claimed)
        );
    }

    function test_Slash_TakesFromPoolAndOwnStakeAtItsBlock() public {
        bondMore(d, 10 ether, o);
        uint256 before = step();
        uint256 at = block.number;
        vm.prank(verifier);
        staking.slash(o, address(0), 500_000, 0);
        step();
        assertEq(staking.getPastBondedStake(o, before), 100 ether);
        assertEq(staking.getPastBondedStake(o, at), 50 ether);
        assertEq(staking.getPastPoolStake(o, at), 60 ether);
        assertEq(staking.getPastBondedStake(d, at), 10 ether, "delegated stake is not slashed");
    }

    function test_WithdrawFees_RecordsTheClaimItSettles() public {
        bondMore(d, 100 ether, o);
        nextRound();
        nextRound();
        vm.prank(o);
        staking.reward();
        payFees(o, 10 ether);
        step();
        uint256 at = block.number;
        uint256 stake = staking.pendingStake(d);
        assertGt(stake, 100 ether);
        vm.prank(d);
        staking.withdrawFees(d, 1);
        step();
        assertEq(staking.getPastBondedStake(d, at), stake);
    }

    /// @dev Lookups stay exact (binary search) over many changes in many blocks.
    function test_ManyChanges_EveryBlockLooksUpItsValue() public {
        fund(d, 1000 ether);
        uint256[] memory blocks = new uint256[](40);
        uint256[] memory bonded = new uint256[](40);
        uint256[] memory pool = new uint256[](40);
        for (uint256 i; i < 40; ++i) {
            vm.prank(d);
            if (i % 3 == 2) staking.unbond(1 ether);
            else staking.bond(2 ether, o);
            blocks[i] = block.number;
            bonded[i] = staking.pendingStake(d);
            pool[i] = staking.orchestratorInfo(o).stake;
            vm.roll(block.number + 1 + i % 4);
        }
        for (uint256 i; i < 40; ++i) {
            assertEq(staking.getPastBondedStake(d, blocks[i]), bonded[i]);
            assertEq(staking.getPastPoolStake(o, blocks[i]), pool[i]);
            if (i > 0 && blocks[i] > blocks[i - 1] + 1) {
                assertEq(staking.getPastBondedStake(d, blocks[i] - 1), bonded[i - 1]);
            }
        }
        assertEq(staking.getPastBondedStake(d, blocks[0] - 1), 0);
    }

    /// @dev A new position's factors are set when its principal first appears: it earns exactly
    ///      like a position opened before (the other delegator, same amount, same round).
    function test_NewPositionEarnsLikeAnyOther() public {
        address e = makeAddr("e");
        payFees(o, 5 ether); // the pool's fee factor is not zero any more
        nextRound();
        vm.prank(o);
        staking.reward();
        bondMore(d, 50 ether, o);
        bondMore(e, 50 ether, o);
        rollRounds(3);
        for (uint256 i; i < 3; ++i) {
            vm.prank(o);
            staking.reward();
            payFees(o, 1 ether);
            nextRound();
        }
        assertEq(staking.pendingStake(d), staking.pendingStake(e));
        assertEq(staking.pendingFees(d), staking.pendingFees(e));
        assertGt(staking.pendingFees(d), 0);
        vm.prank(d);
        staking.claimEarnings();
        assertEq(staking.pendingStake(d), staking.pendingStake(e));
        assertEq(staking.pendingFees(d), staking.pendingFees(e));
    }

    /// @dev The voting record brought Staking close to EIP-170's limit, which deployments enforce
    ///      (tests here do not): the deployed runtime code must stay within it.
    function test_StakingFitsTheCodeSizeLimit() public view {
        assertLe(address(staking).code.length, 24_576);
    }

    /* GOVERNANCE BOUNDS */

    function test_SetUnbondingPeriod() public {
        vm.expectEmit(address(staking));
        emit IStaking.UnbondingPeriodSet(10);
        vm.prank(staking.owner());
        staking.setUnbondingPeriod(10);
        assertEq(staking.unbondingPeriod(), 10);
    }

    function test_SetUnbondingPeriod_ExistingLocksKeepTheirRound() public {
        bondMore(d, 10 ether, o);
        vm.prank(d);
        uint256 early = staking.unbond(1 ether);
        uint256 round = staking.currentRound();
        vm.prank(staking.owner());
        staking.setUnbondingPeriod(20);
        vm.prank(d);
        uint256 late = staking.unbond(1 ether);
        assertEq(staking.unbondingLock(d, early).withdrawRound, round + params.unbondingPeriod);
        assertEq(staking.unbondingLock(d, late).withdrawRound, round + 20);
        rollRounds(params.unbondingPeriod);
        vm.prank(d);
        staking.withdrawStake(early);
        vm.expectRevert(
            abi.encodeWithSelector(IStaking.UnbondingNotOver.selector, round + 20, round + params.unbondingPeriod)
        );
        vm.prank(d);
        staking.withdrawStake(late);
    }

    function test_RevertWhen_UnbondingPeriodOutOfRange() public {
        uint256 validity = broker.ticketValidity();
        uint256 max = staking.MAX_UNBONDING_PERIOD();
        address owner = staking.owner();
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnbondingPeriodOutOfRange.selector, 0, validity, max));
        staking.setUnbondingPeriod(0);
        vm.expectRevert(
            abi.encodeWithSelector(IStaking.UnbondingPeriodOutOfRange.selector, validity - 1, validity, max)
        );
        staking.setUnbondingPeriod(validity - 1);
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnbondingPeriodOutOfRange.selector, max + 1, validity, max));
        staking.setUnbondingPeriod(max + 1);
        staking.setUnbondingPeriod(validity);
        assertEq(staking.unbondingPeriod(), validity);
        staking.setUnbondingPeriod(max);
        assertEq(staking.unbondingPeriod(), max);
        vm.stopPrank();
    }

    function test_RevertWhen_WiredToABrokerWithLongerTicketValidity() public {
        Staking s = new Staking(token, 100, 10, 1, 2, 1 ether, 100, address(this));
        uint256 max = s.MAX_UNBONDING_PERIOD();
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnbondingPeriodOutOfRange.selector, 1, 2, max));
        s.wire(address(minter), address(broker));
    }

    function test_SetUnbondingPeriod_BeforeWiringOnlyRefusesZero() public {
        Staking s = new Staking(token, 100, 10, 3, 2, 1 ether, 100, address(this));
        vm.expectRevert(abi.encodeWithSelector(IStaking.UnbondingPeriodOutOfRange.selector, 0, 1, 365));
        s.setUnbondingPeriod(0);
        s.setUnbondingPeriod(1);
        assertEq(s.unbondingPeriod(), 1);
    }

    function test_RevertWhen_ConstructedWithUnbondingPeriodAboveMax() public {
        vm.expectRevert(IStaking.InvalidParameters.selector);
        new Staking(token, 100, 10, 366, 2, 1 ether, 100, address(this));
    }

    function test_RevertWhen_SetUnbondingPeriodNotOwner() public {
        vm.expectRevert(ownableUnauthorized(d));
        vm.prank(d);
        staking.setUnbondingPeriod(5);
    }

    function test_RevertWhen_SetVerifierZero() public {
        address owner = staking.owner();
        vm.expectRevert(IStaking.ZeroAddress.selector);
        vm.prank(owner);
        staking.setVerifier(address(0));
        assertEq(staking.verifier(), verifier);
    }

    function test_EligibilityParameters_MinimumsPackedButUnchanged() public {
        address owner = staking.owner();
        vm.startPrank(owner);
        staking.setMinActiveStake(7 ether);
        staking.setMinSelfBond(3 ether);
        staking.setMaxActive(321);
        vm.stopPrank();
        assertEq(staking.minActiveStake(), 7 ether);
        assertEq(staking.minSelfBond(), 3 ether);
        assertEq(staking.maxActive(), 321);
    }

    function test_RevertWhen_EligibilityParameterBeyondItsField() public {
        address owner = staking.owner();
        vm.expectRevert(abi.encodeWithSignature("SafeCastOverflowedUintDowncast(uint8,uint256)", 128, 1 << 128));
        vm.prank(owner);
        staking.setMinActiveStake(1 << 128);
    }
}
