// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Hot signing keys: authorizeSigner, revokeSigner, isAuthorizedSigner and redemption of
///         tickets they sign.
contract TicketBrokerSignersTest is BrokerTestBase {
    address internal o;
    address internal funder2;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 10 ether, 0, 0);
        nextRound(); // round 1
        fundSender(sender, 10 ether, 0);
        funder2 = makeAddr("funder2");
        fundSender(funder2, 10 ether, 0);
    }

    function _hotTicket(address funder, uint256 nonce, uint256 creationRound)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        return sign(hotKey, _t(o, funder, hot, 1 ether, ALWAYS, nonce, RAND, creationRound), RAND);
    }

    function test_AuthorizeSigner_HotKeySignsForFunder() public {
        assertFalse(broker.isAuthorizedSigner(sender, hot, 1));
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerAuthorized(sender, hot);
        vm.prank(sender);
        broker.authorizeSigner(hot);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 0));
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1));
        assertTrue(broker.isAuthorizedSigner(sender, hot, type(uint256).max));

        ITicketBroker.SignedTicket memory st = _hotTicket(sender, 0, 1);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 1 ether, 0, 0);
        _redeem(o, st);
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether, "paid from the funder's deposit");
        assertTrue(broker.isNonceUsed(hot, o, 0), "nonces are the signer's");
        assertFalse(broker.isNonceUsed(sender, o, 0));
        assertEq(staking.pendingFees(o), 1 ether);
    }

    function test_IsAuthorizedSigner_FunderAlwaysSignsForItself() public view {
        assertTrue(broker.isAuthorizedSigner(sender, sender, 0));
        assertTrue(broker.isAuthorizedSigner(sender, sender, 12345));
        assertTrue(broker.isAuthorizedSigner(hot, hot, 1));
    }

    function test_AuthorizeSigner_IsPerFunder() public {
        vm.prank(sender);
        broker.authorizeSigner(hot);
        assertFalse(broker.isAuthorizedSigner(funder2, hot, 1));
        ITicketBroker.SignedTicket memory st = _hotTicket(funder2, 0, 1);
        _expectRedeemRevert(o, st, ITicketBroker.TicketUnauthorizedSigner.selector);
    }

    function test_AuthorizeSigner_OneHotKeyForTwoFundersSharesNonces() public {
        vm.prank(sender);
        broker.authorizeSigner(hot);
        vm.prank(funder2);
        broker.authorizeSigner(hot);
        ITicketBroker.SignedTicket memory a = _hotTicket(sender, 0, 1);
        ITicketBroker.SignedTicket memory b = _hotTicket(funder2, 0, 1);
        ITicketBroker.SignedTicket memory c = _hotTicket(funder2, 1, 1);
        _redeem(o, a);
        // Replay state is per (signer, recipient): the same nonce for another funder is used.
        _expectRedeemRevert(o, b, ITicketBroker.TicketNonceUsed.selector);
        _redeem(o, c);
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether);
        assertEq(broker.getSenderInfo(funder2).deposit, 9 ether);
    }

    function test_RevertWhen_AuthorizingSelfOrZero() public {
        vm.startPrank(sender);
        vm.expectRevert(ITicketBroker.SignerIsFunder.selector);
        broker.authorizeSigner(sender);
        vm.expectRevert(ITicketBroker.SignerIsFunder.selector);
        broker.authorizeSigner(address(0));
        vm.stopPrank();
    }

    function test_RevokeSigner_RejectsTicketsFromTheNextRoundOn() public {
        vm.prank(sender);
        broker.authorizeSigner(hot);
        ITicketBroker.SignedTicket memory before = _hotTicket(sender, 0, 1); // round 1
        ITicketBroker.SignedTicket memory sameRound = _hotTicket(sender, 1, 1);
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerRevoked(sender, hot, 2);
        vm.prank(sender);
        broker.revokeSigner(hot);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 2));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 3));

        _redeem(o, before); // tickets of the revocation round still pay, in this round...
        nextRound(); // round 2
        _redeem(o, sameRound); // ...and the next one
        ITicketBroker.SignedTicket memory afterRevocation = _hotTicket(sender, 2, 2);
        _expectRedeemRevert(o, afterRevocation, ITicketBroker.TicketUnauthorizedSigner.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 8 ether);
    }

    function test_RevokeSigner_ReauthorizingRestoresIt() public {
        vm.startPrank(sender);
        broker.authorizeSigner(hot);
        broker.revokeSigner(hot);
        vm.stopPrank();
        nextRound();
        ITicketBroker.SignedTicket memory st = _hotTicket(sender, 0, 2);
        _expectRedeemRevert(o, st, ITicketBroker.TicketUnauthorizedSigner.selector);
        vm.prank(sender);
        broker.authorizeSigner(hot);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 2));
        _redeem(o, st);
    }

    function test_RevertWhen_RevokingUnknownSigner() public {
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.SignerNotAuthorized.selector, sender, hot));
        broker.revokeSigner(hot);
    }

    function test_RevertWhen_RevokingTwice() public {
        vm.startPrank(sender);
        broker.authorizeSigner(hot);
        broker.revokeSigner(hot);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.SignerNotAuthorized.selector, sender, hot));
        broker.revokeSigner(hot);
        vm.stopPrank();
    }

    function test_RevertWhen_RevokingAnotherFundersSigner() public {
        vm.prank(sender);
        broker.authorizeSigner(hot);
        vm.prank(funder2);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.SignerNotAuthorized.selector, funder2, hot));
        broker.revokeSigner(hot);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 5));
    }

    function test_RevertWhen_HotKeyTicketSignedByFunderKey() public {
        // signer field names the hot key, but the funder's key signed: not the named signer.
        vm.prank(sender);
        broker.authorizeSigner(hot);
        ITicketBroker.Ticket memory t = _t(o, sender, hot, 1 ether, ALWAYS, 0, RAND, 1);
        ITicketBroker.SignedTicket memory st = sign(senderKey, t, RAND);
        _expectRedeemRevert(o, st, ITicketBroker.TicketInvalidSignature.selector);
    }
}
