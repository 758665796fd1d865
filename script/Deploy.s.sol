// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Script, console} from "forge-std/Script.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SuiteDeployer} from "./SuiteDeployer.sol";

/// @notice Deploys the suite on any EVM chain and writes the addresses, the chain id and the deployment block
///         (where the agents start scanning events) to deployments/<chainid>.json.
/// @dev `forge script script/Deploy.s.sol --rpc-url $RPC --private-key $KEY --broadcast`.
///      Every parameter has a devnet default and can be overridden by an environment variable
///      (PF_ROUND_LENGTH, PF_UNBONDING_PERIOD, PF_TICKET_VALIDITY, PF_UNLOCK_PERIOD, PF_MIN_ACTIVE_STAKE,
///      PF_DISPUTE_PERIOD, PF_TEAM, PF_TREASURY, PF_FEE_TOKEN, PF_DEPLOYMENT_FILE, …).
///      The fault-claim committee: PF_COMMITTEE (comma-separated addresses; on the devnet the default
///      is the deployer alone),
///      PF_QUORUM and PF_COMMITTEE_TERM (seconds); claims: PF_CLAIM_BOND, PF_CLAIM_VOTING_PERIOD,
///      PF_SLASH_PPM, PF_FINDER_FEE_PPM.
///      Governance (every contract ends owned by the timelock, see SuiteDeployer): PF_VOTING_DELAY and
///      PF_VOTING_PERIOD (blocks), PF_PROPOSAL_THRESHOLD (wei), PF_QUORUM_PERCENT, PF_TIMELOCK_DELAY,
///      PF_TIMELOCK_MIN_DELAY, PF_TIMELOCK_MAX_DELAY (seconds), PF_TREASURY_CUT_RATE (ppb) and
///      PF_TREASURY_CEILING (wei); the governor's bounds: PF_MAX_VOTING_DELAY, PF_MIN_VOTING_PERIOD,
///      PF_MAX_VOTING_PERIOD (blocks), PF_MAX_PROPOSAL_THRESHOLD (wei), PF_MIN_QUORUM_PERCENT,
///      PF_MAX_QUORUM_PERCENT. Off the devnet (chain id ≠ 31337) PF_COMMITTEE is required and the
///      governance defaults are SuiteDeployer.productionGovernance's (a day's delay, a week's vote,
///      two days in the timelock, at least a day for each).
contract Deploy is Script {
    using SafeCast for uint256;

    /// @dev anvil's chain id: the only chain deployed with the devnet's governance settings and the
    ///      deployer as the default committee.
    uint256 internal constant DEVNET_CHAIN_ID = 31337;

    function run() external returns (SuiteDeployer.Suite memory s) {
        // No contract of the suite exists before the next block: the agents' event scans start here.
        uint256 deploymentBlock = block.number + 1;
        vm.startBroadcast();
        (, address deployer,) = vm.readCallers();
        SuiteDeployer.Params memory p = SuiteDeployer.devnetParams(deployer);
        bool devnet = block.chainid == DEVNET_CHAIN_ID;
        if (!devnet) {
            // A public chain: nobody decides claims alone, and governance leaves holders time to react.
            if (bytes(vm.envOr("PF_COMMITTEE", string(""))).length == 0) {
                revert("PF_COMMITTEE must name the fault-claim committee off the devnet (the deployer alone would decide claims)");
            }
            SuiteDeployer.productionGovernance(p);
        }
        p.team = vm.envOr("PF_TEAM", p.team);
        p.treasury = vm.envOr("PF_TREASURY", p.treasury);
        p.feeToken = vm.envOr("PF_FEE_TOKEN", p.feeToken);
        p.roundLength = vm.envOr("PF_ROUND_LENGTH", p.roundLength);
        p.lockBlocks = vm.envOr("PF_LOCK_BLOCKS", p.lockBlocks);
        p.unbondingPeriod = vm.envOr("PF_UNBONDING_PERIOD", p.unbondingPeriod);
        p.rateChangeCooldown = vm.envOr("PF_RATE_CHANGE_COOLDOWN", p.rateChangeCooldown);
        p.minActiveStake = vm.envOr("PF_MIN_ACTIVE_STAKE", p.minActiveStake);
        p.maxActive = vm.envOr("PF_MAX_ACTIVE", p.maxActive);
        p.unlockPeriod = vm.envOr("PF_UNLOCK_PERIOD", p.unlockPeriod);
        p.ticketValidity = vm.envOr("PF_TICKET_VALIDITY", p.ticketValidity);
        p.disputePeriod = vm.envOr("PF_DISPUTE_PERIOD", p.disputePeriod);
        p.vestingStart = uint64(vm.envOr("PF_VESTING_START", block.timestamp));
        p.committee = vm.envOr("PF_COMMITTEE", ",", p.committee);
        p.quorum = vm.envOr("PF_QUORUM", uint256(p.quorum)).toUint32();
        p.claimBond = vm.envOr("PF_CLAIM_BOND", uint256(p.claimBond)).toUint128();
        p.claimVotingPeriod = vm.envOr("PF_CLAIM_VOTING_PERIOD", uint256(p.claimVotingPeriod)).toUint64();
        p.slashPpm = vm.envOr("PF_SLASH_PPM", uint256(p.slashPpm)).toUint32();
        p.finderFeePpm = vm.envOr("PF_FINDER_FEE_PPM", uint256(p.finderFeePpm)).toUint32();
        p.committeeTerm = vm.envOr("PF_COMMITTEE_TERM", uint256(p.committeeTerm)).toUint64();
        p.votingDelay = vm.envOr("PF_VOTING_DELAY", uint256(p.votingDelay)).toUint48();
        p.votingPeriod = vm.envOr("PF_VOTING_PERIOD", uint256(p.votingPeriod)).toUint32();
        p.proposalThreshold = vm.envOr("PF_PROPOSAL_THRESHOLD", p.proposalThreshold);
        p.quorumPercent = vm.envOr("PF_QUORUM_PERCENT", p.quorumPercent);
        p.timelockDelay = vm.envOr("PF_TIMELOCK_DELAY", p.timelockDelay);
        p.timelockMinDelay = vm.envOr("PF_TIMELOCK_MIN_DELAY", p.timelockMinDelay);
        p.timelockMaxDelay = vm.envOr("PF_TIMELOCK_MAX_DELAY", p.timelockMaxDelay);
        p.treasuryRewardCutRate = vm.envOr("PF_TREASURY_CUT_RATE", p.treasuryRewardCutRate);
        p.treasuryBalanceCeiling = vm.envOr("PF_TREASURY_CEILING", p.treasuryBalanceCeiling);
        p.governorBounds.maxVotingDelay = vm.envOr("PF_MAX_VOTING_DELAY", uint256(p.governorBounds.maxVotingDelay)).toUint48();
        p.governorBounds.minVotingPeriod =
            vm.envOr("PF_MIN_VOTING_PERIOD", uint256(p.governorBounds.minVotingPeriod)).toUint32();
        p.governorBounds.maxVotingPeriod =
            vm.envOr("PF_MAX_VOTING_PERIOD", uint256(p.governorBounds.maxVotingPeriod)).toUint32();
        p.governorBounds.maxProposalThreshold =
            vm.envOr("PF_MAX_PROPOSAL_THRESHOLD", p.governorBounds.maxProposalThreshold);
        p.governorBounds.minQuorumNumerator = vm.envOr("PF_MIN_QUORUM_PERCENT", p.governorBounds.minQuorumNumerator);
        p.governorBounds.maxQuorumNumerator = vm.envOr("PF_MAX_QUORUM_PERCENT", p.governorBounds.maxQuorumNumerator);

        s = SuiteDeployer.deploy(p);
        vm.stopBroadcast();

        string memory key = "deployment";
        vm.serializeUint(key, "chainId", block.chainid);
        vm.serializeUint(key, "startBlock", s.staking.startBlock());
        vm.serializeUint(key, "deploymentBlock", deploymentBlock);
        vm.serializeUint(key, "roundLength", p.roundLength);
        vm.serializeAddress(key, "deployer", deployer);
        vm.serializeAddress(key, "WorkToken", address(s.token));
        vm.serializeAddress(key, "Staking", address(s.staking));
        vm.serializeAddress(key, "Minter", address(s.minter));
        vm.serializeAddress(key, "TicketBroker", address(s.broker));
        vm.serializeAddress(key, "JobEscrow", address(s.escrow));
        vm.serializeAddress(key, "FaultClaims", address(s.faultClaims));
        vm.serializeAddress(key, "StreamSupport", address(s.streamSupport));
        vm.serializeAddress(key, "TeamVesting", address(s.teamVesting));
        vm.serializeAddress(key, "TreasuryVesting", address(s.treasuryVesting));
        vm.serializeAddress(key, "VotePower", address(s.votePower));
        vm.serializeAddress(key, "Timelock", address(s.timelock));
        vm.serializeAddress(key, "Governor", address(s.governor));
        string memory json = vm.serializeAddress(key, "ServiceRegistry", address(s.registry));
        string memory file = vm.envOr(
            "PF_DEPLOYMENT_FILE", string.concat(vm.projectRoot(), "/deployments/", vm.toString(block.chainid), ".json")
        );
        vm.writeJson(json, file);
        console.log("deployment written to", file);
    }
}
