// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Fuzzing of everything that takes amounts, probabilities, nonces or signatures.
contract TicketBrokerFuzzTest is BrokerTestBase {
    uint256 internal constant MAX_FUND = 1_000_000 ether; // the liquid genesis share is 10M

    address internal o;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 10 ether, 0, 0); // feeShare 0: every fee is the orchestrator's
        nextRound(); // round 1
    }

    function _try(address recipient, ITicketBroker.SignedTicket memory st)
        internal
        returns (bool ok, bytes memory err)
    {
        vm.prank(recipient);
        (ok, err) = address(broker).call(abi.encodeCall(ITicketBroker.redeemWinningTicket, (st)));
    }

    function _assertRevertedWith(bool ok, bytes memory err, bytes4 selector) internal pure {
        assertFalse(ok, "should have reverted");
        assertEq(err.length, 4, "custom error without arguments");
        assertEq(bytes4(err), selector);
    }

    /* AMOUNTS: ALL OR NOTHING */

    function testFuzz_Redeem_PaysInFullOrChangesNothing(uint256 deposit, uint256 reserve, uint256 face, uint256 n)
        public
    {
        deposit = _bound(deposit, 0, MAX_FUND);
        reserve = _bound(reserve, 0, MAX_FUND);
        face = _bound(face, 1, 2 * (deposit + reserve) + 1);
        n = _bound(n, 1, 4);
        for (uint256 i = 1; i < n; ++i) {
            newOrchestrator(string.concat("extra", vm.toString(i)), 1 ether, 0, 0);
        }
        if (deposit + reserve > 0) fundSender(sender, deposit, reserve);
        nextRound(); // round 2: n active orchestrators, the whole reserve counts
        (uint256 count,) = staking.activeTotalsThisRound();
        assertEq(count, n);

        uint256 share = reserve / n;
        assertEq(broker.claimableReserve(sender, o, 2), share);
        bool payable_ = face <= deposit + share;

        ITicketBroker.SignedTicket memory st = _signedBy(o, face, 0);
        View memory before = _view(sender, sender, o);
        (bool ok, bytes memory err) = _try(o, st);
        View memory after_ = _view(sender, sender, o);
        if (!payable_) {
            _assertRevertedWith(ok, err, ITicketBroker.TicketInsufficientFunds.selector);
            _assertSame(before, after_);
            return;
        }
        assertTrue(ok, "payable ticket must be paid");
        uint256 fromReserve = face > deposit ? face - deposit : 0;
        assertEq(after_.deposit, deposit - (face - fromReserve));
        assertEq(after_.reserve, reserve - fromReserve);
        assertEq(after_.fees, before.fees + face);
        assertEq(_wordBits(sender, o, 0), 1, "its nonce used");
        assertTrue(after_.nonceRing != before.nonceRing);
        assertEq(after_.brokerBalance, before.brokerBalance);
        assertEq(after_.claimable, share - fromReserve);
    }

    function testFuzz_Reserve_ClaimsPerRoundNeverExceedShare(uint256 reserve, uint96[4] memory faces) public {
        reserve = _bound(reserve, 1, MAX_FUND);
        newOrchestrator("o2", 1 ether, 0, 0);
        fundSender(sender, 0, reserve);
        nextRound(); // round 2: 2 active
        uint256 share = reserve / 2;
        uint256 claimed;
        for (uint256 i; i < faces.length; ++i) {
            uint256 face = _bound(faces[i], 1, share + 1);
            ITicketBroker.SignedTicket memory st = _signedBy(o, face, i);
            (bool ok, bytes memory err) = _try(o, st);
            if (claimed + face <= share) {
                assertTrue(ok);
                claimed += face;
            } else {
                _assertRevertedWith(ok, err, ITicketBroker.TicketInsufficientFunds.selector);
            }
            assertEq(broker.claimableReserve(sender, o, 2), share - claimed);
        }
        assertEq(broker.getSenderInfo(sender).reserve, reserve - claimed);
        // Next round the allocation is recomputed from what is left.
        nextRound();
        assertEq(broker.claimableReserve(sender, o, 3), (reserve - claimed) / 2);
    }

    /* PROBABILITIES */

    function testFuzz_Redeem_SucceedsIffWinning(uint256 winProb, bytes32 rand, uint256 face) public {
        face = _bound(face, 1, 1 ether);
        fundSender(sender, 1 ether, 0);
        ITicketBroker.Ticket memory t = _t(o, sender, sender, face, winProb, 0, rand, 1);
        bytes32 h = broker.hashTicket(t);
        assertEq(h, _digest(t));
        ITicketBroker.SignedTicket memory st = sign(senderKey, t, rand);
        bool wins = uint256(keccak256(abi.encodePacked(st.r, st.s, uint8(st.meta), rand))) < winProb;
        assertEq(broker.isWinningTicket(st.r, st.s, uint8(st.meta), rand, winProb), wins);

        View memory before = _view(sender, sender, o);
        (bool ok, bytes memory err) = _try(o, st);
        if (wins) {
            assertTrue(ok);
            assertEq(broker.getSenderInfo(sender).deposit, 1 ether - face);
        } else {
            _assertRevertedWith(ok, err, ITicketBroker.TicketNotWinning.selector);
            _assertSame(before, _view(sender, sender, o));
        }
    }

    function testFuzz_IsWinningTicket_MonotoneInWinProb(bytes32 r, bytes32 s, bool odd, bytes32 rand, uint256 p, uint256 q)
        public
        view
    {
        s = bytes32(uint256(s) % (SECP256K1_N / 2 + 1)); // canonical
        uint8 v = odd ? 28 : 27;
        (p, q) = p < q ? (p, q) : (q, p);
        if (broker.isWinningTicket(r, s, v, rand, p)) assertTrue(broker.isWinningTicket(r, s, v, rand, q));
        assertFalse(broker.isWinningTicket(r, s, v, rand, 0));
        assertTrue(
            broker.isWinningTicket(r, s, v, rand, type(uint256).max)
                || uint256(keccak256(abi.encodePacked(r, s, v, rand))) == type(uint256).max
        );
    }

    /// @dev Any signature (canonical or not) of any ticket: the draw of its non-canonical twins is
    ///      never a win, so re-encoding gives no second draw.
    function testFuzz_IsWinningTicket_TwinEncodingsNeverWin(bytes32 r, bytes32 s, uint8 v, bytes32 rand) public view {
        bool canonical = (v == 27 || v == 28) && uint256(s) <= SECP256K1_N / 2;
        if (!canonical) assertFalse(broker.isWinningTicket(r, s, v, rand, type(uint256).max));
    }

    /* SIGNATURES */

    function testFuzz_RandomSignatureNeverRedeems(bytes32 r, bytes32 s, uint8 v, uint256 nonce) public {
        nonce = _bound(nonce, 0, type(uint56).max);
        fundSender(sender, 1 ether, 0);
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1, ALWAYS, nonce, RAND, 1);
        (uint8 gv, bytes32 gr, bytes32 gs) = vm.sign(senderKey, broker.hashTicket(t));
        vm.assume(!(r == gr && s == gs && v == gv));
        (bool ok, bytes memory err) = _try(o, pack(t, RAND, v, r, s));
        _assertRevertedWith(ok, err, ITicketBroker.TicketInvalidSignature.selector);
    }

    function testFuzz_RandomSignedTicketWordsNeverRedeem(ITicketBroker.SignedTicket memory st) public {
        fundSender(sender, 1 ether, 0);
        vm.prank(sender);
        broker.authorizeSigner(hot);
        (bool ok,) = _try(o, st);
        assertFalse(ok, "random words are never a paid ticket");
        assertEq(broker.getSenderInfo(sender).deposit, 1 ether);
    }

    function testFuzz_SignedByAnotherKeyNeverRedeems(uint256 key) public {
        key = _bound(key, 1, SECP256K1_N - 1);
        vm.assume(key != senderKey);
        fundSender(sender, 1 ether, 0);
        ITicketBroker.Ticket memory t = _t(o, sender, sender, 1, ALWAYS, 0, RAND, 1);
        (bool ok, bytes memory err) = _try(o, sign(key, t, RAND));
        _assertRevertedWith(ok, err, ITicketBroker.TicketInvalidSignature.selector);
    }

    function testFuzz_AnyKeySignsValidTicketsButNotTheirMalleatedTwin(uint256 key, uint256 face, bytes32 rand) public {
        key = _bound(key, 1, SECP256K1_N - 1);
        face = _bound(face, 1, 1 ether);
        address from = vm.addr(key);
        vm.assume(from != o);
        fundSender(from, 1 ether, 0);
        ITicketBroker.Ticket memory t = _t(o, from, from, face, ALWAYS, 0, rand, 1);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, broker.hashTicket(t));
        (bool ok, bytes memory err) = _try(o, pack(t, rand, v == 27 ? 28 : 27, r, bytes32(SECP256K1_N - uint256(s))));
        _assertRevertedWith(ok, err, ITicketBroker.TicketInvalidSignature.selector);
        (ok,) = _try(o, pack(t, rand, v, r, s));
        assertTrue(ok);
        assertEq(broker.getSenderInfo(from).deposit, 1 ether - face);
    }

    /* NONCES */

    /// @dev Replay protection is per nonce within the window: a second nonce pays whatever the order,
    ///      unless it is older than the first and shares its ring slot (16k words earlier, k ≥ 1); the
    ///      same one never pays twice.
    function testFuzz_Nonce_EachPaysOnceInAnyOrder(uint56 first, uint56 second) public {
        fundSender(sender, 2 ether, 0);
        ITicketBroker.SignedTicket memory a = _signedBy(o, 1 ether, first);
        ITicketBroker.SignedTicket memory b = _signedBy(o, 1 ether, second);
        _redeem(o, a);
        assertTrue(broker.isNonceUsed(sender, o, first));
        uint256 wa = uint256(first) / 192;
        uint256 wb = uint256(second) / 192;
        bool evicted = wb < wa && (wa - wb) % 16 == 0;
        assertEq(broker.isNonceUsed(sender, o, second), second == first || evicted);
        (bool ok, bytes memory err) = _try(o, b);
        if (second == first) {
            _assertRevertedWith(ok, err, ITicketBroker.TicketNonceUsed.selector);
            assertEq(broker.getSenderInfo(sender).deposit, 1 ether);
        } else if (evicted) {
            _assertRevertedWith(ok, err, ITicketBroker.TicketNonceTooOld.selector);
            assertEq(broker.getSenderInfo(sender).deposit, 1 ether, "a too-old nonce pays nothing");
        } else {
            assertTrue(ok, "a different nonce pays, lower or higher");
            assertTrue(broker.isNonceUsed(sender, o, second));
            assertEq(broker.getSenderInfo(sender).deposit, 0);
        }
        // `a` stays paid; it is too old instead if `b` (paid) evicted its word.
        bool aEvicted = ok && wa < wb && (wb - wa) % 16 == 0;
        (ok, err) = _try(o, a);
        _assertRevertedWith(
            ok, err, aEvicted ? ITicketBroker.TicketNonceTooOld.selector : ITicketBroker.TicketNonceUsed.selector
        );
    }

    /// @dev Random sequences of nonces, each presented once or again, alone or in a batch of one, checked
    ///      against a model built from the history alone (not the ring): a nonce pays iff it was never
    ///      paid and no later word in its slot (16k words later, k ≥ 1) was ever paid; it reverts with
    ///      TicketNonceTooOld when such a word was paid, else TicketNonceUsed. Whatever came before, a
    ///      nonce never paid whose word is within 15 words of the newest paid word always pays.
    function testFuzz_Nonce_RandomSequencesPayOnceWithinTheWindow(uint32[24] memory picks) public {
        uint256 n = picks.length;
        fundSender(sender, n * 1 ether, 0);
        uint256[] memory presented = new uint256[](n);
        uint256[] memory paid = new uint256[](n);
        uint256 paidCount;
        uint256 newestWord;
        for (uint256 i; i < n; ++i) {
            uint256 pick = picks[i];
            // A quarter of the steps present an earlier nonce again; the rest draw from 48 words
            // (three turns of the ring), so eviction, reuse of a slot and replays all happen.
            uint256 nonce = i > 0 && pick % 4 == 0 ? presented[(pick >> 2) % i] : (pick >> 3) % (48 * 192);
            presented[i] = nonce;
            uint256 word = nonce / 192;

            bool wasPaid;
            bool evicted;
            for (uint256 j; j < paidCount; ++j) {
                uint256 w = paid[j] / 192;
                if (paid[j] == nonce) wasPaid = true;
                if (w > word && (w - word) % 16 == 0) evicted = true;
            }
            if (!wasPaid && paidCount > 0 && word + 15 >= newestWord) {
                assertFalse(evicted, "a nonce within the window is never too old");
            }

            ITicketBroker.SignedTicket memory st = _signedBy(o, 1 ether, nonce);
            uint256 depositBefore = broker.getSenderInfo(sender).deposit;
            uint256 feesBefore = staking.pendingFees(o);
            bool asBatch = (pick >> 2) % 2 == 1;
            bool ok;
            if (asBatch) {
                ITicketBroker.RedeemStatus status = _batch(o, _one(st))[0];
                ok = status == ITicketBroker.RedeemStatus.Redeemed;
                if (!ok) {
                    assertEq(
                        uint8(status),
                        uint8(evicted ? ITicketBroker.RedeemStatus.NonceTooOld : ITicketBroker.RedeemStatus.NonceUsed)
                    );
                }
            } else {
                bytes memory err;
                (ok, err) = _try(o, st);
                if (!ok) {
                    _assertRevertedWith(
                        ok,
                        err,
                        evicted ? ITicketBroker.TicketNonceTooOld.selector : ITicketBroker.TicketNonceUsed.selector
                    );
                }
            }
            assertEq(ok, !wasPaid && !evicted, "pays iff never paid and within the window");
            if (ok) {
                paid[paidCount++] = nonce;
                if (word > newestWord) newestWord = word;
                assertEq(broker.getSenderInfo(sender).deposit, depositBefore - 1 ether);
                assertEq(staking.pendingFees(o), feesBefore + 1 ether);
            } else {
                assertEq(broker.getSenderInfo(sender).deposit, depositBefore, "a refused nonce pays nothing");
                assertEq(staking.pendingFees(o), feesBefore);
            }
            assertTrue(broker.isNonceUsed(sender, o, nonce), "paid or refused: it can no longer pay");
        }
        assertEq(staking.pendingFees(o), paidCount * 1 ether, "each paid nonce paid once");
    }

    /* ROUNDS */

    function testFuzz_Validity_WindowIsCreationRoundPlusValidity(uint256 creationRound, uint256 redeemRound) public {
        creationRound = _bound(creationRound, 0, 20);
        redeemRound = _bound(redeemRound, 1, 20);
        fundSender(sender, 1 ether, 0);
        ITicketBroker.SignedTicket memory st = _signedAt(o, 1, 0, creationRound);
        vm.roll(staking.startBlock() + redeemRound * params.roundLength);
        (bool ok, bytes memory err) = _try(o, st);
        if (creationRound > redeemRound) {
            _assertRevertedWith(ok, err, ITicketBroker.TicketFromFutureRound.selector);
        } else if (redeemRound >= creationRound + 2) {
            _assertRevertedWith(ok, err, ITicketBroker.TicketExpired.selector);
        } else {
            assertTrue(ok);
        }
    }

    /* FUNDING AND SOLVENCY */

    function testFuzz_Fund_CreditsExactly(uint256 deposit, uint256 reserve, bool viaThirdParty) public {
        deposit = _bound(deposit, 0, MAX_FUND);
        reserve = _bound(reserve, 0, MAX_FUND);
        address payer = viaThirdParty ? makeAddr("payer") : sender;
        give(payer, deposit + reserve);
        vm.startPrank(payer);
        token.approve(address(broker), deposit + reserve);
        if (deposit + reserve == 0) vm.expectRevert(ITicketBroker.ZeroAmount.selector);
        if (viaThirdParty) broker.fundDepositAndReserveFor(sender, deposit, reserve);
        else broker.fundDepositAndReserve(deposit, reserve);
        vm.stopPrank();
        assertEq(broker.getSenderInfo(sender).deposit, deposit);
        assertEq(broker.getSenderInfo(sender).reserve, reserve);
        assertEq(token.balanceOf(address(broker)), deposit + reserve);
        assertEq(token.balanceOf(payer), 0);
    }

    /// @dev Broker balance = Σ deposits + Σ reserves + fees credited and not yet withdrawn, whatever
    ///      is funded, redeemed (paid or not) and withdrawn.
    function testFuzz_Solvency_BalanceEqualsDepositsReservesAndUnpaidFees(
        uint96[3] memory deposits,
        uint96[3] memory reserves,
        uint96[3] memory faces,
        uint256 feeShare,
        uint256 feeWithdrawal,
        uint8 withdrawer
    ) public {
        feeShare = _bound(feeShare, 0, 1_000_000);
        address po = newOrchestrator("pool", 30 ether, 0, uint32(feeShare));
        address d = makeAddr("d");
        bondAs(d, 70 ether, po);
        address[3] memory senders;
        uint256[3] memory keys;
        uint256[3] memory funded;
        for (uint256 i; i < 3; ++i) {
            (senders[i], keys[i]) = makeAddrAndKey(string.concat("s", vm.toString(i)));
            uint256 dep = _bound(deposits[i], 0, MAX_FUND);
            uint256 res = _bound(reserves[i], 0, MAX_FUND);
            if (dep + res > 0) fundSender(senders[i], dep, res);
            funded[i] = dep + res;
        }
        nextRound(); // round 2: po active, reserves count
        uint256 credited;
        for (uint256 i; i < 3; ++i) {
            uint256 face = _bound(faces[i], 1, funded[i] + 1);
            ITicketBroker.Ticket memory t = _t(po, senders[i], senders[i], face, ALWAYS, 0, RAND, 2);
            (bool ok,) = _try(po, sign(keys[i], t, RAND));
            if (ok) credited += t.faceValue;
        }
        uint256 liabilities;
        for (uint256 i; i < 3; ++i) {
            ITicketBroker.SenderInfo memory info = broker.getSenderInfo(senders[i]);
            liabilities += info.deposit + info.reserve;
        }
        assertEq(token.balanceOf(address(broker)), liabilities + credited);
        uint256 pending = staking.pendingFees(po) + staking.pendingFees(d);
        assertLe(pending, credited, "never more fees than credited");
        assertApproxEqAbs(pending, credited, 2, "rounding dust only");

        // Withdraw some fees and one sender's funds.
        address who = withdrawer % 2 == 0 ? po : d;
        uint256 available = staking.pendingFees(who);
        if (available > 0) {
            uint256 amount = _bound(feeWithdrawal, 1, available);
            vm.prank(who);
            staking.withdrawFees(who, amount);
            credited -= amount;
        }
        address leaver = senders[withdrawer % 3];
        if (broker.getSenderInfo(leaver).deposit + broker.getSenderInfo(leaver).reserve > 0) {
            vm.prank(leaver);
            broker.unlock();
            rollRounds(3);
            vm.prank(leaver);
            broker.withdraw();
        }
        liabilities = 0;
        for (uint256 i; i < 3; ++i) {
            ITicketBroker.SenderInfo memory info = broker.getSenderInfo(senders[i]);
            liabilities += info.deposit + info.reserve;
        }
        assertEq(token.balanceOf(address(broker)), liabilities + credited);
    }

    /* OPERATOR KEYS */

    /// @dev A fuzzed address that can be pranked (not zero: msg.sender never is; not the cheatcodes).
    function _caller(address a) internal view returns (address) {
        vm.assume(a != address(0) && a != address(vm) && a != CONSOLE);
        return a;
    }

    /// @notice Whoever calls redeemWinningTicket(s)For(o, …) and whatever redeemer o named: the ticket
    ///         pays iff the caller is o or o's current redeemer, and then all of its face value is
    ///         credited to o (fee share 0) and nothing to the caller, whose tokens do not move; any
    ///         other caller gets NotRedeemer and nothing moves.
    function testFuzz_RedeemFor_PaysOnlyTheRecipientAndOnlyForItsKeys(
        address someone,
        address someKey,
        uint8 mode,
        uint256 face,
        bool batch
    ) public {
        face = _bound(face, 1, 10 ether);
        fundSender(sender, 10 ether, 0);
        // The redeemer o names: none, a fuzzed key, o itself, or another orchestrator.
        address other = newOrchestrator("other", 1 ether, 0, 0);
        address redeemer = [address(0), someKey, o, other][mode % 4];
        vm.prank(o);
        staking.setRedeemer(redeemer);
        // The caller: o, its redeemer, the other orchestrator, or anyone.
        address caller = [o, redeemer == address(0) ? o : redeemer, other, _caller(someone)][(mode >> 2) % 4];
        bool allowed = caller == o || caller == redeemer;

        ITicketBroker.SignedTicket memory st = _signedBy(o, face, 0);
        View memory before = _view(sender, sender, o);
        uint256 callerFees = staking.pendingFees(caller);
        uint256 callerBalance = token.balanceOf(caller);
        vm.prank(caller);
        (bool ok, bytes memory err) = address(broker).call(
            batch
                ? abi.encodeCall(ITicketBroker.redeemWinningTicketsFor, (o, _one(st)))
                : abi.encodeCall(ITicketBroker.redeemWinningTicketFor, (o, st))
        );
        assertEq(token.balanceOf(caller), callerBalance, "a redemption moves no token");
        if (!allowed) {
            assertFalse(ok);
            assertEq(err, abi.encodeWithSelector(ITicketBroker.NotRedeemer.selector, caller, o));
            _assertSame(before, _view(sender, sender, o));
            return;
        }
        assertTrue(ok, "o or its redeemer");
        assertEq(staking.pendingFees(o), before.fees + face, "all to the recipient");
        assertEq(broker.getSenderInfo(sender).deposit, before.deposit - face);
        assertTrue(broker.isNonceUsed(sender, o, 0));
        if (caller != o) {
            assertEq(staking.pendingFees(caller), callerFees, "nothing to the caller");
            assertFalse(caller != address(0) && broker.isNonceUsed(sender, caller, 0), "no ring of the caller");
        }
    }

    /// @notice A redeemer shared by three orchestrators redeems a batch of tickets to random recipients
    ///         for one of them: exactly that one's tickets pay (others: InvalidSignature), credited to
    ///         it; the others' fees and replay state do not move and the key gets nothing.
    function testFuzz_RedeemBatchFor_MixedRecipientsPayOnlyTheNamedOne(uint8[6] memory picks, uint8 target) public {
        address[3] memory os = [o, newOrchestrator("o2", 1 ether, 0, 0), newOrchestrator("o3", 1 ether, 0, 0)];
        address rk = makeAddr("sharedRedeemer");
        for (uint256 i; i < 3; ++i) {
            vm.prank(os[i]);
            staking.setRedeemer(rk);
        }
        nextRound(); // round 2: all three active
        fundSender(sender, 100 ether, 0);
        address named = os[target % 3];
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](picks.length);
        uint256[3] memory nonces;
        uint256[3] memory feesBefore;
        uint256 expected;
        for (uint256 i; i < picks.length; ++i) {
            uint256 k = picks[i] % 3;
            sts[i] = _signedBy(os[k], 1 ether + i, nonces[k]++);
            if (os[k] == named) expected += 1 ether + i;
        }
        for (uint256 k; k < 3; ++k) {
            feesBefore[k] = staking.pendingFees(os[k]);
        }
        vm.prank(rk);
        ITicketBroker.RedeemStatus[] memory statuses = broker.redeemWinningTicketsFor(named, sts);
        for (uint256 i; i < picks.length; ++i) {
            ITicketBroker.RedeemStatus want = os[picks[i] % 3] == named
                ? ITicketBroker.RedeemStatus.Redeemed
                : ITicketBroker.RedeemStatus.InvalidSignature;
            assertEq(uint8(statuses[i]), uint8(want));
        }
        for (uint256 k; k < 3; ++k) {
            uint256 gained = staking.pendingFees(os[k]) - feesBefore[k];
            assertEq(gained, os[k] == named ? expected : 0);
            if (os[k] != named && nonces[k] > 0) assertFalse(broker.isNonceUsed(sender, os[k], 0));
        }
        assertEq(broker.getSenderInfo(sender).deposit, 100 ether - expected);
        assertEq(staking.pendingFees(rk), 0);
    }

    /* WIRE FORMAT */

    function testFuzz_PackUnpack_RoundTrips(
        address from,
        uint96 face,
        uint256 winProb,
        address signer,
        uint56 nonce,
        uint32 round,
        uint8 v,
        bytes32 rand,
        address recipient
    ) public view {
        ITicketBroker.Ticket memory t = _t(recipient, from, signer, face, winProb, nonce, rand, round);
        ITicketBroker.SignedTicket memory st = pack(t, rand, v, bytes32(0), bytes32(0));
        (ITicketBroker.Ticket memory u, uint8 uv) = broker.unpackTicket(st, recipient);
        assertEq(uv, v);
        assertEq(u.recipient, recipient);
        assertEq(u.sender, from);
        assertEq(u.signer, signer);
        assertEq(u.faceValue, face);
        assertEq(u.winProb, winProb);
        assertEq(u.senderNonce, nonce);
        assertEq(u.recipientRandHash, keccak256(abi.encodePacked(rand)));
        assertEq(u.creationRound, round);
        assertEq(broker.hashTicket(u), _digest(t));
    }

    function testFuzz_HashTicket_MatchesIndependentDigest(ITicketBroker.Ticket memory t) public view {
        assertEq(broker.hashTicket(t), _digest(t));
    }
}
