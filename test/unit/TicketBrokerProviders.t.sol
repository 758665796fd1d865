// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "forge-std/Vm.sol";
import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Issue 18: a recipient that never registered as an orchestrator (a compute provider leasing
///         machines) is paid its winning tickets directly, in the fee token, to its own address.
/// @dev Setup: o (10% / 50%, 100 self + 100 delegated) active from round 1; `provider` never
///      registers; the sender has a 10 ether deposit, no reserve. Round 1.
contract TicketBrokerProvidersTest is BrokerTestBase {
    address internal o;
    address internal d = makeAddr("delegator");
    address internal provider = makeAddr("provider");

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("o", 100 ether, 100_000, 500_000);
        bondAs(d, 100 ether, o);
        nextRound(); // round 1: o active
        fundSender(sender, 10 ether, 0);
    }

    /// @dev Σ amounts of PaidToRecipient to `recipient` and the number of token transfers out of the
    ///      broker to it, in `logs`.
    function _directPayments(Vm.Log[] memory logs, address recipient)
        internal
        view
        returns (uint256 paid, uint256 events, uint256 transfers, uint256 transferred)
    {
        for (uint256 i; i < logs.length; ++i) {
            bytes32 sig = logs[i].topics[0];
            if (logs[i].emitter == address(broker) && sig == ITicketBroker.PaidToRecipient.selector) {
                assertEq(address(uint160(uint256(logs[i].topics[1]))), recipient, "names the recipient");
                (uint256 amount,) = abi.decode(logs[i].data, (uint256, uint256));
                paid += amount;
                ++events;
            } else if (logs[i].emitter == address(token) && sig == IERC20.Transfer.selector) {
                address from = address(uint160(uint256(logs[i].topics[1])));
                address to = address(uint160(uint256(logs[i].topics[2])));
                if (from == address(broker) && to == recipient) {
                    ++transfers;
                    transferred += abi.decode(logs[i].data, (uint256));
                }
            }
        }
    }

    /* VIEWS */

    function test_EverRegistered_NeverRegisteredRegisteredAndSlashed() public {
        assertFalse(staking.everRegistered(provider), "never registered");
        assertTrue(staking.everRegistered(o), "registered");
        vm.prank(verifier);
        staking.slash(o, address(0), 100_000, 0);
        assertFalse(staking.isRegistered(o));
        assertTrue(staking.everRegistered(o), "slashed: was registered");
        assertGt(staking.slashedUntil(o), 0);
    }

    /* SINGLE */

    /// @notice The provider's balance rises by exactly the face value, the sender's deposit and the
    ///         broker's balance fall by it, PaidToRecipient is emitted, and Staking is not written.
    function test_Provider_RedeemsWinningTicket_PaidFaceValueDirectly() public {
        ITicketBroker.SignedTicket memory st = _signedBy(provider, 1 ether, 0);
        uint256 brokerBalance = token.balanceOf(address(broker));
        IStaking.OrchestratorInfo memory info = staking.orchestratorInfo(provider);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, provider, 1 ether, 0, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.PaidToRecipient(provider, 1 ether, 1);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(broker), provider, 1 ether);
        vm.expectCall(address(staking), abi.encodeWithSelector(IStaking.creditFees.selector), 0);
        vm.expectCall(address(token), abi.encodeCall(IERC20.transfer, (provider, 1 ether)), 1);
        vm.record();
        _redeem(provider, st);
        (, bytes32[] memory writes) = vm.accesses(address(staking));
        assertEq(writes.length, 0, "Staking state untouched");

        assertEq(token.balanceOf(provider), 1 ether, "provider paid the face value");
        assertEq(token.balanceOf(address(broker)), brokerBalance - 1 ether, "broker paid it out");
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether, "deposit debited");
        assertTrue(broker.isNonceUsed(sender, provider, 0), "nonce used");
        assertEq(staking.pendingFees(provider), 0, "no fees in Staking");
        assertFalse(staking.everRegistered(provider));
        IStaking.OrchestratorInfo memory after_ = staking.orchestratorInfo(provider);
        assertEq(abi.encode(after_), abi.encode(info), "no orchestrator record");
    }

    /// @notice A rejected ticket reverts with its reason and pays nothing, as for an orchestrator.
    function test_Provider_RevertWhen_TicketCannotBePaid() public {
        _expectRedeemRevert(provider, _signedBy(provider, 11 ether, 0), ITicketBroker.TicketInsufficientFunds.selector);
        _expectRedeemRevert(provider, _signedBy(provider, 0, 0), ITicketBroker.TicketZeroFaceValue.selector);
        _redeem(provider, _signedBy(provider, 1 ether, 0));
        _expectRedeemRevert(provider, _signedBy(provider, 1 ether, 0), ITicketBroker.TicketNonceUsed.selector);
        assertEq(token.balanceOf(provider), 1 ether, "only the one paid ticket");
        assertEq(broker.getSenderInfo(sender).deposit, 9 ether);
    }

    /* BATCH */

    /// @notice A batch pays its winners with ONE transfer of their sum, after every ticket is settled
    ///         (the transfer is the batch's last log); rejected tickets emit TicketRejected as usual.
    function test_ProviderBatch_OneTransferOfTheSum_StatusesAndRejections() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](6);
        sts[0] = _signedBy(provider, 1 ether, 0); // Redeemed
        sts[1] = _signedBy(provider, 0, 1); // ZeroFaceValue
        sts[2] = _signedBy(provider, 2 ether, 2); // Redeemed
        sts[3] = _signedBy(provider, 50 ether, 3); // InsufficientFunds
        sts[4] = sts[0]; // NonceUsed
        sts[5] = _signedBy(provider, 3 ether, 4); // Redeemed
        uint256 brokerBalance = token.balanceOf(address(broker));

        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, provider, 1 ether, 0, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, provider, 1, ITicketBroker.RedeemStatus.ZeroFaceValue);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, provider, 2 ether, 2, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, provider, 3, ITicketBroker.RedeemStatus.InsufficientFunds);
        vm.expectEmit(address(broker));
        emit ITicketBroker.TicketRejected(sender, provider, 0, ITicketBroker.RedeemStatus.NonceUsed);
        vm.expectEmit(address(broker));
        emit ITicketBroker.WinningTicketRedeemed(sender, provider, 3 ether, 4, 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.PaidToRecipient(provider, 6 ether, 1);
        vm.expectCall(address(token), abi.encodeWithSelector(IERC20.transfer.selector), 1);
        vm.expectCall(address(staking), abi.encodeWithSelector(IStaking.creditFees.selector), 0);
        vm.recordLogs();
        vm.record();
        ITicketBroker.RedeemStatus[] memory statuses = _batch(provider, sts);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        (, bytes32[] memory writes) = vm.accesses(address(staking));
        assertEq(writes.length, 0, "Staking state untouched");

        assertEq(uint256(statuses[0]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint256(statuses[1]), uint256(ITicketBroker.RedeemStatus.ZeroFaceValue));
        assertEq(uint256(statuses[2]), uint256(ITicketBroker.RedeemStatus.Redeemed));
        assertEq(uint256(statuses[3]), uint256(ITicketBroker.RedeemStatus.InsufficientFunds));
        assertEq(uint256(statuses[4]), uint256(ITicketBroker.RedeemStatus.NonceUsed));
        assertEq(uint256(statuses[5]), uint256(ITicketBroker.RedeemStatus.Redeemed));

        (uint256 paid, uint256 events, uint256 transfers, uint256 transferred) = _directPayments(logs, provider);
        assertEq(paid, 6 ether, "PaidToRecipient sums the winners");
        assertEq(events, 1, "one run of one creation round: one event");
        assertEq(transfers, 1, "one transfer");
        assertEq(transferred, 6 ether, "of the sum");
        Vm.Log memory last = logs[logs.length - 1];
        assertEq(last.emitter, address(token), "the transfer comes last: every ticket settled first");
        assertEq(last.topics[0], IERC20.Transfer.selector);

        assertEq(token.balanceOf(provider), 6 ether);
        assertEq(token.balanceOf(address(broker)), brokerBalance - 6 ether);
        assertEq(broker.getSenderInfo(sender).deposit, 4 ether);
        assertEq(_wordBits(sender, provider, 0), 1 | 4 | 16, "nonces 0, 2 and 4 paid");
        assertFalse(broker.isNonceUsed(sender, provider, 3), "the skipped winner stays redeemable");
    }

    /// @notice Tickets of two creation rounds: one PaidToRecipient per run of a round (as FeesCredited
    ///         for an orchestrator), still one transfer of the whole sum.
    function test_ProviderBatch_TwoCreationRounds_TwoEventsOneTransfer() public {
        ITicketBroker.SignedTicket[] memory early = new ITicketBroker.SignedTicket[](3);
        early[0] = _signedAt(provider, 1 ether, 0, 1);
        early[1] = _signedAt(provider, 2 ether, 1, 1);
        nextRound(); // round 2: round-1 tickets still valid
        early[2] = _signedAt(provider, 4 ether, 2, 2);
        vm.expectEmit(address(broker));
        emit ITicketBroker.PaidToRecipient(provider, 3 ether, 1);
        vm.expectEmit(address(broker));
        emit ITicketBroker.PaidToRecipient(provider, 4 ether, 2);
        vm.expectCall(address(token), abi.encodeWithSelector(IERC20.transfer.selector), 1);
        vm.recordLogs();
        _batch(provider, early);
        (uint256 paid, uint256 events, uint256 transfers, uint256 transferred) =
            _directPayments(vm.getRecordedLogs(), provider);
        assertEq(paid, 7 ether);
        assertEq(events, 2);
        assertEq(transfers, 1);
        assertEq(transferred, 7 ether);
        assertEq(token.balanceOf(provider), 7 ether);
    }

    /// @notice A batch in which nothing pays transfers nothing.
    function test_ProviderBatch_NothingPaid_NoTransferNoEvent() public {
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(provider, 0, 0);
        sts[1] = _signedBy(provider, 11 ether, 1);
        vm.expectCall(address(token), abi.encodeWithSelector(IERC20.transfer.selector), 0);
        vm.recordLogs();
        _batch(provider, sts);
        (uint256 paid, uint256 events, uint256 transfers,) = _directPayments(vm.getRecordedLogs(), provider);
        assertEq(paid + events + transfers, 0);
        assertEq(token.balanceOf(provider), 0);
        assertEq(broker.getSenderInfo(sender).deposit, 10 ether);
    }

    /* REDEEMER */

    /// @notice A provider has no redeemer unless it names one: then only it or that key redeems, and
    ///         the payment still goes to the provider's address, never to the key.
    function test_ProviderRedeemFor_OnlyItselfOrTheKeyItNamed_PaysTheProvider() public {
        address key = makeAddr("providerKey");
        assertEq(staking.redeemerOf(provider), address(0), "no redeemer by default");
        ITicketBroker.SignedTicket memory st = _signedBy(provider, 1 ether, 0);
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotRedeemer.selector, key, provider));
        broker.redeemWinningTicketFor(provider, st);

        vm.prank(provider);
        broker.redeemWinningTicketFor(provider, st); // the recipient itself
        assertEq(token.balanceOf(provider), 1 ether);

        vm.prank(provider);
        staking.setRedeemer(key);
        assertFalse(staking.everRegistered(provider), "naming a key registers nothing");
        ITicketBroker.SignedTicket[] memory sts = new ITicketBroker.SignedTicket[](2);
        sts[0] = _signedBy(provider, 2 ether, 1);
        sts[1] = _signedBy(provider, 3 ether, 2);
        vm.prank(key);
        broker.redeemWinningTicketsFor(provider, sts);
        assertEq(token.balanceOf(provider), 6 ether, "paid to the provider");
        assertEq(token.balanceOf(key), 0, "the key holds nothing");
    }
}
