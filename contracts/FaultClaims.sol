// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {SafeERC20, IERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IFaultClaims} from "./interfaces/IFaultClaims.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IWorkToken} from "./interfaces/IWorkToken.sol";
import {SegmentResultHash} from "./libraries/SegmentResultHash.sol";

/// @title FaultClaims
/// @notice Fault claims on signed segment results, decided by a governance-appointed committee and
///         enforced through Staking's slashing.
/// @dev Money rules (see IFaultClaims for the full statement):
///      - The contract holds exactly the bonds of Open claims plus the finder's-fee pots of episodes
///        with claimants still owed: a bond enters at `fileClaim` and leaves once, at the transition
///        out of Open (to the claimant when Upheld; to the claimant less `EXPIRY_KEEP_PPM`, which goes
///        to the orchestrator, when Expired; to the orchestrator when Rejected), with `BondReleased`.
///      - Every Open claim holds one Staking freeze on its orchestrator, taken at `fileClaim` and
///        released once, at the transition out of Open (after the slash when Upheld); a release
///        Staking refuses (verifier rotated) is reported, never blocking.
///      - Staking burns the penalty less the finder's fee and pays that fee to the lone claimant of
///        the episode, or here, to a pot shared among the episode's claimants (see IFaultClaims).
///      - Each claim carries the committee term, quorum and rates in force when it was filed, so
///        governance cannot change the terms, nor the jury, of a claim already under vote.
contract FaultClaims is IFaultClaims, Ownable2Step {
    using SafeERC20 for IERC20;

    /* CONSTANTS */

    uint256 internal constant PPM = 1_000_000;
    uint8 internal constant MAX_FAULT = 10;
    /// @notice Longest voting period governance may set.
    uint256 public constant MAX_VOTING_PERIOD = 30 days;
    /// @notice Largest committee (bounds the cost of replacing it).
    uint256 public constant MAX_COMMITTEE = 64;
    /// @notice Shortest committee term governance may set.
    uint256 public constant MIN_TERM_LENGTH = 1 hours;
    /// @notice Longest committee term governance may set.
    uint256 public constant MAX_TERM_LENGTH = 4 * 365 days;
    /// @notice Most committee terms ever (claims store their term in 16 bits).
    uint256 public constant MAX_TERMS = type(uint16).max;
    /// @notice The bond is at least this share (ppm) of what the claim could slash.
    uint256 public constant BOND_PER_SLASHABLE_PPM = 40_000;
    /// @notice Share (ppm) of an expired claim's bond paid to the accused for the freeze.
    uint256 public constant EXPIRY_KEEP_PPM = 100_000;

    /* IMMUTABLES */

    /// @inheritdoc IFaultClaims
    IERC20 public immutable token;
    /// @inheritdoc IFaultClaims
    IStaking public immutable staking;

    /* STORAGE */

    Parameters internal _params;
    /// @inheritdoc IFaultClaims
    uint32 public quorum;
    /// @inheritdoc IFaultClaims
    uint256 public currentTerm;
    /// @inheritdoc IFaultClaims
    uint64 public termLength;
    mapping(uint256 term => Term) internal _terms;
    mapping(uint256 term => address[]) internal _termMembers;
    mapping(uint256 term => mapping(address => bool)) internal _isMemberOf;

    /// @inheritdoc IFaultClaims
    uint256 public claimCount;
    mapping(uint256 => Claim) internal _claims;
    /// @inheritdoc IFaultClaims
    mapping(bytes32 resultDigest => uint256 id) public claimOfResult;
    mapping(uint256 id => mapping(address member => bool)) internal _voted;
    mapping(address => Record) internal _records;
    /// @dev Episodes count from 1; 0 means no claim was ever filed against the orchestrator.
    mapping(address orchestrator => uint256) internal _currentEpisode;
    mapping(address orchestrator => mapping(uint256 episode => Episode)) internal _episodes;
    /// @dev Per claimant in an episode: its open claims, and whether its share was paid or forfeited.
    mapping(address orchestrator => mapping(uint256 episode => mapping(address claimant => Share))) internal _shares;

    struct Share {
        uint64 open;
        bool settled;
    }

    /* CONSTRUCTOR */

    /// @param token_ The work token bonds are posted in (Staking's token).
    /// @param staking_ Staking; this contract must be made its verifier.
    /// @param params_ Initial claim parameters (bounds as in `setParameters`).
    /// @param committee_ Initial committee (rules as in `setCommittee`).
    /// @param quorum_ Initial quorum.
    /// @param termLength_ Length of a committee term (bounds as in `setTermLength`); the initial
    ///        committee is term 1, ending `termLength_` after deployment.
    /// @param owner_ Governance owner (committee and parameters).
    constructor(
        IERC20 token_,
        IStaking staking_,
        Parameters memory params_,
        address[] memory committee_,
        uint32 quorum_,
        uint64 termLength_,
        address owner_
    ) Ownable(owner_) {
        if (address(token_) == address(0) || address(staking_) == address(0)) {
            revert ZeroAddress();
        }
        token = token_;
        staking = staking_;
        _setParameters(params_);
        _setTermLength(termLength_);
        _setCommittee(committee_, quorum_);
    }

    /* CLAIMS */

    /// @inheritdoc IFaultClaims
    function fileClaim(
        SegmentResultHash.SegmentResult memory result,
        bytes memory signature,
        uint256 rendition,
        uint8 fault,
        bytes32 evidenceHash,
        string calldata evidenceUri
    ) external returns (uint256 id) {
        bytes32 digest = _checkClaim(result, signature, rendition, fault);
        address orchestrator = result.orchestrator;
        uint256 deadline;
        uint256 bond;
        (id, deadline, bond) = _storeClaim(digest, orchestrator, rendition, fault, evidenceHash);
        emit ClaimFiled(id, orchestrator, msg.sender, digest, rendition, fault, evidenceHash, evidenceUri, deadline);
        // Reverts (NotVerifier) only if the verifier moved between `_checkClaim` and here: never.
        staking.freeze(orchestrator);
        token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @inheritdoc IFaultClaims
    function vote(uint256 id, bool uphold) external {
        Claim storage c = _openClaim(id);
        if (!_isMemberOf[c.term][msg.sender]) revert NotMember(msg.sender);
        if (msg.sender == c.claimant || msg.sender == c.orchestrator) revert PartyCannotVote(id, msg.sender);
        if (_voted[id][msg.sender]) revert AlreadyVoted(id, msg.sender);
        uint256 deadline = c.deadline;
        if (block.timestamp >= deadline) revert VotingClosed(id, deadline);

        _voted[id][msg.sender] = true;
        uint32 votesFor = c.votesFor;
        uint32 votesAgainst = c.votesAgainst;
        if (uphold) c.votesFor = ++votesFor;
        else c.votesAgainst = ++votesAgainst;
        emit Voted(id, msg.sender, uphold, votesFor, votesAgainst);
        if (votesFor >= c.quorum) _uphold(id, c);
        else if (votesAgainst >= c.quorum) _reject(id, c);
    }

    /// @inheritdoc IFaultClaims
    function expire(uint256 id) external {
        Claim storage c = _openClaim(id);
        uint256 deadline = c.deadline;
        if (block.timestamp < deadline) revert VotingNotOver(id, deadline);

        address orchestrator = c.orchestrator;
        address claimant = c.claimant;
        c.status = ClaimStatus.Expired;
        Record storage r = _records[orchestrator];
        r.open -= 1;
        r.expired += 1;
        uint256 bond = c.bond;
        uint256 kept = bond * EXPIRY_KEEP_PPM / PPM;
        emit ClaimResolved(id, ClaimStatus.Expired, 0, 0);
        emit BondReleased(id, bond - kept, kept);
        _closeUnpaid(c.episode, orchestrator, claimant);
        _release(id, orchestrator);
        token.safeTransfer(claimant, bond - kept);
        if (kept > 0) token.safeTransfer(orchestrator, kept);
    }

    /* GOVERNANCE */

    /// @inheritdoc IFaultClaims
    function setCommittee(address[] calldata members, uint32 quorum_) external onlyOwner {
        _setCommittee(members, quorum_);
    }

    /// @inheritdoc IFaultClaims
    function setParameters(Parameters calldata params) external onlyOwner {
        _setParameters(params);
    }

    /// @inheritdoc IFaultClaims
    function setTermLength(uint64 termLength_) external onlyOwner {
        _setTermLength(termLength_);
    }

    /* VIEWS */

    /// @inheritdoc IFaultClaims
    function parameters() external view returns (Parameters memory) {
        return _params;
    }

    /// @inheritdoc IFaultClaims
    function bondFor(address orchestrator) public view returns (uint256) {
        return _bondFor(orchestrator, _params);
    }

    /// @inheritdoc IFaultClaims
    function currentEpisode(address orchestrator) external view returns (uint256 ep) {
        ep = _currentEpisode[orchestrator];
        if (ep == 0) ep = 1;
    }

    /// @inheritdoc IFaultClaims
    function episode(address orchestrator, uint256 episode_) external view returns (Episode memory) {
        return _episodes[orchestrator][episode_];
    }

    /// @inheritdoc IFaultClaims
    function claim(uint256 id) external view returns (Claim memory) {
        return _claims[id];
    }

    /// @inheritdoc IFaultClaims
    function committee() external view returns (address[] memory) {
        return _termMembers[currentTerm];
    }

    /// @inheritdoc IFaultClaims
    function isMember(address account) external view returns (bool) {
        return _isMemberOf[currentTerm][account];
    }

    /// @inheritdoc IFaultClaims
    function term(uint256 id) external view returns (Term memory) {
        return _terms[id];
    }

    /// @inheritdoc IFaultClaims
    function termMembers(uint256 id) external view returns (address[] memory) {
        return _termMembers[id];
    }

    /// @inheritdoc IFaultClaims
    function isMemberOf(uint256 id, address account) external view returns (bool) {
        return _isMemberOf[id][account];
    }

    /// @inheritdoc IFaultClaims
    function termLapsed() external view returns (bool) {
        return block.timestamp >= _terms[currentTerm].end;
    }

    /// @inheritdoc IFaultClaims
    function canVote(uint256 id, address member) external view returns (bool) {
        Claim storage c = _claims[id];
        return c.status == ClaimStatus.Open && block.timestamp < c.deadline && _isMemberOf[c.term][member]
            && member != c.claimant && member != c.orchestrator && !_voted[id][member];
    }

    /// @inheritdoc IFaultClaims
    function hasVoted(uint256 id, address member) external view returns (bool) {
        return _voted[id][member];
    }

    /// @inheritdoc IFaultClaims
    function record(address orchestrator) external view returns (Record memory) {
        return _records[orchestrator];
    }

    /// @inheritdoc IFaultClaims
    function resultDigest(SegmentResultHash.SegmentResult memory result) external view returns (bytes32) {
        return SegmentResultHash.digest(result, block.chainid, address(staking));
    }

    /* INTERNAL: FILING */

    /// @dev Every refusal of `fileClaim`; returns the result's digest.
    function _checkClaim(
        SegmentResultHash.SegmentResult memory result,
        bytes memory signature,
        uint256 rendition,
        uint8 fault
    ) internal view returns (bytes32 digest) {
        if (fault == 0 || fault > MAX_FAULT) revert UnknownFault(fault);
        uint256 renditions = result.renditionHashes.length;
        if (result.profiles.length != renditions) revert RenditionCountMismatch(result.profiles.length, renditions);
        if (rendition >= renditions) revert RenditionOutOfRange(rendition, renditions);
        if (msg.sender != result.broadcaster) revert NotBroadcaster(msg.sender, result.broadcaster);
        address orchestrator = result.orchestrator;
        // The accused and its delegators would pay the finder's fee to themselves.
        // Not its hot keys: the accused names those alone, and naming the broadcaster would lock it
        // out of its own claim (its hot key claiming is its own sybil, which the fee sharing bounds).
        if (msg.sender == orchestrator || staking.delegateOf(msg.sender) == orchestrator) {
            revert ClaimantTiedToAccused(msg.sender, orchestrator);
        }
        digest = SegmentResultHash.digest(result, block.chainid, address(staking));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        // Malformed, EIP-2098 compact and high-s signatures are refused: one result, one signature.
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        // The orchestrator's own key or its hot key (a replaced one stays answerable for a while).
        if (!staking.signsResultsFor(orchestrator, signer)) revert NotSignedByOrchestrator(signer, orchestrator);
        uint256 existing = claimOfResult[digest];
        if (existing != 0) revert AlreadyClaimed(digest, existing);
        if (!staking.isRegistered(orchestrator)) revert NotRegistered(orchestrator);
        address verifier = staking.verifier();
        if (verifier != address(this)) revert NotStakingVerifier(verifier);
    }

    /// @dev `p.bond`, or `BOND_PER_SLASHABLE_PPM` of `p.slashPpm` of the orchestrator's slashable
    ///      stake (own bonded stake and unbonding locks: what Staking's `slash` would take, and what
    ///      the claim freezes) when more.
    function _bondFor(address orchestrator, Parameters memory p) internal view returns (uint256 bond) {
        bond = p.bond;
        uint256 scaled = staking.slashableStake(orchestrator) * p.slashPpm / PPM * BOND_PER_SLASHABLE_PPM / PPM;
        if (scaled > bond) bond = scaled;
    }

    /// @dev Writes a new Open claim with the parameters, committee term and quorum in force now.
    function _storeClaim(bytes32 digest, address orchestrator, uint256 rendition, uint8 fault, bytes32 evidenceHash)
        internal
        returns (uint256 id, uint256 deadline, uint256 bond)
    {
        Parameters memory p = _params;
        id = ++claimCount;
        deadline = block.timestamp + p.votingPeriod;
        // A bond beyond uint128 would need more tokens than any supply: the cast fails loudly.
        bond = _bondFor(orchestrator, p);
        claimOfResult[digest] = id;
        Claim storage c = _claims[id];
        c.resultDigest = digest;
        // Safe cast: `currentTerm` ≤ MAX_TERMS (`_setCommittee`).
        (c.orchestrator, c.deadline, c.fault, c.status, c.term) =
        (orchestrator, uint64(deadline), fault, ClaimStatus.Open, uint16(currentTerm));
        (c.claimant, c.quorum) = (msg.sender, quorum);
        // Safe cast: `rendition` is below the length of an array decoded from calldata.
        (c.bond, c.rendition, c.slashPpm, c.finderFeePpm) =
        (SafeCast.toUint128(bond), uint32(rendition), p.slashPpm, p.finderFeePpm);
        c.evidenceHash = evidenceHash;
        _records[orchestrator].open += 1;

        // Written on the first claim ever against the orchestrator, so a slash only increments it.
        uint256 ep = _currentEpisode[orchestrator];
        if (ep == 0) _currentEpisode[orchestrator] = ep = 1;
        // Safe cast: one episode per slash, each needing a filed claim; ids fit far below 2^32 claims.
        c.episode = uint32(ep);
        Share storage share = _shares[orchestrator][ep][msg.sender];
        // A claimant's first open claim in the episode makes it owed a share.
        if (share.open++ == 0 && !share.settled) _episodes[orchestrator][ep].owed += 1;
    }

    /* INTERNAL: RESOLUTION */

    function _openClaim(uint256 id) internal view returns (Claim storage c) {
        c = _claims[id];
        ClaimStatus status = c.status;
        if (status == ClaimStatus.None) revert UnknownClaim(id);
        if (status != ClaimStatus.Open) revert ClaimNotOpen(id, status);
    }

    /// @dev The first upheld claim of an episode slashes; the penalty and fee are read from the
    ///      balance and supply changes Staking makes, so they are exactly what it applied whatever its
    ///      rounding. With one claimant owed, Staking pays the fee to it; with more, the fee comes here
    ///      as the episode's pot and each owed claimant takes `pot / owed` at its uphold, or burns it
    ///      when its claims end otherwise (the last one owed takes or burns the rest). The event follows the calls for that reason; all state is written before them,
    ///      and Staking and the token are fixed at construction. The freeze is lifted after the
    ///      slash, so the principal it takes is the principal held since filing (plus rewards).
    function _uphold(uint256 id, Claim storage c) internal {
        address orchestrator = c.orchestrator;
        address claimant = c.claimant;
        c.status = ClaimStatus.Upheld;
        Record storage r = _records[orchestrator];
        r.open -= 1;
        r.upheld += 1;

        uint256 ep = c.episode;
        Episode storage e = _episodes[orchestrator][ep];
        Share storage share = _shares[orchestrator][ep][claimant];
        share.open -= 1;
        bool owed = !share.settled;
        if (owed) share.settled = true;
        uint256 penalty;
        uint256 finderFee;
        uint256 fromPot;
        if (!e.slashed) {
            // The episode's first uphold: later claims against the orchestrator open the next one.
            e.slashed = true;
            _currentEpisode[orchestrator] = ep + 1;
            (penalty, finderFee, fromPot) = _slash(id, c, orchestrator, claimant, ep, e);
        } else if (owed) {
            fromPot = _takeShare(e);
            finderFee = fromPot;
        }
        if (owed) e.owed -= 1;
        _release(id, orchestrator);
        emit ClaimResolved(id, ClaimStatus.Upheld, penalty, finderFee);
        emit BondReleased(id, c.bond, 0);
        if (fromPot > 0) token.safeTransfer(claimant, fromPot);
        token.safeTransfer(claimant, c.bond);
    }

    /// @dev Slashes for the episode's first upheld claim unless the orchestrator is unregistered
    ///      (nothing left to take) or this contract is no longer Staking's verifier. Returns the
    ///      penalty, the claimant's fee and the part of it still to be paid from the pot.
    function _slash(uint256 id, Claim storage c, address orchestrator, address claimant, uint256 ep, Episode storage e)
        internal
        returns (uint256 penalty, uint256 finderFee, uint256 fromPot)
    {
        address verifier = staking.verifier();
        if (verifier != address(this)) {
            emit StakingDetached(id, verifier);
            return (0, 0, 0);
        }
        if (!staking.isRegistered(orchestrator)) return (0, 0, 0);
        uint256 owed = e.owed;
        // Lone claimant: Staking pays it directly. Several: the fee comes here to be shared.
        uint256 fee;
        (penalty, fee) = _measuredSlash(orchestrator, owed > 1 ? address(this) : claimant, c);
        if (owed > 1) {
            e.pot = SafeCast.toUint128(fee);
            emit FinderFeeHeld(orchestrator, ep, fee, owed);
            fromPot = _takeShare(e);
            finderFee = fromPot;
        } else {
            finderFee = fee;
        }
    }

    /// @dev Staking's slash, measured: the fee is what `finder` received, the penalty that plus the burn.
    function _measuredSlash(address orchestrator, address finder, Claim storage c)
        internal
        returns (uint256 penalty, uint256 fee)
    {
        uint256 supplyBefore = token.totalSupply();
        uint256 balanceBefore = token.balanceOf(finder);
        staking.slash(orchestrator, finder, c.slashPpm, c.finderFeePpm);
        fee = token.balanceOf(finder) - balanceBefore;
        penalty = fee + (supplyBefore - token.totalSupply());
    }

    /// @dev One owed claimant's share of the pot: an equal part of what is left, all of it for the
    ///      last one owed. The caller decrements `owed`.
    function _takeShare(Episode storage e) internal returns (uint256 amount) {
        uint256 pot = e.pot;
        amount = pot / e.owed;
        e.pot = uint128(pot - amount);
    }

    /// @dev A claim of `claimant` ended without an uphold: once its last open claim of the episode
    ///      is gone it is no longer owed a share. After the slash its share is burned at once: left
    ///      in the pot it would go to whoever is paid last, which the accused could arrange to be its
    ///      own sybil by filing claims meant to be rejected (their bonds come back to it).
    function _closeUnpaid(uint256 ep, address orchestrator, address claimant) internal {
        Share storage share = _shares[orchestrator][ep][claimant];
        uint64 open = share.open - 1;
        share.open = open;
        if (open != 0 || share.settled) return;
        Episode storage e = _episodes[orchestrator][ep];
        // Before the slash a later claim of the same claimant makes it owed again.
        if (!e.slashed) {
            e.owed -= 1;
            return;
        }
        share.settled = true;
        uint256 amount = _takeShare(e);
        e.owed -= 1;
        emit FinderShareForfeited(orchestrator, ep, claimant);
        if (amount > 0) {
            emit FinderFeeBurned(orchestrator, ep, amount);
            IWorkToken(address(token)).burn(amount);
        }
    }

    /// @dev Lifts the claim's freeze; a Staking that refuses (this contract is no longer its
    ///      verifier, or the freeze was lifted by another) cannot keep the claim from closing.
    function _release(uint256 id, address orchestrator) internal {
        try staking.unfreeze(orchestrator) {}
        catch {
            emit FreezeNotReleased(id, orchestrator);
        }
    }

    function _reject(uint256 id, Claim storage c) internal {
        address orchestrator = c.orchestrator;
        c.status = ClaimStatus.Rejected;
        Record storage r = _records[orchestrator];
        r.open -= 1;
        r.rejected += 1;
        emit ClaimResolved(id, ClaimStatus.Rejected, 0, 0);
        emit BondReleased(id, 0, c.bond);
        _closeUnpaid(c.episode, orchestrator, c.claimant);
        _release(id, orchestrator);
        token.safeTransfer(orchestrator, c.bond);
    }

    /* INTERNAL: GOVERNANCE */

    function _setParameters(Parameters memory p) internal {
        if (p.bond == 0) revert ZeroBond();
        if (p.votingPeriod == 0 || p.votingPeriod > MAX_VOTING_PERIOD) {
            revert VotingPeriodOutOfRange(p.votingPeriod, MAX_VOTING_PERIOD);
        }
        if (p.slashPpm > PPM) revert RateAbovePpm(p.slashPpm);
        if (p.finderFeePpm > PPM) revert RateAbovePpm(p.finderFeePpm);
        _params = p;
        emit ParametersSet(p.bond, p.votingPeriod, p.slashPpm, p.finderFeePpm);
    }

    function _setTermLength(uint64 termLength_) internal {
        if (termLength_ < MIN_TERM_LENGTH || termLength_ > MAX_TERM_LENGTH) {
            revert TermLengthOutOfRange(termLength_, MIN_TERM_LENGTH, MAX_TERM_LENGTH);
        }
        termLength = termLength_;
        emit TermLengthSet(termLength_);
    }

    /// @dev Opens the next term: earlier terms keep their members, who still decide the claims filed
    ///      under them.
    function _setCommittee(address[] memory members, uint32 quorum_) internal {
        uint256 n = members.length;
        if (n == 0) revert EmptyCommittee();
        if (n > MAX_COMMITTEE) revert CommitteeTooLarge(n, MAX_COMMITTEE);
        // A strict majority: two disjoint sets of `quorum` members cannot both exist.
        if (quorum_ <= n / 2 || quorum_ > n) revert InvalidQuorum(quorum_, n);
        uint256 id = currentTerm + 1;
        if (id > MAX_TERMS) revert TooManyTerms();
        mapping(address => bool) storage isMember_ = _isMemberOf[id];
        for (uint256 i; i < n; ++i) {
            address member = members[i];
            if (member == address(0)) revert ZeroAddress();
            if (isMember_[member]) revert DuplicateMember(member);
            isMember_[member] = true;
        }
        uint256 end = block.timestamp + termLength;
        currentTerm = id;
        _termMembers[id] = members;
        _terms[id] = Term({start: uint64(block.timestamp), end: uint64(end), quorum: quorum_});
        quorum = quorum_;
        emit CommitteeSet(members, quorum_);
        emit TermStarted(id, block.timestamp, end, quorum_);
    }
}
