// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

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
