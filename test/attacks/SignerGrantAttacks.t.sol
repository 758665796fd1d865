// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Issue 19: attacks on signer grants (authorizeSignerWithSig). Who can call: anyone, with a
///         grant in hand. What they know: every relayed grant (calldata and events are public), every
///         grant in the mempool, and, for the broadcaster that is paid, the grants the viewer handed it
///         (relayed or not); a thief may also hold the hot key itself (or the page that holds it is
///         malicious): then the grant's recipient and cap are what bounds the loss. Each attack is
///         played by the party that would gain, with the safe outcome asserted.
contract SignerGrantAttacksTest is BrokerTestBase {
    address internal o;
    address internal relayer; // the broadcaster the viewer pays: it holds the viewer's grants
    address internal mallory; // watches the mempool and the chain
    uint256 internal malloryKey;

    bytes internal invalidSig = abi.encodeWithSelector(ITicketBroker.SignerGrantInvalidSignature.selector);

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 10 ether, 0, 0);
        nextRound(); // round 1
        fundSender(sender, 10 ether, 0);
        relayer = makeAddr("relayer");
        (mallory, malloryKey) = makeAddrAndKey("mallory");
        grantTo = o;
    }

    function _hotTicket(uint256 nonce, uint256 creationRound)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        return sign(hotKey, _t(o, sender, hot, 1 ether, ALWAYS, nonce, RAND, creationRound), RAND);
    }

    /// @notice Replaying a relayed grant (calldata is public) after the funder shortened or revoked it
    ///         would restore the old bound. The nonce it carried is used: the replay is refused.
    function test_Attack_ReplayOfAUsedGrant() public {
        ITicketBroker.SignedTicket memory late = _hotTicket(0, 3);
        Grant memory g = _grant(sender, hot, 10);
        bytes memory sig = _signGrant(senderKey, g);
        _relay(relayer, g, sig);
        _expectRelayRevert(mallory, g, sig, invalidSig);
        vm.prank(sender);
        broker.revokeSigner(hot); // from round 2
        _expectRelayRevert(mallory, g, sig, invalidSig);
        rollRounds(2); // round 3
        _expectRelayRevert(mallory, g, sig, invalidSig);
        assertFalse(broker.isAuthorizedSigner(sender, hot, 3));
        _expectRedeemRevert(o, late, ITicketBroker.TicketUnauthorizedSigner.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 10 ether);
    }

    /// @notice A malleated copy of a relayed grant (s → n - s, v flipped: the same signature for
    ///         ecrecover) is a second encoding; it is refused for its form, before its nonce matters.
    function test_Attack_MalleatedCopyOfAGrant() public {
        Grant memory g = _grant(sender, hot, 10);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(senderKey, _grantDigest(g, block.chainid, address(broker)));
        bytes memory high = abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        _expectRelayRevert(mallory, g, high, invalidSig); // before the original, too
        _relay(relayer, g, abi.encodePacked(r, s, v));
        _expectRelayRevert(mallory, g, high, invalidSig);
        assertEq(broker.signerGrantNonce(sender), 1);
    }

    /// @notice A grant signed for another broker (same chain), or for this broker's address on another
    ///         chain, does not authorize anything here: the domain binds both.
    function test_Attack_GrantForAnotherBrokerOrChain() public {
        TicketBroker other = new TicketBroker(IERC20(address(token)), IStaking(address(staking)), 3, 2);
        Grant memory g = _grant(sender, hot, 10);
        assertEq(other.signerGrantNonce(sender), g.nonce, "the same nonce on both brokers");
        bytes memory forOther = _signGrantFor(senderKey, g, block.chainid, address(other));
        _expectRelayRevert(mallory, g, forOther, invalidSig);
        bytes memory forMainnet = _signGrantFor(senderKey, g, 1, address(broker));
        _expectRelayRevert(mallory, g, forMainnet, invalidSig);
        // ...and this broker's grant does not work at the other broker.
        bytes memory forThis = _signGrant(senderKey, g);
        vm.prank(mallory);
        vm.expectRevert(ITicketBroker.SignerGrantInvalidSignature.selector);
        other.authorizeSignerWithSig(g.funder, g.signer, g.recipient, g.maxSpend, g.untilRound, g.deadline, forThis);
        // Nor after a fork: the chain id is read at relay time.
        uint256 snap = vm.snapshotState();
        vm.chainId(block.chainid + 1);
        _expectRelayRevert(mallory, g, forThis, invalidSig);
        vm.revertToState(snap);
        assertFalse(broker.isAuthorizedSigner(sender, hot, 1));
        _relay(relayer, g, forThis);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 1));
    }

    /// @notice A grant naming `sender` as funder but signed by anyone else (the hot key granting
    ///         itself, another funder, the relayer) authorizes nothing, and neither does a grant of
    ///         another funder presented as `sender`'s.
    function test_Attack_GrantSignedBySomeoneOtherThanTheFunder() public {
        (address funder2, uint256 funder2Key) = makeAddrAndKey("funder2");
        Grant memory g = _grant(sender, hot, 10);
        _expectRelayRevert(relayer, g, _signGrant(hotKey, g), invalidSig);
        _expectRelayRevert(relayer, g, _signGrant(malloryKey, g), invalidSig);
        _expectRelayRevert(relayer, g, _signGrant(funder2Key, g), invalidSig);
        Grant memory g2 = _grant(funder2, hot, 10);
        bytes memory sig2 = _signGrant(funder2Key, g2);
        _expectRelayRevert(relayer, g, sig2, invalidSig); // funder2's grant, relayed as sender's
        assertFalse(broker.isAuthorizedSigner(sender, hot, 1));
        assertEq(broker.signerGrantNonce(sender), 0);
        _expectRedeemRevert(o, _hotTicket(0, 1), ITicketBroker.TicketUnauthorizedSigner.selector);
    }

    /// @notice Mallory sees the broadcaster's relay in the mempool and sends it first, or with her own
    ///         key as signer. Copied as is: the state is exactly what the broadcaster's relay would
    ///         have left, Mallory gets nothing and the broadcaster's own relay reverts (gas only).
    ///         Altered: refused.
    function test_Attack_FrontRunningTheRelay() public {
        Grant memory g = _grant(sender, hot, 10);
        bytes memory sig = _signGrant(senderKey, g);

        uint256 snap = vm.snapshotState();
        _relay(relayer, g, sig);
        bool authorizedHonest = broker.isAuthorizedSigner(sender, hot, 9);
        bool boundHonest = broker.isAuthorizedSigner(sender, hot, 10);
        uint256 nonceHonest = broker.signerGrantNonce(sender);
        vm.revertToState(snap);

        Grant memory redirected = _grant(sender, mallory, 10);
        _expectRelayRevert(mallory, redirected, sig, invalidSig);
        Grant memory longer = _grant(sender, hot, 1000);
        _expectRelayRevert(mallory, longer, sig, invalidSig);
        uint256 malloryBalance = token.balanceOf(mallory);
        uint256 brokerBalance = token.balanceOf(address(broker));
        _relay(mallory, g, sig);
        assertEq(broker.isAuthorizedSigner(sender, hot, 9), authorizedHonest);
        assertEq(broker.isAuthorizedSigner(sender, hot, 10), boundHonest);
        assertEq(broker.signerGrantNonce(sender), nonceHonest);
        assertFalse(broker.isAuthorizedSigner(sender, mallory, 1));
        assertEq(token.balanceOf(mallory), malloryBalance, "the front-runner gains nothing");
        assertEq(token.balanceOf(address(broker)), brokerBalance);
        _expectRelayRevert(relayer, g, sig, invalidSig);
        _redeem(o, _hotTicket(0, 1)); // and the viewer's hot key pays as intended
    }

    /// @notice The broadcaster sits on a grant past its deadline (say, to use it when it suits it).
    function test_Attack_RelayAfterTheDeadline() public {
        Grant memory g = _grant(sender, hot, 10);
        bytes memory sig = _signGrant(senderKey, g);
        vm.warp(g.deadline + 1);
        _expectRelayRevert(
            relayer,
            g,
            sig,
            abi.encodeWithSelector(ITicketBroker.SignerGrantExpired.selector, g.deadline, g.deadline + 1)
        );
        assertFalse(broker.isAuthorizedSigner(sender, hot, 1));
    }

    /// @notice The viewer authorized its hot key, also handed the broadcaster a longer grant that was
    ///         never relayed, then revoked the key (it leaked). The broadcaster, or the thief holding
    ///         the hot key and a copy of the grant, relays the old grant after the revocation: refused,
    ///         because revokeSigner used the grant nonce.
    function test_Attack_RevokeThenRelayAnOldGrant() public {
        vm.prank(sender);
        broker.authorizeSigner(hot);
        Grant memory old = _grant(sender, hot, 100);
        bytes memory oldSig = _signGrant(senderKey, old);
        vm.prank(sender);
        broker.revokeSigner(hot);
        _expectRelayRevert(relayer, old, oldSig, invalidSig);
        nextRound(); // round 2
        _expectRelayRevert(mallory, old, oldSig, invalidSig);
        _expectRedeemRevert(o, _hotTicket(0, 2), ITicketBroker.TicketUnauthorizedSigner.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 10 ether);
    }

    /// @notice The same with a grant-authorized key: grant 1 (relayed) and grant 2 (signed with the
    ///         next nonce, held back), then a revocation: grant 2 is dead.
    function test_Attack_RevokeAGrantedKeyThenRelayTheNextGrant() public {
        Grant memory first = _grant(sender, hot, 10);
        _relay(relayer, first, _signGrant(senderKey, first));
        Grant memory next = _grant(sender, hot, 100);
        bytes memory nextSig = _signGrant(senderKey, next);
        vm.prank(sender);
        broker.revokeSigner(hot);
        _expectRelayRevert(relayer, next, nextSig, invalidSig);
        assertFalse(broker.isAuthorizedSigner(sender, hot, 2));
    }

    /// @notice The viewer signed a grant and changed its mind (closed the tab, lost the hot key)
    ///         before it was relayed: cancelSignerGrants kills it and every other unrelayed grant.
    function test_Attack_CancelSignerGrantsKillsAnOutstandingGrant() public {
        Grant memory g = _grant(sender, hot, 10);
        bytes memory sig = _signGrant(senderKey, g);
        vm.prank(sender);
        broker.cancelSignerGrants();
        _expectRelayRevert(relayer, g, sig, invalidSig);
        assertFalse(broker.isAuthorizedSigner(sender, hot, 1));
        _expectRedeemRevert(o, _hotTicket(0, 1), ITicketBroker.TicketUnauthorizedSigner.selector);
    }

    /// @notice A mallory that cancels for the viewer would block its grants: cancellation is the
    ///         caller's own only.
    function test_Attack_CancellingSomeoneElsesGrantsIsImpossible() public {
        Grant memory g = _grant(sender, hot, 10);
        bytes memory sig = _signGrant(senderKey, g);
        vm.prank(mallory);
        broker.cancelSignerGrants();
        vm.prank(hot);
        broker.cancelSignerGrants();
        _relay(relayer, g, sig);
        assertTrue(broker.isAuthorizedSigner(sender, hot, 9));
    }

    /// @notice Two grants signed with the same nonce (two tabs): only the first relayed takes effect;
    ///         the other is dead, whoever holds it.
    function test_Attack_TwoGrantsWithOneNonceOnlyOneTakesEffect() public {
        Grant memory a = _grant(sender, hot, 3);
        Grant memory b = _grant(sender, mallory, 100);
        bytes memory sigA = _signGrant(senderKey, a);
        bytes memory sigB = _signGrant(senderKey, b);
        _relay(relayer, a, sigA);
        _expectRelayRevert(mallory, b, sigB, invalidSig);
        assertFalse(broker.isAuthorizedSigner(sender, mallory, 1));
    }

    /// @notice The hot key signs tickets for rounds past its grant (with the broker's round clock
    ///         known to everyone): those are refused at redemption (UnauthorizedSigner, nothing paid,
    ///         not burned), while its earlier tickets redeem and pay, individually and in a batch.
    function test_Attack_HotKeyTicketsAtOrAfterUntilRoundAreRejected() public {
        Grant memory g = _grant(sender, hot, 3);
        _relay(relayer, g, _signGrant(senderKey, g));
        ITicketBroker.SignedTicket memory r1 = _hotTicket(0, 1);
        ITicketBroker.SignedTicket memory r2 = _hotTicket(1, 2);
        ITicketBroker.SignedTicket memory r3 = _hotTicket(2, 3);
        ITicketBroker.SignedTicket memory r4 = _hotTicket(3, 4);

        nextRound(); // round 2: r1 and r2 are valid
        _redeem(o, r1);
        nextRound(); // round 3: r2 still valid (validity 2), r3 past the grant
        ITicketBroker.SignedTicket[] memory batch = new ITicketBroker.SignedTicket[](2);
        (batch[0], batch[1]) = (r2, r3);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, o, 2, ITicketBroker.RedeemStatus.UnauthorizedSigner);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, batch);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.UnauthorizedSigner));
        _expectRedeemRevert(o, r3, ITicketBroker.TicketUnauthorizedSigner.selector);
        assertFalse(broker.isNonceUsed(hot, o, 2), "a refused ticket is not burned");
        nextRound(); // round 4
        _expectRedeemRevert(o, r4, ITicketBroker.TicketUnauthorizedSigner.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 8 ether, "paid r1 and r2 only");
        assertEq(staking.pendingFees(o), 2 ether);
    }

    /// @notice The hot key (stolen, or the page's own) tries to keep itself alive: it cannot sign a
    ///         grant for the funder, nor revoke or cancel on the funder's behalf.
    function test_Attack_HotKeyCannotExtendItself() public {
        Grant memory g = _grant(sender, hot, 3);
        _relay(relayer, g, _signGrant(senderKey, g));
        Grant memory longer = _grant(sender, hot, 1000);
        _expectRelayRevert(hot, longer, _signGrant(hotKey, longer), invalidSig);
        vm.prank(hot);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.SignerNotAuthorized.selector, hot, hot));
        broker.revokeSigner(hot);
        assertFalse(broker.isAuthorizedSigner(sender, hot, 3));
    }
    /* A LEAKED KEY OR A MALICIOUS PAGE: THE GRANT'S RECIPIENT AND CAP */

    function _hotTo(address recipient, uint256 faceValue, uint256 nonce)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        return sign(hotKey, _t(recipient, sender, hot, faceValue, ALWAYS, nonce, RAND, broker.currentRound()), RAND);
    }

    function _grantTo(address recipient, uint256 maxSpend) internal {
        Grant memory g = _grant(sender, hot, recipient, maxSpend, 10);
        _relay(relayer, g, _signGrant(senderKey, g));
    }

    /// @notice The audit's drain: whoever holds the hot key (a thief, or the page itself) signs a
    ///         ticket for the whole deposit, winProb max, to an address of its own (never registered:
    ///         it would be paid directly), to the hot key itself, or to another orchestrator. The key
    ///         is bound to `o`: every such ticket is refused, single or in a batch, nothing moves and
    ///         the refused tickets stay refused; `o`'s own tickets still pay.
    function test_Attack_BoundKeySignsToAnotherRecipient() public {
        address o2 = newOrchestrator("o2", 10 ether, 0, 0);
        nextRound(); // round 2: o2 active
        _grantTo(o, 1 ether);
        address[3] memory thieves = [mallory, hot, o2];
        uint256 brokerBalance = token.balanceOf(address(broker));
        for (uint256 k; k < 3; ++k) {
            ITicketBroker.SignedTicket memory drain = _hotTo(thieves[k], 10 ether, k);
            _expectRedeemRevert(thieves[k], drain, ITicketBroker.TicketUnauthorizedSigner.selector);
            ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
            (sts[0], sts[1]) = (drain, _hotTo(thieves[k], 0.5 ether, k + 10));
            ITicketBroker.RedeemStatus[] memory statuses = _batch(thieves[k], sts);
            assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.UnauthorizedSigner));
            assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.UnauthorizedSigner));
            assertEq(token.balanceOf(thieves[k]), 0, "the thief got nothing");
        }
        assertEq(staking.pendingFees(o2), 0);
        assertEq(token.balanceOf(address(broker)), brokerBalance, "nothing left the broker");
        assertEq(broker.getSenderInfo(sender).deposit, 10 ether);
        (,, uint256 spent,,) = broker.signerGrant(sender, hot);
        assertEq(spent, 0, "refused tickets spend nothing");
        _redeem(o, _hotTo(o, 1 ether, 0)); // A's tickets still pay
        assertEq(staking.pendingFees(o), 1 ether);
    }

    /// @notice The same drain to the bound recipient itself (the page's own broadcaster, cheating its
    ///         viewer): the whole-deposit ticket is refused, tickets within the cap pay, and the funder
    ///         loses at most the cap, however the tickets are split, single or batched.
    function test_Attack_LeakedKeyTakesAtMostTheCap() public {
        _grantTo(o, 3 ether);
        _expectRedeemRevert(o, _hotTo(o, 10 ether, 0), ITicketBroker.TicketUnauthorizedSigner.selector);
        _redeem(o, _hotTo(o, 2 ether, 1));
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](5);
        for (uint256 i; i < 5; ++i) {
            sts[i] = _hotTo(o, 0.4 ether, 2 + i);
        }
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        for (uint256 i; i < 5; ++i) {
            // 2 + 0.4 + 0.4 = 2.8 ether; a third 0.4 would make 3.2
            assertEq(
                uint256(statuses[i]),
                uint256(i < 2 ? ITicketBroker.RedeemStatus.Redeemed : ITicketBroker.RedeemStatus.UnauthorizedSigner)
            );
        }
        _redeem(o, _hotTo(o, 0.2 ether, 7)); // exactly what is left
        _expectRedeemRevert(o, _hotTo(o, 1, 8), ITicketBroker.TicketUnauthorizedSigner.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 7 ether, "the funder lost exactly the cap");
        assertEq(staking.pendingFees(o), 3 ether);
    }

    /// @notice The broadcaster holds a second grant the viewer signed (the next nonce, e.g. a renewal
    ///         of the page's budget) and relays it once the first is spent: spent starts again from 0,
    ///         so the viewer's exposure is the sum of the caps it signed and that were relayed, no
    ///         more. cancelSignerGrants (or revokeSigner) kills the held one before it is relayed.
    function test_Attack_HeldSecondGrantIsASecondBudgetOnly() public {
        _grantTo(o, 2 ether);
        Grant memory second = _grant(sender, hot, o, 1 ether, 10);
        bytes memory secondSig = _signGrant(senderKey, second);
        _redeem(o, _hotTo(o, 2 ether, 0));
        uint256 snap = vm.snapshotState();
        _relay(relayer, second, secondSig);
        _expectRedeemRevert(o, _hotTo(o, 2 ether, 1), ITicketBroker.TicketUnauthorizedSigner.selector);
        _redeem(o, _hotTo(o, 1 ether, 1));
        _expectRedeemRevert(o, _hotTo(o, 1, 2), ITicketBroker.TicketUnauthorizedSigner.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 7 ether, "2 + 1 ether, the two caps");
        _expectRelayRevert(relayer, second, secondSig, invalidSig); // and only once
        vm.revertToState(snap);
        vm.prank(sender);
        broker.cancelSignerGrants();
        _expectRelayRevert(relayer, second, secondSig, invalidSig);
        _expectRedeemRevert(o, _hotTo(o, 1, 1), ITicketBroker.TicketUnauthorizedSigner.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 8 ether);
    }

    /// @notice The hot key, or the broadcaster, tries to widen the grant: another recipient, a higher
    ///         cap, relayed with the funder's signature of the original: refused. Redeeming through
    ///         the recipient's redeemer changes nothing either: the cap is the key's, not the caller's.
    function test_Attack_WideningTheGrantOrRedeemingThroughAnotherPath() public {
        Grant memory g = _grant(sender, hot, o, 1 ether, 10);
        bytes memory sig = _signGrant(senderKey, g);
        Grant memory wider = _grant(sender, hot, mallory, 1 ether, 10);
        _expectRelayRevert(mallory, wider, sig, invalidSig);
        wider = _grant(sender, hot, o, 100 ether, 10);
        _expectRelayRevert(relayer, wider, sig, invalidSig);
        _expectRelayRevert(hot, wider, _signGrant(hotKey, wider), invalidSig);
        _relay(relayer, g, sig);
        address redeemerKey = makeAddr("redeemerKey");
        vm.prank(o);
        staking.setRedeemer(redeemerKey);
        ITicketBroker.SignedTicket memory first = _hotTo(o, 0.6 ether, 0);
        ITicketBroker.SignedTicket memory second = _hotTo(o, 0.6 ether, 1);
        vm.prank(redeemerKey);
        broker.redeemWinningTicketFor(o, first);
        vm.prank(redeemerKey);
        vm.expectRevert(ITicketBroker.TicketUnauthorizedSigner.selector);
        broker.redeemWinningTicketFor(o, second);
        _redeem(o, _hotTo(o, 0.4 ether, 1));
        (,, uint256 spent,,) = broker.signerGrant(sender, hot);
        assertEq(spent, 1 ether);
    }
}
