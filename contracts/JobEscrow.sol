// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {SafeERC20, IERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IJobEscrow} from "./interfaces/IJobEscrow.sol";

/// @title JobEscrow
/// @notice Escrow for general compute jobs: payment, provider collateral, checkpoints, sealed-bid
///         (reverse Vickrey) auctions, majority settlement over replicas and 2-of-3 disputes.
/// @dev Money rules (see IJobEscrow for the full statement):
///      - `escrowed` of a job is exactly what the contract holds for it: the unfilled slots' price
///        (`params.price` each), each live slot's `clearingPrice - paidOut + collateralLeft`, and the
///        collateral of bids not yet awarded. Every transfer out is subtracted from it first.
///      - Sealed-bid jobs: `closeAuction` refunds the buyer `(params.price - clearingPrice)` per winner
///        and burns the collateral of bids never revealed; losers get their collateral back. The
///        price of slots no bid filled stays until `finalize`, which may run at once when nobody won.
///      - Every state change happens before the token moves (checks-effects-interactions); the token
///        is fixed at construction, and every transfer in is checked by balance difference.
contract JobEscrow is IJobEscrow {
    using SafeERC20 for IERC20;

    /* CONSTANTS */

    uint256 public constant MAX_REPLICAS = 16;
    uint256 public constant MAX_CHECKPOINTS = 16;
    uint256 public constant MAX_BIDDERS = 32;
    /// @notice Longest dispute period the constructor accepts (so `finalize` can never overflow).
    uint256 public constant MAX_DISPUTE_PERIOD = 365 days;
    /// @notice How long sealed results may be revealed once the reveal window opened (it closes
    ///         early when every slot revealed).
    uint256 public constant REVEAL_PERIOD = 1 hours;
    /// @notice Least collateral per provider, in basis points of the job's price (so squatting a slot
    ///         or filling an auction with sybils costs collateral that a no-show loses).
    uint256 public constant MIN_COLLATERAL_BPS = 1000;
    /// @notice `minCompleted = N` also needs N x price / RECORD_VALUE_DIVISOR earned.
    uint256 public constant RECORD_VALUE_DIVISOR = 10;
    /// @notice Where forfeited bid collateral goes (burned: nobody, the buyer included, gains it).
    address public constant BURN_ADDRESS = 0x000000000000000000000000000000000000dEaD;

    /// @notice Longest URI `announceEndpoint` accepts, in bytes.
    uint256 public constant MAX_ENDPOINT_URI = 256;

    uint8 internal constant VOTE_PAY = 1;
    uint8 internal constant VOTE_SLASH = 2;

    /* IMMUTABLES */

    IERC20 internal immutable _token;
    /// @inheritdoc IJobEscrow
    uint256 public immutable disputePeriod;

    /* STORAGE */

    /// @inheritdoc IJobEscrow
    uint256 public jobCount;
    mapping(uint256 => Job) internal _jobs;
    mapping(uint256 jobId => mapping(address provider => Slot)) internal _slots;
    mapping(uint256 => address[]) internal _providers;
    mapping(address => Record) internal _records;

    /// @notice The token is the zero address.
    error ZeroToken();
    error DisputePeriodTooLong(uint256 period, uint256 max);

    /* CONSTRUCTOR */

    /// @param token_ The ERC-20 (with EIP-2612 permit) payments and collateral are held in.
    /// @param disputePeriod_ Seconds after `deadline + reviewPeriod` a dispute may stay undecided.
    constructor(IERC20 token_, uint256 disputePeriod_) {
        if (address(token_) == address(0)) revert ZeroToken();
        if (disputePeriod_ > MAX_DISPUTE_PERIOD) revert DisputePeriodTooLong(disputePeriod_, MAX_DISPUTE_PERIOD);
        _token = token_;
        disputePeriod = disputePeriod_;
    }

    /* BUYER */

    /// @inheritdoc IJobEscrow
    function createJob(JobParams calldata p, string calldata specUri) external returns (uint256 jobId) {
        return _create(p, specUri);
    }

    /// @inheritdoc IJobEscrow
    function createJobWithPermit(
        JobParams calldata p,
        string calldata specUri,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 jobId) {
        uint256 amount = uint256(p.price) * p.replicas;
        // A front-run permit (the same signature submitted first by someone else) leaves the allowance
        // in place: go on when it suffices, otherwise report the permit's own failure.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, permitDeadline, v, r, s) {}
        catch (bytes memory reason) {
            if (_token.allowance(msg.sender, address(this)) < amount) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
        return _create(p, specUri);
    }

    /// @inheritdoc IJobEscrow
    function cancel(uint256 jobId) external {
        Job storage job = _job(jobId);
        if (msg.sender != job.buyer) revert NotBuyer(jobId, msg.sender);
        JobStatus status = job.status;
        if (status != JobStatus.Open && status != JobStatus.Bidding) revert WrongStatus(jobId, status);
        if (_providers[jobId].length != 0) revert JobTaken(jobId);
        uint256 refund = job.escrowed;
        job.status = JobStatus.Cancelled;
        job.escrowed = 0;
        emit JobCancelled(jobId, refund);
        _token.safeTransfer(msg.sender, refund);
    }

    /// @inheritdoc IJobEscrow
    function releaseCheckpoint(uint256 jobId, address provider) external {
        Job storage job = _job(jobId);
        if (msg.sender != job.buyer) revert NotBuyer(jobId, msg.sender);
        Slot storage slot = _slots[jobId][provider];
        SlotStatus status = slot.status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Committed) {
            revert WrongSlotStatus(jobId, provider, status);
        }
        uint256 checkpoints = job.params.checkpoints;
        uint256 index = slot.checkpointsReleased;
        if (index >= checkpoints) revert NoCheckpointLeft(jobId, provider);
        uint256 payment = uint256(job.clearingPrice) / (checkpoints + 1);
        uint256 collateral = uint256(job.params.collateral) / (checkpoints + 1);
        ++index;
        slot.checkpointsReleased = uint8(index);
        slot.paidOut += uint96(payment);
        slot.collateralLeft -= uint96(collateral);
        job.escrowed -= payment + collateral;
        emit CheckpointReleased(jobId, provider, index, payment, collateral);
        _pay(provider, payment + collateral);
    }

    /* PROVIDERS */

    /// @inheritdoc IJobEscrow
    function accept(uint256 jobId) external {
        Job storage job = _job(jobId);
        if (job.params.mode != Mode.Fixed) revert WrongMode(jobId);
        if (job.status != JobStatus.Open) revert WrongStatus(jobId, job.status);
        uint256 deadline = job.params.deadline;
        if (block.timestamp >= deadline) revert DeadlinePassed(jobId, deadline);
        uint8 filled = job.filled;
        if (filled >= job.params.replicas) revert JobFull(jobId);
        uint96 collateral = _enter(job, jobId);
        job.filled = filled + 1;
        emit SlotAccepted(jobId, msg.sender, collateral);
        _pull(msg.sender, collateral);
    }

    /// @inheritdoc IJobEscrow
    function commitBid(uint256 jobId, bytes32 commitment) external {
        Job storage job = _job(jobId);
        if (job.params.mode != Mode.SealedBid) revert WrongMode(jobId);
        if (job.status != JobStatus.Bidding) revert WrongStatus(jobId, job.status);
        uint256 bidDeadline = job.params.bidDeadline;
        if (block.timestamp >= bidDeadline) revert DeadlinePassed(jobId, bidDeadline);
        if (_providers[jobId].length >= MAX_BIDDERS) revert TooManyBidders(jobId, MAX_BIDDERS);
        uint96 collateral = _enter(job, jobId);
        _slots[jobId][msg.sender].bidCommitment = commitment;
        emit BidCommitted(jobId, msg.sender, commitment);
        _pull(msg.sender, collateral);
    }

    /// @inheritdoc IJobEscrow
    function revealBid(uint256 jobId, uint96 price, bytes32 salt) external {
        Job storage job = _job(jobId);
        if (job.params.mode != Mode.SealedBid) revert WrongMode(jobId);
        if (job.status != JobStatus.Bidding) revert WrongStatus(jobId, job.status);
        uint256 bidDeadline = job.params.bidDeadline;
        if (block.timestamp < bidDeadline) revert TooEarly(jobId, bidDeadline);
        uint256 revealDeadline = job.params.revealDeadline;
        if (block.timestamp >= revealDeadline) revert DeadlinePassed(jobId, revealDeadline);
        Slot storage slot = _slots[jobId][msg.sender];
        if (slot.status != SlotStatus.Bid) revert WrongSlotStatus(jobId, msg.sender, slot.status);
        if (slot.bidCommitment != keccak256(abi.encode(jobId, msg.sender, price, salt))) {
            revert BadReveal(jobId, msg.sender);
        }
        if (price > job.params.price) revert PriceTooHigh(price, job.params.price);
        slot.status = SlotStatus.Revealed;
        slot.bid = price;
        slot.revealedAt = uint64(block.timestamp);
        emit BidRevealed(jobId, msg.sender, price);
    }

    /// @inheritdoc IJobEscrow
    function closeAuction(uint256 jobId) external {
        Job storage job = _job(jobId);
        if (job.params.mode != Mode.SealedBid) revert WrongMode(jobId);
        if (job.status != JobStatus.Bidding) revert WrongStatus(jobId, job.status);
        uint256 revealDeadline = job.params.revealDeadline;
        if (block.timestamp < revealDeadline) revert TooEarly(jobId, revealDeadline);

        address[] memory bidders = _providers[jobId];
        mapping(address => Slot) storage slots = _slots[jobId];
        (address[] memory ranked, uint256 revealed) = _rank(slots, bidders);
        uint256 replicas = job.params.replicas;
        // Awarded after the deadline, a slot could only be slashed as late: nobody wins then.
        uint256 winners = block.timestamp < job.params.deadline ? (revealed < replicas ? revealed : replicas) : 0;
        uint96 clearingPrice = revealed > winners ? slots[ranked[winners]].bid : job.params.price;

        job.status = JobStatus.Open;
        job.filled = uint8(winners);
        job.clearingPrice = clearingPrice;
        address[] memory won = new address[](winners);
        for (uint256 i; i < winners; ++i) {
            won[i] = ranked[i];
            slots[ranked[i]].status = SlotStatus.Accepted;
            emit SlotAccepted(jobId, ranked[i], job.params.collateral);
        }
        (uint256[] memory refunds, uint256 forfeited) = _settleLosers(jobId, slots, bidders, job.params.collateral);
        uint256 toBuyer = uint256(job.params.price - clearingPrice) * winners;
        job.escrowed -= toBuyer + forfeited + uint256(job.params.collateral) * (revealed - winners);
        emit AuctionClosed(jobId, clearingPrice, won);

        for (uint256 i; i < bidders.length; ++i) {
            _pay(bidders[i], refunds[i]);
        }
        _pay(job.buyer, toBuyer);
        _pay(BURN_ADDRESS, forfeited);
    }

    /// @inheritdoc IJobEscrow
    function reportCheckpoint(uint256 jobId, uint256 index, bytes32 stateHash) external {
        Job storage job = _job(jobId);
        SlotStatus status = _slots[jobId][msg.sender].status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Committed) {
            revert WrongSlotStatus(jobId, msg.sender, status);
        }
        if (index == 0 || index > job.params.checkpoints) revert NoCheckpointLeft(jobId, msg.sender);
        emit CheckpointReported(jobId, msg.sender, index, stateHash);
    }

    /// @inheritdoc IJobEscrow
    function commitResult(uint256 jobId, bytes32 commitment, uint96 charge, bytes32 usageHash) external {
        Job storage job = _job(jobId);
        Slot storage slot = _slots[jobId][msg.sender];
        if (slot.status != SlotStatus.Accepted) revert WrongSlotStatus(jobId, msg.sender, slot.status);
        uint256 deadline = job.params.deadline;
        if (block.timestamp > deadline) revert DeadlinePassed(jobId, deadline);
        if (commitment == bytes32(0)) revert ZeroResultHash();
        uint96 clearingPrice = job.clearingPrice;
        if (charge > clearingPrice) revert ChargeTooHigh(charge, clearingPrice);
        slot.status = SlotStatus.Committed;
        slot.resultCommitment = commitment;
        slot.charge = charge;
        job.committed += 1;
        job.lastCommitAt = uint64(block.timestamp);
        emit ResultCommitted(jobId, msg.sender, commitment, charge, usageHash);
    }

    /// @inheritdoc IJobEscrow
    function revealResult(uint256 jobId, bytes32 resultHash, bytes32 salt, string calldata uri) external {
        Job storage job = _job(jobId);
        Slot storage slot = _slots[jobId][msg.sender];
        bytes32 sealed_ = slot.resultCommitment;
        if (sealed_ == bytes32(0) || slot.resultHash != bytes32(0) || slot.status == SlotStatus.Slashed) {
            revert NothingToReveal(jobId, msg.sender);
        }
        uint256 opensAt = _revealOpensAt(job);
        if (block.timestamp < opensAt) revert RevealNotOpen(jobId);
        uint256 until = opensAt + REVEAL_PERIOD;
        if (block.timestamp >= until) revert DeadlinePassed(jobId, until);
        if (resultHash == bytes32(0)) revert ZeroResultHash();
        if (keccak256(abi.encode(jobId, msg.sender, resultHash, salt)) != sealed_) {
            revert BadResultReveal(jobId, msg.sender);
        }
        slot.resultHash = resultHash;
        job.revealed += 1;
        job.lastRevealAt = uint64(block.timestamp);
        emit ResultRevealed(jobId, msg.sender, resultHash, uri);
    }

    /// @inheritdoc IJobEscrow
    function announceEndpoint(uint256 jobId, string calldata uri) external {
        Job storage job = _job(jobId);
        if (job.status != JobStatus.Open) revert WrongStatus(jobId, job.status);
        SlotStatus status = _slots[jobId][msg.sender].status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Committed) {
            revert WrongSlotStatus(jobId, msg.sender, status);
        }
        uint256 length = bytes(uri).length;
        if (length == 0) revert EmptyUri();
        if (length > MAX_ENDPOINT_URI) revert UriTooLong(length, MAX_ENDPOINT_URI);
        emit EndpointAnnounced(jobId, msg.sender, uri);
    }

    /* SETTLEMENT */

    /// @inheritdoc IJobEscrow
    function dispute(uint256 jobId, address provider) external {
        Job storage job = _job(jobId);
        if (msg.sender != job.buyer && msg.sender != provider) revert NotVoter(jobId, msg.sender);
        if (job.status != JobStatus.Open) revert WrongStatus(jobId, job.status);
        Slot storage slot = _slots[jobId][provider];
        SlotStatus status = slot.status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Committed) {
            revert WrongSlotStatus(jobId, provider, status);
        }
        // A provider disputing its own empty slot would turn the late penalty into a neutral refund.
        if (msg.sender == provider && status != SlotStatus.Committed) revert NotCommitted(jobId, provider);
        uint256 until = _finalizableAt(job);
        if (block.timestamp >= until) revert DeadlinePassed(jobId, until);
        slot.status = SlotStatus.Disputed;
        emit Disputed(jobId, provider, msg.sender);
    }

    /// @inheritdoc IJobEscrow
    function vote(uint256 jobId, address provider, bool payProvider) external {
        Job storage job = _job(jobId);
        Slot storage slot = _slots[jobId][provider];
        if (slot.status != SlotStatus.Disputed) revert WrongSlotStatus(jobId, provider, slot.status);
        uint256 expiry = _disputeExpiry(job);
        if (block.timestamp >= expiry) revert DisputeExpired(jobId, expiry);
        uint8 v = payProvider ? VOTE_PAY : VOTE_SLASH;
        // Buyer, provider and arbiter are three distinct accounts (createJob, accept and commitBid check).
        if (msg.sender == job.buyer) {
            if (slot.buyerVote != 0) revert AlreadyVoted(jobId, msg.sender);
            slot.buyerVote = v;
        } else if (msg.sender == provider) {
            if (slot.providerVote != 0) revert AlreadyVoted(jobId, msg.sender);
            slot.providerVote = v;
        } else if (msg.sender == job.params.arbiter) {
            if (slot.arbiterVote != 0) revert AlreadyVoted(jobId, msg.sender);
            slot.arbiterVote = v;
        } else {
            revert NotVoter(jobId, msg.sender);
        }
        emit Voted(jobId, provider, msg.sender, payProvider);

        uint256 same =
            (slot.buyerVote == v ? 1 : 0) + (slot.providerVote == v ? 1 : 0) + (slot.arbiterVote == v ? 1 : 0);
        if (same < 2) return;
        uint96 clearingPrice = job.clearingPrice;
        (uint256 toProvider, uint256 toBuyer) = payProvider
            ? _settlePaid(slot, clearingPrice, slot.resultCommitment != bytes32(0) ? slot.charge : clearingPrice)
            : _settleSlashed(slot, clearingPrice);
        _recordOutcome(provider, slot);
        job.escrowed -= toProvider + toBuyer;
        emit SlotSettled(jobId, provider, slot.status, toProvider, toBuyer);
        _pay(provider, toProvider);
        _pay(job.buyer, toBuyer);
    }

    /// @inheritdoc IJobEscrow
    function finalize(uint256 jobId) external {
        Job storage job = _job(jobId);
        if (job.status != JobStatus.Open) revert WrongStatus(jobId, job.status);
        uint256 notBefore = _finalizableAt(job);
        if (block.timestamp < notBefore) revert TooEarly(jobId, notBefore);

        address[] memory providers = _providers[jobId];
        uint256 replicas = job.params.replicas;
        bytes32 majority = _majority(_slots[jobId], providers);
        // Disputes still open stay with their voters; once expired they fall back to the automatic rule.
        bool expired = block.timestamp >= _disputeExpiry(job);

        uint256[] memory toProviders = new uint256[](providers.length);
        uint256 toBuyer = uint256(job.params.price) * (replicas - job.filled);
        uint256 released = toBuyer;
        for (uint256 i; i < providers.length; ++i) {
            (uint256 p, uint256 b) = _settleAtFinalize(jobId, providers[i], job.clearingPrice, majority, expired);
            toProviders[i] = p;
            toBuyer += b;
            released += p + b;
        }
        job.status = JobStatus.Finalized;
        job.majorityHash = majority;
        job.escrowed -= released;
        emit JobFinalized(jobId, majority, toBuyer);

        for (uint256 i; i < providers.length; ++i) {
            _pay(providers[i], toProviders[i]);
        }
        _pay(job.buyer, toBuyer);
    }

    /// @inheritdoc IJobEscrow
    function settleExpired(uint256 jobId, address provider) external {
        Job storage job = _job(jobId);
        if (job.status != JobStatus.Finalized) revert WrongStatus(jobId, job.status);
        SlotStatus status = _slots[jobId][provider].status;
        if (status != SlotStatus.Disputed) revert WrongSlotStatus(jobId, provider, status);
        uint256 expiry = _disputeExpiry(job);
        if (block.timestamp < expiry) revert TooEarly(jobId, expiry);
        (uint256 toProvider, uint256 toBuyer) =
            _settleAtFinalize(jobId, provider, job.clearingPrice, job.majorityHash, true);
        job.escrowed -= toProvider + toBuyer;
        _pay(provider, toProvider);
        _pay(job.buyer, toBuyer);
    }

    /* VIEWS */

    /// @inheritdoc IJobEscrow
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IJobEscrow
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @inheritdoc IJobEscrow
    function getSlot(uint256 jobId, address provider) external view returns (Slot memory) {
        return _slots[jobId][provider];
    }

    /// @inheritdoc IJobEscrow
    function providersOf(uint256 jobId) external view returns (address[] memory) {
        return _providers[jobId];
    }

    /// @inheritdoc IJobEscrow
    function recordOf(address provider) external view returns (Record memory) {
        return _records[provider];
    }

    /// @inheritdoc IJobEscrow
    function finalizableAt(uint256 jobId) external view returns (uint256) {
        return _finalizableAt(_job(jobId));
    }

    /// @inheritdoc IJobEscrow
    function resultRevealDeadline(uint256 jobId) external view returns (uint256) {
        return _revealOpensAt(_job(jobId)) + REVEAL_PERIOD;
    }

    /// @inheritdoc IJobEscrow
    function disputeExpiry(uint256 jobId) external view returns (uint256) {
        return _disputeExpiry(_job(jobId));
    }

    /* INTERNAL */

    function _create(JobParams calldata p, string calldata specUri) internal returns (uint256 jobId) {
        if (p.replicas == 0) revert ZeroReplicas();
        if (p.replicas > MAX_REPLICAS) revert TooManyReplicas(p.replicas, MAX_REPLICAS);
        if (p.checkpoints > MAX_CHECKPOINTS) revert TooManyCheckpoints(p.checkpoints, MAX_CHECKPOINTS);
        if (p.specHash == bytes32(0)) revert ZeroSpecHash();
        if (p.price == 0) revert ZeroPrice();
        if (p.arbiter == address(0) || p.arbiter == msg.sender) revert BadArbiter(p.arbiter);
        uint256 minCollateral = (uint256(p.price) * MIN_COLLATERAL_BPS + 9999) / 10_000;
        if (p.collateral < minCollateral) revert CollateralTooLow(p.collateral, minCollateral);
        if (p.mode == Mode.Fixed) {
            if (p.bidDeadline != 0 || p.revealDeadline != 0 || p.deadline <= block.timestamp) revert BadDeadlines();
        } else if (
            p.bidDeadline <= block.timestamp || p.revealDeadline <= p.bidDeadline || p.deadline <= p.revealDeadline
        ) {
            revert BadDeadlines();
        }
        uint256 amount = uint256(p.price) * p.replicas;
        jobId = ++jobCount;
        Job storage job = _jobs[jobId];
        job.params = p;
        job.buyer = msg.sender;
        if (p.mode == Mode.Fixed) {
            job.status = JobStatus.Open;
            job.clearingPrice = p.price;
        } else {
            job.status = JobStatus.Bidding; // clearingPrice is set by closeAuction
        }
        job.escrowed = amount;
        emit JobCreated(jobId, msg.sender, p.arbiter, p, specUri);
        _pull(msg.sender, amount);
    }

    /// @dev Common checks and bookkeeping of a provider entering a job (accept or commitBid).
    function _enter(Job storage job, uint256 jobId) internal returns (uint96 collateral) {
        if (msg.sender == job.buyer) revert BuyerCannotProvide(jobId);
        if (msg.sender == job.params.arbiter) revert ArbiterCannotProvide(jobId);
        Slot storage slot = _slots[jobId][msg.sender];
        if (slot.status != SlotStatus.None) revert WrongSlotStatus(jobId, msg.sender, slot.status);
        uint256 required = job.params.minCompleted;
        if (required != 0) {
            // Net of failures, and backed by value actually paid (1-wei self-jobs farm nothing).
            Record storage r = _records[msg.sender];
            uint256 net = r.completed > r.failed ? r.completed - r.failed : 0;
            if (net < required) revert InsufficientRecord(msg.sender, net, required);
            uint256 minEarned = required * job.params.price / RECORD_VALUE_DIVISOR;
            if (r.earned < minEarned) revert InsufficientEarnings(msg.sender, r.earned, minEarned);
        }
        collateral = job.params.collateral;
        slot.status = job.params.mode == Mode.Fixed ? SlotStatus.Accepted : SlotStatus.Bid;
        slot.collateralLeft = collateral;
        job.escrowed += collateral;
        _providers[jobId].push(msg.sender);
    }

    /// @dev Revealed bids by (bid, reveal time, commit order): an insertion sort over at most
    ///      MAX_BIDDERS entries; `bidders` is in commit order and the sort is stable.
    function _rank(mapping(address => Slot) storage slots, address[] memory bidders)
        internal
        view
        returns (address[] memory ranked, uint256 revealed)
    {
        ranked = new address[](bidders.length);
        for (uint256 i; i < bidders.length; ++i) {
            Slot storage s = slots[bidders[i]];
            if (s.status != SlotStatus.Revealed) continue;
            (uint96 bid, uint64 revealedAt) = (s.bid, s.revealedAt);
            uint256 j = revealed++;
            while (j > 0) {
                Slot storage prev = slots[ranked[j - 1]];
                if (prev.bid < bid || (prev.bid == bid && prev.revealedAt <= revealedAt)) break;
                ranked[j] = ranked[j - 1];
                --j;
            }
            ranked[j] = bidders[i];
        }
    }

    /// @dev Every bid not awarded is Lost: a revealed one gets its collateral back (`refunds`), an
    ///      unrevealed one forfeits it (`forfeited`, burned by the caller).
    function _settleLosers(
        uint256 jobId,
        mapping(address => Slot) storage slots,
        address[] memory bidders,
        uint96 collateral
    ) internal returns (uint256[] memory refunds, uint256 forfeited) {
        refunds = new uint256[](bidders.length);
        for (uint256 i; i < bidders.length; ++i) {
            Slot storage s = slots[bidders[i]];
            SlotStatus status = s.status;
            if (status == SlotStatus.Accepted) continue;
            s.status = SlotStatus.Lost;
            s.collateralLeft = 0;
            if (status == SlotStatus.Revealed) {
                refunds[i] = collateral;
                emit SlotSettled(jobId, bidders[i], SlotStatus.Lost, collateral, 0);
            } else {
                forfeited += collateral;
                emit SlotSettled(jobId, bidders[i], SlotStatus.Lost, 0, 0);
                emit CollateralBurned(jobId, bidders[i], collateral);
            }
        }
    }

    /// @dev The result hash that more than half of the counted results agree on (zero: none). A
    ///      result counts once revealed (also of a slot disputed, or paid by a vote) unless a vote
    ///      slashed it; sealed results never revealed and empty slots do not count.
    function _majority(mapping(address => Slot) storage slots, address[] memory providers)
        internal
        view
        returns (bytes32 majority)
    {
        uint256 n = providers.length;
        bytes32[] memory hashes = new bytes32[](n);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            Slot storage s = slots[providers[i]];
            bytes32 h = s.resultHash;
            if (h != bytes32(0) && s.status != SlotStatus.Slashed) hashes[total++] = h;
        }
        for (uint256 i; i < total; ++i) {
            bytes32 h = hashes[i];
            uint256 count = 1;
            for (uint256 j = i + 1; j < total; ++j) {
                if (hashes[j] == h) ++count;
            }
            if (2 * count > total) return h;
        }
    }

    /// @dev Settles one slot by the automatic rule at finalize (or `settleExpired`); slots already
    ///      settled (Lost, or decided by a vote) are left as they are, and so are open disputes
    ///      unless `expired`.
    function _settleAtFinalize(uint256 jobId, address provider, uint96 clearingPrice, bytes32 majority, bool expired)
        internal
        returns (uint256 toProvider, uint256 toBuyer)
    {
        Slot storage s = _slots[jobId][provider];
        SlotStatus status = s.status;
        if (status == SlotStatus.Committed) {
            (toProvider, toBuyer) = _settleResult(s, clearingPrice, majority);
        } else if (status == SlotStatus.Accepted) {
            (toProvider, toBuyer) = _settleSlashed(s, clearingPrice); // late: never committed
        } else if (status == SlotStatus.Disputed && expired) {
            // Expired undecided: a committed result falls back to the automatic rule (so neither a
            // buyer with an absent arbiter nor a diverging provider gains by disputing); a slot the
            // buyer disputed before it could commit is refunded neutrally.
            if (s.resultCommitment == bytes32(0)) (toProvider, toBuyer) = _settleRefunded(s, clearingPrice);
            else (toProvider, toBuyer) = _settleResult(s, clearingPrice, majority);
        } else {
            return (0, 0);
        }
        _recordOutcome(provider, s);
        emit SlotSettled(jobId, provider, s.status, toProvider, toBuyer);
    }

    /// @dev A committed result by the majority rule: never revealed is slashed like a late slot.
    function _settleResult(Slot storage s, uint96 clearingPrice, bytes32 majority)
        internal
        returns (uint256 toProvider, uint256 toBuyer)
    {
        bytes32 h = s.resultHash;
        if (h == bytes32(0)) return _settleSlashed(s, clearingPrice);
        if (majority == bytes32(0)) return _settleRefunded(s, clearingPrice);
        if (h == majority) return _settlePaid(s, clearingPrice, s.charge);
        return _settleSlashed(s, clearingPrice);
    }

    /// @dev Paid: the charge net of checkpoint payments and the collateral left to the provider.
    function _settlePaid(Slot storage s, uint96 clearingPrice, uint96 charge)
        internal
        returns (uint256 toProvider, uint256 toBuyer)
    {
        uint96 paidOut = s.paidOut;
        uint96 owed = charge > paidOut ? charge : paidOut;
        toProvider = uint256(owed - paidOut) + s.collateralLeft;
        toBuyer = clearingPrice - owed;
        s.status = SlotStatus.Paid;
        s.collateralLeft = 0;
        s.paidOut = owed;
    }

    /// @dev Slashed: the unpaid price and the collateral left to the buyer.
    function _settleSlashed(Slot storage s, uint96 clearingPrice) internal returns (uint256, uint256 toBuyer) {
        toBuyer = uint256(clearingPrice - s.paidOut) + s.collateralLeft;
        s.status = SlotStatus.Slashed;
        s.collateralLeft = 0;
        return (0, toBuyer);
    }

    /// @dev Refunded: the unpaid price to the buyer, the collateral left to the provider.
    function _settleRefunded(Slot storage s, uint96 clearingPrice)
        internal
        returns (uint256 toProvider, uint256 toBuyer)
    {
        toProvider = s.collateralLeft;
        toBuyer = clearingPrice - s.paidOut;
        s.status = SlotStatus.Refunded;
        s.collateralLeft = 0;
    }

    /// @dev Paid slots add to `completed` and `earned` (all the slot was paid), slashed ones to `failed`.
    function _recordOutcome(address provider, Slot storage s) internal {
        SlotStatus outcome = s.status;
        Record storage r = _records[provider];
        if (outcome == SlotStatus.Paid) {
            ++r.completed;
            r.earned += s.paidOut;
        } else if (outcome == SlotStatus.Slashed) {
            ++r.failed;
        }
    }

    /// @dev Reveals open once every slot is filled and committed (no one can commit any more), or
    ///      strictly after the deadline (commits are allowed at the deadline itself).
    function _revealOpensAt(Job storage job) internal view returns (uint256) {
        uint8 replicas = job.params.replicas;
        if (job.filled == replicas && job.committed == replicas) return job.lastCommitAt;
        return uint256(job.params.deadline) + 1;
    }

    /// @dev The latest `finalizableAt` can be, plus the dispute period.
    function _disputeExpiry(Job storage job) internal view returns (uint256) {
        return uint256(job.params.deadline) + 1 + REVEAL_PERIOD + job.params.reviewPeriod + disputePeriod;
    }

    function _finalizableAt(Job storage job) internal view returns (uint256) {
        uint8 replicas = job.params.replicas;
        // A closed auction nobody won: no slot can be taken any more.
        if (job.params.mode == Mode.SealedBid && job.status == JobStatus.Open && job.filled == 0) {
            return job.params.revealDeadline;
        }
        if (job.filled == replicas && job.committed == replicas && job.revealed == replicas) {
            return uint256(job.lastRevealAt) + job.params.reviewPeriod;
        }
        return _revealOpensAt(job) + REVEAL_PERIOD + job.params.reviewPeriod;
    }

    function _job(uint256 jobId) internal view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status == JobStatus.None) revert UnknownJob(jobId);
    }

    /// @dev Pulls exactly `amount` or reverts: a fee-on-transfer token would leave the escrow short.
    function _pull(address from, uint256 amount) internal {
        if (amount == 0) return;
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(from, address(this), amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert TransferAmountMismatch(amount, received);
    }

    function _pay(address to, uint256 amount) internal {
        if (amount != 0) _token.safeTransfer(to, amount);
    }
}
