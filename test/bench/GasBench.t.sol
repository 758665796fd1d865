// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {console} from "forge-std/console.sol";
import {Fixture} from "../utils/Fixture.sol";
import {ITicketBroker} from "../../contracts/interfaces/ITicketBroker.sol";
import {IJobEscrow} from "../../contracts/interfaces/IJobEscrow.sol";
import {JobEscrow} from "../../contracts/JobEscrow.sol";
import {SegmentResultHash} from "../../contracts/libraries/SegmentResultHash.sol";
import {twoRenditionResult} from "../utils/SegmentResults.sol";

/// @notice Gas figures for `./script/bench gas`. Run with `--isolate`, where each top-level call is its
///         own transaction: figures are receipt gas (21,000 base + calldata + execution, cold accesses
///         as on a real chain). Nothing here asserts a figure: targets live in the benchmark output.
contract GasBench is Fixture {
    address internal o;
    address internal b;
    uint256 internal bKey;
    address internal b2; // a broadcaster that never paid o
    uint256 internal b2Key;
    uint256 internal nonce;

    /// @dev Winners about 1000 nonces apart (winProb ~1/1000): each lands in a word of its own.
    uint256 internal constant SPARSE = 1000;

    function setUp() public override {
        super.setUp();
        o = newOrchestrator("orchestrator", 1000 ether, 100_000, 500_000);
        for (uint256 i; i < 19; ++i) {
            newOrchestrator(string.concat("peer", vm.toString(i)), 100 ether + i, 100_000, 500_000);
        }
        bondAs(makeAddr("delegator"), 500 ether, o);
        (b, bKey) = makeAddrAndKey("broadcaster");
        fundSender(b, 1000 ether, 100 ether);
        (b2, b2Key) = makeAddrAndKey("broadcaster2");
        fundSender(b2, 10 ether, 0);
        nextRound();
        // Steady state: the orchestrator was paid and rewarded in an earlier round, so its fee slots
        // exist, and b's replay ring is warm: each of its 16 slots holds an older word (winners
        // SPARSE nonces apart have been redeemed for a while). The measured round starts fresh.
        for (uint256 w; w < 16; ++w) {
            nonce = w * 192;
            redeem(signed(1 ether));
        }
        nonce = 16 * 192;
        vm.prank(o);
        staking.reward();
        nextRound();
    }

    /// @dev Moves `nonce` to the next winner of a sparse stream (SPARSE nonces after the last one).
    function nextSparse() internal {
        nonce = (nonce + SPARSE - 1) / SPARSE * SPARSE;
    }

    function report(string memory name, uint256 value) internal pure {
        console.log(string.concat(name, ": ", vm.toString(value)));
    }

    function signed(uint256 faceValue) internal returns (ITicketBroker.SignedTicket memory) {
        bytes32 rand = keccak256(abi.encode("rand", nonce));
        ITicketBroker.Ticket memory t = ticketFor(o, b, faceValue, nonce++, rand);
        return sign(bKey, t, rand);
    }

    function redeem(ITicketBroker.SignedTicket memory st) internal returns (uint256 gasUsed) {
        vm.prank(o);
        broker.redeemWinningTicket(st);
        gasUsed = vm.lastCallGas().gasTotalUsed;
    }

    /// @dev One hot-key ticket of b to o on the current state, reverted after: the key is authorized
    ///      by authorizeSigner (`capped` false) or by a relayed grant bound to o with a cap, and has
    ///      paid o before under it (its replay slot holds an older word and, under a grant, its spent
    ///      is nonzero): the steady state of a viewer's page paying its broadcaster.
    function redeemHot(bool capped) internal returns (uint256 gasUsed) {
        uint256 snap = vm.snapshotState();
        (address hotKey, uint256 hotPk) = makeAddrAndKey("broadcasterHotKey");
        if (capped) {
            uint256 untilRound = broker.currentRound() + 30;
            uint256 deadline = block.timestamp + 1 hours;
            bytes memory sig = signGrant(bKey, b, hotKey, o, 100 ether, untilRound, deadline);
            broker.authorizeSignerWithSig(b, hotKey, o, 100 ether, untilRound, deadline, sig);
        } else {
            vm.prank(b);
            broker.authorizeSigner(hotKey);
        }
        redeem(hotSigned(hotKey, hotPk, 0));
        gasUsed = redeem(hotSigned(hotKey, hotPk, 16 * 192)); // same slot, newer word
        vm.revertToState(snap);
    }

    function hotSigned(address hotKey, uint256 hotPk, uint256 hotNonce)
        internal
        view
        returns (ITicketBroker.SignedTicket memory)
    {
        bytes32 rand = keccak256(abi.encode("hot", hotNonce));
        ITicketBroker.Ticket memory t = ticketFor(o, b, 1 ether, hotNonce, rand);
        t.signer = hotKey;
        return sign(hotPk, t, rand);
    }

    function redeemBatch(uint256 n) internal returns (uint256 gasUsed, uint256 calldataBytes) {
        return redeemBatch(n, 1);
    }

    /// @dev A batch of `n` winners whose nonces are `stride` apart.
    function redeemBatch(uint256 n, uint256 stride) internal returns (uint256 gasUsed, uint256 calldataBytes) {
        ITicketBroker.SignedTicket[] memory tickets = new ITicketBroker.SignedTicket[](n);
        for (uint256 i; i < n; ++i) {
            nonce = (nonce + stride - 1) / stride * stride;
            tickets[i] = signed(1 ether);
        }
        calldataBytes = abi.encodeCall(broker.redeemWinningTickets, (tickets)).length;
        vm.prank(o);
        broker.redeemWinningTickets(tickets);
        gasUsed = vm.lastCallGas().gasTotalUsed;
    }

    function test_GasFigures() public {
        // Reference measured in the same run: a plain ERC-20 transfer to an existing holder.
        address holder = makeAddr("holder");
        give(holder, 10 ether);
        give(makeAddr("other"), 1);
        vm.prank(holder);
        token.transfer(makeAddr("other"), 1 ether);
        report("erc20_transfer_gas", vm.lastCallGas().gasTotalUsed);
        // Issue 20: the same between two holders that delegated their votes to themselves (both
        // delegates' vote checkpoints move), and a holder's first delegation.
        {
            address voter = makeAddr("voter");
            address voter2 = makeAddr("voter2");
            give(voter, 10 ether);
            give(voter2, 1);
            vm.prank(voter2);
            token.delegate(voter2);
            vm.prank(voter);
            token.delegate(voter);
            report("token_delegate_gas", vm.lastCallGas().gasTotalUsed);
            vm.roll(block.number + 1); // checkpoints of an earlier block exist: each transfer appends
            vm.prank(voter);
            token.transfer(voter2, 1 ether);
            report("erc20_transfer_delegated_gas", vm.lastCallGas().gasTotalUsed);
        }

        // Winners are SPARSE nonces apart, so each opens a new word of the replay ring, whose slot
        // holds an older word (the ring is warm): a nonzero-to-nonzero write.
        // First ticket to this orchestrator since its fees were last folded (pending-fee slot is zero).
        nextSparse();
        report("redeem_single_cold_gas", redeem(signed(1 ether)));
        // The orchestrator has already earned this round: the common case.
        nextSparse();
        report("redeem_single_gas", redeem(signed(1 ether)));
        // The same with a hot key's ticket (signer != funder), each on this state and reverted after:
        // a key authorized by authorizeSigner (no bounds), and one under a grant bound to o with a cap.
        report("redeem_single_hot_key_gas", redeemHot(false));
        report("redeem_single_capped_grant_gas", redeemHot(true));
        // A second winner in the same replay word (dense winners: high winProb).
        report("redeem_single_same_word_gas", redeem(signed(1 ether)));
        report("redeem_single_calldata_bytes", abi.encodeCall(broker.redeemWinningTicket, (signed(1))).length);
        nonce--;
        // The very first winner of a (signer, recipient) pair: its ring slot is empty (zero to nonzero).
        {
            bytes32 rand = keccak256("first");
            ITicketBroker.SignedTicket memory first = sign(b2Key, ticketFor(o, b2, 1 ether, 0, rand), rand);
            report("redeem_single_first_gas", redeem(first));
        }

        // Consecutive nonces (dense winners), then winners SPARSE nonces apart (the realistic case).
        nextSparse();
        (uint256 one, uint256 oneBytes) = redeemBatch(1);
        (uint256 ten, uint256 tenBytes) = redeemBatch(10);
        report("redeem_batch1_gas", one);
        report("redeem_batch10_gas", ten);
        report("redeem_batch10_marginal_gas", (ten - one) / 9);
        report("ticket_calldata_bytes", (tenBytes - oneBytes) / 9);
        (uint256 oneSparse,) = redeemBatch(1, SPARSE);
        (uint256 tenSparse,) = redeemBatch(10, SPARSE);
        report("redeem_batch10_sparse_gas", tenSparse);
        report("redeem_batch10_sparse_marginal_gas", (tenSparse - oneSparse) / 9);

        // Funding (balance-difference check on the token transfer included).
        give(b, 1 ether);
        vm.prank(b);
        token.approve(address(broker), 1 ether);
        vm.prank(b);
        broker.fundDeposit(1 ether);
        report("fund_deposit_topup_gas", vm.lastCallGas().gasTotalUsed);

        // Staking.
        address d = makeAddr("newDelegator");
        give(d, 100 ether);
        vm.prank(d);
        token.approve(address(staking), 100 ether);
        vm.prank(d);
        staking.bond(100 ether, o);
        report("bond_gas", vm.lastCallGas().gasTotalUsed);
        // Issue 20: the same delegator again in a later block (its position and the pool each append
        // their value before to their voting record), then a partial unbond in a later block.
        {
            uint256 snap = vm.snapshotState();
            vm.roll(block.number + 1);
            give(d, 10 ether);
            vm.prank(d);
            token.approve(address(staking), 10 ether);
            vm.prank(d);
            staking.bond(10 ether, o);
            report("bond_topup_gas", vm.lastCallGas().gasTotalUsed);
            vm.roll(block.number + 1);
            vm.prank(d);
            staking.unbond(10 ether);
            report("unbond_gas", vm.lastCallGas().gasTotalUsed);
            vm.revertToState(snap);
        }

        vm.prank(makeAddr("peer0"));
        staking.reward(); // initializes the round in the Minter
        report("reward_first_in_round_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(o);
        staking.reward();
        report("reward_gas", vm.lastCallGas().gasTotalUsed);

        for (uint256 i; i < 5; ++i) {
            nextRound();
            redeem(signed(1 ether));
            vm.prank(o);
            staking.reward();
        }
        vm.prank(makeAddr("delegator"));
        staking.claimEarnings();
        report("claim_earnings_gas", vm.lastCallGas().gasTotalUsed);
    }

    /// @dev The operator keys' paths, from the same steady state as test_GasFigures: the orchestrator
    ///      names its keys (cold key), then each figure is measured twice on the same state (a snapshot
    ///      between): by the orchestrator as in test_GasFigures, and by its hot key. Redemption: a first
    ///      fee since the fold, the common case, a sparse batch; reward: the first touch of the pool in
    ///      the round (its fees folded), after the round's first reward.
    function test_OperatorKeyGasFigures() public {
        address redeemerKey = makeAddr("redeemerKey");
        address rewardKey = makeAddr("rewardCallerKey");
        vm.prank(o);
        staking.setRedeemer(redeemerKey);
        report("set_redeemer_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(o);
        staking.setRewardCaller(rewardKey);
        report("set_reward_caller_gas", vm.lastCallGas().gasTotalUsed);

        nextSparse();
        pairRedeem("redeem_single_cold", redeemerKey);
        nextSparse();
        pairRedeem("redeem_single", redeemerKey);

        nextSparse();
        ITicketBroker.SignedTicket[] memory one = sparseBatch(1);
        ITicketBroker.SignedTicket[] memory ten = sparseBatch(10);
        uint256 snap = vm.snapshotState();
        vm.prank(o);
        broker.redeemWinningTickets(one);
        uint256 oneGas = vm.lastCallGas().gasTotalUsed;
        vm.prank(o);
        broker.redeemWinningTickets(ten);
        uint256 tenGas = vm.lastCallGas().gasTotalUsed;
        report("pair_redeem_batch10_sparse_marginal_by_recipient_gas", (tenGas - oneGas) / 9);
        vm.revertToState(snap);
        vm.prank(redeemerKey);
        broker.redeemWinningTicketsFor(o, one);
        oneGas = vm.lastCallGas().gasTotalUsed;
        vm.prank(redeemerKey);
        broker.redeemWinningTicketsFor(o, ten);
        tenGas = vm.lastCallGas().gasTotalUsed;
        report("pair_redeem_batch10_sparse_marginal_by_redeemer_gas", (tenGas - oneGas) / 9);

        vm.prank(makeAddr("peer0"));
        staking.reward(); // initializes the round in the Minter
        snap = vm.snapshotState();
        vm.prank(o);
        staking.reward();
        report("pair_reward_by_orchestrator_gas", vm.lastCallGas().gasTotalUsed);
        vm.revertToState(snap);
        vm.prank(rewardKey);
        staking.rewardFor(o);
        report("pair_reward_by_reward_caller_gas", vm.lastCallGas().gasTotalUsed);
    }

    /// @dev One winner redeemed on the same state by the orchestrator (redeemWinningTicket), by its
    ///      redeemer and by itself through redeemWinningTicketFor; the redeemer's redemption is kept.
    function pairRedeem(string memory name, address redeemerKey) internal {
        ITicketBroker.SignedTicket memory st = signed(1 ether);
        uint256 snap = vm.snapshotState();
        vm.prank(o);
        broker.redeemWinningTicket(st);
        report(string.concat("pair_", name, "_by_recipient_gas"), vm.lastCallGas().gasTotalUsed);
        vm.revertToState(snap);
        vm.prank(o);
        broker.redeemWinningTicketFor(o, st);
        report(string.concat("pair_", name, "_for_by_recipient_gas"), vm.lastCallGas().gasTotalUsed);
        vm.revertToState(snap);
        vm.prank(redeemerKey);
        broker.redeemWinningTicketFor(o, st);
        report(string.concat("pair_", name, "_by_redeemer_gas"), vm.lastCallGas().gasTotalUsed);
    }

    function sparseBatch(uint256 n) internal returns (ITicketBroker.SignedTicket[] memory tickets) {
        tickets = new ITicketBroker.SignedTicket[](n);
        for (uint256 i; i < n; ++i) {
            nonce = (nonce + SPARSE - 1) / SPARSE * SPARSE;
            tickets[i] = signed(1 ether);
        }
    }

    /// @dev Issue 19, viewers paying streamers: a viewer's wallet grants a hot key by signature (relayed
    ///         by the broadcaster; the funder's first grant, bound to the broadcaster and capped: the
    ///         nonce and both of the signer's slots go from zero), beside
    ///         the transaction it replaces; then StreamSupport, with a viewer that holds tokens and
    ///         approved it, and a streamer that already holds tokens: a tip with a short message, the
    ///         streamer's first price, a first subscription and its extension (nonzero to nonzero).
    function test_StreamSupportGasFigures() public {
        (address viewer, uint256 viewerKey) = makeAddrAndKey("viewer");
        address hotKey = makeAddr("viewerHotKey");
        uint256 snap = vm.snapshotState();
        vm.prank(viewer);
        broker.authorizeSigner(hotKey);
        report("authorize_signer_gas", vm.lastCallGas().gasTotalUsed);
        vm.revertToState(snap);
        uint256 untilRound = broker.currentRound() + 30;
        uint256 deadline = block.timestamp + 1 hours;
        // Bound to the broadcaster the viewer pays, capped (cap and spent share a slot of their own).
        bytes memory sig = signGrant(viewerKey, viewer, hotKey, b, 10 ether, untilRound, deadline);
        vm.prank(b); // the broadcaster relays it
        broker.authorizeSignerWithSig(viewer, hotKey, b, 10 ether, untilRound, deadline, sig);
        report("authorize_signer_with_sig_gas", vm.lastCallGas().gasTotalUsed);

        address streamer = makeAddr("streamer");
        give(streamer, 1 ether);
        give(viewer, 1000 ether);
        vm.prank(viewer);
        token.approve(address(streamSupport), type(uint256).max);
        vm.prank(viewer);
        streamSupport.tip(streamer, 1 ether, "great stream, thanks for the set!");
        report("tip_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(streamer);
        streamSupport.setSubscriptionPrice(5 ether);
        report("set_subscription_price_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(viewer);
        streamSupport.subscribe(streamer, 1, 5 ether);
        report("subscribe_first_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(viewer);
        streamSupport.subscribe(streamer, 1, 5 ether);
        report("subscribe_extend_gas", vm.lastCallGas().gasTotalUsed);
    }

    /// @dev `funder`'s first SignerGrant (nonce 0), signed with `key` for this broker, as r ‖ s ‖ v.
    function signGrant(
        uint256 key,
        address funder,
        address signer,
        address recipient,
        uint256 maxSpend,
        uint256 untilRound,
        uint256 deadline
    ) internal view returns (bytes memory) {
        bytes32 structHash = keccak256(
            abi.encode(
                broker.SIGNER_GRANT_TYPEHASH(), funder, signer, recipient, maxSpend, untilRound, uint256(0), deadline
            )
        );
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("peerflow TicketBroker"),
                keccak256("1"),
                block.chainid,
                address(broker)
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
        return abi.encodePacked(r, s, v);
    }

    /// @dev JobEscrow's hot paths: a 3-replica fixed-price job with one checkpoint, created by a buyer
    ///      that has created a job before (the job counter is already non-zero, as on a live chain), and
    ///      accepted and committed by providers that already hold tokens and have approved the escrow.
    function test_EscrowGasFigures() public {
        JobEscrow escrow = new JobEscrow(token, 1 days);
        address buyer = makeAddr("escrowBuyer");
        address[3] memory providers = [makeAddr("escrowP1"), makeAddr("escrowP2"), makeAddr("escrowP3")];
        give(buyer, 1000 ether);
        vm.prank(buyer);
        token.approve(address(escrow), type(uint256).max);
        for (uint256 i; i < 3; ++i) {
            give(providers[i], 100 ether);
            vm.prank(providers[i]);
            token.approve(address(escrow), type(uint256).max);
        }
        IJobEscrow.JobParams memory p;
        p.specHash = keccak256("spec");
        p.arbiter = makeAddr("escrowArbiter");
        p.resources = IJobEscrow.Resources({milliCpus: 4000, memoryMb: 8192, diskMb: 20_000, gpus: 1});
        p.price = 10 ether;
        p.collateral = 2 ether;
        p.replicas = 3;
        p.checkpoints = 1;
        p.deadline = uint64(block.timestamp + 1 days);
        p.reviewPeriod = 1 hours;
        vm.prank(buyer);
        escrow.createJob(p, "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi");

        vm.prank(buyer);
        uint256 id = escrow.createJob(p, "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi");
        report("escrow_create_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(providers[0]);
        escrow.accept(id);
        report("escrow_accept_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(providers[1]);
        escrow.accept(id);
        vm.prank(providers[2]);
        escrow.accept(id);
        vm.prank(buyer);
        escrow.releaseCheckpoint(id, providers[0]);
        report("escrow_release_checkpoint_gas", vm.lastCallGas().gasTotalUsed);
        for (uint256 i; i < 3; ++i) {
            bytes32 sealed_ = keccak256(abi.encode(id, providers[i], keccak256("result"), bytes32(i + 1)));
            vm.prank(providers[i]);
            escrow.commitResult(id, sealed_, 8 ether, keccak256("usage"));
            if (i == 0) report("escrow_commit_gas", vm.lastCallGas().gasTotalUsed);
        }
        for (uint256 i; i < 3; ++i) {
            vm.prank(providers[i]);
            escrow.revealResult(id, keccak256("result"), bytes32(i + 1), "ipfs://result");
            if (i == 0) report("escrow_reveal_gas", vm.lastCallGas().gasTotalUsed);
        }
        vm.warp(escrow.finalizableAt(id));
        escrow.finalize(id);
        report("escrow_finalize_3_replicas_gas", vm.lastCallGas().gasTotalUsed);
    }

    /// @dev FaultClaims: a claim on a two-rendition result by a broadcaster that has claimed before
    ///      (approval in place) against an orchestrator already under an open claim (its record and
    ///      Staking freeze count are warm), votes of a three-member committee with quorum 2, expiry.
    function test_FaultClaimsGasFigures() public {
        vm.prank(governance());
        staking.setVerifier(address(faultClaims));
        address[] memory members = new address[](3);
        (members[0], members[1], members[2]) = (makeAddr("juror1"), makeAddr("juror2"), makeAddr("juror3"));
        vm.prank(governance());
        faultClaims.setCommittee(members, 2);
        give(b, 100 ether);
        vm.prank(b);
        token.approve(address(faultClaims), type(uint256).max);
        (, uint256 oKey) = makeAddrAndKey("orchestrator");
        (address peer, uint256 peerKey) = makeAddrAndKey("peer0");

        uint256 rejected = fileClaim(o, oKey, 1);
        uint256 upheld = fileClaim(o, oKey, 2);
        report("claim_file_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(members[0]);
        faultClaims.vote(rejected, false);
        report("claim_vote_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(members[1]);
        faultClaims.vote(rejected, false);
        report("claim_vote_reject_gas", vm.lastCallGas().gasTotalUsed);
        vm.prank(members[0]);
        faultClaims.vote(upheld, true);
        vm.prank(members[2]);
        faultClaims.vote(upheld, true);
        report("claim_vote_uphold_slash_gas", vm.lastCallGas().gasTotalUsed);

        uint256 expired = fileClaim(peer, peerKey, 3);
        vm.warp(faultClaims.claim(expired).deadline);
        faultClaims.expire(expired);
        report("claim_expire_gas", vm.lastCallGas().gasTotalUsed);
    }

    function fileClaim(address orchestrator, uint256 key, uint256 seq) internal returns (uint256 id) {
        SegmentResultHash.SegmentResult memory r = twoRenditionResult(orchestrator, b, seq);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(key, SegmentResultHash.digest(r, block.chainid, address(staking)));
        vm.prank(b);
        id = faultClaims.fileClaim(
            r,
            abi.encodePacked(rr, s, v),
            1,
            10,
            keccak256("evidence"),
            "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
        );
    }
}
