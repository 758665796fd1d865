// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Vm} from "forge-std/Vm.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {BrokerTestBase} from "../utils/BrokerTestBase.sol";
import {TicketBroker} from "../../contracts/TicketBroker.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IStaking} from "../../contracts/interfaces/IStaking.sol";

/// @notice Funding (deposit, reserve, third party, permit), unlock / cancel / withdraw, payFees and
///         the constructor's parameter checks.
contract TicketBrokerFundingTest is BrokerTestBase {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    address internal payer = makeAddr("payer");

    function _approveAndGive(address who, uint256 amount) internal {
        give(who, amount);
        vm.prank(who);
        token.approve(address(broker), amount);
    }

    function _info(address who) internal view returns (ITicketBroker.SenderInfo memory) {
        return broker.getSenderInfo(who);
    }

    /* DEPOSIT AND RESERVE */

    function test_FundDeposit_CreditsDepositAndPullsTokens() public {
        _approveAndGive(sender, 10 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.DepositFunded(sender, sender, 4 ether);
        vm.prank(sender);
        broker.fundDeposit(4 ether);
        assertEq(_info(sender).deposit, 4 ether);
        assertEq(_info(sender).reserve, 0);
        assertEq(_info(sender).withdrawRound, 0);
        assertEq(token.balanceOf(sender), 6 ether);
        assertEq(token.balanceOf(address(broker)), 4 ether);

        vm.prank(sender);
        broker.fundDeposit(1 ether);
        assertEq(_info(sender).deposit, 5 ether, "deposits accumulate");
    }

    function test_FundReserve_CreditsReserveAndPullsTokens() public {
        _approveAndGive(sender, 10 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.ReserveFunded(sender, sender, 3 ether);
        vm.prank(sender);
        broker.fundReserve(3 ether);
        assertEq(_info(sender).deposit, 0);
        assertEq(_info(sender).reserve, 3 ether);
        assertEq(token.balanceOf(sender), 7 ether);
        assertEq(token.balanceOf(address(broker)), 3 ether);
    }

    function test_FundDepositAndReserve_CreditsBothInOneTransfer() public {
        _approveAndGive(sender, 10 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.DepositFunded(sender, sender, 2 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.ReserveFunded(sender, sender, 5 ether);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(sender, address(broker), 7 ether);
        vm.prank(sender);
        broker.fundDepositAndReserve(2 ether, 5 ether);
        assertEq(_info(sender).deposit, 2 ether);
        assertEq(_info(sender).reserve, 5 ether);
        assertEq(token.balanceOf(address(broker)), 7 ether);
    }

    function test_FundDepositAndReserve_OneSideZeroEmitsOnlyTheOther() public {
        _approveAndGive(sender, 10 ether);
        vm.recordLogs();
        vm.prank(sender);
        broker.fundDepositAndReserve(0, 5 ether);
        bytes32[] memory topics = _brokerTopics();
        assertEq(topics.length, 1);
        assertEq(topics[0], ITicketBroker.ReserveFunded.selector);
        assertEq(_info(sender).deposit, 0);
        assertEq(_info(sender).reserve, 5 ether);

        vm.recordLogs();
        vm.prank(sender);
        broker.fundDepositAndReserve(3 ether, 0);
        topics = _brokerTopics();
        assertEq(topics.length, 1);
        assertEq(topics[0], ITicketBroker.DepositFunded.selector);
        assertEq(_info(sender).deposit, 3 ether);
        assertEq(_info(sender).reserve, 5 ether);
    }

    /// @dev topic0 of every event the broker emitted since recordLogs.
    function _brokerTopics() internal returns (bytes32[] memory out) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 n;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(broker)) n++;
        }
        out = new bytes32[](n);
        n = 0;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(broker)) out[n++] = logs[i].topics[0];
        }
    }

    function test_FundDepositAndReserveFor_ThirdPartyPaysForSender() public {
        _approveAndGive(payer, 10 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.DepositFunded(sender, payer, 1 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.ReserveFunded(sender, payer, 2 ether);
        vm.prank(payer);
        broker.fundDepositAndReserveFor(sender, 1 ether, 2 ether);
        assertEq(_info(sender).deposit, 1 ether);
        assertEq(_info(sender).reserve, 2 ether);
        assertEq(_info(payer).deposit, 0);
        assertEq(_info(payer).reserve, 0);
        assertEq(token.balanceOf(payer), 7 ether);
        assertEq(token.balanceOf(sender), 0);
        assertEq(token.balanceOf(address(broker)), 3 ether);
    }

    function test_FundDepositAndReserveFor_NeverAffectsUnlock() public {
        fundSender(sender, 1 ether, 0);
        vm.prank(sender);
        broker.unlock();
        uint256 withdrawRound = _info(sender).withdrawRound;
        assertEq(withdrawRound, broker.currentRound() + 3);
        _approveAndGive(payer, 10 ether);
        vm.prank(payer);
        broker.fundDepositAndReserveFor(sender, 1 ether, 1 ether);
        assertEq(_info(sender).withdrawRound, withdrawRound, "still unlocking, same round");
        nextRound();
        vm.prank(payer);
        broker.fundDepositAndReserveFor(sender, 1 ether, 0);
        assertEq(_info(sender).withdrawRound, withdrawRound);
    }

    function test_RevertWhen_FundForZeroAddress() public {
        _approveAndGive(payer, 10 ether);
        vm.prank(payer);
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        broker.fundDepositAndReserveFor(address(0), 1 ether, 0);
    }

    function test_RevertWhen_FundingZeroAmount() public {
        _approveAndGive(sender, 10 ether);
        vm.startPrank(sender);
        vm.expectRevert(ITicketBroker.ZeroAmount.selector);
        broker.fundDeposit(0);
        vm.expectRevert(ITicketBroker.ZeroAmount.selector);
        broker.fundReserve(0);
        vm.expectRevert(ITicketBroker.ZeroAmount.selector);
        broker.fundDepositAndReserve(0, 0);
        vm.expectRevert(ITicketBroker.ZeroAmount.selector);
        broker.fundDepositAndReserveFor(payer, 0, 0);
        vm.expectRevert(ITicketBroker.ZeroAmount.selector);
        broker.fundDepositAndReserveWithPermit(0, 0, block.timestamp, 27, bytes32(0), bytes32(0));
        vm.stopPrank();
    }

    function test_RevertWhen_FundingWithoutAllowance() public {
        give(sender, 10 ether);
        vm.prank(sender);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(broker), 0, 1 ether)
        );
        broker.fundDeposit(1 ether);
    }

    function test_RevertWhen_FundingMoreThanBalance() public {
        give(sender, 1 ether);
        vm.startPrank(sender);
        token.approve(address(broker), 5 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, sender, 1 ether, 2 ether)
        );
        broker.fundDepositAndReserve(1 ether, 1 ether);
        vm.stopPrank();
    }

    function test_RevertWhen_DepositOrReserveExceedsUint128() public {
        uint256 big = uint256(type(uint128).max) + 1;
        deal(address(token), sender, 2 * big);
        vm.startPrank(sender);
        token.approve(address(broker), type(uint256).max);
        broker.fundDeposit(type(uint128).max);
        vm.expectRevert(abi.encodeWithSignature("SafeCastOverflowedUintDowncast(uint8,uint256)", 128, big));
        broker.fundDeposit(1);
        vm.expectRevert(abi.encodeWithSignature("SafeCastOverflowedUintDowncast(uint8,uint256)", 128, big));
        broker.fundReserve(big);
        vm.stopPrank();
    }

    /* PERMIT */

    function _permitSig(uint256 key, address owner, uint256 value, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, owner, address(broker), value, token.nonces(owner), deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(key, digest);
    }

    function test_FundWithPermit_ApprovesAndFundsInOneCall() public {
        give(sender, 10 ether);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(senderKey, sender, 6 ether, deadline);
        assertEq(token.allowance(sender, address(broker)), 0);
        vm.expectEmit(address(broker));
        emit ITicketBroker.DepositFunded(sender, sender, 2 ether);
        vm.expectEmit(address(broker));
        emit ITicketBroker.ReserveFunded(sender, sender, 4 ether);
        vm.prank(sender);
        broker.fundDepositAndReserveWithPermit(2 ether, 4 ether, deadline, v, r, s);
        assertEq(_info(sender).deposit, 2 ether);
        assertEq(_info(sender).reserve, 4 ether);
        assertEq(token.balanceOf(sender), 4 ether);
        assertEq(token.balanceOf(address(broker)), 6 ether);
        assertEq(token.nonces(sender), 1, "permit consumed");
        assertEq(token.allowance(sender, address(broker)), 0, "allowance spent");
    }

    function test_FundWithPermit_SucceedsWhenPermitWasFrontRun() public {
        give(sender, 10 ether);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(senderKey, sender, 3 ether, deadline);
        // Someone submits the permit first: the allowance is in place, the broker's own permit call fails.
        vm.prank(payer);
        token.permit(sender, address(broker), 3 ether, deadline, v, r, s);
        vm.prank(sender);
        broker.fundDepositAndReserveWithPermit(3 ether, 0, deadline, v, r, s);
        assertEq(_info(sender).deposit, 3 ether);
        assertEq(token.balanceOf(address(broker)), 3 ether);
    }

    function test_RevertWhen_FundWithPermitSignedByAnotherKey() public {
        give(sender, 10 ether);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(hotKey, sender, 3 ether, deadline);
        vm.prank(sender);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(broker), 0, 3 ether)
        );
        broker.fundDepositAndReserveWithPermit(3 ether, 0, deadline, v, r, s);
    }

    function test_RevertWhen_FundWithPermitUsedByAnotherCaller() public {
        // The permit is the sender's; a payer replaying it funds nothing (permit owner is msg.sender).
        give(sender, 10 ether);
        give(payer, 10 ether);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(senderKey, sender, 3 ether, deadline);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(broker), 0, 3 ether)
        );
        broker.fundDepositAndReserveWithPermit(3 ether, 0, deadline, v, r, s);
        assertEq(token.nonces(sender), 0);
    }

    function test_RevertWhen_FundWithExpiredPermit() public {
        give(sender, 10 ether);
        vm.warp(1000);
        uint256 deadline = block.timestamp - 1;
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(senderKey, sender, 3 ether, deadline);
        vm.prank(sender);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(broker), 0, 3 ether)
        );
        broker.fundDepositAndReserveWithPermit(3 ether, 0, deadline, v, r, s);
    }

    /* UNLOCK, CANCEL, WITHDRAW */

    function test_Unlock_SetsWithdrawRound() public {
        nextRound();
        fundSender(sender, 1 ether, 2 ether);
        uint256 round = broker.currentRound();
        vm.expectEmit(address(broker));
        emit ITicketBroker.Unlock(sender, round, round + 3);
        vm.prank(sender);
        broker.unlock();
        assertEq(_info(sender).withdrawRound, round + 3);
    }

    function test_Unlock_WithReserveOnly() public {
        fundSender(sender, 0, 2 ether);
        vm.prank(sender);
        broker.unlock();
        assertEq(_info(sender).withdrawRound, broker.currentRound() + broker.unlockPeriod());
    }

    function test_RevertWhen_UnlockWithNoFunds() public {
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NoFunds.selector, sender));
        broker.unlock();
    }

    function test_RevertWhen_UnlockWhileUnlocking() public {
        fundSender(sender, 1 ether, 0);
        vm.prank(sender);
        broker.unlock();
        nextRound();
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.AlreadyUnlocking.selector, 3));
        broker.unlock();
    }

    function test_CancelUnlock_ClearsWithdrawRound() public {
        fundSender(sender, 1 ether, 0);
        vm.prank(sender);
        broker.unlock();
        vm.expectEmit(address(broker));
        emit ITicketBroker.UnlockCancelled(sender);
        vm.prank(sender);
        broker.cancelUnlock();
        assertEq(_info(sender).withdrawRound, 0);
        rollRounds(3);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotUnlocking.selector, sender));
        broker.withdraw();
        // It can unlock again, from the current round.
        vm.prank(sender);
        broker.unlock();
        assertEq(_info(sender).withdrawRound, 6);
    }

    function test_RevertWhen_CancelUnlockWhenNotUnlocking() public {
        fundSender(sender, 1 ether, 0);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotUnlocking.selector, sender));
        broker.cancelUnlock();
    }

    function test_RevertWhen_CancelUnlockOfSomeoneElse() public {
        fundSender(sender, 1 ether, 0);
        vm.prank(sender);
        broker.unlock();
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotUnlocking.selector, payer));
        broker.cancelUnlock();
        assertEq(_info(sender).withdrawRound, 3);
    }

    function test_RevertWhen_WithdrawWithoutUnlock() public {
        fundSender(sender, 1 ether, 0);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotUnlocking.selector, sender));
        broker.withdraw();
    }

    function test_RevertWhen_WithdrawBeforeUnlockPeriodIsOver() public {
        fundSender(sender, 1 ether, 0);
        vm.prank(sender);
        broker.unlock();
        rollRounds(2);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.UnlockPeriodNotOver.selector, 3, 2));
        broker.withdraw();
        // Last block of round 2 still too early.
        vm.roll(staking.startBlock() + 3 * params.roundLength - 1);
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.UnlockPeriodNotOver.selector, 3, 2));
        broker.withdraw();
    }

    function test_Withdraw_PaysDepositAndReserve() public {
        fundSender(sender, 3 ether, 4 ether);
        _approveAndGive(payer, 1 ether);
        vm.prank(payer);
        broker.fundDepositAndReserveFor(sender, 0, 1 ether);
        vm.prank(sender);
        broker.unlock();
        rollRounds(3);
        uint256 brokerBefore = token.balanceOf(address(broker));
        vm.expectEmit(address(broker));
        emit ITicketBroker.Withdrawal(sender, 3 ether, 5 ether);
        vm.prank(sender);
        broker.withdraw();
        assertEq(token.balanceOf(sender), 8 ether);
        assertEq(token.balanceOf(address(broker)), brokerBefore - 8 ether);
        assertEq(_info(sender).deposit, 0);
        assertEq(_info(sender).reserve, 0);
        assertEq(_info(sender).withdrawRound, 0);

        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotUnlocking.selector, sender));
        broker.withdraw();
        vm.prank(sender);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NoFunds.selector, sender));
        broker.unlock();
    }

    function test_Withdraw_LongAfterWithdrawRound() public {
        fundSender(sender, 3 ether, 0);
        vm.prank(sender);
        broker.unlock();
        rollRounds(10);
        vm.prank(sender);
        broker.withdraw();
        assertEq(token.balanceOf(sender), 3 ether);
    }

    function test_Withdraw_OnlyTheCallersFunds() public {
        fundSender(sender, 3 ether, 1 ether);
        fundSender(payer, 5 ether, 2 ether);
        vm.prank(sender);
        broker.unlock();
        vm.prank(payer);
        broker.unlock();
        rollRounds(3);
        vm.prank(sender);
        broker.withdraw();
        assertEq(token.balanceOf(sender), 4 ether);
        assertEq(token.balanceOf(address(broker)), 7 ether);
        assertEq(_info(payer).deposit, 5 ether);
        assertEq(_info(payer).reserve, 2 ether);
    }

    /* FEES */

    function test_RevertWhen_PayFeesNotCalledByStaking() public {
        fundSender(sender, 1 ether, 0);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotStaking.selector, payer));
        broker.payFees(payer, 1);
        vm.expectRevert(abi.encodeWithSelector(ITicketBroker.NotStaking.selector, address(this)));
        broker.payFees(address(this), 1);
    }

    function test_PayFees_ThroughStakingWithdrawFees() public {
        address o = newOrchestrator("o", 10 ether, 0, 0);
        fundSender(sender, 5 ether, 0);
        ITicketBroker.SignedTicket memory st = _signedBy(o, 2 ether, 0);
        _redeem(o, st);
        assertEq(token.balanceOf(address(broker)), 5 ether, "fees stay in the broker");
        vm.expectEmit(address(broker));
        emit ITicketBroker.FeesPaid(payer, 1.5 ether);
        vm.prank(o);
        staking.withdrawFees(payer, 1.5 ether);
        assertEq(token.balanceOf(payer), 1.5 ether);
        assertEq(token.balanceOf(address(broker)), 3.5 ether);
        assertEq(staking.pendingFees(o), 0.5 ether);
    }

    /* CONSTRUCTOR AND PARAMETERS */

    function test_Constructor_SetsParameters() public view {
        assertEq(broker.token(), address(token));
        assertEq(address(broker.staking()), address(staking));
        assertEq(broker.unlockPeriod(), 3);
        assertEq(broker.ticketValidity(), 2);
        assertEq(broker.TICKET_TYPEHASH(), keccak256(bytes(TICKET_TYPE)), "TICKET_TYPEHASH matches the documented type");
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = broker.eip712Domain();
        assertEq(name, "peerflow TicketBroker");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(broker));
    }

    function test_CurrentRound_FollowsStakingClock() public {
        for (uint256 i; i < 5; ++i) {
            assertEq(broker.currentRound(), staking.currentRound());
            assertEq(broker.currentRound(), i);
            vm.roll(block.number + params.roundLength - 1);
            assertEq(broker.currentRound(), i, "last block of the round");
            vm.roll(block.number + 1);
        }
    }

    function test_Constructor_AcceptsValidityEqualToCooldown() public {
        TicketBroker b = new TicketBroker(token, staking, 3, staking.rateChangeCooldown());
        assertEq(b.ticketValidity(), 2);
        b = new TicketBroker(token, staking, 2, 1);
        assertEq(b.unlockPeriod(), 2);
    }

    function test_RevertWhen_ConstructorZeroAddresses() public {
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        new TicketBroker(IERC20(address(0)), staking, 3, 2);
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        new TicketBroker(token, IStaking(address(0)), 3, 2);
    }

    function test_RevertWhen_ConstructorValidityZero() public {
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        new TicketBroker(token, staking, 3, 0);
    }

    function test_RevertWhen_ConstructorUnlockPeriodNotAboveValidity() public {
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        new TicketBroker(token, staking, 2, 2);
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        new TicketBroker(token, staking, 1, 2);
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        new TicketBroker(token, staking, 0, 1);
    }

    function test_RevertWhen_ConstructorValidityAboveRateChangeCooldown() public {
        assertEq(staking.rateChangeCooldown(), 2);
        vm.expectRevert(ITicketBroker.InvalidParameters.selector);
        new TicketBroker(token, staking, 10, 3);
    }
}
