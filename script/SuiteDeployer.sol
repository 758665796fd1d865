// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {VestingWallet} from "@openzeppelin/contracts/finance/VestingWallet.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {WorkToken} from "../contracts/WorkToken.sol";
import {Staking} from "../contracts/Staking.sol";
import {Minter} from "../contracts/Minter.sol";
import {TicketBroker} from "../contracts/TicketBroker.sol";
import {ServiceRegistry} from "../contracts/ServiceRegistry.sol";
import {JobEscrow} from "../contracts/JobEscrow.sol";
import {FaultClaims} from "../contracts/FaultClaims.sol";
import {StreamSupport} from "../contracts/StreamSupport.sol";
import {VotePower} from "../contracts/VotePower.sol";
import {PeerflowTimelock} from "../contracts/PeerflowTimelock.sol";
import {PeerflowGovernor} from "../contracts/PeerflowGovernor.sol";
import {IFaultClaims} from "../contracts/interfaces/IFaultClaims.sol";
import {IPeerflowGovernor} from "../contracts/interfaces/IPeerflowGovernor.sol";
import {IVotePower} from "../contracts/interfaces/IVotePower.sol";
import {IStakeVotes} from "../contracts/interfaces/IStakeVotes.sol";
import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";

/// @notice Deploys and wires the whole suite. Shared by script/Deploy.s.sol and the tests, so what the
///         tests exercise is exactly what gets deployed.
/// @dev Every call below is one transaction from `p.deployer` (agents/chain's deploy_suite mirrors them
///      one by one, so the order and the addresses are fixed). The suite first, as before governance;
///      then governance, after StreamSupport:
///       G1 `new VotePower(token, staking)`
///       G2 `new PeerflowTimelock(0, [deployer], [deployer], address(0), timelockMinDelay, timelockMaxDelay)`:
///          delay 0 and the deployer as its only proposer, canceller and executor for the bootstrap,
///          no admin but itself
///       G3 `new PeerflowGovernor(votePower, timelock, settings, bounds)`
///       G4 `staking.transferOwnership(timelock)`, G5 `minter.transferOwnership(timelock)`,
///       G6 `faultClaims.transferOwnership(timelock)`
///       G7 only when `treasury == deployer`: `treasuryVesting.transferOwnership(timelock)` (the
///          treasury's genesis share vests to the timelock, not to the deployer)
///       G8 `timelock.scheduleBatch(targets, values, payloads, 0x0, 0x0, 0)` and
///       G9 `timelock.executeBatch(targets, values, payloads, 0x0, 0x0)` with `bootstrapBatch`: the
///          timelock accepts the three ownerships, sets the Minter's treasury (itself), ceiling and rate,
///          grants PROPOSER, CANCELLER and EXECUTOR to the governor, revokes the deployer's three
///          roles and sets its real delay.
///      After G9 the deployer holds no role and owns nothing; every parameter moves only through a
///      proposal of the governor, executed by the timelock after its delay. The governor is the only
///      executor (its `execute` is open to anyone once a proposal is queued and its delay passed), so
///      every executed operation is a governor proposal with its ProposalExecuted event.
///      The bootstrap batch runs with delay 0, so it needs `block.timestamp > 1` (OpenZeppelin's
///      timelock reads timestamp 1 as "done"): true on every real chain; tests warp past it.
library SuiteDeployer {
    struct Params {
        address deployer; // the account sending the deployment (gets the liquid genesis share)
        address team; // beneficiary of the team vesting wallet
        address treasury; // beneficiary of the treasury vesting wallet (the deployer: handed to the timelock)
        uint256 liquidSupply; // genesis tokens to the deployer (devnet faucet / distribution)
        uint256 teamSupply;
        uint256 treasurySupply;
        uint64 vestingStart; // unix time
        uint64 vestingDuration; // seconds
        uint256 roundLength; // blocks
        uint256 lockBlocks;
        uint256 unbondingPeriod; // rounds
        uint256 rateChangeCooldown; // rounds
        uint256 minActiveStake;
        uint256 maxActive;
        uint256 inflation; // ppb per round
        uint256 inflationChange; // ppb
        uint256 targetBondingRate; // ppb
        uint256 unlockPeriod; // rounds
        uint256 ticketValidity; // rounds
        address feeToken; // zero: the work token
        uint256 disputePeriod; // seconds a job dispute may stay undecided after deadline + review
        address[] committee; // fault-claim committee (FaultClaims is Staking's slashing verifier)
        uint32 quorum; // votes that decide a fault claim (> committee.length / 2)
        uint128 claimBond; // work tokens a claimant posts
        uint64 claimVotingPeriod; // seconds
        uint32 slashPpm; // share of an orchestrator's own stake an upheld claim slashes
        uint32 finderFeePpm; // share of the penalty paid to the claimant
        uint64 committeeTerm; // seconds a fault-claim committee's term lasts (the committee stays past it)
        // Governance (votes: held work tokens delegated on the token plus bonded stake; block numbers)
        uint48 votingDelay; // blocks from proposal to the vote's snapshot
        uint32 votingPeriod; // blocks the vote lasts
        uint256 proposalThreshold; // votes needed to propose
        uint256 quorumPercent; // For + Abstain votes needed, percent of the token's past total supply
        uint256 timelockDelay; // seconds between queueing a passed proposal and executing it
        uint256 timelockMinDelay; // bounds of the timelock delay governance may set
        uint256 timelockMaxDelay;
        IPeerflowGovernor.Bounds governorBounds; // bounds of the governor's settings
        uint256 treasuryRewardCutRate; // ppb of each round's inflation minted to the treasury (the timelock)
        uint256 treasuryBalanceCeiling; // work-token wei: the share stops once the treasury holds this
    }

    struct Suite {
        WorkToken token;
        Staking staking;
        Minter minter;
        TicketBroker broker;
        ServiceRegistry registry;
        JobEscrow escrow;
        FaultClaims faultClaims;
        StreamSupport streamSupport;
        VestingWallet teamVesting;
        VestingWallet treasuryVesting;
        VotePower votePower;
        PeerflowTimelock timelock;
        PeerflowGovernor governor;
    }

    /// @notice Local-devnet defaults: short rounds so that a demo sees several of them. The fault-claim
    ///         committee is the deployer alone (quorum 1) unless PF_COMMITTEE names one (Deploy.s.sol);
    ///         after deployment only a governance proposal replaces it.
    ///         Governance for an anvil mining a block a second: a vote opens 1 block after its proposal
    ///         and lasts 20 blocks, the timelock waits 10 s; threshold 100 tokens, quorum 4%.
    ///         Off the devnet, Deploy.s.sol applies `productionGovernance` (below).
    function devnetParams(address deployer) internal pure returns (Params memory p) {
        p.deployer = deployer;
        p.team = deployer;
        p.treasury = deployer;
        p.liquidSupply = 10_000_000 ether;
        p.teamSupply = 2_000_000 ether;
        p.treasurySupply = 3_000_000 ether;
        p.vestingStart = 0;
        p.vestingDuration = 4 * 365 days;
        p.roundLength = 50;
        p.lockBlocks = 5;
        p.unbondingPeriod = 7;
        p.rateChangeCooldown = 2;
        p.minActiveStake = 1 ether;
        p.maxActive = 100;
        p.inflation = 218_500;
        p.inflationChange = 500;
        p.targetBondingRate = 500_000_000;
        p.unlockPeriod = 3;
        p.ticketValidity = 2;
        p.disputePeriod = 1 days;
        p.committee = new address[](1);
        p.committee[0] = deployer;
        p.quorum = 1;
        p.claimBond = 10 ether;
        p.claimVotingPeriod = 1 days;
        p.slashPpm = 250_000;
        p.finderFeePpm = 500_000;
        p.committeeTerm = 30 days;
        p.votingDelay = 1;
        p.votingPeriod = 20;
        p.proposalThreshold = 100 ether;
        p.quorumPercent = 4;
        p.timelockDelay = 10;
        p.timelockMinDelay = 1;
        p.timelockMaxDelay = 30 days;
        p.governorBounds = IPeerflowGovernor.Bounds({
            maxVotingDelay: 50_400,
            minVotingPeriod: 5,
            maxVotingPeriod: 201_600,
            maxProposalThreshold: 1_000_000 ether,
            minQuorumNumerator: 1,
            maxQuorumNumerator: 33
        });
        p.treasuryRewardCutRate = 100_000_000; // 10% (Livepeer's LIP-92)
        p.treasuryBalanceCeiling = 750_000 ether;
    }

    /// @notice The production governance profile (12 s blocks), for any chain but the devnet: a vote
    ///         opens a day after its proposal and lasts a week; the timelock waits two days; and no
    ///         proposal can shorten these below a day each (so holders always have time to see a
    ///         proposal, claim their rewards before its snapshot, override, and exit before it runs).
    ///         Quorum at most a third of supply, so governance cannot lock itself out.
    function productionGovernance(Params memory p) internal pure {
        p.votingDelay = 7_200;
        p.votingPeriod = 50_400;
        p.timelockDelay = 2 days;
        p.timelockMinDelay = 1 days;
        p.timelockMaxDelay = 30 days;
        p.committeeTerm = 180 days;
        p.governorBounds = IPeerflowGovernor.Bounds({
            maxVotingDelay: 50_400,
            minVotingPeriod: 7_200,
            maxVotingPeriod: 201_600,
            maxProposalThreshold: 1_000_000 ether,
            minQuorumNumerator: 1,
            maxQuorumNumerator: 33
        });
    }

    function deploy(Params memory p) internal returns (Suite memory s) {
        s.teamVesting = new VestingWallet(p.team, p.vestingStart, p.vestingDuration);
        s.treasuryVesting = new VestingWallet(p.treasury, p.vestingStart, p.vestingDuration);
        address[] memory holders = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        (holders[0], amounts[0]) = (p.deployer, p.liquidSupply);
        (holders[1], amounts[1]) = (address(s.teamVesting), p.teamSupply);
        (holders[2], amounts[2]) = (address(s.treasuryVesting), p.treasurySupply);
        s.token = new WorkToken("peerflow Work Token", "FLOW", holders, amounts);

        s.staking = new Staking(
            s.token,
            p.roundLength,
            p.lockBlocks,
            p.unbondingPeriod,
            p.rateChangeCooldown,
            p.minActiveStake,
            p.maxActive,
            p.deployer
        );
        s.minter = new Minter(s.token, s.staking, p.inflation, p.inflationChange, p.targetBondingRate, p.deployer);
        s.token.setMinter(address(s.minter));
        address feeToken = p.feeToken == address(0) ? address(s.token) : p.feeToken;
        s.broker = new TicketBroker(IERC20(feeToken), s.staking, p.unlockPeriod, p.ticketValidity);
        s.registry = new ServiceRegistry(s.staking);
        s.escrow = new JobEscrow(s.token, p.disputePeriod);
        s.staking.wire(address(s.minter), address(s.broker));
        s.faultClaims = new FaultClaims(
            s.token,
            s.staking,
            IFaultClaims.Parameters({
                bond: p.claimBond, votingPeriod: p.claimVotingPeriod, slashPpm: p.slashPpm, finderFeePpm: p.finderFeePpm
            }),
            p.committee,
            p.quorum,
            p.committeeTerm,
            p.deployer
        );
        s.staking.setVerifier(address(s.faultClaims));
        // Viewers pay streamers in the work token. Deployed last (after the same transactions as
        // agents/chain's deploy_suite), so that every earlier address is unchanged.
        s.streamSupport = new StreamSupport(address(s.token));
        deployGovernance(p, s);
    }

    /// @notice G1 to G9 (see above): the vote source, the timelock and the governor, then every owned
    ///         contract handed to the timelock and the deployer's bootstrap roles given up.
    function deployGovernance(Params memory p, Suite memory s) internal {
        s.votePower = new VotePower(IERC5805(address(s.token)), IStakeVotes(address(s.staking)));
        address[] memory bootstrap = new address[](1);
        bootstrap[0] = p.deployer;
        s.timelock = new PeerflowTimelock(0, bootstrap, bootstrap, address(0), p.timelockMinDelay, p.timelockMaxDelay);
        s.governor = new PeerflowGovernor(
            IVotePower(address(s.votePower)),
            s.timelock,
            PeerflowGovernor.Settings({
                votingDelay: p.votingDelay,
                votingPeriod: p.votingPeriod,
                proposalThreshold: p.proposalThreshold,
                quorumNumerator: p.quorumPercent
            }),
            p.governorBounds
        );
        address timelock = address(s.timelock);
        s.staking.transferOwnership(timelock);
        s.minter.transferOwnership(timelock);
        s.faultClaims.transferOwnership(timelock);
        if (p.treasury == p.deployer) s.treasuryVesting.transferOwnership(timelock);
        (address[] memory targets, uint256[] memory values, bytes[] memory payloads) = bootstrapBatch(p, s);
        s.timelock.scheduleBatch(targets, values, payloads, bytes32(0), bytes32(0), 0);
        s.timelock.executeBatch(targets, values, payloads, bytes32(0), bytes32(0));
    }

    /// @notice The timelock's bootstrap operation (G8/G9), in order.
    function bootstrapBatch(Params memory p, Suite memory s)
        internal
        view
        returns (address[] memory targets, uint256[] memory values, bytes[] memory payloads)
    {
        PeerflowTimelock t = s.timelock;
        address governor = address(s.governor);
        targets = new address[](13);
        values = new uint256[](13);
        payloads = new bytes[](13);
        (targets[0], payloads[0]) = (address(s.staking), abi.encodeCall(s.staking.acceptOwnership, ()));
        (targets[1], payloads[1]) = (address(s.minter), abi.encodeCall(s.minter.acceptOwnership, ()));
        (targets[2], payloads[2]) = (address(s.faultClaims), abi.encodeCall(s.faultClaims.acceptOwnership, ()));
        (targets[3], payloads[3]) = (address(s.minter), abi.encodeCall(s.minter.setTreasury, (address(t))));
        (targets[4], payloads[4]) =
        (address(s.minter), abi.encodeCall(s.minter.setTreasuryBalanceCeiling, (p.treasuryBalanceCeiling)));
        (targets[5], payloads[5]) =
        (address(s.minter), abi.encodeCall(s.minter.setTreasuryRewardCutRate, (p.treasuryRewardCutRate)));
        payloads[6] = abi.encodeCall(t.grantRole, (t.PROPOSER_ROLE(), governor));
        payloads[7] = abi.encodeCall(t.grantRole, (t.CANCELLER_ROLE(), governor));
        payloads[8] = abi.encodeCall(t.grantRole, (t.EXECUTOR_ROLE(), governor));
        payloads[9] = abi.encodeCall(t.revokeRole, (t.PROPOSER_ROLE(), p.deployer));
        payloads[10] = abi.encodeCall(t.revokeRole, (t.CANCELLER_ROLE(), p.deployer));
        payloads[11] = abi.encodeCall(t.revokeRole, (t.EXECUTOR_ROLE(), p.deployer));
        payloads[12] = abi.encodeCall(t.updateDelay, (p.timelockDelay));
        for (uint256 i = 6; i < 13; ++i) {
            targets[i] = address(t);
        }
    }
}
