// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Vm} from "forge-std/Vm.sol";
import {EscrowTestBase} from "../utils/EscrowTestBase.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";

/// @notice JobEscrow.announceEndpoint (issue 21, cooperative jobs): a slot holder publishes its API
///         base URL for the job; nothing is stored, the latest event of a provider wins.
contract JobEscrowEndpointTest is EscrowTestBase {
    function _uri(uint256 length) internal pure returns (string memory) {
        bytes memory b = new bytes(length);
        for (uint256 i; i < length; ++i) {
            b[i] = "a";
        }
        return string(b);
    }

    function test_Announce_AcceptedSlotHolderEmits() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.EndpointAnnounced(id, p1, "https://p1.example:8443");
        vm.prank(p1);
        escrow.announceEndpoint(id, "https://p1.example:8443");
    }

    function test_Announce_EventFieldsAndTopics() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        vm.recordLogs();
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://10.0.0.1:7000");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].emitter, address(escrow));
        assertEq(logs[0].topics.length, 3);
        assertEq(logs[0].topics[0], IJobEscrow.EndpointAnnounced.selector);
        assertEq(logs[0].topics[1], bytes32(id));
        assertEq(logs[0].topics[2], bytes32(uint256(uint160(p1))));
        assertEq(abi.decode(logs[0].data, (string)), "http://10.0.0.1:7000");
    }

    function test_Announce_CommittedSlotHolderMayReannounce() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://old");
        commit(id, p1, GOOD, PRICE);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.EndpointAnnounced(id, p1, "http://new");
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://new");
    }

    function test_Announce_SealedBidWinnerAfterClose() public {
        uint256 id = create(sealedParams(1));
        bid(id, p1, 5 ether);
        vm.warp(job(id).params.bidDeadline);
        reveal(id, p1, 5 ether);
        vm.warp(job(id).params.revealDeadline);
        escrow.closeAuction(id);
        vm.expectEmit(address(escrow));
        emit IJobEscrow.EndpointAnnounced(id, p1, "http://winner");
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://winner");
    }

    function test_Announce_MaxLengthAccepted() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        string memory uri = _uri(escrow.MAX_ENDPOINT_URI());
        vm.expectEmit(address(escrow));
        emit IJobEscrow.EndpointAnnounced(id, p1, uri);
        vm.prank(p1);
        escrow.announceEndpoint(id, uri);
    }

    function test_Announce_MovesNoTokensAndChangesNoState() public {
        uint256 id = createFixed(2);
        accept(id, p1);
        uint256 held = bal(address(escrow));
        IJobEscrow.Slot memory before = slot(id, p1);
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://p1");
        assertEq(bal(address(escrow)), held);
        assertEq(uint8(slot(id, p1).status), uint8(before.status));
        assertEq(job(id).filled, 1);
    }

    function test_RevertWhen_AnnounceEmptyUri() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        vm.expectRevert(IJobEscrow.EmptyUri.selector);
        vm.prank(p1);
        escrow.announceEndpoint(id, "");
    }

    function test_RevertWhen_AnnounceUriTooLong() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.UriTooLong.selector, 257, 256));
        vm.prank(p1);
        escrow.announceEndpoint(id, _uri(257));
    }

    function test_RevertWhen_AnnounceByDisputedSlot() public {
        uint256 id = createFixed(1);
        accept(id, p1);
        vm.prank(buyer);
        escrow.dispute(id, p1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobEscrow.WrongSlotStatus.selector, id, p1, IJobEscrow.SlotStatus.Disputed)
        );
        vm.prank(p1);
        escrow.announceEndpoint(id, "http://p1");
    }

    /* CODE SIZE */

    function test_JobEscrowFitsTheCodeSizeLimit() public {
        assertLe(address(escrow).code.length, 24_576);
        assertLe(address(deployedEscrow()).code.length, 24_576);
    }
}
