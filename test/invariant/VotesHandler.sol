// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "forge-std/Test.sol";
import {WorkToken} from "../../contracts/WorkToken.sol";
import {Staking} from "../../contracts/Staking.sol";

/// @notice Moves votes around across blocks: bonds, unbonds, moves delegators between orchestrators,
///         rewards and claims, transfers tokens and (re)delegates them. At the end of each block it
///         leaves, it records what every source said, for the invariants to compare with the lookups.
contract VotesHandler is Test {
    uint256 internal constant KEPT = 4; // recorded blocks the invariants check (the latest ones)

    WorkToken internal token;
    Staking internal staking;
    address[] public actors; // the first three are orchestrators
    uint256 public constant ORCHESTRATORS = 3;

    struct Record {
        uint256 blockNumber;
        uint256 totalSupply;
        uint256 totalBonded;
        uint256[] pool;
        uint256[] bonded;
        address[] delegate;
        uint256[] tokenVotes;
    }

    Record[] internal records;

    constructor(WorkToken token_, Staking staking_, address[] memory actors_) {
        (token, staking, actors) = (token_, staking_, actors_);
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function recordCount() external view returns (uint256) {
        return records.length;
    }

    function record(uint256 i) external view returns (Record memory) {
        return records[i];
    }

    function actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function orchestrator(uint256 seed) internal view returns (address) {
        return actors[seed % ORCHESTRATORS];
    }

    /* ACTIONS */

    function bond(uint256 who, uint256 to, uint256 amount) external {
        address a = actor(who);
        address o = who % actors.length < ORCHESTRATORS ? a : orchestrator(to);
        if (token.balanceOf(a) == 0) return;
        amount = bound(amount, 1, token.balanceOf(a));
        vm.startPrank(a);
        token.approve(address(staking), amount);
        try staking.bond(amount, o) {} catch {}
        vm.stopPrank();
    }

    function unbond(uint256 who, uint256 amount) external {
        address a = actor(who);
        uint256 bonded = staking.getBondedStake(a);
        if (bonded == 0) return;
        vm.prank(a);
        try staking.unbond(bound(amount, 1, bonded)) {} catch {}
    }

    function move(uint256 who, uint256 to) external {
        address a = actor(who);
        vm.prank(a);
        try staking.bond(0, orchestrator(to)) {} catch {}
    }

    function reward(uint256 who, bool newRound) external {
        if (newRound) vm.roll(block.number + 100 - (block.number - staking.startBlock()) % 100);
        vm.prank(orchestrator(who));
        try staking.reward() {} catch {}
    }

    function claim(uint256 who) external {
        vm.prank(actor(who));
        try staking.claimEarnings() {} catch {}
    }

    function transfer(uint256 from, uint256 to, uint256 amount) external {
        address a = actor(from);
        amount = bound(amount, 0, token.balanceOf(a));
        vm.prank(a);
        token.transfer(actor(to), amount);
    }

    function delegateTokens(uint256 who, uint256 to) external {
        vm.prank(actor(who));
        token.delegate(actor(to));
    }

    /// @dev Ends the current block: records it, then moves 1 to 5 blocks on.
    function endBlock(uint256 blocks) external {
        Record storage r = records.push();
        r.blockNumber = block.number;
        r.totalSupply = token.totalSupply();
        r.totalBonded = staking.totalBonded();
        for (uint256 i; i < actors.length; ++i) {
            address a = actors[i];
            r.pool.push(staking.getPoolStake(a));
            r.bonded.push(staking.getBondedStake(a));
            r.delegate.push(staking.delegateOf(a));
            r.tokenVotes.push(token.getVotes(a));
        }
        vm.roll(block.number + bound(blocks, 1, 5));
    }

    /// @dev The index of the first record the invariants check.
    function firstKept() external view returns (uint256) {
        return records.length > KEPT ? records.length - KEPT : 0;
    }
}
