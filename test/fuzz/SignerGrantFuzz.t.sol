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
                    ITicketBroker.authorizeSignerWithSig, (g.funder, g.signer, g.untilRound, g.deadline, sig)
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

    /// @notice Changing any signed field (funder, signer, untilRound, deadline) or the nonce it was
    ///         signed with invalidates the signature.
    function testFuzz_Grant_AnyAlteredFieldIsRefused(uint8 field, uint256 delta) public {
        delta = _bound(delta, 1, 1000);
        uint256 round = broker.currentRound();
        Grant memory g = _grant(sender, hot, round + 1 + 1000);
        Grant memory signed = Grant(g.funder, g.signer, g.untilRound, g.nonce, g.deadline);
        field %= 5;
        if (field == 0) signed.funder = address(uint160(sender) ^ uint160(delta));
        else if (field == 1) signed.signer = address(uint160(hot) ^ uint160(delta));
        else if (field == 2) signed.untilRound += delta;
        else if (field == 3) signed.deadline += delta;
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
}
