// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {SuiteDeployer} from "../../script/SuiteDeployer.sol";
import {WorkToken} from "../../contracts/WorkToken.sol";
import {Staking} from "../../contracts/Staking.sol";
import {Minter} from "../../contracts/Minter.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";
import {ServiceRegistry} from "../../contracts/ServiceRegistry.sol";
import {FaultClaims} from "../../contracts/FaultClaims.sol";
import {StreamSupport} from "../../contracts/StreamSupport.sol";
import {VotePower} from "../../contracts/VotePower.sol";
import {PeerflowTimelock} from "../../contracts/PeerflowTimelock.sol";
import {PeerflowGovernor} from "../../contracts/PeerflowGovernor.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice The whole suite deployed exactly as script/Deploy.s.sol does, plus helpers to act as
///         holders, orchestrators and broadcasters, move through rounds, and sign tickets.
/// @dev Every owned contract belongs to the timelock: a test acting as governance pranks
///      `governance()` (the timelock); test/unit/Governance*.t.sol go through real proposals. The
///      treasury's share of inflation is 0 here (the Staking and Minter figures predate it); the
///      governance tests set it.
abstract contract Fixture is Test {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    SuiteDeployer.Params internal params;
    WorkToken internal token;
    Staking internal staking;
    Minter internal minter;
    TicketBroker internal broker;
    ServiceRegistry internal registry;
    FaultClaims internal faultClaims;
    StreamSupport internal streamSupport;
    VotePower internal votePower;
    PeerflowTimelock internal timelock;
    PeerflowGovernor internal governor;
    SuiteDeployer.Suite internal suite;
    /// @dev Staking's verifier in these tests, so that slashing can be driven directly; the deployment
    ///      itself makes FaultClaims the verifier (its tests set it back).
    address internal verifier = makeAddr("verifier");

    function setUp() public virtual {
        params = SuiteDeployer.devnetParams(address(this));
        params.roundLength = 100;
        params.lockBlocks = 10;
        params.unbondingPeriod = 3;
        params.unlockPeriod = 3;
        params.ticketValidity = 2;
        params.rateChangeCooldown = 2;
        params.treasuryRewardCutRate = 0;
        // OpenZeppelin's timelock reads timestamp 1 as "done": no operation is ready at it, so the
        // bootstrap batch needs a later one (any real chain has it).
        if (block.timestamp < 2) vm.warp(2);
        SuiteDeployer.Suite memory s = SuiteDeployer.deploy(params);
        suite = s;
        (token, staking, minter, broker, registry) = (s.token, s.staking, s.minter, s.broker, s.registry);
        faultClaims = s.faultClaims;
        streamSupport = s.streamSupport;
        (votePower, timelock, governor) = (s.votePower, s.timelock, s.governor);
        vm.prank(address(timelock));
        staking.setVerifier(verifier);
    }

    /// @dev The owner of every governed contract: the timelock.
    function governance() internal view returns (address) {
        return address(timelock);
    }

    /* ACCOUNTS AND ROUNDS */

    /// @dev Gives `who` `amount` tokens from the deployer's liquid genesis share.
    function give(address who, uint256 amount) internal {
        assertTrue(token.transfer(who, amount));
    }

    function bondAs(address who, uint256 amount, address to) internal {
        give(who, amount);
        vm.startPrank(who);
        token.approve(address(staking), amount);
        staking.bond(amount, to);
        vm.stopPrank();
    }

    /// @dev A registered orchestrator with `stake` self-bonded, active from the next round.
    function newOrchestrator(string memory name, uint256 stake, uint32 rewardCut, uint32 feeShare)
        internal
        returns (address o)
    {
        o = makeAddr(name);
        bondAs(o, stake, o);
        vm.prank(o);
        staking.registerOrchestrator(rewardCut, feeShare);
    }

    function nextRound() internal {
        uint256 r = staking.currentRound();
        vm.roll(staking.startBlock() + (r + 1) * params.roundLength);
    }

    function rollRounds(uint256 n) internal {
        for (uint256 i; i < n; ++i) {
            nextRound();
        }
    }

    /* BROADCASTERS AND TICKETS */

    function fundSender(address sender, uint256 deposit, uint256 reserve) internal {
        give(sender, deposit + reserve);
        vm.startPrank(sender);
        token.approve(address(broker), deposit + reserve);
        broker.fundDepositAndReserve(deposit, reserve);
        vm.stopPrank();
    }

    /// @dev A ticket from `sender` (signing with its own key) to `recipient` that always wins.
    function ticketFor(address recipient, address sender, uint256 faceValue, uint256 nonce, bytes32 rand)
        internal
        view
        returns (ITicketBroker.Ticket memory t)
    {
        t = ITicketBroker.Ticket({
            recipient: recipient,
            sender: sender,
            signer: sender,
            faceValue: faceValue,
            winProb: type(uint256).max,
            senderNonce: nonce,
            recipientRandHash: keccak256(abi.encodePacked(rand)),
            creationRound: staking.currentRound()
        });
    }

    function sign(uint256 signerKey, ITicketBroker.Ticket memory t, bytes32 rand)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signerKey, broker.hashTicket(t));
        return pack(t, rand, v, r, s);
    }

    function pack(ITicketBroker.Ticket memory t, bytes32 rand, uint8 v, bytes32 r, bytes32 s)
        internal
        pure
        returns (ITicketBroker.SignedTicket memory)
    {
        return ITicketBroker.SignedTicket({
            senderFace: uint256(uint160(t.sender)) << 96 | uint96(t.faceValue),
            winProb: t.winProb,
            meta: uint256(uint160(t.signer)) << 96 | uint256(uint56(t.senderNonce)) << 40
                | uint256(uint32(t.creationRound)) << 8 | v,
            recipientRand: rand,
            r: r,
            s: s
        });
    }
}
