// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Fixture} from "./Fixture.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Helpers shared by the TicketBroker unit, fuzz and vector tests: ticket construction, an
///         independent EIP-712 digest, redemption outcome probes and state snapshots.
abstract contract BrokerTestBase is Fixture {
    string internal constant TICKET_TYPE =
        "Ticket(address recipient,address sender,address signer,uint256 faceValue,uint256 winProb,uint256 senderNonce,bytes32 recipientRandHash,uint256 creationRound)";
    bytes32 internal constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    string internal constant SIGNER_GRANT_TYPE =
        "SignerGrant(address funder,address signer,address recipient,uint256 maxSpend,uint256 untilRound,uint256 nonce,uint256 deadline)";
    bytes32 internal constant RAND = keccak256("recipientRand");
    uint256 internal constant ALWAYS = type(uint256).max;

    address internal sender;
    uint256 internal senderKey;
    address internal hot;
    uint256 internal hotKey;
    /// @dev The recipient and cap `_grant(funder, signer, untilRound)` binds (tests that redeem under a
    ///      grant set `grantTo` to their recipient).
    address internal grantTo;
    uint256 internal grantCap = 1000 ether;

    function setUp() public virtual override {
        super.setUp();
        (sender, senderKey) = makeAddrAndKey("sender");
        (hot, hotKey) = makeAddrAndKey("hot");
        grantTo = makeAddr("grantRecipient");
    }

    /* TICKETS */

    function _t(
        address recipient,
        address from,
        address signer,
        uint256 faceValue,
        uint256 winProb,
        uint256 nonce,
        bytes32 rand,
        uint256 creationRound
    ) internal pure returns (ITicketBroker.Ticket memory) {
        return ITicketBroker.Ticket({
            recipient: recipient,
            sender: from,
            signer: signer,
            faceValue: faceValue,
            winProb: winProb,
            senderNonce: nonce,
            recipientRandHash: keccak256(abi.encodePacked(rand)),
            creationRound: creationRound
        });
    }

    /// @dev An always-winning ticket from `sender` signed by itself, created this round, signed.
    function _signedBy(address recipient, uint256 faceValue, uint256 nonce)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        return
            sign(senderKey, _t(recipient, sender, sender, faceValue, ALWAYS, nonce, RAND, broker.currentRound()), RAND);
    }

    /// @dev Like `_signedBy` with an explicit creation round.
    function _signedAt(address recipient, uint256 faceValue, uint256 nonce, uint256 creationRound)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        return sign(senderKey, _t(recipient, sender, sender, faceValue, ALWAYS, nonce, RAND, creationRound), RAND);
    }

    /// @dev The EIP-712 digest computed in the test, independently of the broker.
    function _digest(ITicketBroker.Ticket memory t, address verifyingContract) internal view returns (bytes32) {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH,
                keccak256(bytes("peerflow TicketBroker")),
                keccak256(bytes("1")),
                block.chainid,
                verifyingContract
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(bytes(TICKET_TYPE)),
                t.recipient,
                t.sender,
                t.signer,
                t.faceValue,
                t.winProb,
                t.senderNonce,
                t.recipientRandHash,
                t.creationRound
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    function _digest(ITicketBroker.Ticket memory t) internal view returns (bytes32) {
        return _digest(t, address(broker));
    }

    /// @dev The lottery draw computed in the test: keccak256 of the 65-byte signature, then rand.
    function _wins(bytes32 r, bytes32 s, uint8 v, bytes32 rand, uint256 winProb) internal pure returns (bool) {
        return uint256(keccak256(abi.encodePacked(r, s, v, rand))) < winProb;
    }

    /// @dev Sets a recipientRand (and its hash) on `t` so that the ticket, signed by `t.signer` (the
    ///      sender's or the hot key), wins (`win`) or loses.
    function _pickRand(ITicketBroker.Ticket memory t, bool win) internal view returns (bytes32 rand) {
        uint256 key = t.signer == hot ? hotKey : senderKey;
        for (uint256 i;; ++i) {
            rand = keccak256(abi.encode("rand", i));
            t.recipientRandHash = keccak256(abi.encodePacked(rand));
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _digest(t));
            if (_wins(r, s, v, rand, t.winProb) == win) return rand;
        }
    }

    /* SIGNER GRANTS */

    /// @dev A signer grant's fields, as the funder's wallet signs them.
    struct Grant {
        address funder;
        address signer;
        address recipient;
        uint256 maxSpend;
        uint256 untilRound;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The EIP-712 domain separator computed in the test, for any chain and broker.
    function _domainSeparator(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH,
                keccak256(bytes("peerflow TicketBroker")),
                keccak256(bytes("1")),
                chainId,
                verifyingContract
            )
        );
    }

    /// @dev A grant's EIP-712 digest computed in the test, independently of the broker.
    function _grantDigest(Grant memory g, uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(bytes(SIGNER_GRANT_TYPE)),
                g.funder,
                g.signer,
                g.recipient,
                g.maxSpend,
                g.untilRound,
                g.nonce,
                g.deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(chainId, verifyingContract), structHash));
    }

    /// @dev `funder`'s grant for `signer` to `grantTo`, capped at `grantCap`, until `untilRound`, with its
    ///      current nonce, relayable for an hour.
    function _grant(address funder, address signer, uint256 untilRound) internal view returns (Grant memory) {
        return _grant(funder, signer, grantTo, grantCap, untilRound);
    }

    /// @dev `funder`'s grant for `signer` to `recipient`, capped at `maxSpend`, until `untilRound`, with
    ///      its current nonce, relayable for an hour.
    function _grant(address funder, address signer, address recipient, uint256 maxSpend, uint256 untilRound)
        internal
        view
        returns (Grant memory)
    {
        return Grant(
            funder, signer, recipient, maxSpend, untilRound, broker.signerGrantNonce(funder), block.timestamp + 1 hours
        );
    }

    /// @dev `g` signed by `key` for this chain and broker: r ‖ s ‖ v (65 bytes, as eth_signTypedData_v4).
    function _signGrant(uint256 key, Grant memory g) internal view returns (bytes memory) {
        return _signGrantFor(key, g, block.chainid, address(broker));
    }

    function _signGrantFor(uint256 key, Grant memory g, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _grantDigest(g, chainId, verifyingContract));
        return abi.encodePacked(r, s, v);
    }

    /// @dev Relays `g` with `sig` as `relayer`.
    function _relay(address relayer, Grant memory g, bytes memory sig) internal {
        vm.prank(relayer);
        broker.authorizeSignerWithSig(g.funder, g.signer, g.recipient, g.maxSpend, g.untilRound, g.deadline, sig);
    }

    /// @dev Relays `g` with `sig` as `relayer`, expecting the revert `err` (full revert data).
    function _expectRelayRevert(address relayer, Grant memory g, bytes memory sig, bytes memory err) internal {
        vm.prank(relayer);
        vm.expectRevert(err);
        broker.authorizeSignerWithSig(g.funder, g.signer, g.recipient, g.maxSpend, g.untilRound, g.deadline, sig);
    }

    /* REDEMPTION */

    function _redeem(address recipient, ITicketBroker.SignedTicket memory st) internal {
        vm.prank(recipient);
        broker.redeemWinningTicket(st);
    }

    function _expectRedeemRevert(address recipient, ITicketBroker.SignedTicket memory st, bytes4 err) internal {
        vm.prank(recipient);
        vm.expectRevert(err);
        broker.redeemWinningTicket(st);
    }

    function _batch(address recipient, ITicketBroker.SignedTicket[] memory sts)
        internal
        returns (ITicketBroker.RedeemStatus[] memory)
    {
        vm.prank(recipient);
        return broker.redeemWinningTickets(sts);
    }

    /// @dev What a redemption of `st` by `recipient` would return now, without keeping its effects.
    function _statusOf(address recipient, ITicketBroker.SignedTicket memory st)
        internal
        returns (ITicketBroker.RedeemStatus status)
    {
        uint256 snap = vm.snapshotState();
        ITicketBroker.SignedTicket[] memory one = new ITicketBroker.SignedTicket[](1);
        one[0] = st;
        vm.prank(recipient);
        status = broker.redeemWinningTickets(one)[0];
        vm.revertToState(snap);
    }

    /* STATE */

    struct View {
        uint256 deposit;
        uint256 reserve;
        uint256 withdrawRound;
        bytes32 nonceRing; // hash of the 16 replay-ring slots of (signer, recipient)
        uint256 fees;
        uint256 brokerBalance;
        uint256 claimable;
    }

    function _view(address from, address signer, address recipient) internal view returns (View memory v) {
        ITicketBroker.SenderInfo memory info = broker.getSenderInfo(from);
        v.deposit = info.deposit;
        v.reserve = info.reserve;
        v.withdrawRound = info.withdrawRound;
        v.nonceRing = _ringHash(signer, recipient);
        v.fees = staking.pendingFees(recipient);
        v.brokerBalance = token.balanceOf(address(broker));
        v.claimable = broker.claimableReserve(from, recipient, broker.currentRound());
    }

    function _assertSame(View memory a, View memory b) internal pure {
        assertEq(a.deposit, b.deposit, "deposit");
        assertEq(a.reserve, b.reserve, "reserve");
        assertEq(a.withdrawRound, b.withdrawRound, "withdrawRound");
        assertEq(a.nonceRing, b.nonceRing, "nonce ring");
        assertEq(a.fees, b.fees, "fees");
        assertEq(a.brokerBalance, b.brokerBalance, "broker balance");
        assertEq(a.claimable, b.claimable, "claimable");
    }

    /// @dev Every slot of the replay ring of (signer, recipient), hashed: any change shows.
    function _ringHash(address signer, address recipient) internal view returns (bytes32 h) {
        for (uint256 i; i < 16; ++i) {
            (uint64 wordId, uint192 bits) = broker.nonceSlot(signer, recipient, i);
            h = keccak256(abi.encode(h, wordId, bits));
        }
    }

    /// @dev The paid-nonce bits of word `word` of (signer, recipient), or 0 when its slot holds another word.
    function _wordBits(address signer, address recipient, uint256 word) internal view returns (uint256) {
        (uint64 wordId, uint192 bits) = broker.nonceSlot(signer, recipient, word % 16);
        return wordId == word ? bits : 0;
    }

    function _one(ITicketBroker.SignedTicket memory st) internal pure returns (ITicketBroker.SignedTicket[] memory a) {
        a = new ITicketBroker.SignedTicket[](1);
        a[0] = st;
    }
}
