// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "forge-std/Vm.sol";
import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";

/// @notice Issue 18, fuzzed: direct payment of recipients that never registered (compute providers).
///         Whatever the face values, creation rounds and batch sizes, the broker's balance falls by
///         exactly the face values paid directly, which reach the provider in one transfer per call,
///         and the sums of events, balances and sender funds agree.
contract ProviderPaymentFuzzTest is BrokerTestBase {
    uint256 internal constant MAX_FUND = 1_000_000 ether; // the liquid genesis share is 10M

    address internal o;
    address internal provider = makeAddr("provider");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 10 ether, 0, 0); // feeShare 0: every fee is the orchestrator's
        nextRound(); // round 1
    }

    struct Logged {
        uint256 paid; // Σ PaidToRecipient amounts
        uint256 events; // PaidToRecipient events
        uint256 transfers; // token transfers out of the broker
        uint256 transferred; // Σ of them
    }

    function _scan(Vm.Log[] memory logs) internal view returns (Logged memory l) {
        for (uint256 i; i < logs.length; ++i) {
            bytes32 sig = logs[i].topics[0];
            if (logs[i].emitter == address(broker) && sig == ITicketBroker.PaidToRecipient.selector) {
                assertEq(address(uint160(uint256(logs[i].topics[1]))), provider, "paid to the provider only");
                (uint256 amount,) = abi.decode(logs[i].data, (uint256, uint256));
                l.paid += amount;
                ++l.events;
            } else if (logs[i].emitter == address(token) && sig == IERC20.Transfer.selector) {
                if (address(uint160(uint256(logs[i].topics[1]))) != address(broker)) continue;
                assertEq(address(uint160(uint256(logs[i].topics[2]))), provider, "transferred to the provider only");
                ++l.transfers;
                l.transferred += abi.decode(logs[i].data, (uint256));
            }
        }
    }

    /// @dev A batch and what it must do: the tickets, each one's status, the sum paid, the runs of
    ///      creation rounds among the paid ones.
    struct Model {
        ITicketBroker.SignedTicket[] sts;
        ITicketBroker.RedeemStatus[] want;
        uint256 sum;
        uint256 runs;
    }

    function _model(uint256 deposit, uint96[8] memory faces, uint256 n, uint8 roundBits, uint8 dupBits)
        internal
        view
        returns (Model memory m)
    {
        m.sts = new ITicketBroker.SignedTicket[](n);
        m.want = new ITicketBroker.RedeemStatus[](n);
        uint256 left = deposit;
        uint256 lastRound;
        for (uint256 i; i < n; ++i) {
            if (i > 0 && (dupBits >> i) & 1 == 1) {
                m.sts[i] = m.sts[i - 1]; // a duplicate: its nonce is used if the original paid, else same fate
                m.want[i] = m.want[i - 1] == ITicketBroker.RedeemStatus.Redeemed
                    ? ITicketBroker.RedeemStatus.NonceUsed
                    : m.want[i - 1];
                continue;
            }
            uint256 face = faces[i] % 4 == 0 ? 0 : _bound(faces[i], 1, left + left / 2 + 2);
            uint256 creationRound = (roundBits >> i) & 1 == 1 ? 1 : 2;
            m.sts[i] = _signedAt(provider, face, i, creationRound);
            if (face == 0) {
                m.want[i] = ITicketBroker.RedeemStatus.ZeroFaceValue;
            } else if (face > left) {
                m.want[i] = ITicketBroker.RedeemStatus.InsufficientFunds;
            } else {
                m.want[i] = ITicketBroker.RedeemStatus.Redeemed;
                left -= face;
                m.sum += face;
                if (m.runs == 0 || creationRound != lastRound) ++m.runs;
                lastRound = creationRound;
            }
        }
    }

    /// @notice A batch of 1-8 tickets of random face values (zero, payable, or beyond what the deposit
    ///         has left), of creation rounds 1 or 2, some duplicated: the statuses follow the deposit
    ///         alone (never the reserve), the provider gains and the broker loses exactly the sum of
    ///         the winners, in one transfer, and one PaidToRecipient per run of a creation round.
    function testFuzz_ProviderBatch_BrokerPaysExactlyTheDirectPayments(
        uint256 deposit,
        uint256 reserve,
        uint96[8] memory faces,
        uint256 n,
        uint8 roundBits,
        uint8 dupBits
    ) public {
        deposit = _bound(deposit, 0, MAX_FUND);
        reserve = _bound(reserve, 0, MAX_FUND);
        if (deposit + reserve > 0) fundSender(sender, deposit, reserve);
        nextRound(); // round 2: the reserve counts (for o); tickets of rounds 1 and 2 are valid
        Model memory m = _model(deposit, faces, _bound(n, 1, 8), roundBits, dupBits);

        uint256 brokerBalance = token.balanceOf(address(broker));
        vm.recordLogs();
        ITicketBroker.RedeemStatus[] memory statuses = _batch(provider, m.sts);
        Logged memory l = _scan(vm.getRecordedLogs());

        for (uint256 i; i < m.sts.length; ++i) {
            assertEq(uint8(statuses[i]), uint8(m.want[i]), "status");
        }
        assertEq(brokerBalance - token.balanceOf(address(broker)), m.sum, "broker pays exactly the winners");
        assertEq(token.balanceOf(provider), m.sum, "the provider gets exactly the winners");
        assertEq(l.paid, m.sum, "PaidToRecipient sums to the payment");
        assertEq(l.events, m.runs, "one PaidToRecipient per run of a creation round");
        assertEq(l.transfers, m.sum > 0 ? 1 : 0, "one transfer per batch");
        assertEq(l.transferred, m.sum);
        ITicketBroker.SenderInfo memory info = broker.getSenderInfo(sender);
        assertEq(info.deposit, deposit - m.sum, "the deposit pays");
        assertEq(info.reserve, reserve, "never the reserve");
        assertEq(staking.pendingFees(provider), 0, "nothing in Staking");
        assertEq(token.balanceOf(address(broker)), info.deposit + info.reserve, "solvent, nothing owed");
    }

    /// @notice One ticket: paid in full from the deposit iff it fits, whatever the reserve.
    function testFuzz_ProviderSingle_PaidIffTheDepositCovers(uint256 deposit, uint256 reserve, uint256 face) public {
        deposit = _bound(deposit, 0, MAX_FUND);
        reserve = _bound(reserve, 0, MAX_FUND);
        face = _bound(face, 1, deposit + reserve + 1);
        if (deposit + reserve > 0) fundSender(sender, deposit, reserve);
        nextRound(); // round 2
        uint256 brokerBalance = token.balanceOf(address(broker));
        ITicketBroker.SignedTicket memory st = _signedBy(provider, face, 0); // before the prank: it calls out
        vm.prank(provider);
        (bool ok, bytes memory err) = address(broker).call(abi.encodeCall(ITicketBroker.redeemWinningTicket, (st)));
        if (face > deposit) {
            assertFalse(ok);
            assertEq(bytes4(err), ITicketBroker.TicketInsufficientFunds.selector);
            face = 0;
        } else {
            assertTrue(ok);
        }
        assertEq(token.balanceOf(provider), face);
        assertEq(brokerBalance - token.balanceOf(address(broker)), face);
        assertEq(broker.getSenderInfo(sender).deposit, deposit - face);
        assertEq(broker.getSenderInfo(sender).reserve, reserve);
    }

    /// @dev Whether `st` was paid, redeemed by `recipient` alone or as a batch of one.
    function _redeemAs(address recipient, ITicketBroker.SignedTicket memory st, bool batch) internal returns (bool) {
        vm.prank(recipient);
        (bool ok, bytes memory ret) = address(broker).call(
            batch
                ? abi.encodeCall(ITicketBroker.redeemWinningTickets, (_one(st)))
                : abi.encodeCall(ITicketBroker.redeemWinningTicket, (st))
        );
        if (!batch) return ok;
        assertTrue(ok, "a batch skips, never reverts here");
        return abi.decode(ret, (ITicketBroker.RedeemStatus[]))[0] == ITicketBroker.RedeemStatus.Redeemed;
    }

    /// @notice Interleaved redemptions to an orchestrator and to a provider, single or batched: the
    ///         broker's balance falls by exactly the direct payments, and equals the sender's funds plus
    ///         the orchestrator's unpaid fees (all credited fees: fee share 0) at every step.
    function testFuzz_MixedRecipients_BrokerFallsOnlyByDirectPayments(
        uint96[6] memory faces,
        uint8[6] memory picks,
        uint256 deposit,
        uint256 reserve
    ) public {
        deposit = _bound(deposit, 1, MAX_FUND);
        reserve = _bound(reserve, 0, MAX_FUND);
        fundSender(sender, deposit, reserve);
        nextRound(); // round 2
        uint256 start = token.balanceOf(address(broker));
        uint256 direct;
        uint256 credited;
        uint256[2] memory nonces;
        for (uint256 i; i < faces.length; ++i) {
            bool toProvider = picks[i] % 2 == 1;
            address recipient = toProvider ? provider : o;
            uint256 face = _bound(faces[i], 1, deposit / 2 + 1);
            bool ok = _redeemAs(recipient, _signedBy(recipient, face, nonces[toProvider ? 1 : 0]++), picks[i] & 2 != 0);
            if (ok && toProvider) direct += face;
            if (ok && !toProvider) credited += face;
            ITicketBroker.SenderInfo memory info = broker.getSenderInfo(sender);
            assertEq(start - token.balanceOf(address(broker)), direct, "broker falls by the direct payments only");
            assertEq(token.balanceOf(address(broker)), info.deposit + info.reserve + credited, "solvency");
            assertEq(token.balanceOf(provider), direct);
            assertEq(staking.pendingFees(o), credited);
            assertEq(staking.pendingFees(provider), 0);
        }
    }
}
