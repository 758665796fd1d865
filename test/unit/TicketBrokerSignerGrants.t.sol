// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Issue 19: signer grants. A funder's wallet signs one EIP-712 `SignerGrant`; anyone relays
///         it with authorizeSignerWithSig; cancelSignerGrants and revokeSigner kill unrelayed grants.
contract TicketBrokerSignerGrantsTest is BrokerTestBase {
    address internal o;
    address internal relayer;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 10 ether, 0, 0);
        nextRound(); // round 1
        fundSender(sender, 10 ether, 0);
        relayer = makeAddr("relayer");
    }

    function _hotTicket(uint256 nonce, uint256 creationRound)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        return sign(hotKey, _t(o, sender, hot, 1 ether, ALWAYS, nonce, RAND, creationRound), RAND);
    }

    function _grantAndRelay(uint256 untilRound) internal {
        Grant memory g = _grant(sender, hot, untilRound);
        _relay(relayer, g, _signGrant(senderKey, g));
    }

    /* THE TYPED DATA */

    function test_SignerGrantTypehash_IsTheDocumentedType() public view {
        assertEq(broker.SIGNER_GRANT_TYPEHASH(), keccak256(bytes(SIGNER_GRANT_TYPE)));
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            broker.eip712Domain();
        assertEq(name, "peerflow TicketBroker");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(broker));
    }

    /* RELAYING A GRANT */

    function test_AuthorizeSignerWithSig_AuthorizesBeforeUntilRound() public {
        assertEq(broker.signerGrantNonce(sender), 0);
        Grant memory g = _grant(sender, hot, 3);
        bytes memory sig = _signGrant(senderKey, g);
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerGrantNonceUsed(sender, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerAuthorized(sender, hot);
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerAuthorizedUntil(sender, hot, 3);
        _relay(relayer, g, sig);
        assertEq(broker.signerGrantNonce(sender), 1);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 0));
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1));
        assertTrue(broker.isAuthorizedSigner(sender, hot, 2));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 3));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 100));
    }

    function test_AuthorizeSignerWithSig_MovesNoTokens() public {
        uint256 brokerBalance = token.balanceOf(address(broker));
        _grantAndRelay(5);
        assertEq(token.balanceOf(address(broker)), brokerBalance);
        assertEq(token.balanceOf(relayer), 0);
        assertEq(broker.getSenderInfo(sender).deposit, 10 ether);
    }

    function test_AuthorizeSignerWithSig_TheFunderMayRelayItself() public {
        Grant memory g = _grant(sender, hot, 2);
        _relay(sender, g, _signGrant(senderKey, g));
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1));
    }

    function test_AuthorizeSignerWithSig_HotKeyTicketsPayFromTheFunder() public {
        _grantAndRelay(3);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 1 ether, 0, 0);
        _redeem(o, _hotTicket(0, 1));
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether);
        assertEq(staking.pendingFees(o), 1 ether);
    }

    function test_AuthorizeSignerWithSig_NoncesRunInSequence() public {
        for (uint256 i; i < 3; ++i) {
            Grant memory g = _grant(sender, hot, 2 + i);
            assertEq(g.nonce, i);
            _relay(relayer, g, _signGrant(senderKey, g));
        }
        assertEq(broker.signerGrantNonce(sender), 3);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 3));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 4));
    }

    function test_AuthorizeSignerWithSig_NoncesArePerFunder() public {
        (address funder2, uint256 funder2Key) = makeAddrAndKey("funder2");
        Grant memory a = _grant(sender, hot, 2);
        Grant memory b = _grant(funder2, hot, 2);
        assertEq(a.nonce, 0);
        assertEq(b.nonce, 0);
        _relay(relayer, a, _signGrant(senderKey, a));
        _relay(relayer, b, _signGrant(funder2Key, b));
        assertEq(broker.signerGrantNonce(sender), 1);
        assertEq(broker.signerGrantNonce(funder2), 1);
    }

    function test_AuthorizeSignerWithSig_AcceptsUntilTheDeadlineInclusive() public {
        Grant memory g = _grant(sender, hot, 2);
        bytes memory sig = _signGrant(senderKey, g);
        vm.warp(g.deadline);
        _relay(relayer, g, sig);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1));
    }

    function test_AuthorizeSignerWithSig_LargestUntilRound() public {
        _grantAndRelay(type(uint64).max);
        assertTrue(broker.isAuthorizedSigner(sender, hot, type(uint64).max - 1));
        assertFalse(broker.isAuthorizedSigner(sender, hot, type(uint64).max));
    }

    /* REFUSED GRANTS */

    function test_RevertWhen_GrantDeadlinePassed() public {
        Grant memory g = _grant(sender, hot, 2);
        bytes memory sig = _signGrant(senderKey, g);
        vm.warp(g.deadline + 1);
        _expectRelayRevert(
            relayer,
            g,
            sig,
            abi.encodeWithSelector(ITicketBroker.SignerGrantExpired.selector, g.deadline, g.deadline + 1)
        );
    }

    function test_RevertWhen_GrantUntilRoundNotAfterTheCurrentRound() public {
        uint256 round = broker.currentRound();
        for (uint256 until; until <= round; ++until) {
            Grant memory g = _grant(sender, hot, until);
            _expectRelayRevert(
                relayer,
                g,
                _signGrant(senderKey, g),
                abi.encodeWithSelector(ITicketBroker.SignerGrantRoundOutOfRange.selector, until, round)
            );
        }
        Grant memory big = _grant(sender, hot, uint256(type(uint64).max) + 1);
        _expectRelayRevert(
            relayer,
            big,
            _signGrant(senderKey, big),
            abi.encodeWithSelector(ITicketBroker.SignerGrantRoundOutOfRange.selector, big.untilRound, round)
        );
        assertEq(broker.signerGrantNonce(sender), 0);
    }

    function test_RevertWhen_GrantSignerIsFunderOrZero() public {
        Grant memory self = _grant(sender, sender, 3);
        _expectRelayRevert(
            relayer, self, _signGrant(senderKey, self), abi.encodeWithSelector(ITicketBroker.SignerIsFunder.selector)
        );
        Grant memory zero = _grant(sender, address(0), 3);
        _expectRelayRevert(
            relayer, zero, _signGrant(senderKey, zero), abi.encodeWithSelector(ITicketBroker.SignerIsFunder.selector)
        );
    }

    function test_RevertWhen_GrantSignatureNot65CanonicalBytes() public {
        Grant memory g = _grant(sender, hot, 3);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(senderKey, _grantDigest(g, block.chainid, address(broker)));
        bytes memory err = abi.encodeWithSelector(ITicketBroker.SignerGrantInvalidSignature.selector);
        _expectRelayRevert(relayer, g, "", err);
        _expectRelayRevert(relayer, g, abi.encodePacked(r, s), err); // 64 bytes (EIP-2098 is not accepted)
        _expectRelayRevert(relayer, g, abi.encodePacked(r, bytes32(uint256(s) | uint256(v - 27) << 255)), err);
        _expectRelayRevert(relayer, g, abi.encodePacked(r, s, v, uint8(0)), err); // 66 bytes
        _expectRelayRevert(relayer, g, abi.encodePacked(r, s, v - 27), err); // v ∈ {0, 1}
        // The same signature with high s and the other v: ecrecover accepts it, the broker does not.
        _expectRelayRevert(relayer, g, abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? 28 : 27), err);
        _expectRelayRevert(relayer, g, abi.encodePacked(bytes32(0), s, v), err);
        _relay(relayer, g, abi.encodePacked(r, s, v)); // the canonical encoding is still good
    }

    function test_RevertWhen_GrantForTheZeroFunder() public {
        Grant memory g = _grant(address(0), hot, 3);
        bytes memory err = abi.encodeWithSelector(ITicketBroker.SignerGrantInvalidSignature.selector);
        // A signature ecrecover maps to address(0) (r = 0): never the zero funder's.
        _expectRelayRevert(relayer, g, abi.encodePacked(bytes32(0), bytes32(uint256(1)), uint8(27)), err);
        _expectRelayRevert(relayer, g, _signGrant(senderKey, g), err);
        assertFalse(broker.isAuthorizedSigner(address(0), hot, 1));
    }

    function test_RevertWhen_AnyGrantFieldDiffersFromTheSignedOne() public {
        Grant memory g = _grant(sender, hot, 3);
        bytes memory sig = _signGrant(senderKey, g);
        bytes memory err = abi.encodeWithSelector(ITicketBroker.SignerGrantInvalidSignature.selector);
        Grant memory h = _grant(sender, hot, 4); // longer
        _expectRelayRevert(relayer, h, sig, err);
        h = _grant(sender, hot, 2); // shorter
        _expectRelayRevert(relayer, h, sig, err);
        h = _grant(sender, relayer, 3); // another signer
        _expectRelayRevert(relayer, h, sig, err);
        h = _grant(sender, hot, 3);
        h.deadline = g.deadline + 1; // a later deadline
        _expectRelayRevert(relayer, h, sig, err);
        assertEq(broker.signerGrantNonce(sender), 0);
        _relay(relayer, g, sig);
    }

    /* WHAT A GRANT SETS: EXACTLY WHAT IT SAYS */

    function test_Grant_ReauthorizesARevokedSigner() public {
        vm.startPrank(sender);
        broker.authorizeSigner(hot);
        broker.revokeSigner(hot); // from round 2
        vm.stopPrank();
        nextRound(); // round 2
        assertFalse(broker.isAuthorizedSigner(sender, hot, 2));
        _grantAndRelay(5); // signed after the revocation, with the nonce it left
        assertTrue(broker.isAuthorizedSigner(sender, hot, 4));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 5));
        _redeem(o, _hotTicket(0, 2));
    }

    function test_Grant_RenewsAnExpiredGrant() public {
        _grantAndRelay(2);
        rollRounds(2); // round 3
        assertFalse(broker.isAuthorizedSigner(sender, hot, 3));
        _grantAndRelay(6);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 3));
        assertTrue(broker.isAuthorizedSigner(sender, hot, 5));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 6));
    }

    function test_Grant_ExtendsAndShortensAnEarlierGrant() public {
        _grantAndRelay(3);
        _grantAndRelay(10);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 9));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 10));
        _grantAndRelay(2);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 2));
    }

    function test_Grant_BoundsAnUnlimitedAuthorization() public {
        vm.prank(sender);
        broker.authorizeSigner(hot);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1000));
        _grantAndRelay(4);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 3));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 4));
    }

    function test_AuthorizeSigner_LiftsAGrantsBoundAndKeepsTheNonce() public {
        _grantAndRelay(3);
        vm.prank(sender);
        broker.authorizeSigner(hot);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1000));
        assertEq(broker.signerGrantNonce(sender), 1, "authorizeSigner leaves the grant nonce alone");
    }

    /* REVOCATION AND CANCELLATION */

    function test_RevokeSigner_ShortensAGrantToTheNextRound() public {
        _grantAndRelay(10);
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerRevoked(sender, hot, 2);
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerGrantNonceUsed(sender, 1);
        vm.prank(sender);
        broker.revokeSigner(hot);
        assertEq(broker.signerGrantNonce(sender), 2);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 2));
    }

    function test_RevokeSigner_UsesTheGrantNonceOnAnUnlimitedSignerToo() public {
        vm.startPrank(sender);
        broker.authorizeSigner(hot);
        broker.revokeSigner(hot);
        vm.stopPrank();
        assertEq(broker.signerGrantNonce(sender), 1);
    }

    function test_RevertWhen_RevokingAGrantThatEndsByTheNextRound() public {
        _grantAndRelay(2); // already ends where a revocation would put it
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.SignerNotAuthorized.selector, sender, hot));
        broker.revokeSigner(hot);
        assertEq(broker.signerGrantNonce(sender), 1, "a failed revocation uses no nonce");
    }

    function test_RevertWhen_RevokingAnExpiredGrant() public {
        _grantAndRelay(3);
        rollRounds(3); // round 4
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.SignerNotAuthorized.selector, sender, hot));
        broker.revokeSigner(hot);
    }

    function test_RevokeSigner_AGrantOneRoundLaterStillShortens() public {
        _grantAndRelay(3);
        vm.prank(sender);
        broker.revokeSigner(hot); // 3 > 1 + 1: shortened to 2
        assertFalse(broker.isAuthorizedSigner(sender, hot, 2));
    }

    function test_CancelSignerGrants_UsesTheNonceAndNothingElse() public {
        _grantAndRelay(5);
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerGrantNonceUsed(sender, 1);
        vm.prank(sender);
        broker.cancelSignerGrants();
        assertEq(broker.signerGrantNonce(sender), 2);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 4), "authorizations in place are untouched");
        assertFalse(broker.isAuthorizedSigner(sender, hot, 5));
    }

    function test_CancelSignerGrants_AnyoneForThemselvesOnly() public {
        address other = makeAddr("other");
        vm.prank(other);
        broker.cancelSignerGrants();
        assertEq(broker.signerGrantNonce(other), 1);
        assertEq(broker.signerGrantNonce(sender), 0);
    }
}
