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
import {IFaultClaims} from "../contracts/interfaces/IFaultClaims.sol";

/// @notice Deploys and wires the whole suite. Shared by script/Deploy.s.sol and the tests, so what the
///         tests exercise is exactly what gets deployed.
library SuiteDeployer {
    struct Params {
        address deployer; // the account sending the deployment (gets the liquid genesis share)
        address governance; // final owner of Staking and FaultClaims (two-step transfer when ≠ deployer)
        address team; // beneficiary of the team vesting wallet
        address treasury; // beneficiary of the treasury vesting wallet
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
    }

    /// @notice Local-devnet defaults: short rounds so that a demo sees several of them. The fault-claim
    ///         committee is the deployer alone (quorum 1); the devnet replaces it (see Deploy.s.sol).
    function devnetParams(address deployer) internal pure returns (Params memory p) {
        p.deployer = deployer;
        p.governance = deployer;
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
        if (p.governance != p.deployer) {
            s.staking.transferOwnership(p.governance);
            s.faultClaims.transferOwnership(p.governance);
        }
    }
}
