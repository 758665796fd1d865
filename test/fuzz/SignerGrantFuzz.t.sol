// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Issue 19: fuzzing of signer grants: bounds, deadlines, keys, altered fields, nonces and
///         their interplay with revokeSigner.
contract SignerGrantFuzzTest is BrokerTestBase {
    address internal relayer = makeAddr("relayer");

    function setUp() public override {
        super.setUp();
        rollRounds(5); // round 5: rounds before the current one exist
    }

    function _relayCall(Grant memory g, bytes memory sig) internal returns (bool ok, bytes memory err) {
        vm.prank(relayer);
        (ok, err) = address(broker)
            .call(
                abi.encodeCall(
                    ITicketBroker.authorizeSignerWithSig,
                    (g.funder, g.signer, g.recipient, g.maxSpend, g.untilRound, g.deadline, sig)
                )
            );
    }

    /// @notice A relayed grant authorizes exactly the creation rounds below its untilRound, whatever
    ///         the signer had before (nothing, unlimited, revoked, another grant).
    function testFuzz_Grant_AuthorizesExactlyTheRoundsBeforeUntilRound(
        uint256 untilRound,
        uint256 probe,
        uint8 before,
        address signer
    ) public {
        vm.assume(signer != sender && signer != address(0));
        uint256 round = broker.currentRound();
        untilRound = _bound(untilRound, round + 1, type(uint64).max);
        probe = _bound(probe, 0, type(uint64).max);
        if (before % 4 == 1) {
            vm.prank(sender);
            broker.authorizeSigner(signer);
        } else if (before % 4 == 2) {
            vm.startPrank(sender);
            broker.authorizeSigner(signer);
            broker.revokeSigner(signer);
            vm.stopPrank();
        } else if (before % 4 == 3) {
            Grant memory earlier = _grant(sender, signer, round + 1 + before);
            _relay(relayer, earlier, _signGrant(senderKey, earlier));
        }
        Grant memory g = _grant(sender, signer, untilRound);
        _relay(relayer, g, _signGrant(senderKey, g));
        assertEq(broker.isAuthorizedSigner(sender, signer, probe), probe < untilRound);
        assertTrue(broker.isAuthorizedSigner(sender, signer, round), "the current round is always covered");
    }

    /// @notice Only untilRound in (currentRound, 2^64) is accepted; a refusal uses no nonce.
    function testFuzz_Grant_UntilRoundRange(uint256 untilRound) public {
        uint256 round = broker.currentRound();
        Grant memory g = _grant(sender, hot, untilRound);
        (bool ok, bytes memory err) = _relayCall(g, _signGrant(senderKey, g));
        bool valid = untilRound > round && untilRound <= type(uint64).max;
        assertEq(ok, valid);
        if (!valid) {
            assertEq(err, abi.encodeWithSelector(ITicketBroker.SignerGrantRoundOutOfRange.selector, untilRound, round));
        }
        assertEq(broker.signerGrantNonce(sender), valid ? 1 : 0);
    }

    /// @notice A grant relays at any time up to its deadline, never after.
    function testFuzz_Grant_Deadline(uint256 deadline, uint256 relayAt) public {
        deadline = _bound(deadline, block.timestamp, type(uint64).max);
        relayAt = _bound(relayAt, block.timestamp, type(uint64).max);
        Grant memory g = _grant(sender, hot, broker.currentRound() + 1);
        g.deadline = deadline;
        bytes memory sig = _signGrant(senderKey, g);
        vm.warp(relayAt);
        (bool ok, bytes memory err) = _relayCall(g, sig);
        assertEq(ok, relayAt <= deadline);
        if (!ok) assertEq(err, abi.encodeWithSelector(ITicketBroker.SignerGrantExpired.selector, deadline, relayAt));
    }

    /// @notice A grant for `sender` signed by any other key is refused.
    function testFuzz_Grant_AnyOtherKeyIsRefused(uint256 key) public {
        key = _bound(key, 1, SECP256K1_N - 1);
        vm.assume(key != senderKey);
        Grant memory g = _grant(sender, hot, broker.currentRound() + 2);
        (bool ok, bytes memory err) = _relayCall(g, _signGrant(key, g));
        assertFalse(ok);
        assertEq(err, abi.encodeWithSelector(ITicketBroker.SignerGrantInvalidSignature.selector));
        assertFalse(broker.isAuthorizedSigner(sender, hot, broker.currentRound()));
    }

    /// @notice Changing any signed field (funder, signer, recipient, maxSpend, untilRound, deadline) or
    ///         the nonce it was signed with invalidates the signature.
    function testFuzz_Grant_AnyAlteredFieldIsRefused(uint8 field, uint256 delta) public {
        delta = _bound(delta, 1, 1000);
        uint256 round = broker.currentRound();
        Grant memory g = _grant(sender, hot, round + 1 + 1000);
        Grant memory signed = Grant(g.funder, g.signer, g.recipient, g.maxSpend, g.untilRound, g.nonce, g.deadline);
        field %= 7;
        if (field == 0) signed.funder = address(uint160(sender) ^ uint160(delta));
        else if (field == 1) signed.signer = address(uint160(hot) ^ uint160(delta));
        else if (field == 2) signed.untilRound += delta;
        else if (field == 3) signed.deadline += delta;
        else if (field == 4) signed.recipient = address(uint160(g.recipient) ^ uint160(delta));
        else if (field == 5) signed.maxSpend += delta;
        else signed.nonce += delta;
        (bool ok, bytes memory err) = _relayCall(g, _signGrant(senderKey, signed));
        assertFalse(ok);
        assertEq(err, abi.encodeWithSelector(ITicketBroker.SignerGrantInvalidSignature.selector));
    }

    /// @notice After any sequence of relays, cancellations and revocations, the nonce counts them,
    ///         and only a grant carrying exactly the current nonce relays.
    function testFuzz_Grant_NonceCountsEveryUse(uint8 relays, uint8 cancels, uint8 revokes, uint256 signedWith) public {
        relays = uint8(_bound(relays, 0, 5));
        cancels = uint8(_bound(cancels, 0, 5));
        revokes = uint8(_bound(revokes, 0, 5));
        uint256 round = broker.currentRound();
        for (uint256 i; i < relays; ++i) {
            Grant memory g = _grant(sender, hot, round + 10);
            _relay(relayer, g, _signGrant(senderKey, g));
        }
        vm.startPrank(sender);
        for (uint256 i; i < cancels; ++i) {
            broker.cancelSignerGrants();
        }
        for (uint256 i; i < revokes; ++i) {
            address key = address(uint160(0xbeef + i));
            broker.authorizeSigner(key);
            broker.revokeSigner(key);
        }
        vm.stopPrank();
        uint256 expected = uint256(relays) + cancels + revokes;
        assertEq(broker.signerGrantNonce(sender), expected);
        signedWith = _bound(signedWith, 0, expected + 3);
        Grant memory probe = _grant(sender, makeAddr("probe"), round + 1);
        probe.nonce = signedWith;
        (bool ok,) = _relayCall(probe, _signGrant(senderKey, probe));
        assertEq(ok, signedWith == expected);
    }

    /// @notice revokeSigner on a granted key: it succeeds iff the grant ends after the next round, and
    ///         then it ends at the next round.
    function testFuzz_RevokeSigner_OnAGrantedKey(uint256 untilRound, uint256 roundsLater) public {
        uint256 round = broker.currentRound();
        untilRound = _bound(untilRound, round + 1, round + 20);
        roundsLater = _bound(roundsLater, 0, 25);
        Grant memory g = _grant(sender, hot, untilRound);
        _relay(relayer, g, _signGrant(senderKey, g));
        rollRounds(roundsLater);
        uint256 now_ = broker.currentRound();
        vm.prank(sender);
        (bool ok,) = address(broker).call(abi.encodeCall(ITicketBroker.revokeSigner, (hot)));
        assertEq(ok, untilRound > now_ + 1);
        uint256 end = ok ? now_ + 1 : untilRound;
        assertTrue(broker.isAuthorizedSigner(sender, hot, end - 1));
        assertFalse(broker.isAuthorizedSigner(sender, hot, end));
        assertEq(broker.signerGrantNonce(sender), ok ? 2 : 1);
    }
    // testFuzz_CappedGrant_TotalPaidNeverExceedsMaxSpend's model (reset with the state between runs)
    uint256 internal paidUnderGrant; // what the grant has paid, ticket after ticket
    uint256[2] internal hotNonces; // next nonce to the bound recipient, to the other one

    /// @notice Under a grant bound to `a` and capped at `maxSpend`, any sequence of hot-key tickets
    ///         (face values up to 20 ether, to `a` or to another recipient, redeemed one by one or in
    ///         batches) pays exactly the tickets to `a` that fit in what the cap leaves, in order:
    ///         the total paid never exceeds `maxSpend`, nothing reaches anyone else, and `spent` is
    ///         the total paid.
    function testFuzz_CappedGrant_TotalPaidNeverExceedsMaxSpend(uint256 maxSpend, uint256 seed, uint8 count) public {
        address a = makeAddr("boundRecipient"); // never registered: paid directly
        address b = makeAddr("otherRecipient");
        fundSender(sender, 100 ether, 0);
        maxSpend = _bound(maxSpend, 1, 60 ether);
        count = uint8(_bound(count, 1, 24));
        Grant memory g = _grant(sender, hot, a, maxSpend, broker.currentRound() + 3);
        _relay(relayer, g, _signGrant(senderKey, g));
        for (uint256 i; i < count;) {
            i += _cappedStep(a, b, maxSpend, uint256(keccak256(abi.encode(seed, i))), count - i);
        }
        uint256 paid = paidUnderGrant;
        (,, uint256 spent,,) = broker.signerGrant(sender, hot);
        assertEq(spent, paid, "spent is what was paid");
        assertLe(paid, maxSpend, "paid above the cap");
        assertEq(token.balanceOf(a), paid, "the bound recipient got what was paid");
        assertEq(token.balanceOf(b), 0, "another recipient got something");
        assertEq(broker.getSenderInfo(sender).deposit, 100 ether - paid);
    }

    /// @dev One redemption of up to `left` hot-key tickets drawn from `h`, to `a` or `b`: a single ticket
    ///      or a batch of 1-3; checks each outcome against the model. Returns the tickets used.
    function _cappedStep(address a, address b, uint256 maxSpend, uint256 h, uint256 left) internal returns (uint256 n) {
        bool toA = h % 4 != 0;
        address to = toA ? a : b;
        bool single = h >> 8 & 1 == 0;
        n = single ? 1 : 1 + (h >> 16) % 3;
        if (n > left) n = left;
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](n);
        bool[] memory pays = new bool[](n);
        for (uint256 k; k < n; ++k) {
            uint256 face = 1 + uint256(keccak256(abi.encode(h, k))) % 20 ether;
            uint256 nonce = hotNonces[toA ? 0 : 1]++;
            sts[k] = sign(hotKey, _t(to, sender, hot, face, ALWAYS, nonce, RAND, broker.currentRound()), RAND);
            pays[k] = toA && paidUnderGrant + face <= maxSpend;
            if (pays[k]) paidUnderGrant += face;
        }
        if (single) {
            vm.prank(to);
            (bool ok, bytes memory err) =
                address(broker).call(abi.encodeCall(ITicketBroker.redeemWinningTicket, (sts[0])));
            assertEq(ok, pays[0], "single ticket");
            if (!ok) assertEq(err, abi.encodeWithSelector(ITicketBroker.TicketUnauthorizedSigner.selector));
            return n;
        }
        ITicketBroker.RedeemStatus[] memory statuses = _batch(to, sts);
        for (uint256 k; k < n; ++k) {
            ITicketBroker.RedeemStatus want =
                pays[k] ? ITicketBroker.RedeemStatus.Redeemed : ITicketBroker.RedeemStatus.UnauthorizedSigner;
            assertEq(uint256(statuses[k]), uint256(want), "batch ticket");
        }
    }

    /// @notice A relayed grant sets its recipient and cap exactly and spent to 0, whatever the key had
    ///         (nothing, unlimited, another grant partly spent); authorizeSigner then clears them all.
    function testFuzz_Grant_SetsExactlyItsBounds(address recipient, uint256 maxSpend, uint256 spentBefore, uint8 before)
        public
    {
        vm.assume(recipient != address(0));
        maxSpend = _bound(maxSpend, 1, type(uint128).max);
        uint256 round = broker.currentRound();
        address a = makeAddr("earlierRecipient");
        if (before % 3 == 1) {
            vm.prank(sender);
            broker.authorizeSigner(hot);
        } else if (before % 3 == 2) {
            fundSender(sender, 10 ether, 0);
            spentBefore = _bound(spentBefore, 1, 10 ether);
            Grant memory earlier = _grant(sender, hot, a, 10 ether, round + 2);
            _relay(relayer, earlier, _signGrant(senderKey, earlier));
            ITicketBroker.SignedTicket memory st =
                sign(hotKey, _t(a, sender, hot, spentBefore, ALWAYS, 0, RAND, round), RAND);
            vm.prank(a);
            broker.redeemWinningTicket(st);
            (,, uint256 spent,,) = broker.signerGrant(sender, hot);
            assertEq(spent, spentBefore);
        }
        Grant memory g = _grant(sender, hot, recipient, maxSpend, round + 1);
        _relay(relayer, g, _signGrant(senderKey, g));
        (address r, uint256 m, uint256 sp, uint256 u, bool ok) = broker.signerGrant(sender, hot);
        assertEq(abi.encode(r, m, sp, u, ok), abi.encode(recipient, maxSpend, 0, round + 1, true));
        vm.prank(sender);
        broker.authorizeSigner(hot);
        (r, m, sp, u, ok) = broker.signerGrant(sender, hot);
        assertEq(abi.encode(r, m, sp, u, ok), abi.encode(address(0), 0, 0, 0, true));
    }
}
