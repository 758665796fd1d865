// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {Vm} from "forge-std/Vm.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Issue 19: signer grants. A funder's wallet signs one EIP-712 `SignerGrant`; anyone relays
///         it with authorizeSignerWithSig; cancelSignerGrants and revokeSigner kill unrelayed grants.
///         A grant binds the key to one recipient and caps what its tickets may take (`signerGrant`).
contract TicketBrokerSignerGrantsTest is BrokerTestBase {
    address internal o;
    address internal relayer;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 10 ether, 0, 0);
        nextRound(); // round 1
        fundSender(sender, 10 ether, 0);
        relayer = makeAddr("relayer");
        grantTo = o;
    }

    function _hotTicket(uint256 nonce, uint256 creationRound)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        return sign(hotKey, _t(o, sender, hot, 1 ether, ALWAYS, nonce, RAND, creationRound), RAND);
    }

    function _hotTicketTo(address recipient, uint256 faceValue, uint256 nonce)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        return sign(hotKey, _t(recipient, sender, hot, faceValue, ALWAYS, nonce, RAND, broker.currentRound()), RAND);
    }

    function _grantAndRelay(uint256 untilRound) internal {
        Grant memory g = _grant(sender, hot, untilRound);
        _relay(relayer, g, _signGrant(senderKey, g));
    }

    function _grantAndRelay(address recipient, uint256 maxSpend, uint256 untilRound) internal {
        Grant memory g = _grant(sender, hot, recipient, maxSpend, untilRound);
        _relay(relayer, g, _signGrant(senderKey, g));
    }

    function _assertGrant(address recipient, uint256 maxSpend, uint256 spent, uint256 untilRound, bool authorized)
        internal
        view
    {
        (address r, uint256 m, uint256 sp, uint256 u, bool a) = broker.signerGrant(sender, hot);
        assertEq(r, recipient, "recipient");
        assertEq(m, maxSpend, "maxSpend");
        assertEq(sp, spent, "spent");
        assertEq(u, untilRound, "untilRound");
        assertEq(a, authorized, "authorized");
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
        emit ITicketBroker.SignerGrantAuthorized(sender, hot, o, grantCap, 3);
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
        h = _grant(sender, hot, relayer, grantCap, 3); // another recipient
        _expectRelayRevert(relayer, h, sig, err);
        h = _grant(sender, hot, o, grantCap + 1, 3); // a larger cap
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

    /* RECIPIENT AND CAP */

    function test_RevertWhen_GrantRecipientIsZero() public {
        Grant memory g = _grant(sender, hot, address(0), 1 ether, 3);
        _expectRelayRevert(
            relayer,
            g,
            _signGrant(senderKey, g),
            abi.encodeWithSelector(ITicketBroker.SignerGrantRecipientZero.selector)
        );
        assertEq(broker.signerGrantNonce(sender), 0);
    }

    function test_RevertWhen_GrantMaxSpendIsZeroOrAbove128Bits() public {
        uint256[2] memory bad = [uint256(0), uint256(type(uint128).max) + 1];
        for (uint256 k; k < 2; ++k) {
            Grant memory g = _grant(sender, hot, o, bad[k], 3);
            _expectRelayRevert(
                relayer,
                g,
                _signGrant(senderKey, g),
                abi.encodeWithSelector(ITicketBroker.SignerGrantMaxSpendOutOfRange.selector, bad[k])
            );
        }
        assertEq(broker.signerGrantNonce(sender), 0);
        _grantAndRelay(o, type(uint128).max, 3); // the largest cap
        _assertGrant(o, type(uint128).max, 0, 3, true);
    }

    function test_SignerGrant_ReadsTheBounds() public {
        _assertGrant(address(0), 0, 0, 0, false); // never authorized
        (address r, uint256 m, uint256 sp, uint256 u, bool a) = broker.signerGrant(sender, sender);
        assertEq(abi.encode(r, m, sp, u, a), abi.encode(address(0), 0, 0, 0, true), "the funder: no bounds");
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerGrantAuthorized(sender, hot, o, 3 ether, 3);
        _grantAndRelay(o, 3 ether, 3);
        _assertGrant(o, 3 ether, 0, 3, true);
        _redeem(o, _hotTicketTo(o, 1 ether, 0));
        _assertGrant(o, 3 ether, 1 ether, 3, true);
        rollRounds(2); // round 3: the grant ended, its bounds stay readable
        _assertGrant(o, 3 ether, 1 ether, 3, false);
    }

    function test_IsAuthorizedSigner_IsTheRoundOnly() public {
        _grantAndRelay(o, 1, 3); // a 1-wei cap, recipient o
        assertTrue(broker.isAuthorizedSigner(sender, hot, 2));
        assertFalse(broker.isAuthorizedSigner(sender, hot, 3));
    }

    function test_Grant_APaidTicketCountsItsFaceValue() public {
        _grantAndRelay(o, 3 ether, 5);
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerSpent(sender, hot, 1 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 1 ether, 0, 0);
        _redeem(o, _hotTicketTo(o, 1 ether, 0));
        vm.expectEmit(address(broker));
        emit ITicketBroker.SignerSpent(sender, hot, 3 ether);
        _redeem(o, _hotTicketTo(o, 2 ether, 1)); // exactly the cap
        _assertGrant(o, 3 ether, 3 ether, 5, true);
        assertEq(broker.getSenderInfo(sender).deposit, 7 ether);
        _expectRedeemRevert(o, _hotTicketTo(o, 1, 2), ITicketBroker.TicketUnauthorizedSigner.selector); // 1 wei over
        assertFalse(broker.isNonceUsed(hot, o, 2), "a ticket refused for the cap is not burned");
    }

    function test_Grant_ATicketToAnotherRecipientIsRefused() public {
        address o2 = newOrchestrator("o2", 10 ether, 0, 0);
        nextRound(); // round 2: o2 active
        _grantAndRelay(o, 5 ether, 5);
        _expectRedeemRevert(o2, _hotTicketTo(o2, 1 ether, 0), ITicketBroker.TicketUnauthorizedSigner.selector);
        ITicketBroker.SignedTicket[] memory one = new ITicketBroker.SignedTicket[](1);
        one[0] = _hotTicketTo(o2, 1 ether, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, o2, 0, ITicketBroker.RedeemStatus.UnauthorizedSigner);
        assertEq(uint256(_batch(o2, one)[0]), uint256(ITicketBroker.RedeemStatus.UnauthorizedSigner));
        assertEq(staking.pendingFees(o2), 0);
        _assertGrant(o, 5 ether, 0, 5, true);
        _redeem(o, _hotTicketTo(o, 1 ether, 0)); // its own recipient's still pays
    }

    /// @notice A ticket that cannot be paid for another reason (funds) spends nothing of the cap.
    function test_Grant_AnUnpaidTicketSpendsNothing() public {
        _grantAndRelay(o, 50 ether, 5);
        assertEq(
            uint256(_statusOf(o, _hotTicketTo(o, 11 ether, 0))), uint256(ITicketBroker.RedeemStatus.InsufficientFunds)
        );
        ITicketBroker.SignedTicket[] memory one = new ITicketBroker.SignedTicket[](1);
        one[0] = _hotTicketTo(o, 11 ether, 0);
        _batch(o, one);
        _assertGrant(o, 50 ether, 0, 5, true);
    }

    /// @notice The cap counts the face value, which the funder pays in full: from the reserve too when
    ///         the deposit is short.
    function test_Grant_ATicketPaidPartlyFromTheReserveCountsItsFaceValue() public {
        fundSender(sender, 0, 20 ether);
        nextRound(); // round 2: the reserve backs tickets
        _grantAndRelay(o, 15 ether, 5);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, o, 15 ether, 0, 5 ether);
        _redeem(o, _hotTicketTo(o, 15 ether, 0));
        _assertGrant(o, 15 ether, 15 ether, 5, true);
        ITicketBroker.SenderInfo memory info = broker.getSenderInfo(sender);
        assertEq(info.deposit + info.reserve, 30 ether - 15 ether);
    }

    /// @notice The cap is checked after the replay check: a paid ticket presented again is NonceUsed,
    ///         even with the cap spent.
    function test_Grant_AReplayIsNonceUsedEvenWithTheCapSpent() public {
        _grantAndRelay(o, 1 ether, 5);
        ITicketBroker.SignedTicket memory st = _hotTicketTo(o, 1 ether, 0);
        _redeem(o, st);
        _expectRedeemRevert(o, st, ITicketBroker.TicketNonceUsed.selector);
        _expectRedeemRevert(o, _hotTicketTo(o, 1 ether, 1), ITicketBroker.TicketUnauthorizedSigner.selector);
    }

    function test_Grant_ABatchPaysUpToTheCap() public {
        _grantAndRelay(o, 2.5 ether, 5);
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](4);
        for (uint256 i; i < 4; ++i) {
            sts[i] = _hotTicketTo(o, 1 ether, i);
        }
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint256(statuses[2]), uint256(ITicketBroker.RedeemStatus.UnauthorizedSigner));
        assertEq(uint256(statuses[3]), uint256(ITicketBroker.RedeemStatus.UnauthorizedSigner));
        _assertGrant(o, 2.5 ether, 2 ether, 5, true);
        // What is left still pays a smaller ticket.
        _redeem(o, _hotTicketTo(o, 0.5 ether, 4));
        _assertGrant(o, 2.5 ether, 2.5 ether, 5, true);
        assertEq(staking.pendingFees(o), 2.5 ether);
    }

    /// @notice A new grant for the same key sets exactly what it says, spent included: it starts from
    ///         0, whatever the earlier grant spent (a new budget, the funder's exposure is the sum).
    function test_Grant_ANewGrantResetsSpent() public {
        _grantAndRelay(o, 2 ether, 5);
        _redeem(o, _hotTicketTo(o, 2 ether, 0));
        _expectRedeemRevert(o, _hotTicketTo(o, 1 ether, 1), ITicketBroker.TicketUnauthorizedSigner.selector);
        _grantAndRelay(o, 1 ether, 5);
        _assertGrant(o, 1 ether, 0, 5, true);
        _redeem(o, _hotTicketTo(o, 1 ether, 1)); // the ticket refused before, under the new budget
        _expectRedeemRevert(o, _hotTicketTo(o, 1, 2), ITicketBroker.TicketUnauthorizedSigner.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 7 ether, "2 + 1 ether: the sum of the two caps");
    }

    function test_Grant_ANewGrantRebindsTheRecipient() public {
        address o2 = newOrchestrator("o2", 10 ether, 0, 0);
        nextRound(); // round 2
        _grantAndRelay(o, 5 ether, 5);
        _redeem(o, _hotTicketTo(o, 1 ether, 0));
        _grantAndRelay(o2, 5 ether, 5);
        _expectRedeemRevert(o, _hotTicketTo(o, 1 ether, 1), ITicketBroker.TicketUnauthorizedSigner.selector);
        _redeem(o2, _hotTicketTo(o2, 1 ether, 0));
        _assertGrant(o2, 5 ether, 1 ether, 5, true);
    }

    /// @notice authorizeSigner, the funder's own transaction, clears a grant's recipient, cap and
    ///         spent: the key is unlimited again, its tickets emit no SignerSpent.
    function test_AuthorizeSigner_ClearsTheGrantsBounds() public {
        address o2 = newOrchestrator("o2", 10 ether, 0, 0);
        nextRound(); // round 2
        _grantAndRelay(o, 1 ether, 5);
        _redeem(o, _hotTicketTo(o, 1 ether, 0));
        vm.prank(sender);
        broker.authorizeSigner(hot);
        _assertGrant(address(0), 0, 0, 0, true);
        vm.recordLogs();
        _redeem(o, _hotTicketTo(o, 3 ether, 1));
        _redeem(o2, _hotTicketTo(o2, 3 ether, 0));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != ITicketBroker.SignerSpent.selector, "no SignerSpent without a cap");
        }
        _assertGrant(address(0), 0, 0, 0, true);
        assertEq(broker.getSenderInfo(sender).deposit, 3 ether);
    }

    /// @notice revokeSigner ends a grant early; what is left of its round keeps its recipient and cap.
    function test_RevokeSigner_KeepsTheGrantsBounds() public {
        _grantAndRelay(o, 1 ether, 10);
        vm.prank(sender);
        broker.revokeSigner(hot);
        _assertGrant(o, 1 ether, 0, 2, true);
        _redeem(o, _hotTicketTo(o, 1 ether, 0));
        _expectRedeemRevert(o, _hotTicketTo(o, 1, 1), ITicketBroker.TicketUnauthorizedSigner.selector);
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
