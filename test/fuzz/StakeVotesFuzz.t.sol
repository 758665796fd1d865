// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StakingHelpers} from "../utils/StakingHelpers.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Random sequences of bond, bondFor, unbond, rebond, moves, reward, claims, fees and slash
///         across blocks and rounds; the state at the end of every block is recorded, then for every
///         recorded block `t`: each lookup equals the value recorded at `t`, Σ over the accounts
///         delegated to `o` at `t` of their bonded stake ≤ `o`'s pool stake at `t`, and Σ pool stake
///         at `t` == totalBonded at `t`.
contract StakeVotesFuzzTest is StakingHelpers {
    uint256 internal constant N = 7; // accounts: 3 orchestrators, 4 delegators
    uint256 internal constant STEPS = 40;

    address[N] internal accounts;

    struct Snapshot {
        uint256 blockNumber;
        uint256 totalBonded;
        uint256[N] pool;
        uint256[N] bonded;
        address[N] delegate;
    }

    Snapshot[] internal snapshots;
    mapping(address => uint256[]) internal lockIds;
    uint256 internal rng;
    uint256[11] internal done; // successful actions by kind (10: fees), so a run that does nothing fails

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < 3; ++i) {
            accounts[i] = newOrchestrator(string.concat("o", vm.toString(i)), 100 ether, uint32(i * 200_000), 500_000);
        }
        for (uint256 i = 3; i < N; ++i) {
            accounts[i] = makeAddr(string.concat("d", vm.toString(i)));
        }
    }

    function next(uint256 bound_) internal returns (uint256) {
        rng = uint256(keccak256(abi.encode(rng)));
        return rng % bound_;
    }

    function call(address who, bytes memory data) internal returns (bool ok) {
        vm.prank(who);
        (ok,) = address(staking).call(data);
    }

    function count(uint256 kind, bool ok) internal {
        if (ok) ++done[kind];
    }

    /// @dev One random action; a refused one (not eligible, frozen, already rewarded...) is skipped.
    function act() internal {
        uint256 kind = next(10);
        address who = accounts[next(N)];
        address orch = accounts[next(3)];
        if (kind <= 2) {
            uint256 amount = 1 + next(50 ether);
            fund(who, amount);
            // A delegator bonds to an orchestrator (sometimes to itself); an orchestrator to itself.
            address to = _isOrchestrator(who) || next(5) == 0 ? who : orch;
            count(kind, call(who, abi.encodeCall(IStaking.bond, (amount, to))));
        } else if (kind == 3) {
            uint256 bonded = staking.getBondedStake(who);
            if (bonded == 0) return;
            vm.prank(who);
            try staking.unbond(1 + next(bonded)) returns (uint256 id) {
                lockIds[who].push(id);
                count(kind, true);
            } catch {}
        } else if (kind == 4) {
            count(kind, call(who, abi.encodeCall(IStaking.bond, (0, orch)))); // a move
        } else if (kind == 5) {
            count(kind, call(orch, abi.encodeCall(IStaking.reward, ())));
        } else if (kind == 6) {
            count(kind, call(who, abi.encodeCall(IStaking.claimEarnings, ())));
        } else if (kind == 7) {
            uint256[] storage ids = lockIds[who];
            if (ids.length == 0) return;
            uint256 id = ids[ids.length - 1];
            ids.pop();
            bool ok = call(who, abi.encodeCall(IStaking.rebond, (id)))
                || call(who, abi.encodeCall(IStaking.rebondFromUnbonded, (orch, id)));
            count(kind, ok);
        } else if (kind == 8) {
            address payer = accounts[next(N)];
            uint256 amount = 1 + next(10 ether);
            fund(payer, amount);
            count(kind, call(payer, abi.encodeCall(IStaking.bondFor, (who, amount, staking.delegateOf(who)))));
        } else if (next(4) == 0) {
            count(kind, call(verifier, abi.encodeCall(IStaking.slash, (orch, address(0), uint32(next(PPM + 1)), 0))));
        } else if (staking.isRegistered(orch)) {
            payFees(orch, 1 + next(5 ether));
            count(10, true);
        }
    }

    function _isOrchestrator(address who) internal view returns (bool) {
        return who == accounts[0] || who == accounts[1] || who == accounts[2];
    }

    /// @dev Records the state at the end of the current block, then moves to a later block (sometimes a
    ///      later round).
    function endBlock() internal {
        Snapshot storage s = snapshots.push();
        s.blockNumber = block.number;
        s.totalBonded = staking.totalBonded();
        for (uint256 i; i < N; ++i) {
            s.pool[i] = staking.orchestratorInfo(accounts[i]).stake;
            s.bonded[i] = staking.getBondedStake(accounts[i]);
            s.delegate[i] = staking.delegateOf(accounts[i]);
        }
        if (next(4) == 0) nextRound();
        else vm.roll(block.number + 1 + next(3));
    }

    /// @dev How often each kind of action succeeded over many seeds (run with -vv to read it).
    function test_ActionsMostlySucceed() public {
        for (uint256 seed; seed < 20; ++seed) {
            rng = seed;
            for (uint256 i; i < STEPS; ++i) {
                act();
                if (next(3) == 0) endBlock();
            }
        }
        for (uint256 k; k < done.length; ++k) {
            assertGt(done[k], 0, string.concat("kind never succeeded: ", vm.toString(k)));
        }
    }

    function testFuzz_RecordMatchesEveryBlock(uint256 seed) public {
        rng = seed;
        for (uint256 i; i < STEPS; ++i) {
            act();
            if (next(3) == 0) endBlock();
        }
        endBlock();
        uint256 total;
        for (uint256 i; i < done.length; ++i) {
            total += done[i];
        }
        assertGt(total, STEPS / 4, "most actions refused");
        assertGt(snapshots.length, 2);

        for (uint256 k; k < snapshots.length; ++k) {
            Snapshot storage s = snapshots[k];
            uint256 t = s.blockNumber;
            uint256 sumPools;
            for (uint256 i; i < N; ++i) {
                address a = accounts[i];
                assertEq(staking.getPastPoolStake(a, t), s.pool[i], "pool stake");
                assertEq(staking.getPastBondedStake(a, t), s.bonded[i], "bonded stake");
                assertEq(staking.getPastDelegateOf(a, t), s.delegate[i], "delegate");
                sumPools += s.pool[i];
            }
            assertEq(sumPools, s.totalBonded, "pools == totalBonded");
            for (uint256 j; j < N; ++j) {
                address o = accounts[j];
                uint256 overrides;
                for (uint256 i; i < N; ++i) {
                    if (staking.getPastDelegateOf(accounts[i], t) == o) {
                        overrides += staking.getPastBondedStake(accounts[i], t);
                    }
                }
                assertLe(overrides, staking.getPastPoolStake(o, t), "overrides exceed the pool");
            }
            // Between recorded blocks nothing changed: the block before the next record reads the same.
            if (k + 1 < snapshots.length && snapshots[k + 1].blockNumber > t + 1) {
                uint256 between = snapshots[k + 1].blockNumber - 1;
                for (uint256 i; i < N; ++i) {
                    assertEq(staking.getPastPoolStake(accounts[i], between), s.pool[i], "pool between");
                    assertEq(staking.getPastBondedStake(accounts[i], between), s.bonded[i], "bonded between");
                }
            }
        }
    }
}
