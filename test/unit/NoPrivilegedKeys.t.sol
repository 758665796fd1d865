// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Vm} from "forge-std/Vm.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Fixture} from "../utils/Fixture.sol";
import {PrivilegeLists} from "../utils/PrivilegeLists.sol";
import {SuiteDeployer} from "../../script/SuiteDeployer.sol";
import {IWorkToken} from "../../contracts/interfaces/IWorkToken.sol";

/// @notice After deployment nobody but governance holds a power over user funds or parameters: every
///         owned contract belongs to the timelock (no pending owner), the timelock's roles are the
///         governor's alone (its admin is itself), the token's minter setter is spent, and every
///         restricted function of every contract refuses the deployer and any other account. The
///         function lists are checked against the compiled ABIs (out/), so none can be forgotten.
contract NoPrivilegedKeysTest is Fixture, PrivilegeLists {
    bytes32 internal constant ROLE_GRANTED = keccak256("RoleGranted(bytes32,address,address)");
    bytes32 internal constant ROLE_REVOKED = keccak256("RoleRevoked(bytes32,address,address)");

    struct Target {
        string name;
        address at;
        string[] restricted;
        string[] open;
        string[] views;
    }

    function targets() internal view returns (Target[] memory t) {
        t = new Target[](12);
        t[0] = Target("Staking", address(staking), _StakingRestricted(), _StakingOpen(), _StakingViews());
        t[1] = Target("Minter", address(minter), _MinterRestricted(), _MinterOpen(), _MinterViews());
        t[2] = Target(
            "TicketBroker", address(broker), _TicketBrokerRestricted(), _TicketBrokerOpen(), _TicketBrokerViews()
        );
        t[3] = Target(
            "ServiceRegistry",
            address(registry),
            _ServiceRegistryRestricted(),
            _ServiceRegistryOpen(),
            _ServiceRegistryViews()
        );
        t[4] = Target("JobEscrow", address(suite.escrow), _JobEscrowRestricted(), _JobEscrowOpen(), _JobEscrowViews());
        t[5] = Target(
            "FaultClaims", address(faultClaims), _FaultClaimsRestricted(), _FaultClaimsOpen(), _FaultClaimsViews()
        );
        t[6] = Target(
            "StreamSupport",
            address(streamSupport),
            _StreamSupportRestricted(),
            _StreamSupportOpen(),
            _StreamSupportViews()
        );
        t[7] = Target("WorkToken", address(token), _WorkTokenRestricted(), _WorkTokenOpen(), _WorkTokenViews());
        t[8] = Target("VotePower", address(votePower), _VotePowerRestricted(), _VotePowerOpen(), _VotePowerViews());
        t[9] = Target(
            "PeerflowTimelock",
            address(timelock),
            _PeerflowTimelockRestricted(),
            _PeerflowTimelockOpen(),
            _PeerflowTimelockViews()
        );
        t[10] = Target(
            "PeerflowGovernor",
            address(governor),
            _PeerflowGovernorRestricted(),
            _PeerflowGovernorOpen(),
            _PeerflowGovernorViews()
        );
        t[11] = Target(
            "VestingWallet",
            address(suite.treasuryVesting),
            _VestingWalletRestricted(),
            _VestingWalletOpen(),
            _VestingWalletViews()
        );
    }

    /* OWNERS AND ROLES */

    function test_EveryOwnedContractBelongsToTheTimelock() public view {
        assertEq(staking.owner(), address(timelock));
        assertEq(staking.pendingOwner(), address(0));
        assertEq(minter.owner(), address(timelock));
        assertEq(minter.pendingOwner(), address(0));
        assertEq(faultClaims.owner(), address(timelock));
        assertEq(faultClaims.pendingOwner(), address(0));
        // The treasury's genesis share vests to the timelock; the team's to the team (by design).
        assertEq(suite.treasuryVesting.owner(), address(timelock));
        assertEq(suite.teamVesting.owner(), params.team);
        assertEq(minter.treasury(), address(timelock));
        assertEq(governor.timelock(), address(timelock));
        assertEq(address(governor.token()), address(votePower));
        assertEq(timelock.getMinDelay(), params.timelockDelay);
    }

    function test_TimelockRolesAreTheGovernorsAlone() public {
        vm.recordLogs();
        SuiteDeployer.Suite memory s = SuiteDeployer.deploy(SuiteDeployer.devnetParams(address(this)));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32[4] memory roles = [
            s.timelock.DEFAULT_ADMIN_ROLE(),
            s.timelock.PROPOSER_ROLE(),
            s.timelock.CANCELLER_ROLE(),
            s.timelock.EXECUTOR_ROLE()
        ];
        address[4] memory holder = [address(s.timelock), address(s.governor), address(s.governor), address(s.governor)];
        for (uint256 r; r < roles.length; ++r) {
            // Replays every grant and revoke of the role: exactly one holder remains.
            address[] memory holders = new address[](logs.length);
            uint256 n;
            for (uint256 i; i < logs.length; ++i) {
                Vm.Log memory l = logs[i];
                if (l.emitter != address(s.timelock) || l.topics.length != 4 || l.topics[1] != roles[r]) continue;
                address account = address(uint160(uint256(l.topics[2])));
                if (l.topics[0] == ROLE_GRANTED) {
                    holders[n++] = account;
                } else if (l.topics[0] == ROLE_REVOKED) {
                    for (uint256 j; j < n; ++j) {
                        if (holders[j] == account) holders[j] = holders[--n];
                    }
                }
            }
            assertEq(n, 1, "one holder per role");
            assertEq(holders[0], holder[r]);
            assertTrue(s.timelock.hasRole(roles[r], holder[r]));
            assertFalse(s.timelock.hasRole(roles[r], address(this)), "the deployer keeps no role");
        }
        assertFalse(s.timelock.hasRole(roles[3], address(0)), "execution is not open");
        assertEq(s.timelock.getMinDelay(), 10);
    }

    function test_WorkTokenMinterSetterIsSpent() public {
        vm.expectRevert(abi.encodeWithSelector(IWorkToken.MinterAlreadySetOrNotDeployer.selector, address(this)));
        token.setMinter(address(this));
        assertEq(token.minter(), address(minter));
    }

    /* EVERY FUNCTION */

    function test_EveryFunctionIsClassified() public view {
        Target[] memory t = targets();
        for (uint256 c; c < t.length; ++c) {
            string memory json =
                vm.readFile(string.concat(vm.projectRoot(), "/out/", t[c].name, ".sol/", t[c].name, ".json"));
            string[] memory sigs = vm.parseJsonKeys(json, ".methodIdentifiers");
            assertEq(
                sigs.length,
                t[c].restricted.length + t[c].open.length + t[c].views.length,
                string.concat(t[c].name, ": a function is not classified in test/utils/PrivilegeLists.sol")
            );
            for (uint256 i; i < sigs.length; ++i) {
                assertTrue(
                    contains(t[c].restricted, sigs[i]) || contains(t[c].open, sigs[i]) || contains(t[c].views, sigs[i]),
                    string.concat(t[c].name, ".", sigs[i], " is not classified")
                );
            }
        }
    }

    function test_RestrictedFunctionsRefuseTheDeployer() public {
        assertRestricted(address(this));
        assertRestricted(tx.origin);
    }

    function testFuzz_RestrictedFunctionsRefuseAnyAccount(address caller) public {
        // No transaction comes from address(0) (it would "accept" an ownership nobody offered).
        vm.assume(caller != address(0));
        // The accounts holding a power by design: governance itself, and the peer contracts.
        vm.assume(caller != address(timelock) && caller != address(governor));
        vm.assume(caller != address(staking) && caller != address(broker) && caller != address(minter));
        vm.assume(caller != address(faultClaims) && caller != verifier && caller != staking.verifier());
        assertRestricted(caller);
    }

    /// @dev Calls every restricted function of every contract as `caller` with well-formed zero
    ///      arguments (dynamic ones empty): each must revert with an error (not a decoding failure).
    function assertRestricted(address caller) internal {
        Target[] memory t = targets();
        bytes memory zeros = new bytes(32 * 12);
        for (uint256 c; c < t.length; ++c) {
            for (uint256 i; i < t[c].restricted.length; ++i) {
                bytes memory data = abi.encodePacked(bytes4(keccak256(bytes(t[c].restricted[i]))), zeros);
                vm.prank(caller);
                (bool ok, bytes memory ret) = t[c].at.call(data);
                assertFalse(ok, string.concat(t[c].name, ".", t[c].restricted[i], " let an account through"));
                assertGe(ret.length, 4, string.concat(t[c].name, ".", t[c].restricted[i], ": no error"));
            }
        }
    }

    function contains(string[] memory list, string memory s) internal pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (keccak256(bytes(list[i])) == keccak256(bytes(s))) return true;
        }
        return false;
    }
}
