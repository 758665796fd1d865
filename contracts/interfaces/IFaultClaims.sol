// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IStaking} from "./IStaking.sol";
import {SegmentResultHash} from "../libraries/SegmentResultHash.sol";

/// @title IFaultClaims
/// @notice On-chain verification of fault claims against orchestrators. A broadcaster that paid for a
///         segment and holds the orchestrator's signed result (`SegmentResultHash`) files a claim
///         naming one rendition, a fault code and the hash and URI of its evidence, and posts a bond.
///         A committee set by governance decides: `quorum` votes to uphold slash `slashPpm` of the
///         orchestrator's own stake through Staking (this contract is Staking's verifier), pay the
///         claimant(s) `finderFeePpm` of the penalty, burn the rest and return the bond; `quorum` votes
///         to reject give the bond to the accused orchestrator. A claim nobody decides before its
///         deadline expires: nobody is penalized, the bond goes back less `EXPIRY_KEEP_PPM` of it,
///         which pays the accused for the freeze.
///
///         Rules:
///         - Only the result's broadcaster may claim (nobody can front-run the finder's fee), once per
///           result digest ever, and only against an orchestrator registered at filing time.
///         - The committee term, quorum, slash and finder-fee rates, voting period and bond in force at
///           filing apply to the claim for its whole life; governance changes affect later claims
///           only. The members of the claim's term vote, each once per claim, even after governance
///           has elected a new committee (a rotation never strands an open claim, nor hands it to a
///           jury chosen after filing); neither the claimant nor the accused may vote on it.
///         - Committees serve terms (`setCommittee` opens the next one, `termLength` long). A term's
///           end is when governance should elect the next committee, not a stop: a committee whose
///           term lapsed without a successor stays in office (`termLapsed()` reads true), claims are
///           filed and decided as before, so claims can never become unfileable for want of a jury.
///         - `quorum > members / 2`, so two disjoint majorities cannot exist in one committee.
///         - An upheld claim against an orchestrator that is no longer registered (slashed already)
///           is upheld without a penalty.
///         - While a claim is open its orchestrator's stake is frozen in Staking (`IStaking.freeze`):
///           it can neither unbond nor move its bond to another delegate, so an upheld claim slashes
///           the principal it held at filing (plus rewards since). Each resolution lifts that freeze.
///
///         Defences against the parties themselves (test/attacks/FaultClaimsAttacks.t.sol):
///         - Finder's fee shared, not raced: the first upheld claim slashes once. Every distinct
///           claimant with a claim against the same orchestrator still open at that moment (its
///           "episode") is owed one equal share of the finder's fee; a claimant with one upheld claim
///           of the episode is paid its share at that claim's resolution, and the share of one whose
///           open claims all end otherwise is burned (`FinderShareForfeited`, `FinderFeeBurned`), never
///           passed on to whoever is paid last (the accused could arrange that to be its own sybil).
///           With one claimant the fee goes to it in the slash itself. So an accused that races honest finders with its own sybil claim takes
///           only a sybil's share of the fee and still loses the whole penalty less that share. The
///           claimant can be neither the accused nor one of its delegators.
///         - Freezing costs what it holds: the bond is at least `BOND_PER_SLASHABLE_PPM` of what an
///           upheld claim could slash (`bondFor`), a claim that expires undecided pays
///           `EXPIRY_KEEP_PPM` of its bond to the accused for the freeze, and a rejected one pays it
///           all. Open claims per accused are not capped on purpose: a freeze is one flag whatever
///           the count, and a cap would let the accused's own (rejected, bond-to-itself) claims lock
///           honest finders out.
///         - Resolution never depends on still being Staking's verifier: when governance rotates
///           `Staking.setVerifier`, open claims still vote and expire, bonds and fee shares still
///           move; nothing is slashed (`StakingDetached`) and a freeze Staking no longer lets this
///           contract lift is reported (`FreezeNotReleased`) instead of blocking the claim. No claim
///           can be filed while detached.
///         - A claim names one rendition and the fault the claimant found. Jurors vote on whether that
///           rendition of the signed result is faulty: a juror that proves a different fault of the
///           same rendition (e.g. `frame_count` for a truncated file claimed `undecodable`) votes to
///           uphold. The penalty never depends on the fault code, and a result can be claimed only
///           once, so rejecting a true claim for naming the wrong code would let a proven fault go
///           unpunished and take an honest claimant's bond.
///
///         Fault codes (`fault`, the same numbers in `agents/chain/src/claims.rs`):
///         1 undecodable, 2 wrong_codec, 3 wrong_resolution, 4 frame_count, 5 duration,
///         6 stale_segment (start time does not match the input: stale or reordered), 7 low_bitrate,
///         8 high_bitrate, 9 audio_missing, 10 low_quality (SSIM/PSNR below threshold, e.g. black
///         frames).
interface IFaultClaims {
    /* TYPES */

    /// @notice Life cycle of a claim. Upheld, Rejected and Expired are final.
    enum ClaimStatus {
        None,
        Open,
        Upheld,
        Rejected,
        Expired
    }

    /// @notice Governance parameters, snapshot into each claim at filing.
    struct Parameters {
        uint128 bond; // work-token wei the claimant posts
        uint64 votingPeriod; // seconds from filing until the claim can only expire
        uint32 slashPpm; // share of the orchestrator's own stake slashed when upheld
        uint32 finderFeePpm; // share of the penalty paid to the claimant
    }

    /// @notice A claim as stored.
    struct Claim {
        bytes32 resultDigest; // EIP-712 digest of the signed SegmentResult
        address orchestrator;
        uint64 deadline; // votes until then (unix seconds, exclusive); expiry from then on
        uint8 fault;
        ClaimStatus status;
        uint16 term; // the committee term whose members decide the claim (the one in office at filing)
        address claimant; // the result's broadcaster
        uint32 quorum;
        uint32 votesFor;
        uint32 votesAgainst;
        uint128 bond;
        uint32 rendition; // index into the result's profiles and rendition hashes
        uint32 slashPpm;
        uint32 finderFeePpm;
        uint32 episode; // the finder's-fee episode of `orchestrator` the claim belongs to (from 1)
        bytes32 evidenceHash;
    }

    /// @notice Claims against one orchestrator by outcome (its reputation on this contract).
    struct Record {
        uint64 upheld;
        uint64 rejected;
        uint64 open;
        uint64 expired;
    }

    /// @notice The finder's-fee episode of an orchestrator: the claims filed against it until a claim
    ///         of the episode is upheld (the slash); later claims open the next episode.
    struct Episode {
        uint128 pot; // finder's fee held for claimants still owed a share
        uint32 owed; // claimants with an open claim that have neither been paid nor forfeited
        bool slashed; // a claim of this episode was upheld
    }

    /// @notice A committee term: elected by governance (`setCommittee`), it decides every claim filed
    ///         while it is the current term, for those claims' whole life. `end` is when governance
    ///         should have elected the next one; past it the committee stays in office (see above).
    struct Term {
        uint64 start; // unix seconds of the election
        uint64 end; // unix seconds: start + the term length in force at the election
        uint32 quorum; // votes that decide a claim of the term
    }

    /* EVENTS */

    event ClaimFiled(
        uint256 indexed id,
        address indexed orchestrator,
        address indexed claimant,
        bytes32 resultDigest,
        uint256 rendition,
        uint8 fault,
        bytes32 evidenceHash,
        string evidenceUri,
        uint256 deadline
    );
    event Voted(uint256 indexed id, address indexed member, bool uphold, uint256 votesFor, uint256 votesAgainst);
    /// @notice A claim reached a final status. `penalty` is what Staking slashed, `finderFee` the part
    ///         of it paid to the claimant (both 0 unless Upheld).
    event ClaimResolved(uint256 indexed id, ClaimStatus status, uint256 penalty, uint256 finderFee);
    /// @notice Where a resolved claim's bond went (sums to the claim's bond).
    event BondReleased(uint256 indexed id, uint256 toClaimant, uint256 toOrchestrator);
    /// @notice The slash of an episode with several claimants owed: the finder's fee is held here and
    ///         shared, one share per claimant in `owed` (the resolving claimant's included).
    event FinderFeeHeld(address indexed orchestrator, uint256 indexed episode, uint256 pot, uint256 owed);
    /// @notice A claimant owed a share saw all its claims of the episode end without an uphold: its
    ///         share is burned (`FinderFeeBurned` follows when it is not zero).
    event FinderShareForfeited(address indexed orchestrator, uint256 indexed episode, address indexed claimant);
    /// @notice A forfeited share of a pot, burned.
    event FinderFeeBurned(address indexed orchestrator, uint256 indexed episode, uint256 amount);
    /// @notice Claim `id` resolved while this contract was no longer Staking's verifier: no slash.
    event StakingDetached(uint256 indexed id, address verifier);
    /// @notice Staking refused to lift the freeze claim `id` took (verifier rotated); the claim
    ///         resolved anyway and Staking must release that freeze itself.
    event FreezeNotReleased(uint256 indexed id, address indexed orchestrator);
    event CommitteeSet(address[] members, uint32 quorum);
    /// @notice Term `term` began with the committee of the `CommitteeSet` just before; it ends at `end`.
    event TermStarted(uint256 indexed term, uint256 start, uint256 end, uint32 quorum);
    /// @notice The length of the terms elected from now on.
    event TermLengthSet(uint256 termLength);
    event ParametersSet(uint256 bond, uint256 votingPeriod, uint32 slashPpm, uint32 finderFeePpm);

    /* ERRORS */

    error ZeroAddress();
    error ZeroBond();
    error VotingPeriodOutOfRange(uint256 period, uint256 max);
    error RateAbovePpm(uint256 rate);
    error EmptyCommittee();
    error CommitteeTooLarge(uint256 members, uint256 max);
    error DuplicateMember(address member);
    error InvalidQuorum(uint256 quorum, uint256 members);
    error TermLengthOutOfRange(uint256 termLength, uint256 min, uint256 max);
    /// @notice `MAX_TERMS` committees have been elected: no further term can be stored.
    error TooManyTerms();
    error UnknownFault(uint8 fault);
    error RenditionCountMismatch(uint256 profiles, uint256 renditionHashes);
    error RenditionOutOfRange(uint256 rendition, uint256 renditions);
    error NotBroadcaster(address caller, address broadcaster);
    error InvalidSignature();
    error NotSignedByOrchestrator(address signer, address orchestrator);
    error AlreadyClaimed(bytes32 resultDigest, uint256 id);
    error NotRegistered(address orchestrator);
    error ClaimantTiedToAccused(address claimant, address orchestrator);
    error NotStakingVerifier(address verifier);
    error UnknownClaim(uint256 id);
    error ClaimNotOpen(uint256 id, ClaimStatus status);
    error NotMember(address account);
    error PartyCannotVote(uint256 id, address account);
    error AlreadyVoted(uint256 id, address member);
    error VotingClosed(uint256 id, uint256 deadline);
    error VotingNotOver(uint256 id, uint256 deadline);

    /* CLAIMS */

    /// @notice Files a claim that `result`, signed by its orchestrator with `signature`, is faulty in
    ///         rendition `rendition` with fault code `fault` (1..10, see above). Pulls the current bond
    ///         from the caller (approve first).
    /// @dev The caller must be `result.broadcaster`, neither the orchestrator nor bonded to it;
    ///      `signature` is 65 bytes `r ‖ s ‖ v` with low `s` over the result's EIP-712 digest under
    ///      Staking's domain on this chain; the result must not have been claimed before, its
    ///      orchestrator must be registered and this contract Staking's verifier. The bond pulled is
    ///      `bondFor(result.orchestrator)`. Freezes the orchestrator's stake in Staking
    ///      (`IStaking.freeze`) until the claim resolves. `fault` is the claimant's finding; jurors
    ///      uphold on any fault they prove in the named rendition (see the rules above).
    /// @param evidenceHash Hash of the evidence (e.g. keccak256 of the rendition and the checker's report).
    /// @param evidenceUri Where the committee finds the evidence; only emitted.
    /// @return id The claim's id (ids start at 1).
    function fileClaim(
        SegmentResultHash.SegmentResult memory result,
        bytes memory signature,
        uint256 rendition,
        uint8 fault,
        bytes32 evidenceHash,
        string calldata evidenceUri
    ) external returns (uint256 id);

    /// @notice Votes on an open claim before its deadline; members of the current committee only,
    ///         once each, not the claimant nor the accused. The vote that brings `votesFor` to the
    ///         claim's quorum upholds it (slash, finder fee or share, bond back to the claimant); the
    ///         one that brings `votesAgainst` there rejects it (bond to the orchestrator). A member
    ///         votes to uphold when the named rendition is faulty, whatever fault code it proves.
    function vote(uint256 id, bool uphold) external;

    /// @notice Closes an open claim whose deadline has passed without a decision: the bond goes back
    ///         to the claimant less `EXPIRY_KEEP_PPM` of it, paid to the accused. Anyone. Never blocked
    ///         by Staking (see the rules above).
    function expire(uint256 id) external;

    /* GOVERNANCE */

    /// @notice Elects a new committee: the next term, with these members and quorum, starting now and
    ///         ending `termLength` from now. Owner only (governance). Members are distinct and
    ///         non-zero, at most `MAX_COMMITTEE`; `members.length / 2 < quorum ≤ members.length`.
    ///         Claims filed from now on are decided by the new committee; open claims keep the committee
    ///         (and quorum) of the term they were filed under, whose members keep voting on them.
    function setCommittee(address[] calldata members, uint32 quorum) external;

    /// @notice Sets the length of the terms elected from now on (the current term keeps its end).
    ///         Owner only. `MIN_TERM_LENGTH ≤ termLength ≤ MAX_TERM_LENGTH`.
    function setTermLength(uint64 termLength) external;

    /// @notice Sets the parameters of claims filed from now on. Owner only. `bond > 0`,
    ///         `0 < votingPeriod ≤ MAX_VOTING_PERIOD`, both rates ≤ 1e6.
    function setParameters(Parameters calldata params) external;

    /* VIEWS */

    /// @notice The work token bonds are posted in.
    function token() external view returns (IERC20);
    /// @notice The Staking contract slashed through, and whose address is the results' EIP-712 domain.
    function staking() external view returns (IStaking);
    /// @notice Parameters for claims filed now.
    function parameters() external view returns (Parameters memory);
    /// @notice The bond a claim against `orchestrator` pulls now: `parameters().bond`, or
    ///         `BOND_PER_SLASHABLE_PPM` of what it would slash (`slashPpm` of
    ///         `IStaking.slashableStake`: own bonded stake and unbonding locks) when that is more.
    function bondFor(address orchestrator) external view returns (uint256);
    /// @notice The episode claims against `orchestrator` filed now join (episodes count from 1; a
    ///         claim's own is `claim(id).episode`).
    function currentEpisode(address orchestrator) external view returns (uint256);
    /// @notice Episode `episode` of `orchestrator`.
    function episode(address orchestrator, uint256 episode) external view returns (Episode memory);
    /// @notice A claim (status None: no such claim).
    function claim(uint256 id) external view returns (Claim memory);
    /// @notice The claim filed on a result digest, 0 if none.
    function claimOfResult(bytes32 resultDigest) external view returns (uint256);
    /// @notice Claims filed so far (the latest id).
    function claimCount() external view returns (uint256);
    /// @notice The current committee (the current term's), in the order governance set it.
    function committee() external view returns (address[] memory);
    /// @notice Votes that decide claims filed now.
    function quorum() external view returns (uint32);
    /// @notice True if `account` is in the current committee (it decides claims filed now; to know who
    ///         decides claim `id`, use `isMemberOf(claim(id).term, account)` or `canVote`).
    function isMember(address account) external view returns (bool);
    /// @notice The current term's id (terms count from 1: the committee set at deployment).
    function currentTerm() external view returns (uint256);
    /// @notice The length of the terms elected from now on (seconds).
    function termLength() external view returns (uint64);
    /// @notice Term `id` (all zero: no such term).
    function term(uint256 id) external view returns (Term memory);
    /// @notice The members of term `id`, in the order governance set them.
    function termMembers(uint256 id) external view returns (address[] memory);
    /// @notice True if `account` is a member of term `id`.
    function isMemberOf(uint256 id, address account) external view returns (bool);
    /// @notice True once the current term's end has passed without a successor: the committee still
    ///         serves (holdover) until governance elects the next one.
    function termLapsed() external view returns (bool);
    /// @notice True if `member` may vote on claim `id` now: the claim is open and before its deadline,
    ///         `member` belongs to the claim's term, is not a party and has not voted on it.
    function canVote(uint256 id, address member) external view returns (bool);
    /// @notice True if `member` has voted on claim `id`.
    function hasVoted(uint256 id, address member) external view returns (bool);
    /// @notice Claims against `orchestrator` by outcome.
    function record(address orchestrator) external view returns (Record memory);
    /// @notice The EIP-712 digest of `result` under Staking's domain on this chain (what the
    ///         orchestrator signs and what `claimOfResult` is keyed by).
    function resultDigest(SegmentResultHash.SegmentResult memory result) external view returns (bytes32);
}
