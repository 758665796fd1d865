// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "../utils/Fixture.sol";
import {VotePower} from "../../contracts/VotePower.sol";
import {VotesHandler} from "./VotesHandler.sol";

/// @notice Votes never count twice across delegation changes: at every recorded past block, Σ over all
///         accounts of VotePower.getPastVotes ≤ the token's total supply at that block (tokens vote where
///         they are delegated, bonded tokens through their pool, never both), every delegator's override
///         weight fits in its orchestrator's pool, and every lookup equals what the sources said then.
contract VoteInvariantsTest is Fixture {
    VotesHandler internal handler;
    VotePower internal power;

    function setUp() public override {
        super.setUp();
        power = new VotePower(token, staking);
        address[] memory actors = new address[](8);
        for (uint256 i; i < 3; ++i) {
            actors[i] = newOrchestrator(string.concat("o", vm.toString(i)), 100 ether, 100_000, 500_000);
        }
        for (uint256 i = 3; i < actors.length; ++i) {
            actors[i] = makeAddr(string.concat("a", vm.toString(i)));
        }
        for (uint256 i; i < actors.length; ++i) {
            give(actors[i], 1000 ether);
        }
        handler = new VotesHandler(token, staking, actors);
        vm.roll(block.number + 1);
        targetContract(address(handler));
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 48
    function invariant_VotesNeverExceedSupply() public view {
        uint256 n = handler.recordCount();
        for (uint256 k = handler.firstKept(); k < n; ++k) {
            VotesHandler.Record memory r = handler.record(k);
            uint256 sum;
            uint256 tokenVotes;
            for (uint256 i; i < r.pool.length; ++i) {
                sum += power.getPastVotes(handler.actors(i), r.blockNumber);
                tokenVotes += r.tokenVotes[i];
            }
            assertLe(sum, power.getPastTotalSupply(r.blockNumber), "votes exceed supply");
            assertEq(sum, tokenVotes + r.totalBonded, "votes are delegated tokens plus bonded stake");
            assertLe(tokenVotes + r.totalBonded, r.totalSupply);
        }
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 48
    function invariant_OverridesFitInTheirPool() public view {
        uint256 n = handler.recordCount();
        uint256 actors = handler.actorCount();
        for (uint256 k = handler.firstKept(); k < n; ++k) {
            uint256 t = handler.record(k).blockNumber;
            for (uint256 j; j < actors; ++j) {
                address o = handler.actors(j);
                uint256 overrides;
                for (uint256 i; i < actors; ++i) {
                    address a = handler.actors(i);
                    if (power.getPastDelegate(a, t) == o) overrides += power.getPastBalanceOf(a, t);
                }
                assertLe(overrides, staking.getPastPoolStake(o, t), "overrides exceed the pool");
            }
        }
    }

    /// forge-config: default.invariant.runs = 32
    /// forge-config: default.invariant.depth = 48
    function invariant_LookupsMatchTheSourcesAtTheTime() public view {
        uint256 n = handler.recordCount();
        for (uint256 k = handler.firstKept(); k < n; ++k) {
            VotesHandler.Record memory r = handler.record(k);
            assertEq(power.getPastTotalSupply(r.blockNumber), r.totalSupply, "total supply");
            for (uint256 i; i < r.pool.length; ++i) {
                address a = handler.actors(i);
                assertEq(staking.getPastPoolStake(a, r.blockNumber), r.pool[i], "pool stake");
                assertEq(power.getPastBalanceOf(a, r.blockNumber), r.bonded[i], "bonded stake");
                assertEq(power.getPastDelegate(a, r.blockNumber), r.delegate[i], "delegate");
                assertEq(power.getPastVotes(a, r.blockNumber), r.tokenVotes[i] + r.pool[i], "votes");
            }
        }
    }
}
