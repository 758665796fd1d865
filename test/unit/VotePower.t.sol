// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {
    GovernorCountingOverridable
} from "@openzeppelin/contracts/governance/extensions/GovernorCountingOverridable.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";
import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {VotePower} from "../../contracts/VotePower.sol";
import {IVotePower} from "../../contracts/interfaces/IVotePower.sol";
import {IStakeVotes} from "../../contracts/interfaces/IStakeVotes.sol";

/// @dev The smallest governor that reads VotePower the way the protocol's will: GovernorVotes with
///      GovernorCountingOverridable (delegators override their orchestrator's stake vote).
contract OverridableGovernor is Governor, GovernorVotes, GovernorCountingOverridable {
    constructor(IVotes source) Governor("test") GovernorVotes(source) {}

    function votingDelay() public pure override returns (uint256) {
        return 1;
    }

    function votingPeriod() public pure override returns (uint256) {
        return 50;
    }

    function quorum(uint256) public pure override returns (uint256) {
        return 0;
    }
}

/// @dev A token on a timestamp clock: VotePower refuses it.
contract TimestampClock {
    function CLOCK_MODE() external pure returns (string memory) {
        return "mode=timestamp";
    }
}

/// @notice VotePower: token votes plus pool stake, total supply, the override reads, delegation at
///         the sources; WorkToken's ERC20Votes; and a governor counting overrides on top of it.
contract VotePowerTest is StakingHelpers {
    VotePower internal power;
    address internal o;
    address internal d = makeAddr("d");
    address internal holder = makeAddr("holder");

    function setUp() public override {
        super.setUp();
        power = new VotePower(token, staking);
        o = newOrchestrator("o", 100 ether, 0, 0);
    }

    /* CONSTRUCTION */

    function test_Sources() public view {
        assertEq(address(power.token()), address(token));
        assertEq(address(power.staking()), address(staking));
        assertEq(power.clock(), block.number);
        assertEq(power.CLOCK_MODE(), "mode=blocknumber&from=default");
        assertEq(power.CLOCK_MODE(), token.CLOCK_MODE());
        assertEq(power.clock(), token.clock());
    }

    function test_RevertWhen_ZeroSource() public {
        vm.expectRevert(IVotePower.ZeroSource.selector);
        new VotePower(IERC5805(address(0)), staking);
        vm.expectRevert(IVotePower.ZeroSource.selector);
        new VotePower(token, IStakeVotes(address(0)));
    }

    function test_RevertWhen_TokenClockIsNotBlockNumber() public {
        TimestampClock other = new TimestampClock();
        vm.expectRevert(abi.encodeWithSelector(IVotePower.ClockMismatch.selector, "mode=timestamp"));
        new VotePower(IERC5805(address(other)), staking);
    }

    /* VOTES */

    function test_TokenVotesNeedDelegation() public {
        give(holder, 10 ether);
        vm.roll(block.number + 1);
        assertEq(power.getPastVotes(holder, block.number - 1), 0);
        assertEq(power.getVotes(holder), 0);
        vm.prank(holder);
        token.delegate(holder);
        assertEq(power.getVotes(holder), 10 ether);
        assertEq(power.delegates(holder), holder);
        vm.roll(block.number + 1);
        assertEq(power.getPastVotes(holder, block.number - 1), 10 ether);
    }

    function test_VotesAreTokensDelegatedPlusPoolStake() public {
        give(o, 7 ether);
        vm.prank(o);
        token.delegate(o);
        fund(d, 20 ether);
        vm.prank(d);
        staking.bond(20 ether, o);
        uint256 at = block.number;
        assertEq(power.getVotes(o), 7 ether + 120 ether);
        vm.roll(block.number + 1);
        assertEq(power.getPastVotes(o, at), 127 ether);
        assertEq(power.getPastVotes(d, at), 0, "a delegator's stake votes through its orchestrator");
        assertEq(power.getPastBalanceOf(d, at), 20 ether);
        assertEq(power.getPastDelegate(d, at), o);
        assertEq(power.getPastBalanceOf(o, at), 100 ether);
        assertEq(power.getPastDelegate(o, at), o);
    }

    function test_TokenVotesDelegatedToAnother() public {
        give(holder, 10 ether);
        vm.prank(holder);
        token.delegate(o);
        vm.roll(block.number + 1);
        assertEq(power.getPastVotes(o, block.number - 1), 110 ether);
        assertEq(power.getPastVotes(holder, block.number - 1), 0);
        assertEq(power.delegates(holder), o);
    }

    function test_TotalSupplyIsTheTokens() public {
        vm.roll(block.number + 1);
        assertEq(power.getPastTotalSupply(block.number - 1), token.totalSupply());
        assertEq(power.getPastTotalSupply(block.number - 1), GENESIS_SUPPLY);
        vm.prank(token.minter());
        token.mint(holder, 5 ether);
        vm.roll(block.number + 1);
        assertEq(power.getPastTotalSupply(block.number - 1), GENESIS_SUPPLY + 5 ether);
        assertEq(power.getPastTotalSupply(block.number - 2), GENESIS_SUPPLY);
    }

    function test_BurnLowersTotalSupplyAndVotes() public {
        give(holder, 10 ether);
        vm.prank(holder);
        token.delegate(holder);
        vm.prank(holder);
        token.burn(4 ether);
        vm.roll(block.number + 1);
        assertEq(power.getPastVotes(holder, block.number - 1), 6 ether);
        assertEq(power.getPastTotalSupply(block.number - 1), GENESIS_SUPPLY - 4 ether);
    }

    function test_RevertWhen_LookupNotInThePast() public {
        uint256 n = block.number;
        vm.expectRevert();
        power.getPastVotes(o, n);
        vm.expectRevert();
        power.getPastTotalSupply(n);
        vm.expectRevert(abi.encodeWithSelector(IStakeVotes.FutureLookup.selector, n, n));
        power.getPastBalanceOf(o, n);
        vm.expectRevert(abi.encodeWithSelector(IStakeVotes.FutureLookup.selector, n + 5, n));
        power.getPastDelegate(o, n + 5);
    }

    /* DELEGATION */

    function test_RevertWhen_DelegatingHere() public {
        vm.expectRevert(IVotePower.DelegateAtSource.selector);
        vm.prank(holder);
        power.delegate(o);
        vm.expectRevert(IVotePower.DelegateAtSource.selector);
        power.delegateBySig(o, 0, block.timestamp, 27, bytes32(0), bytes32(0));
    }

    /* WORK TOKEN */

    function test_WorkToken_DelegateBySigSharesPermitNonces() public {
        (address signer, uint256 key) = makeAddrAndKey("signer");
        give(signer, 3 ether);
        uint256 expiry = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(keccak256("Delegation(address delegatee,uint256 nonce,uint256 expiry)"), o, uint256(0), expiry)
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        token.delegateBySig(o, 0, expiry, v, r, s);
        assertEq(token.delegates(signer), o);
        assertEq(token.nonces(signer), 1, "one nonce sequence for permit and delegateBySig");
        assertEq(token.getVotes(o), 3 ether);
    }

    function test_WorkToken_TransferMovesVotesBetweenDelegates() public {
        address other = makeAddr("other");
        give(holder, 10 ether);
        vm.prank(holder);
        token.delegate(holder);
        vm.prank(other);
        token.delegate(other);
        vm.prank(holder);
        assertTrue(token.transfer(other, 4 ether));
        assertEq(token.getVotes(holder), 6 ether);
        assertEq(token.getVotes(other), 4 ether);
    }

    function test_WorkToken_BondingTakesTokensOutOfTheHoldersVotes() public {
        fund(holder, 10 ether);
        vm.prank(holder);
        token.delegate(holder);
        vm.prank(holder);
        staking.bond(10 ether, o);
        assertEq(token.getVotes(holder), 0);
        assertEq(power.getVotes(o), 110 ether);
        assertEq(token.delegates(address(staking)), address(0), "bonded tokens vote only through Staking");
    }

    /* GOVERNOR */

    /// @dev The orchestrator votes with its pool and its tokens; a delegator overriding takes exactly
    ///      its own bonded stake out of the orchestrator's vote, before or after the orchestrator votes.
    function test_Governor_DelegatorOverridesItsOrchestrator() public {
        OverridableGovernor gov = new OverridableGovernor(IVotes(address(power)));
        address d2 = makeAddr("d2");
        fund(d, 30 ether);
        vm.prank(d);
        staking.bond(30 ether, o);
        fund(d2, 20 ether);
        vm.prank(d2);
        staking.bond(20 ether, o);
        give(o, 5 ether);
        vm.prank(o);
        token.delegate(o);
        vm.roll(block.number + 1);

        address[] memory targets = new address[](1);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calls = new bytes[](1);
        targets[0] = address(0xBEEF);
        uint256 id = gov.propose(targets, values, calls, "p");
        vm.roll(block.number + 2);

        vm.prank(d);
        gov.castOverrideVote(id, 0, ""); // against, before the orchestrator votes
        vm.prank(o);
        gov.castVote(id, 1); // for
        vm.prank(d2);
        gov.castOverrideVote(id, 2, ""); // abstain, after
        (uint256 against, uint256 forVotes, uint256 abstain) = gov.proposalVotes(id);
        assertEq(against, 30 ether);
        assertEq(abstain, 20 ether);
        assertEq(forVotes, 5 ether + 150 ether - 50 ether);
        assertEq(against + forVotes + abstain, power.getPastVotes(o, gov.proposalSnapshot(id)));
    }

    /// @dev Stake bonded after the snapshot neither votes nor overrides.
    function test_Governor_StakeAfterSnapshotDoesNotCount() public {
        OverridableGovernor gov = new OverridableGovernor(IVotes(address(power)));
        address[] memory targets = new address[](1);
        uint256[] memory values = new uint256[](1);
        bytes[] memory calls = new bytes[](1);
        targets[0] = address(0xBEEF);
        uint256 id = gov.propose(targets, values, calls, "p");
        vm.roll(block.number + 2);
        fund(d, 30 ether);
        vm.prank(d);
        staking.bond(30 ether, o);
        vm.prank(d);
        gov.castOverrideVote(id, 0, "");
        vm.prank(o);
        gov.castVote(id, 1);
        (uint256 against, uint256 forVotes,) = gov.proposalVotes(id);
        assertEq(against, 0);
        assertEq(forVotes, 100 ether);
    }
}
