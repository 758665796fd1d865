// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IJobEscrow
/// @notice Escrow for general compute jobs. A buyer escrows payment for a job described off-chain by a
///         spec (image, command, inputs) whose hash is recorded; providers take one of the job's
///         `replicas` slots by posting collateral, run the job and commit the hash of their result
///         with the charge they claim (at most their slot's price). Payment and collateral move only
///         as follows, so that every token that enters a job leaves it exactly once:
///         - `releaseCheckpoint` (buyer): pays a provider 1/(checkpoints+1) of its price and hands
///           back the same share of its collateral;
///         - results are sealed: `commitResult` (before the deadline) records
///           keccak256(abi.encode(jobId, provider, resultHash, salt)); `revealResult` opens it once
///           every slot is filled and committed or the deadline passed (so nothing can be copied),
///           within `REVEAL_PERIOD`, and publishes the result URI. A result never revealed counts as
///           never delivered;
///         - `finalize` (anyone, at `finalizableAt`): with a strict majority of the revealed results
///           (not counting one a vote slashed) on one result hash, matching providers are paid their
///           charge (the rest of their price goes back to the buyer) and get their collateral back;
///           a diverging, unrevealed or late provider's collateral and price go to the buyer.
///           Without a majority, no result is confirmed: revealed providers get their collateral
///           back and their price is refunded. Unfilled slots are refunded. Disputed slots are left
///           to their vote (or, once the dispute expired, `finalize`/`settleExpired` apply the same
///           rule with the majority fixed at finalize), so one dispute delays only its own slot;
///         - `dispute` (buyer, or the slot's provider once it committed, before `finalizableAt`) takes
///           one slot out of the automatic rule; two of buyer, provider and arbiter decide it with
///           `vote` until `disputeExpiry`; an expired dispute falls back to the automatic rule (so
///           neither a buyer naming an absent arbiter nor a diverging provider gains by disputing),
///           except that a slot the buyer disputed before it committed is refunded neutrally (price
///           to the buyer, collateral to the provider);
///         - `cancel` (buyer, before any slot is taken) refunds everything.
///         Sealed-bid jobs: during the bid window providers commit `keccak256(abi.encode(jobId,
///         provider, price, salt))` with their collateral, then reveal; `closeAuction` awards the
///         `replicas` lowest revealed bids (ties: earliest reveal, then earliest commit) and pays each
///         winner the lowest losing revealed bid, or the buyer's maximum price when there is none
///         (reverse Vickrey); the buyer gets `price - clearingPrice` per winner back at once, the price
///         of slots left unfilled at `finalize`; losing bidders get their collateral back, bidders
///         that never revealed forfeit theirs: it is burned (`CollateralBurned`), so shilling one's own
///         auction costs the shill its collateral. Collateral must be at least `MIN_COLLATERAL_BPS` of
///         the price. Completed and failed counts and the value earned per provider are public; a
///         provider enters a job with `minCompleted = N` only with `completed - failed >= N` and at
///         least N x price / `RECORD_VALUE_DIVISOR` earned (so 1-wei self-jobs farm nothing).
///         The token must move exactly the amounts asked: fee-on-transfer tokens are refused at
///         every transfer in (`TransferAmountMismatch`); rebasing tokens are unsupported.
interface IJobEscrow {
    /* TYPES */

    enum Mode {
        Fixed,
        SealedBid
    }

    /// @notice Life cycle of a job. `Bidding` only for sealed-bid jobs, until `closeAuction`.
    enum JobStatus {
        None,
        Bidding,
        Open,
        Finalized,
        Cancelled
    }

    /// @notice Life cycle of one provider's slot in a job.
    enum SlotStatus {
        None,
        Bid, // sealed bid committed, collateral posted
        Revealed, // sealed bid revealed
        Accepted, // holds a slot, collateral posted
        Committed, // result hash committed
        Disputed, // taken out of the automatic rule
        Paid, // settled: paid its charge, collateral returned
        Slashed, // settled: collateral and price to the buyer (diverging, late, or lost a dispute)
        Refunded, // settled: price to the buyer, collateral returned (no fault, no confirmed result)
        Lost // sealed bid not awarded (collateral returned) or never revealed (collateral forfeited)
    }

    /// @notice Resources a job needs; providers filter on them.
    struct Resources {
        uint32 milliCpus;
        uint32 memoryMb;
        uint32 diskMb;
        uint16 gpus;
    }

    /// @notice What the buyer fixes at creation.
    struct JobParams {
        bytes32 specHash; // sha256 of the spec document (image, command, inputs, outputs)
        address arbiter; // third voter in disputes; not the buyer
        Resources resources;
        Mode mode;
        uint96 price; // per replica: the fixed price, or the maximum price of a sealed-bid job
        uint96 collateral; // per provider
        uint8 replicas; // 1..MAX_REPLICAS
        uint8 checkpoints; // partial releases before the result; 0..MAX_CHECKPOINTS
        uint32 minCompleted; // providers need at least this many completed jobs
        uint64 bidDeadline; // sealed-bid: commits until then (unix seconds); fixed: 0
        uint64 revealDeadline; // sealed-bid: reveals until then; fixed: 0
        uint64 deadline; // results must be committed by then (unix seconds)
        uint32 reviewPeriod; // seconds the buyer has to dispute after the last result or the deadline
    }

    /// @notice A job as stored.
    struct Job {
        JobParams params;
        address buyer;
        JobStatus status;
        uint8 filled; // slots taken
        uint8 committed; // slots with a result
        uint96 clearingPrice; // price each slot is paid up to (fixed: params.price)
        uint64 lastCommitAt; // time of the latest result commit
        uint8 revealed; // committed results revealed so far
        uint64 lastRevealAt; // time of the latest reveal
        bytes32 majorityHash; // set at finalize: the result a strict majority of revealed results agree on
        uint256 escrowed; // tokens held for this job (payment + collateral not yet released)
    }

    /// @notice One provider's place in a job.
    struct Slot {
        SlotStatus status;
        uint8 checkpointsReleased;
        uint8 buyerVote; // 0 none, 1 pay, 2 slash
        uint8 providerVote;
        uint8 arbiterVote;
        uint96 bid; // revealed sealed-bid price
        uint64 revealedAt;
        bytes32 bidCommitment;
        bytes32 resultCommitment; // keccak256(abi.encode(jobId, provider, resultHash, salt)), at commit
        bytes32 resultHash; // revealed result hash (zero until revealed)
        uint96 charge; // what the provider claims, at most the clearing price
        uint96 paidOut; // payment released so far (checkpoints)
        uint96 collateralLeft; // collateral still held
    }

    /// @notice A provider's public record.
    struct Record {
        uint64 completed;
        uint64 failed;
        uint128 earned; // sum of what this provider was paid for completed slots (net of collateral)
    }

    /* EVENTS */

    event JobCreated(
        uint256 indexed jobId, address indexed buyer, address indexed arbiter, JobParams params, string specUri
    );
    event JobCancelled(uint256 indexed jobId, uint256 refund);
    event BidCommitted(uint256 indexed jobId, address indexed provider, bytes32 commitment);
    event BidRevealed(uint256 indexed jobId, address indexed provider, uint256 price);
    event AuctionClosed(uint256 indexed jobId, uint256 clearingPrice, address[] winners);
    event SlotAccepted(uint256 indexed jobId, address indexed provider, uint256 collateral);
    event CheckpointReported(uint256 indexed jobId, address indexed provider, uint256 index, bytes32 stateHash);
    event CheckpointReleased(
        uint256 indexed jobId, address indexed provider, uint256 index, uint256 payment, uint256 collateral
    );
    /// @notice A sealed result: `commitment` binds the result hash to the provider and a salt.
    event ResultCommitted(
        uint256 indexed jobId, address indexed provider, bytes32 commitment, uint256 charge, bytes32 usageHash
    );
    /// @notice A committed result opened: its hash and where the result and usage record are served.
    event ResultRevealed(uint256 indexed jobId, address indexed provider, bytes32 resultHash, string uri);
    /// @notice Collateral of a sealed bid never revealed, burned (sent to `BURN_ADDRESS`) rather than
    ///         handed to the buyer, who could otherwise shill its own auction for free.
    event CollateralBurned(uint256 indexed jobId, address indexed provider, uint256 amount);
    event Disputed(uint256 indexed jobId, address indexed provider, address by);
    event Voted(uint256 indexed jobId, address indexed provider, address voter, bool payProvider);
    /// @notice One slot's final settlement: what went to the provider and what to the buyer.
    event SlotSettled(
        uint256 indexed jobId, address indexed provider, SlotStatus outcome, uint256 toProvider, uint256 toBuyer
    );
    event JobFinalized(uint256 indexed jobId, bytes32 majorityHash, uint256 refundToBuyer);
    /// @notice A slot holder's API base URL for the job (cooperative jobs: peers relay messages to it).
    ///         Re-announcing is allowed; the latest event of a provider wins.
    event EndpointAnnounced(uint256 indexed jobId, address indexed provider, string uri);

    /* ERRORS */

    error ZeroReplicas();
    error TooManyReplicas(uint256 replicas, uint256 max);
    error TooManyCheckpoints(uint256 checkpoints, uint256 max);
    error ZeroSpecHash();
    error ZeroPrice();
    error BadArbiter(address arbiter);
    error BadDeadlines();
    error PriceTooHigh(uint256 price, uint256 max);
    error UnknownJob(uint256 jobId);
    error WrongStatus(uint256 jobId, JobStatus status);
    error WrongSlotStatus(uint256 jobId, address provider, SlotStatus status);
    error WrongMode(uint256 jobId);
    error NotBuyer(uint256 jobId, address caller);
    error NotVoter(uint256 jobId, address caller);
    error BuyerCannotProvide(uint256 jobId);
    /// @notice The arbiter may not hold a slot: it would vote twice on its own dispute.
    error ArbiterCannotProvide(uint256 jobId);
    /// @notice `cancel` after a provider took a slot or committed a bid.
    error JobTaken(uint256 jobId);
    error JobFull(uint256 jobId);
    error TooManyBidders(uint256 jobId, uint256 max);
    /// @notice The provider's net record (`completed - failed`) is below the job's `minCompleted`.
    error InsufficientRecord(address provider, uint256 completed, uint256 required);
    /// @notice The provider earned less than `minCompleted x price / RECORD_VALUE_DIVISOR` so far.
    error InsufficientEarnings(address provider, uint256 earned, uint256 required);
    error DeadlinePassed(uint256 jobId, uint256 deadline);
    error TooEarly(uint256 jobId, uint256 notBefore);
    error BadReveal(uint256 jobId, address provider);
    error ChargeTooHigh(uint256 charge, uint256 max);
    error ZeroResultHash();
    error NoCheckpointLeft(uint256 jobId, address provider);
    error AlreadyVoted(uint256 jobId, address voter);
    /// @notice Collateral below `MIN_COLLATERAL_BPS` of the price (zero-collateral sybils could squat slots).
    error CollateralTooLow(uint256 collateral, uint256 min);
    /// @notice The token delivered a different amount than asked (fee-on-transfer tokens are refused).
    error TransferAmountMismatch(uint256 expected, uint256 received);
    /// @notice Reveal before every slot committed and before the deadline passed (results could be copied).
    error RevealNotOpen(uint256 jobId);
    /// @notice The reveal does not open the slot's commitment.
    error BadResultReveal(uint256 jobId, address provider);
    /// @notice The slot has no sealed result to reveal, or revealed it already.
    error NothingToReveal(uint256 jobId, address provider);
    /// @notice A provider may dispute its own slot only once it committed a result.
    error NotCommitted(uint256 jobId, address provider);
    /// @notice A dispute may be voted on only until it expires.
    error DisputeExpired(uint256 jobId, uint256 expiry);
    /// @notice `announceEndpoint` with an empty URI.
    error EmptyUri();
    /// @notice `announceEndpoint` with a URI longer than `MAX_ENDPOINT_URI` bytes.
    error UriTooLong(uint256 length, uint256 max);

    /* BUYER */

    /// @notice Creates a job and escrows `price * replicas` from the caller (after `approve`).
    /// @param p The job's parameters (see `JobParams`).
    /// @param specUri Where providers fetch the spec document; its sha256 must equal `p.specHash`.
    /// @return jobId The new job's id (sequential from 1).
    function createJob(JobParams calldata p, string calldata specUri) external returns (uint256 jobId);

    /// @notice `createJob` with an EIP-2612 permit for the escrowed amount instead of an approval.
    /// @param p The job's parameters.
    /// @param specUri Where providers fetch the spec document.
    /// @param permitDeadline, v, r, s The permit signature over `price * replicas`.
    /// @return jobId The new job's id.
    function createJobWithPermit(
        JobParams calldata p,
        string calldata specUri,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 jobId);

    /// @notice Refunds everything of a job no provider holds a slot or a bid in. Buyer only.
    /// @param jobId The job.
    function cancel(uint256 jobId) external;

    /// @notice Releases the provider's next checkpoint share of price and collateral. Buyer only.
    /// @param jobId The job.
    /// @param provider A provider holding a slot that has not settled.
    function releaseCheckpoint(uint256 jobId, address provider) external;

    /* PROVIDERS */

    /// @notice Takes a slot in a fixed-price job, posting the job's collateral.
    /// @param jobId An open fixed-price job with a free slot, before its deadline.
    function accept(uint256 jobId) external;

    /// @notice Commits a sealed bid, posting the job's collateral. Before the bid deadline.
    /// @param jobId A sealed-bid job.
    /// @param commitment keccak256(abi.encode(jobId, msg.sender, price, salt)).
    function commitBid(uint256 jobId, bytes32 commitment) external;

    /// @notice Reveals a committed bid, between the bid and reveal deadlines.
    /// @param jobId The job.
    /// @param price The bid, at most the job's maximum price.
    /// @param salt The salt in the commitment.
    function revealBid(uint256 jobId, uint96 price, bytes32 salt) external;

    /// @notice Awards a sealed-bid job after its reveal deadline (anyone). Closed at or after the job's
    ///         deadline, it awards nobody (a winner could only be late): revealed bids are returned.
    /// @param jobId The job.
    function closeAuction(uint256 jobId) external;

    /// @notice Announces a checkpoint (no money moves; the buyer releases it).
    /// @param jobId The job.
    /// @param index 1-based checkpoint number, at most the job's `checkpoints` (else `NoCheckpointLeft`).
    /// @param stateHash Hash of the checkpoint's state or partial output.
    function reportCheckpoint(uint256 jobId, uint256 index, bytes32 stateHash) external;

    /// @notice Commits the caller's sealed result before the deadline (commit–reveal: the plain hash
    ///         is published only by `revealResult`, once no slot can commit any more, so a replica
    ///         cannot copy another's result).
    /// @param jobId The job.
    /// @param commitment keccak256(abi.encode(jobId, msg.sender, resultHash, salt)); nonzero.
    /// @param charge What the provider claims, at most the clearing price (metered usage x rates).
    /// @param usageHash Hash of the usage record behind the charge (for the buyer; not checked).
    function commitResult(uint256 jobId, bytes32 commitment, uint96 charge, bytes32 usageHash) external;

    /// @notice Opens the caller's sealed result. Allowed once every slot of the job is filled and
    ///         committed, or after the deadline; until `resultRevealDeadline(jobId)`. A result never
    ///         revealed is treated as never delivered (slashed, like a late slot).
    /// @param jobId The job.
    /// @param resultHash Hash of the result manifest (nonzero); replicas compare it.
    /// @param salt The salt in the commitment.
    /// @param uri Where the result and usage record can be fetched.
    function revealResult(uint256 jobId, bytes32 resultHash, bytes32 salt, string calldata uri) external;

    /// @notice Announces the caller's API base URL for a job (no storage: emits `EndpointAnnounced`,
    ///         the latest announcement of a provider wins). Providers of a cooperative job find each
    ///         other this way; node order is `providersOf(jobId)`.
    /// @dev Only a provider holding a slot of the job in status Accepted or Committed
    ///      (`WrongSlotStatus` otherwise), while the job is Open (`WrongStatus`; `UnknownJob`).
    /// @param jobId The job.
    /// @param uri The base URL, 1..`MAX_ENDPOINT_URI` bytes (`EmptyUri`, `UriTooLong`); not checked
    ///        further (peers authenticate each other by their chain keys, not by the URL).
    function announceEndpoint(uint256 jobId, string calldata uri) external;

    /* SETTLEMENT */

    /// @notice Takes a slot out of the automatic rule. The buyer, or the slot's provider once it
    ///         committed (`NotCommitted`: a provider cannot dispute its way out of the late penalty),
    ///         while the job is open and before `finalizableAt`; the slot may not commit afterwards
    ///         (a committed one may still reveal).
    /// @param jobId The job.
    /// @param provider The slot's provider.
    function dispute(uint256 jobId, address provider) external;

    /// @notice Votes on a disputed slot; two equal votes of buyer, provider and arbiter settle it.
    ///         Only before `disputeExpiry` (`DisputeExpired`).
    /// @param jobId The job.
    /// @param provider The disputed slot's provider.
    /// @param payProvider true: the provider is paid its charge (the clearing price if it never
    ///        committed) net of checkpoint payments and gets its collateral back; false: price and
    ///        collateral go to the buyer.
    function vote(uint256 jobId, address provider, bool payProvider) external;

    /// @notice Settles every undisputed slot by the majority rule (fixing the job's `majorityHash`)
    ///         and refunds unfilled slots (anyone). Disputes still open stay open: a vote or, after
    ///         expiry, `settleExpired` settles them.
    /// @param jobId The job.
    function finalize(uint256 jobId) external;

    /// @notice Settles a finalized job's slot whose dispute expired undecided, by the automatic rule
    ///         with the job's `majorityHash` (anyone).
    /// @param jobId The job.
    /// @param provider The disputed slot's provider.
    function settleExpired(uint256 jobId, address provider) external;

    /* VIEWS */

    /// @notice The token payments and collateral are held in.
    function token() external view returns (address);

    /// @notice Seconds after `deadline + reviewPeriod` a dispute may stay undecided.
    function disputePeriod() external view returns (uint256);

    /// @notice Number of jobs created so far (the last job id).
    function jobCount() external view returns (uint256);

    /// @notice A job.
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice A provider's slot in a job.
    function getSlot(uint256 jobId, address provider) external view returns (Slot memory);

    /// @notice Providers holding slots (or bids) in a job, in order of arrival.
    function providersOf(uint256 jobId) external view returns (address[] memory);

    /// @notice A provider's completed and failed job counts.
    function recordOf(address provider) external view returns (Record memory);

    /// @notice Until when (exclusive) sealed results may be revealed: `REVEAL_PERIOD` after the reveal
    ///         window opened (the last commit once every slot committed, else the deadline).
    function resultRevealDeadline(uint256 jobId) external view returns (uint256);

    /// @notice When an undecided dispute of the job expires (`vote` refuses from then on).
    function disputeExpiry(uint256 jobId) external view returns (uint256);

    /// @notice When `finalize` can run: once every slot committed and revealed, the last reveal + review
    ///         period; otherwise the reveal deadline + review period;
    ///         for a closed auction nobody won, the reveal deadline (there is nothing to wait for).
    function finalizableAt(uint256 jobId) external view returns (uint256);
}
