// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice A token that keeps 1% of every transfer between two holders (a fee-on-transfer token).
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee", "FEE") {
        _mint(msg.sender, 1_000_000 ether);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0xFEE), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}

/// @notice Issue 14: the attacks on the TicketBroker, each played through the broker's real interface
///         by the party that would gain, with the safe outcome asserted (balances included).
contract TicketBrokerAttacksTest is BrokerTestBase {
    address internal o;
    uint256 internal constant ONE_IN_256 = type(uint256).max / 256;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("attacker-o", 100 ether, 0, 0);
        nextRound(); // round 1: o active
    }

    /* CRITICAL 1: GRINDING recipientRand */

    /// @dev The draw of the previous broker, which the recipient could compute before committing.
    function _oldDraw(bytes32 rand, bytes32 ticketHash) internal pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(rand, ticketHash)));
    }

    /// @notice The recipient knows every field of the next ticket (sender, signer, face value,
    ///         winProb, the sequential nonce, the round) before it commits to recipientRandHash. It
    ///         grinds recipientRand offline until the ticket it will receive wins, commits, gets the
    ///         ticket signed and redeems. On the previous broker (draw = keccak(rand ‖ ticketHash)) every
    ///         one of the 256 tickets won at winProb 1/256: the sender paid 256x. Now the draw reads the
    ///         sender's signature, unknown at commit time: the grinder wins at the stated rate.
    function test_Attack_RecipientGrindsRecipientRand_WinsOnlyAtTheStatedRate() public {
        uint256 n = 256;
        uint256 face = 1 ether;
        fundSender(sender, n * face, 0);
        uint256 wins;
        uint256 groundToWinOnOldDraw;
        for (uint256 i; i < n; ++i) {
            ITicketBroker.Ticket memory t = _t(o, sender, sender, face, ONE_IN_256, i, bytes32(0), 1);
            // Offline: the best the recipient can do with what it knows before committing.
            bytes32 rand = this.grind(t, i);
            t.recipientRandHash = keccak256(abi.encodePacked(rand));
            if (_oldDraw(rand, _digest(t)) < ONE_IN_256) ++groundToWinOnOldDraw;
            // Commit; the sender signs the ticket it is quoted; the recipient redeems.
            ITicketBroker.SignedTicket memory st = sign(senderKey, t, rand);
            bool ok = _try(o, st);
            if (ok) ++wins;
        }
        assertEq(groundToWinOnOldDraw, n, "every ticket would have won on the old draw");
        // Binomial(256, 1/256): mean 1; P(wins > 8) < 1e-6. The old draw gave 256.
        assertLe(wins, 8, "grinding recipientRand does not beat the stated win probability");
        assertEq(broker.getSenderInfo(sender).deposit, (n - wins) * face, "paid only the winners");
        assertEq(staking.pendingFees(o), wins * face);
    }

    /// @dev The recipient's offline search (an external call so that its memory is released).
    function grind(ITicketBroker.Ticket memory t, uint256 i) external view returns (bytes32 rand) {
        for (uint256 j;; ++j) {
            rand = keccak256(abi.encode("grind", i, j));
            t.recipientRandHash = keccak256(abi.encodePacked(rand));
            if (_oldDraw(rand, _digest(t)) < ONE_IN_256) return rand;
        }
    }

    /// @notice The honest draw still wins at about winProb (so the fix did not simply stop paying).
    function test_Attack_Grinding_HonestRateStillHolds() public {
        uint256 n = 256;
        fundSender(sender, n, 0);
        uint256 oneIn8 = type(uint256).max / 8;
        uint256 wins;
        for (uint256 i; i < n; ++i) {
            bytes32 rand = keccak256(abi.encode("honest", i));
            ITicketBroker.Ticket memory t = _t(o, sender, sender, 1, oneIn8, i, rand, 1);
            bool ok = _try(o, sign(senderKey, t, rand));
            if (ok) ++wins;
        }
        // Binomial(256, 1/8): mean 32, sd 5.3; the bounds are more than 3.5 sd away.
        assertGe(wins, 13);
        assertLe(wins, 51);
        assertEq(broker.getSenderInfo(sender).deposit, n - wins);
    }

    /// @notice A recipient that re-encodes a losing ticket's signature (high-s twin, yParity v, v
    ///         flipped) to get another draw gets none: non-canonical encodings never win or verify.
    function test_Attack_ReencodedSignatureGivesNoSecondDraw() public {
        fundSender(sender, 10 ether, 0);
        uint256 half = type(uint256).max / 2;
        // Find a ticket whose canonical draw loses while its high-s twin's raw draw would win.
        for (uint256 i;; ++i) {
            bytes32 rand = keccak256(abi.encode("twin", i));
            ITicketBroker.Ticket memory t = _t(o, sender, sender, 1 ether, half, i, rand, 1);
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(senderKey, broker.hashTicket(t));
            if (_wins(r, s, v, rand, half)) continue;
            uint8 flipped = v == 27 ? 28 : 27;
            bytes32 highS = bytes32(SECP256K1_N - uint256(s));
            if (!_wins(r, highS, flipped, rand, half)) continue;

            assertEq(ecrecover(broker.hashTicket(t), flipped, r, highS), sender, "the twin is a valid ECDSA signature");
            assertFalse(broker.isWinningTicket(r, highS, flipped, rand, half), "the twin never wins");
            _expectRedeemRevert(o, pack(t, rand, flipped, r, highS), ITicketBroker.TicketInvalidSignature.selector);
            _expectRedeemRevert(o, pack(t, rand, v, r, s), ITicketBroker.TicketNotWinning.selector);
            if (_wins(r, s, v - 27, rand, half)) {
                _expectRedeemRevert(o, pack(t, rand, v - 27, r, s), ITicketBroker.TicketInvalidSignature.selector);
            }
            assertEq(broker.getSenderInfo(sender).deposit, 10 ether, "nothing paid");
            return;
        }
    }

    /* MEDIUM: SYBIL CLAIMANTS ON THE RESERVE */

    /// @notice A sender's two sybil orchestrators, active in the ticket's round and gone since, used to
    ///         draw reserve / (active count) each in the next round — the whole reserve — ahead of the
    ///         two honest active orchestrators. Departed claimants now count in the divisor: each
    ///         claimant, sybil or honest, gets at most reserve / 4, and the honest ones are paid.
    function test_Attack_SybilDepartedClaimantsCannotDrainTheReserve() public {
        address h1 = newOrchestrator("honest1", 10 ether, 0, 0);
        address h2 = newOrchestrator("honest2", 10 ether, 0, 0);
        address s1 = newOrchestrator("sybil1", 10 ether, 0, 0);
        address s2 = newOrchestrator("sybil2", 10 ether, 0, 0);
        vm.prank(o);
        staking.unbond(100 ether); // the fixture's orchestrator leaves: 4 remain
        uint256 reserve = 40 ether;
        fundSender(sender, 0, reserve);
        nextRound(); // round 2: h1, h2, s1, s2 active
        uint256 round = staking.currentRound();
        assertTrue(staking.isActive(s1, round) && staking.isActive(s2, round));

        // The sender signs large tickets to its sybils in round 2, then they leave the active set.
        ITicketBroker.SignedTicket memory toS1 = _signedAt(s1, reserve / 2, 0, round);
        ITicketBroker.SignedTicket memory toS2 = _signedAt(s2, reserve / 2, 0, round);
        vm.prank(s1);
        staking.unbond(9.5 ether);
        vm.prank(s2);
        staking.unbond(9.5 ether);
        nextRound(); // round 3: h1, h2 active; s1, s2 still eligible for their round-2 tickets
        assertFalse(staking.isActive(s1, round + 1));

        uint256 share = reserve / 4;
        assertEq(broker.claimableReserve(sender, s1, round), share, "a departed sybil gets one share");
        // Before: 40 / 2 active each, so these two took the whole reserve.
        _expectRedeemRevert(s1, toS1, ITicketBroker.TicketInsufficientFunds.selector);
        _expectRedeemRevert(s2, toS2, ITicketBroker.TicketInsufficientFunds.selector);
        // Even tickets of exactly one share each leave the honest orchestrators theirs.
        _redeem(s1, _signedAt(s1, share, 1, round));
        _redeem(s2, _signedAt(s2, share, 1, round));
        assertEq(broker.claimableReserve(sender, h1, round + 1), share);
        assertEq(broker.claimableReserve(sender, h2, round + 1), share);
        _redeem(h1, _signedAt(h1, share, 0, round + 1));
        _redeem(h2, _signedAt(h2, share, 0, round + 1));
        assertEq(staking.pendingFees(h1), share, "honest h1 paid its guaranteed share");
        assertEq(staking.pendingFees(h2), share, "honest h2 paid its guaranteed share");
        assertEq(broker.getSenderInfo(sender).reserve, 0);
    }

    /* MEDIUM: BATCH SKIP BURNING A NONCE / ISSUE 16: REDEMPTION ORDER */

    /// @notice A sender whose deposit cannot cover its first winner used to see that winner burned by
    ///         its own later, smaller winner in the same batch (the nonce floor moved past it). The
    ///         skipped winner now stays redeemable and pays once the sender is funded.
    function test_Attack_BatchSkipNoLongerBurnsAnEarlierWinner() public {
        fundSender(sender, 1 ether, 0);
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(o, 5 ether, 0);
        sts[1] = _signedBy(o, 1 ether, 1);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.InsufficientFunds));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertFalse(broker.isNonceUsed(sender, o, 0));
        fundSender(sender, 5 ether, 0);
        _redeem(o, sts[0]);
        assertEq(staking.pendingFees(o), 6 ether, "both winners paid");
        assertEq(broker.getSenderInfo(sender).deposit, 0);
    }

    /// @notice Issue 16: with old and new ticket parameters overlapping, the winner of the newer
    ///         parameters (higher nonce) can be due first; redeeming it used to make the older winner
    ///         "nonce used". Replay protection is per nonce: both pay, in either order, once each.
    function test_Attack_LaterNonceRedeemedFirstLosesNoWinner() public {
        fundSender(sender, 10 ether, 0);
        bytes32 oldRand = keccak256("old params");
        bytes32 newRand = keccak256("new params");
        ITicketBroker.SignedTicket memory early =
            sign(senderKey, _t(o, sender, sender, 2 ether, ALWAYS, 7, oldRand, 1), oldRand);
        ITicketBroker.SignedTicket memory late =
            sign(senderKey, _t(o, sender, sender, 3 ether, ALWAYS, 900, newRand, 1), newRand);
        _redeem(o, late);
        _redeem(o, early);
        _expectRedeemRevert(o, early, ITicketBroker.TicketNonceUsed.selector);
        _expectRedeemRevert(o, late, ITicketBroker.TicketNonceUsed.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 5 ether, "each winner paid exactly once");
        assertEq(staking.pendingFees(o), 5 ether);
    }

    /* REPLAY WINDOW: 16 WORDS OF 192 NONCES PER (signer, recipient) */

    uint256 internal constant WORD = 192;

    /// @dev The ticket with nonce `nonce`, always winning, signed by the sender.
    function _at(uint256 nonce) internal view returns (ITicketBroker.SignedTicket memory) {
        return _signedBy(o, 1 ether, nonce);
    }

    /// @notice The recipient replays every ticket it was paid for, spread over the whole window (one
    ///         per word, first and last bits of the words, the newest last): each is refused as used
    ///         and nothing more is paid.
    function test_Attack_ReplayAnywhereInTheWindowIsRefused() public {
        fundSender(sender, 100 ether, 0);
        uint256[] memory nonces = new uint256[](18);
        for (uint256 w; w < 16; ++w) {
            nonces[w] = (100 + w) * WORD + (w % 2 == 0 ? 0 : WORD - 1);
        }
        nonces[16] = 115 * WORD + 77; // a second nonce in the newest word
        nonces[17] = 100 * WORD + 5; // and one in the oldest word of the window
        for (uint256 i; i < nonces.length; ++i) {
            _redeem(o, _at(nonces[i]));
        }
        assertEq(staking.pendingFees(o), 18 ether);
        View memory before = _view(sender, sender, o);
        for (uint256 i; i < nonces.length; ++i) {
            _expectRedeemRevert(o, _at(nonces[i]), ITicketBroker.TicketNonceUsed.selector);
            assertEq(uint8(_statusOf(o, _at(nonces[i]))), uint8(ITicketBroker.RedeemStatus.NonceUsed));
        }
        ITicketBroker.SignedTicket[] memory again = new ITicketBroker.SignedTicket[](nonces.length);
        for (uint256 i; i < nonces.length; ++i) {
            again[i] = _at(nonces[i]);
        }
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, again);
        for (uint256 i; i < nonces.length; ++i) {
            assertEq(uint8(statuses[i]), uint8(ITicketBroker.RedeemStatus.NonceUsed));
        }
        _assertSame(before, _view(sender, sender, o));
        assertEq(staking.pendingFees(o), 18 ether, "nothing paid twice");
    }

    /// @notice A winner older than the window (its word's slot was taken by a word 16 later) is
    ///         refused with TicketNonceTooOld, alone or in a batch, and moves no funds; the boundary
    ///         is exact: 15 words back still pays.
    function test_Attack_NonceOlderThanTheWindowIsRefusedAndPaysNothing() public {
        fundSender(sender, 10 ether, 0);
        _redeem(o, _at(40 * WORD + 3)); // newest word: 40; window: words 25..40
        ITicketBroker.SignedTicket memory tooOld = _at(24 * WORD + 191); // slot 8, taken by word 40
        View memory before = _view(sender, sender, o);
        uint256 feesBefore = staking.pendingFees(o);
        assertEq(uint8(broker.nonceState(sender, o, 24 * WORD + 191)), uint8(ITicketBroker.NonceState.TooOld));
        _expectRedeemRevert(o, tooOld, ITicketBroker.TicketNonceTooOld.selector);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, o, 24 * WORD + 191, ITicketBroker.RedeemStatus.NonceTooOld);
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, _one(tooOld));
        assertEq(uint8(statuses[0]), uint8(ITicketBroker.RedeemStatus.NonceTooOld));
        _expectRedeemRevert(o, _at(8 * WORD), ITicketBroker.TicketNonceTooOld.selector); // 32 words back
        _assertSame(before, _view(sender, sender, o));
        assertEq(staking.pendingFees(o), feesBefore, "a too-old winner pays nothing");

        _redeem(o, _at(25 * WORD)); // 15 words back: in the window
        assertEq(staking.pendingFees(o), feesBefore + 1 ether);
    }

    /// @notice The winner with the later nonce is due (and redeemed) first; an earlier winner up to
    ///         15 words (and 191 nonces) back still pays, and each pays once.
    function test_Attack_LaterWinnerFirstStillLetsAnEarlierOneInTheWindowPay() public {
        fundSender(sender, 10 ether, 0);
        _redeem(o, _at(16 * WORD)); // the ring is warm: slot 0 holds word 16
        uint256 late = 31 * WORD + 191; // the last nonce of word 31 (slot 15)
        uint256 early = 16 * WORD + 1; // the first words of the window: 3,070 nonces earlier
        _redeem(o, _at(late));
        _redeem(o, _at(early));
        _redeem(o, _at(30 * WORD + 2));
        _expectRedeemRevert(o, _at(early), ITicketBroker.TicketNonceUsed.selector);
        _expectRedeemRevert(o, _at(late), ITicketBroker.TicketNonceUsed.selector);
        assertEq(broker.getSenderInfo(sender).deposit, 6 ether, "four winners, each paid once");
        assertEq(staking.pendingFees(o), 4 ether);
    }

    /// @notice A batch skips a winner for insufficient funds and pays a later winner nearly a whole
    ///         window ahead: the skipped one is not burned, and pays after the sender tops up.
    function test_Attack_BatchSkipWithinTheWindowLeavesTheWinnerRedeemable() public {
        fundSender(sender, 1 ether, 0);
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(o, 5 ether, 1000); // word 5
        sts[1] = _signedBy(o, 1 ether, 1000 + 15 * WORD); // word 20: slot 4, word 5 stays
        ITicketBroker.RedeemStatus[] memory statuses = _batch(o, sts);
        assertEq(uint8(statuses[0]), uint8(ITicketBroker.RedeemStatus.InsufficientFunds));
        assertEq(uint8(statuses[1]), uint8(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint8(broker.nonceState(sender, o, 1000)), uint8(ITicketBroker.NonceState.Redeemable));
        fundSender(sender, 5 ether, 0);
        _redeem(o, sts[0]);
        assertEq(staking.pendingFees(o), 6 ether, "both winners paid");
        assertEq(broker.getSenderInfo(sender).deposit, 0);
        _expectRedeemRevert(o, sts[0], ITicketBroker.TicketNonceUsed.selector);
    }

    /// @notice Slot reuse cannot resurrect a used nonce: a paid nonce whose word is evicted (its slot
    ///         now holds a newer word, its bit gone) is too old, not fresh, and never pays twice,
    ///         however many more words go through its slot.
    function test_Attack_SlotReuseCannotResurrectAUsedNonce() public {
        fundSender(sender, 10 ether, 0);
        uint256 paid = 3 * WORD + 9;
        _redeem(o, _at(paid));
        _redeem(o, _at(19 * WORD + 9)); // slot 3: word 19 evicts word 3, bit 9 set for word 19
        (uint64 wordId, uint192 bits) = broker.nonceSlot(sender, o, 3);
        assertEq(wordId, 19);
        assertEq(bits, uint192(1) << 9, "the same bit, now another word's");
        _expectRedeemRevert(o, _at(paid), ITicketBroker.TicketNonceTooOld.selector);
        for (uint256 k = 2; k < 5; ++k) {
            _redeem(o, _at((3 + 16 * k) * WORD + 100)); // more words through slot 3
            _expectRedeemRevert(o, _at(paid), ITicketBroker.TicketNonceTooOld.selector);
        }
        assertEq(staking.pendingFees(o), 5 ether, "the first nonce paid once");
        assertEq(broker.getSenderInfo(sender).deposit, 5 ether);
    }

    /* OPERATOR KEYS: THE HOT REDEMPTION KEY */

    /// @dev o names `rk` its redeemer; `o2` is another active orchestrator with no redeemer.
    function _withRedeemer() internal returns (address rk, address o2) {
        rk = makeAddr("redemptionKey");
        vm.prank(o);
        staking.setRedeemer(rk);
        o2 = newOrchestrator("victim-o2", 100 ether, 0, 0);
        nextRound(); // round 2: o and o2 active
    }

    function _notRedeemer(address by, address recipient) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ITicketBroker.NotRedeemer.selector, by, recipient);
    }

    /// @notice o's hot key redeems a winner addressed to another orchestrator, every way it can:
    ///         naming o2 (not its redeemer), naming o (the digest is o's, the signature o2's), or as
    ///         itself. All refused; nothing moves; o2 redeems its winner afterwards.
    function test_Attack_HotKeyRedeemsAnotherOrchestratorsTicket_Refused() public {
        (address rk, address o2) = _withRedeemer();
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket memory theirs = _signedBy(o2, 1 ether, 0);
        View memory before = _view(sender, sender, o2);
        vm.startPrank(rk);
        vm.expectRevert(_notRedeemer(rk, o2));
        broker.redeemWinningTicketFor(o2, theirs);
        vm.expectRevert(_notRedeemer(rk, o2));
        broker.redeemWinningTicketsFor(o2, _one(theirs));
        vm.expectRevert(ITicketBroker.TicketInvalidSignature.selector);
        broker.redeemWinningTicketFor(o, theirs);
        vm.expectRevert(ITicketBroker.TicketInvalidSignature.selector);
        broker.redeemWinningTicket(theirs);
        ITicketBroker.RedeemStatus[] memory statuses = broker.redeemWinningTicketsFor(o, _one(theirs));
        vm.stopPrank();
        assertEq(uint8(statuses[0]), uint8(ITicketBroker.RedeemStatus.InvalidSignature));
        _assertSame(before, _view(sender, sender, o2));
        assertEq(staking.pendingFees(o), 0);
        _redeem(o2, theirs);
        assertEq(staking.pendingFees(o2), 1 ether);
    }

    /// @notice A stolen hot key tries to take the money: redeem o's winners to itself (the signature
    ///         names o), withdraw o's fees, change o's rates, bond or unbond o's stake. The fees of every
    ///         winner it redeems reach o's pool; the key ends with no token and no fee; o is untouched
    ///         and withdraws its fees with its cold key.
    function test_Attack_HotKeyRedirectsFeesOrActsAsTheStakeKey_Refused() public {
        (address rk,) = _withRedeemer();
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket memory st = _signedBy(o, 3 ether, 0);
        vm.startPrank(rk);
        vm.expectRevert(ITicketBroker.TicketInvalidSignature.selector);
        broker.redeemWinningTicket(st); // as its own recipient
        vm.expectRevert(ITicketBroker.TicketInvalidSignature.selector);
        broker.redeemWinningTicketFor(rk, st);
        broker.redeemWinningTicketFor(o, st); // the only way that pays: to o
        vm.expectRevert(abi.encodeWithSelector(IStaking.InsufficientFees.selector, 0, 3 ether));
        staking.withdrawFees(rk, 3 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotOrchestrator.selector, rk));
        staking.setRates(0, 1_000_000);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotBonded.selector, rk));
        staking.unbond(1 ether);
        vm.expectRevert(abi.encodeWithSelector(IStaking.NotRewardCaller.selector, rk, o));
        staking.rewardFor(o);
        staking.setRedeemer(address(0)); // its own record: o's redeemer stays
        vm.stopPrank();
        assertEq(staking.redeemerOf(o), rk);
        assertEq(staking.pendingFees(rk), 0, "nothing credited to the key");
        assertEq(token.balanceOf(rk), 0, "no token reached the key");
        assertEq(staking.pendingFees(o), 3 ether, "all of it is o's");
        assertEq(staking.orchestratorInfo(o).feeShare, 0);
        assertEq(staking.pendingStake(o), 100 ether);
        uint256 balance = token.balanceOf(o);
        vm.prank(o);
        staking.withdrawFees(o, 3 ether);
        assertEq(token.balanceOf(o) - balance, 3 ether);
    }

    /// @notice o rotates (or clears) a compromised hot key; the old key keeps redeeming: refused
    ///         from the next transaction on, single and batch, and the winners it held stay o's to
    ///         redeem (with the new key or the stake key).
    function test_Attack_RevokedRedeemerStillRedeems_Refused() public {
        (address rk,) = _withRedeemer();
        fundSender(sender, 10 ether, 0);
        address next = makeAddr("nextRedemptionKey");
        vm.prank(o);
        staking.setRedeemer(next);
        ITicketBroker.SignedTicket memory a = _signedBy(o, 1 ether, 0);
        ITicketBroker.SignedTicket memory b = _signedBy(o, 1 ether, 1);
        vm.startPrank(rk);
        vm.expectRevert(_notRedeemer(rk, o));
        broker.redeemWinningTicketFor(o, a);
        vm.expectRevert(_notRedeemer(rk, o));
        broker.redeemWinningTicketsFor(o, _one(b));
        vm.stopPrank();
        vm.prank(next);
        broker.redeemWinningTicketFor(o, a);
        vm.prank(o);
        staking.setRedeemer(address(0));
        vm.prank(next);
        vm.expectRevert(_notRedeemer(next, o));
        broker.redeemWinningTicketFor(o, b);
        _redeem(o, b);
        assertEq(staking.pendingFees(o), 2 ether);
        assertEq(staking.pendingFees(rk) + staking.pendingFees(next), 0);
    }

    /// @notice The hot key sees its revocation in the mempool and front-runs it with every winner it
    ///         holds (and replays): each winner pays once, to o; the key gains nothing and is refused
    ///         once the revocation lands.
    function test_Attack_FrontRunRedeemerRevocation_FeesStillReachTheRecipient() public {
        (address rk,) = _withRedeemer();
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](4);
        for (uint256 i; i < 3; ++i) {
            sts[i] = _signedBy(o, 1 ether, i);
        }
        sts[3] = sts[0];
        vm.prank(rk);
        ITicketBroker.RedeemStatus[] memory statuses = broker.redeemWinningTicketsFor(o, sts);
        assertEq(uint8(statuses[3]), uint8(ITicketBroker.RedeemStatus.NonceUsed));
        vm.prank(o);
        staking.setRedeemer(address(0)); // the revocation lands
        ITicketBroker.SignedTicket memory later = _signedBy(o, 1 ether, 3);
        vm.prank(rk);
        vm.expectRevert(_notRedeemer(rk, o));
        broker.redeemWinningTicketFor(o, later);
        assertEq(broker.getSenderInfo(sender).deposit, 7 ether, "three winners, once each");
        assertEq(staking.pendingFees(o), 3 ether);
        assertEq(staking.pendingFees(rk), 0);
        assertEq(token.balanceOf(rk), 0);
    }

    /// @notice A stranger names o's hot key as its own redeemer, before or after o does (to squat the
    ///         key or steer its redemptions). Allowed, and harmless: a key may serve several
    ///         orchestrators, o's setRedeemer cannot be blocked, and whom the key redeems for is the
    ///         recipient it names, each paid its own tickets.
    function test_Attack_StrangerNamesAnotherOrchestratorsRedeemer_Harmless() public {
        address rk = makeAddr("redemptionKey");
        address squatter = newOrchestrator("squatter", 100 ether, 0, 0);
        vm.prank(squatter);
        staking.setRedeemer(rk); // front-runs o's setRedeemer(rk)
        vm.prank(o);
        staking.setRedeemer(rk); // not blocked
        nextRound();
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket memory ofO = _signedBy(o, 2 ether, 0);
        vm.prank(rk);
        broker.redeemWinningTicketFor(o, ofO);
        ITicketBroker.SignedTicket memory ofSquatter = _signedBy(squatter, 1 ether, 0);
        vm.prank(rk);
        broker.redeemWinningTicketFor(squatter, ofSquatter);
        assertEq(staking.pendingFees(o), 2 ether);
        assertEq(staking.pendingFees(squatter), 1 ether);
        assertEq(staking.pendingFees(rk), 0);
    }

    /// @notice Decided: one key may be the redeemer of two orchestrators (a redemption service). It
    ///         redeems each one's winners for that one only; a batch for one that slips in the
    ///         other's winners pays those to nobody (InvalidSignature, still redeemable by their
    ///         recipient); one revocation leaves the other orchestrator's.
    function test_Attack_OneKeyRedeemerOfTwoOrchestrators_EachPaidItsOwn() public {
        (address rk, address o2) = _withRedeemer();
        vm.prank(o2);
        staking.setRedeemer(rk);
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket[] memory mixed = new ITicketBroker.SignedTicket[](3);
        mixed[0] = _signedBy(o, 1 ether, 0);
        mixed[1] = _signedBy(o2, 2 ether, 0);
        mixed[2] = _signedBy(o, 1 ether, 1);
        vm.prank(rk);
        ITicketBroker.RedeemStatus[] memory statuses = broker.redeemWinningTicketsFor(o, mixed);
        assertEq(uint8(statuses[0]), uint8(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint8(statuses[1]), uint8(ITicketBroker.RedeemStatus.InvalidSignature));
        assertEq(uint8(statuses[2]), uint8(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(staking.pendingFees(o), 2 ether, "o paid its two winners only");
        assertEq(staking.pendingFees(o2), 0);
        assertEq(uint8(broker.nonceState(sender, o2, 0)), uint8(ITicketBroker.NonceState.Redeemable));

        vm.prank(o);
        staking.setRedeemer(address(0));
        vm.prank(rk);
        broker.redeemWinningTicketsFor(o2, _one(mixed[1]));
        assertEq(staking.pendingFees(o2), 2 ether, "o2's winner paid to o2");
        ITicketBroker.SignedTicket memory later = _signedBy(o, 1 ether, 2);
        vm.prank(rk);
        vm.expectRevert(_notRedeemer(rk, o));
        broker.redeemWinningTicketFor(o, later);
        assertEq(broker.getSenderInfo(sender).deposit, 6 ether);
        assertEq(staking.pendingFees(rk), 0);
    }

    /// @notice The hot key is itself an active orchestrator (with its own reserve share): redeeming o's
    ///         winners spends o's share of the reserve, never its own, so it cannot double-dip, and a
    ///         winner above o's share is refused though the key's own share is untouched.
    function test_Attack_RedeemerCannotDrawItsOwnReserveShareForTheRecipient() public {
        address rk = newOrchestrator("redeemer-o", 100 ether, 0, 0);
        vm.prank(o);
        staking.setRedeemer(rk);
        fundSender(sender, 0, 4 ether); // round 1: backs tickets from round 2
        nextRound(); // round 2: o and rk active: 2 ether each
        uint256 round = broker.currentRound();
        ITicketBroker.SignedTicket memory share = _signedBy(o, 2 ether, 0);
        vm.prank(rk);
        broker.redeemWinningTicketFor(o, share);
        assertEq(broker.claimableReserve(sender, o, round), 0, "o's share spent");
        assertEq(broker.claimableReserve(sender, rk, round), 2 ether, "the key's own share untouched");
        ITicketBroker.SignedTicket memory beyondShare = _signedBy(o, 1 ether, 1);
        vm.prank(rk);
        vm.expectRevert(ITicketBroker.TicketInsufficientFunds.selector);
        broker.redeemWinningTicketFor(o, beyondShare);
        assertEq(staking.pendingFees(o), 2 ether);
        assertEq(staking.pendingFees(rk), 0);
    }

    /// @notice The replay ring is keyed by (signer, recipient), never by the caller: a winner redeemed
    ///         by o cannot be paid again through its hot key, nor the other way round.
    function test_Attack_ReplayThroughTheOtherKey_Refused() public {
        (address rk,) = _withRedeemer();
        fundSender(sender, 10 ether, 0);
        ITicketBroker.SignedTicket memory a = _signedBy(o, 1 ether, 0);
        ITicketBroker.SignedTicket memory b = _signedBy(o, 1 ether, 1);
        _redeem(o, a);
        vm.prank(rk);
        vm.expectRevert(ITicketBroker.TicketNonceUsed.selector);
        broker.redeemWinningTicketFor(o, a);
        vm.prank(rk);
        broker.redeemWinningTicketFor(o, b);
        _expectRedeemRevert(o, b, ITicketBroker.TicketNonceUsed.selector);
        vm.prank(rk);
        ITicketBroker.RedeemStatus[] memory statuses = broker.redeemWinningTicketsFor(o, _one(a));
        assertEq(uint8(statuses[0]), uint8(ITicketBroker.RedeemStatus.NonceUsed));
        assertEq(broker.getSenderInfo(sender).deposit, 8 ether, "each winner paid once");
    }

    /* MEDIUM: FEE-ON-TRANSFER TOKENS */

    /// @notice With a fee-on-transfer payment token the broker would credit 100 and hold 99: the last
    ///         withdrawals or fee payments would fail (insolvency). Funding now accounts by balance
    ///         difference and refuses the token; nothing is credited, nothing moves.
    function test_Attack_FeeOnTransferTokenCannotMakeTheBrokerInsolvent() public {
        FeeOnTransferToken fee = new FeeOnTransferToken();
        TicketBroker feeBroker = new TicketBroker(IERC20(address(fee)), staking, 3, 2);
        assertTrue(fee.transfer(sender, 100 ether));
        uint256 senderBalance = fee.balanceOf(sender);
        vm.startPrank(sender);
        fee.approve(address(feeBroker), type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(ITicketBroker.UnsupportedToken.selector, 50 ether, 0, 49.5 ether)
        );
        feeBroker.fundDeposit(50 ether);
        vm.expectRevert(
            abi.encodeWithSelector(ITicketBroker.UnsupportedToken.selector, 30 ether, 0, 29.7 ether)
        );
        feeBroker.fundDepositAndReserve(10 ether, 20 ether);
        vm.stopPrank();
        assertEq(fee.balanceOf(address(feeBroker)), 0, "the broker holds nothing");
        assertEq(fee.balanceOf(sender), senderBalance, "the sender lost nothing");
        ITicketBroker.SenderInfo memory info = feeBroker.getSenderInfo(sender);
        assertEq(info.deposit + info.reserve, 0, "nothing credited");
    }

    /* HELPERS */

    function _try(address recipient, ITicketBroker.SignedTicket memory st) internal returns (bool ok) {
        vm.prank(recipient);
        try broker.redeemWinningTicket(st) {
            ok = true;
        } catch (bytes memory err) {
            assertEq(bytes4(err), ITicketBroker.TicketNotWinning.selector, "only losing tickets are refused");
        }
    }
}
