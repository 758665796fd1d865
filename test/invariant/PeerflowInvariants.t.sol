// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {PeerflowHandler} from "./PeerflowHandler.sol";

/// @notice Invariants of the staking + ticket-broker suite under random sequences of handler calls.
/// forge-config: default.invariant.runs = 96
/// forge-config: default.invariant.depth = 100
contract PeerflowInvariants is Fixture {
    uint256 internal constant PRECISION = 1e27;
    uint256 internal constant ORCH_STAKE = 10_000 ether;
    uint256 internal constant TWIN_STAKE = 1_000 ether;

    PeerflowHandler internal handler;
    address[] internal stakers;
    address[] internal bcasters;

    function setUp() public override {
        super.setUp();
        handler = new PeerflowHandler(token, staking, minter, broker, verifier);
        for (uint256 i; i < handler.stakersLength(); ++i) {
            stakers.push(handler.stakers(i));
            give(stakers[i], 100_000 ether);
        }
        for (uint256 i; i < handler.bcastersLength(); ++i) {
            bcasters.push(handler.bcasters(i));
            give(bcasters[i], 100_000 ether);
        }
        handler.bootstrap(ORCH_STAKE, TWIN_STAKE, 20 ether, 30 ether);
        nextRound(); // the orchestrators are active from round 1

        assertEq(handler.rewardFactor(handler.orchs(0)), PRECISION, "pools start at the factor's precision");

        bytes4[] memory selectors = new bytes4[](23);
        selectors[0] = PeerflowHandler.bond.selector;
        selectors[1] = PeerflowHandler.bondFor.selector;
        selectors[2] = PeerflowHandler.unbond.selector;
        selectors[3] = PeerflowHandler.rebond.selector;
        selectors[4] = PeerflowHandler.rebondFromUnbonded.selector;
        selectors[5] = PeerflowHandler.withdrawStake.selector;
        selectors[6] = PeerflowHandler.claimEarnings.selector;
        selectors[7] = PeerflowHandler.withdrawFees.selector;
        selectors[8] = PeerflowHandler.setRates.selector;
        selectors[9] = PeerflowHandler.reward.selector;
        selectors[10] = PeerflowHandler.rewardAll.selector;
        selectors[11] = PeerflowHandler.slash.selector;
        selectors[12] = PeerflowHandler.reregister.selector;
        selectors[13] = PeerflowHandler.advanceBlocks.selector;
        selectors[14] = PeerflowHandler.advanceRound.selector;
        selectors[15] = PeerflowHandler.fund.selector;
        selectors[16] = PeerflowHandler.unlock.selector;
        selectors[17] = PeerflowHandler.cancelUnlock.selector;
        selectors[18] = PeerflowHandler.withdraw.selector;
        selectors[19] = PeerflowHandler.authorizeSigner.selector;
        selectors[20] = PeerflowHandler.revokeSigner.selector;
        selectors[21] = PeerflowHandler.redeemTicket.selector;
        selectors[22] = PeerflowHandler.redeemBatch.selector;
        bytes4[] memory all = new bytes4[](selectors.length + 16);
        for (uint256 i; i < selectors.length; ++i) {
            all[i] = selectors[i];
        }
        all[selectors.length] = PeerflowHandler.replayTicket.selector;
        all[selectors.length + 1] = PeerflowHandler.drainPool.selector;
        all[selectors.length + 2] = PeerflowHandler.fileClaim.selector;
        all[selectors.length + 3] = PeerflowHandler.resolveClaim.selector;
        all[selectors.length + 4] = PeerflowHandler.jitBond.selector;
        all[selectors.length + 5] = PeerflowHandler.jitBond.selector; // twice as likely: it hops
        all[selectors.length + 6] = PeerflowHandler.setOperatorKey.selector;
        all[selectors.length + 7] = PeerflowHandler.setOperatorKey.selector; // keys change often
        all[selectors.length + 8] = PeerflowHandler.redeemTicketByKey.selector;
        all[selectors.length + 9] = PeerflowHandler.redeemBatchByKey.selector;
        all[selectors.length + 10] = PeerflowHandler.rewardByKey.selector;
        all[selectors.length + 11] = PeerflowHandler.registerProvider.selector;
        all[selectors.length + 12] = PeerflowHandler.grantSigner.selector;
        all[selectors.length + 13] = PeerflowHandler.relayHeldGrant.selector;
        all[selectors.length + 14] = PeerflowHandler.cancelSignerGrants.selector;
        all[selectors.length + 15] = PeerflowHandler.grantSigner.selector; // twice: bounded grants get spent
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: all}));
    }

    /* 1. BROKER SOLVENCY */

    /// @notice The broker holds every sender's deposit and reserve plus every fee not yet withdrawn
    ///         (a provider that registered later earns fees too).
    function invariant_brokerCoversDepositsReservesAndUnclaimedFees() public view {
        uint256 owed = handler.senderFunds();
        for (uint256 i; i < stakers.length; ++i) {
            (bool ok, uint256 fees) = _fees(stakers[i]);
            if (ok) owed += fees; // an unreadable position fails invariant_positionsStaySettleable
        }
        for (uint256 i; i < handler.providersLength(); ++i) {
            owed += staking.pendingFees(handler.providers(i));
        }
        assertGe(token.balanceOf(address(broker)), owed, "broker balance < deposits + reserves + fees owed");
    }

    /// @notice The broker's books, exactly: its balance is every sender's deposit and reserve plus every
    ///         fee credited in Staking and not yet paid out (FeesCredited − FeesPaid). Direct payments
    ///         leave with the sender funds they came from and are owed to no one afterwards.
    function invariant_brokerBalanceEqualsFundsPlusUnpaidCreditedFees() public view {
        assertEq(
            token.balanceOf(address(broker)),
            handler.senderFunds() + handler.feesCreditedTotal() - handler.feesPaidTotal(),
            "broker balance != deposits + reserves + credited fees not yet paid"
        );
    }

    /* 1b. DIRECT PAYMENTS (issue 18) */

    /// @notice A provider (never registered) holds exactly the face values of the tickets redeemed to
    ///         it while it had never registered; PaidToRecipient and the broker's transfers say the same.
    function invariant_providersHoldExactlyTheirDirectlyPaidTickets() public view {
        uint256 sum;
        for (uint256 i; i < handler.providersLength(); ++i) {
            address p = handler.providers(i);
            assertEq(token.balanceOf(p), handler.directPaid(p), "provider balance != its direct payments");
            sum += handler.directPaid(p);
        }
        assertEq(sum, handler.directPaidTotal());
        assertEq(handler.paidToRecipientTotal(), sum, "PaidToRecipient amounts != direct payments");
        assertEq(handler.directTransfersTotal(), sum, "transfers to providers != direct payments");
    }

    /// @notice Only an account that never registered takes the direct path; every (past or present)
    ///         orchestrator's tickets go to its fee pool. One redemption call makes at most one transfer.
    function invariant_directPathOnlyForNeverRegisteredOneTransferPerCall() public {
        if (handler.directPaidToOrchestrator()) emit log_named_address("paid directly", handler.directPaidTo());
        assertFalse(handler.directPaidToOrchestrator(), "an orchestrator (present or past) was paid directly");
        assertFalse(handler.severalTransfersInOneCall(), "more than one direct transfer in one call");
    }

    /* 2. POOL ACCOUNTING */

    /// @notice Σ pendingStake of a pool's delegators ≤ the pool's stake, short of it only by rounding
    ///         dust: < 1 wei per delegator and per settlement or reward on the pool, each grown at most
    ///         by the pool's reward factor since.
    function invariant_delegatorStakesWithinPoolStake() public view {
        for (uint256 p; p < stakers.length; ++p) {
            address o = stakers[p];
            uint256 sum;
            uint256 members;
            bool readable = true;
            for (uint256 i; i < stakers.length; ++i) {
                if (staking.delegateOf(stakers[i]) == o) {
                    (bool ok, uint256 stake) = _stake(stakers[i]);
                    readable = readable && ok;
                    sum += stake;
                    members++;
                }
            }
            if (!readable) continue; // reported by invariant_positionsStaySettleable
            uint256 poolStake = staking.orchestratorInfo(o).stake;
            assertLe(sum, poolStake, "sum of delegators' pendingStake > pool stake");
            uint256 growth = handler.rewardFactor(o) / PRECISION + 1;
            uint256 tolerance = (members + handler.roundingEvents(o) + 1) * growth;
            assertLe(poolStake - sum, tolerance, "pool stake exceeds its delegators' stake by more than rounding");
        }
    }

    /// @notice Every bonded wei sits in exactly one pool.
    function invariant_poolStakesSumToTotalBonded() public view {
        uint256 sum;
        for (uint256 i; i < stakers.length; ++i) {
            sum += staking.orchestratorInfo(stakers[i]).stake;
        }
        assertEq(sum, staking.totalBonded(), "sum of pool stakes != totalBonded");
    }

    /// @notice Every position can be read, hence settled: pendingStake and pendingFees never revert
    ///         (claim, unbond, rebond, bond and withdrawFees all settle the position the same way).
    function invariant_positionsStaySettleable() public {
        for (uint256 i; i < stakers.length; ++i) {
            (bool okStake,) = _stake(stakers[i]);
            (bool okFees,) = _fees(stakers[i]);
            if (!okStake || !okFees) {
                address o = staking.delegateOf(stakers[i]);
                emit log_named_address("account", stakers[i]);
                emit log_named_address("delegate", o);
                emit log_named_uint("pool reward factor", handler.rewardFactor(o));
            }
            assertTrue(okStake, "pendingStake reverts: position can no longer be settled");
            assertTrue(okFees, "pendingFees reverts: position can no longer be settled");
        }
    }

    function _stake(address a) internal view returns (bool, uint256) {
        try staking.pendingStake(a) returns (uint256 v) {
            return (true, v);
        } catch {
            return (false, 0);
        }
    }

    function _fees(address a) internal view returns (bool, uint256) {
        try staking.pendingFees(a) returns (uint256 v) {
            return (true, v);
        } catch {
            return (false, 0);
        }
    }

    /* 3. STAKING SOLVENCY */

    /// @notice Staking holds all bonded stake plus every unbonding lock not yet withdrawn.
    function invariant_stakingCoversBondedAndUnbonding() public view {
        uint256 owed = staking.totalBonded();
        for (uint256 i; i < stakers.length; ++i) {
            uint256 n = handler.lockCount(stakers[i]);
            for (uint256 id; id < n; ++id) {
                owed += staking.unbondingLock(stakers[i], id).amount;
            }
        }
        assertGe(token.balanceOf(address(staking)), owed, "staking balance < totalBonded + unbonding locks");
    }

    /* 4. MINTING */

    /// @notice A round never mints more than its mintable, by the minter's books and by the handler's.
    function invariant_mintedWithinMintable() public view {
        assertLe(minter.currentMinted(), minter.currentMintable(), "currentMinted > currentMintable");
        assertFalse(handler.overMinted(), "rewards of one round summed above its mintable");
    }

    /// @notice A reward is paid to the pool's owners (orchestrator cut + delegators' share), never to a
    ///         pool left with nothing but rounding dust, where the minted tokens would be owned by no one.
    function invariant_rewardMintedOnlyForOwnedStake() public {
        if (handler.rewardToUnownedPool()) {
            emit log_named_address("orchestrator", handler.strandedRewardOrchestrator());
            emit log_named_uint("minted but owned by no one", handler.strandedReward());
        }
        assertFalse(handler.rewardUnderpaidOwners(), "owners gained less than their share of a reward");
        assertFalse(handler.rewardToUnownedPool(), "reward minted to a pool that nobody owns (dust only)");
    }

    /// @notice reward() succeeds for an orchestrator active this round that has not rewarded yet.
    function invariant_rewardNeverRevertsForEligibleOrchestrator() public {
        if (handler.rewardRevertedWhenEligible()) {
            emit log_named_address("orchestrator", handler.rewardRevertOrchestrator());
            emit log_named_uint("round", handler.rewardRevertRound());
            emit log_named_bytes("revert data", handler.rewardRevertData());
        }
        assertFalse(handler.rewardRevertedWhenEligible(), "reward() reverted for an eligible orchestrator");
    }

    /// @notice No stake earns in the round it arrives: stake bonded, rebonded or hopped into a pool
    ///         (just before reward() or a large ticket) gains neither reward nor fees until the round ends.
    function invariant_noStakeEarnsInItsArrivalRound() public view {
        assertFalse(handler.stakeEarnedInArrivalRound(), "stake earned in the round it arrived");
    }

    /// @notice Fees credited to a pool are shared by its fee share over its earning stake, or a
    ///         FeesNotShared event says why not (witnessed by a delegator that always earns).
    function invariant_feesSharedByFeeShareOrEventSaysWhy() public view {
        assertFalse(handler.feesNotSharedSilently(), "delegators' fee share diverted without an event");
    }

    /// @notice While a claim holds an orchestrator frozen, its slashable stake (own bond and
    ///         unbonding locks) never decreases.
    function invariant_frozenSlashableStakeNeverDecreases() public view {
        assertFalse(handler.frozenSlashableDecreased(), "slashable stake of a frozen orchestrator decreased");
    }

    /* 5. TICKETS */

    /// @notice Issue 19: the broker's hot-key authorizations, their bounds (`signerGrant`) and grant
    ///         nonces follow the funders' signer actions exactly (authorizeSigner, revokeSigner, relayed
    ///         grants, cancelSignerGrants); no grant signed with a used nonce (a replay, or one killed by
    ///         a revocation or cancellation) is ever relayed; no hot-key ticket pays outside its
    ///         authorization, and none is refused as UnauthorizedSigner within its round, recipient
    ///         and cap; relaying pays nothing.
    function invariant_signerGrantsFollowTheFunders() public view {
        assertFalse(
            handler.signerModelMismatch(), "signer authorization or grant nonce differs from the funders' actions"
        );
        assertFalse(handler.staleGrantAccepted(), "a grant with a used nonce was relayed");
        assertFalse(handler.unauthorizedSignerPaid(), "a hot-key ticket paid outside its authorization");
        assertEq(token.balanceOf(handler.grantRelayer()), 0, "the grant relayer gained tokens");
    }

    /// @notice A grant bounds its hot key: since the grant was relayed, the key's tickets paid at most
    ///         its cap, and nothing to anyone but its recipient; the broker's `signerGrant` reads the
    ///         bounds the funder signed and exactly what the handler saw paid under them (a key the
    ///         funder authorized itself has no bounds).
    function invariant_grantBoundsHold() public view {
        assertFalse(handler.grantOverspent(), "a grant's hot key was paid more than its cap");
        for (uint256 i; i < bcasters.length; ++i) {
            address b = bcasters[i];
            assertEq(handler.paidToOthersUnderGrant(b), 0, "a bound hot key paid a recipient other than its own");
            (address recipient, uint256 maxSpend, uint256 spent,,) = broker.signerGrant(b, handler.hotSigners(i));
            assertEq(recipient, handler.hotRecipient(b), "grant recipient");
            assertEq(maxSpend, handler.hotCap(b), "grant cap");
            assertEq(spent, handler.paidUnderGrant(b), "spent under the grant != paid under it");
            assertLe(spent, maxSpend, "spent above the cap");
            assertEq(recipient == address(0), maxSpend == 0, "a recipient without a cap, or a cap without one");
        }
    }

    /// @notice No ticket hash is paid twice (replays and in-batch duplicates are attempted on purpose).
    function invariant_ticketPaysAtMostOnce() public view {
        assertFalse(handler.ticketPaidTwice(), "a ticket was paid twice");
    }

    /// @notice Redemptions draw from deposits and reserves exactly the face values they pay.
    function invariant_redeemedFaceValuesEqualFundsDrawn() public view {
        assertFalse(handler.redemptionIncreasedFunds(), "a redemption increased sender funds");
        assertEq(
            handler.redeemedFaceTotal(),
            handler.fundsDecreaseByRedemption(),
            "sum of redeemed face values != decrease of deposits + reserves"
        );
    }

    /// @notice Fees are credited only to the recipient of the tickets redeemed, whoever redeems them
    ///         (the recipient, its redeemer, or a key trying to act for someone else).
    function invariant_feesCreditedOnlyToTheRecipient() public {
        if (handler.feesCreditedToNonRecipient()) emit log_named_address("credited", handler.feesCreditedTo());
        assertFalse(handler.feesCreditedToNonRecipient(), "fees credited to an account that was not the recipient");
    }

    /* 5b. OPERATOR KEYS */

    /// @notice A key acts for an orchestrator only while it is the orchestrator's named key: no
    ///         redemption by anyone but the recipient or its current redeemer, no reward by anyone but
    ///         the orchestrator or its current reward caller.
    function invariant_operatorKeysActOnlyForTheirOrchestrator() public view {
        assertFalse(handler.unauthorizedRedemption(), "a ticket was redeemed by a key not named by its recipient");
        assertFalse(handler.unauthorizedReward(), "rewardFor succeeded for a key not named by the orchestrator");
    }

    /// @notice Operator keys never hold anything: no token, no fee, no stake, however often they redeem
    ///         and reward for the orchestrators that named them.
    function invariant_operatorKeysHoldNothing() public view {
        for (uint256 i; i < handler.opKeysLength(); ++i) {
            address key = handler.opKeys(i);
            assertEq(token.balanceOf(key), 0, "an operator key holds tokens");
            assertEq(staking.pendingFees(key), 0, "an operator key earned fees");
            assertEq(staking.pendingStake(key), 0, "an operator key holds stake");
        }
    }

    /// @notice A key signs segment results for an orchestrator (fault claims hold it to them) only
    ///         if it is the orchestrator, its redeemer, or a redeemer it replaced or cleared less than
    ///         `unbondingPeriod` rounds ago, however keys are named, shared and renamed.
    function invariant_resultSignersAreTheOrchestratorsKeys() public view {
        for (uint256 i; i < 3; ++i) {
            address o = handler.orchs(i);
            assertTrue(staking.signsResultsFor(o, o), "an orchestrator signs its own results");
            assertFalse(staking.signsResultsFor(o, address(0)), "the zero address signs nothing");
            for (uint256 k; k < handler.opKeysLength(); ++k) {
                address key = handler.opKeys(k);
                bool expected = staking.redeemerOf(o) == key || staking.currentRound() < handler.signsUntil(o, key);
                assertEq(staking.signsResultsFor(o, key), expected, "a key signs results it may not");
            }
        }
    }

    /* 6. PATH INDEPENDENCE */

    /// @notice Twins with identical bonds to one orchestrator: claiming after every step and never
    ///         claiming give the same stake and fees, up to < 1 wei per settlement of the eager twin
    ///         (grown by the pool's reward factor since).
    function invariant_claimingEveryStepEqualsClaimingOnce() public view {
        address eager = handler.eager();
        address lazy = handler.lazy();
        address o0 = handler.orchs(0);
        assertEq(staking.delegateOf(eager), o0);
        assertEq(staking.delegateOf(lazy), o0);
        uint256 growth = handler.rewardFactor(o0) / PRECISION + 1;
        uint256 tolStake = (handler.eagerSettlements() + 1) * growth;
        uint256 se = staking.pendingStake(eager);
        uint256 sl = staking.pendingStake(lazy);
        assertApproxEqAbs(se, sl, tolStake, "eager vs lazy pendingStake");
        uint256 fe = staking.pendingFees(eager);
        uint256 fl = staking.pendingFees(lazy);
        assertApproxEqAbs(fe, fl, handler.eagerSettlements() + tolStake + 1, "eager vs lazy pendingFees");
    }
}
