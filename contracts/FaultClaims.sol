// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {SafeERC20, IERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IFaultClaims} from "./interfaces/IFaultClaims.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {SegmentResultHash} from "./libraries/SegmentResultHash.sol";

/// @title FaultClaims
/// @notice Fault claims on signed segment results, decided by a governance-appointed committee and
///         enforced through Staking's slashing.
/// @dev Money rules (see IFaultClaims for the full statement):
///      - The contract holds exactly the bonds of Open claims: a bond enters at `fileClaim` and leaves
///        once, at the transition out of Open (to the claimant when Upheld or Expired, to the
///        orchestrator when Rejected).
///      - Every Open claim holds one Staking freeze on its orchestrator, taken at `fileClaim` and
///        released once, at the transition out of Open (after the slash when Upheld).
///      - Penalties never pass through this contract: Staking pays the finder's fee to the claimant and
///        burns the rest.
///      - Each claim carries the quorum and rates in force when it was filed, so governance cannot
///        change the terms of a claim already under vote.
contract FaultClaims is IFaultClaims, Ownable2Step {
    using SafeERC20 for IERC20;

    /* CONSTANTS */

    uint256 internal constant PPM = 1_000_000;
    uint8 internal constant MAX_FAULT = 10;
    /// @notice Longest voting period governance may set.
    uint256 public constant MAX_VOTING_PERIOD = 30 days;
    /// @notice Largest committee (bounds the cost of replacing it).
    uint256 public constant MAX_COMMITTEE = 64;

    /* IMMUTABLES */

    /// @inheritdoc IFaultClaims
    IERC20 public immutable token;
    /// @inheritdoc IFaultClaims
    IStaking public immutable staking;

    /* STORAGE */

    Parameters internal _params;
    /// @inheritdoc IFaultClaims
    uint32 public quorum;
    address[] internal _committee;
    mapping(address => bool) internal _isMember;

    /// @inheritdoc IFaultClaims
    uint256 public claimCount;
    mapping(uint256 => Claim) internal _claims;
    /// @inheritdoc IFaultClaims
    mapping(bytes32 resultDigest => uint256 id) public claimOfResult;
    mapping(uint256 id => mapping(address member => bool)) internal _voted;
    mapping(address => Record) internal _records;

    /* CONSTRUCTOR */

    /// @param token_ The work token bonds are posted in (Staking's token).
    /// @param staking_ Staking; this contract must be made its verifier.
    /// @param params_ Initial claim parameters (bounds as in `setParameters`).
    /// @param committee_ Initial committee (rules as in `setCommittee`).
    /// @param quorum_ Initial quorum.
    /// @param owner_ Governance owner (committee and parameters).
    constructor(
        IERC20 token_,
        IStaking staking_,
        Parameters memory params_,
        address[] memory committee_,
        uint32 quorum_,
        address owner_
    ) Ownable(owner_) {
        if (address(token_) == address(0) || address(staking_) == address(0)) {
            revert ZeroAddress();
        }
        token = token_;
        staking = staking_;
        _setParameters(params_);
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
        staking.freeze(orchestrator);
        token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @inheritdoc IFaultClaims
    function vote(uint256 id, bool uphold) external {
        Claim storage c = _openClaim(id);
        if (!_isMember[msg.sender]) revert NotMember(msg.sender);
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

        c.status = ClaimStatus.Expired;
        Record storage r = _records[c.orchestrator];
        r.open -= 1;
        r.expired += 1;
        emit ClaimResolved(id, ClaimStatus.Expired, 0, 0);
        staking.unfreeze(c.orchestrator);
        token.safeTransfer(c.claimant, c.bond);
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

    /* VIEWS */

    /// @inheritdoc IFaultClaims
    function parameters() external view returns (Parameters memory) {
        return _params;
    }

    /// @inheritdoc IFaultClaims
    function claim(uint256 id) external view returns (Claim memory) {
        return _claims[id];
    }

    /// @inheritdoc IFaultClaims
    function committee() external view returns (address[] memory) {
        return _committee;
    }

    /// @inheritdoc IFaultClaims
    function isMember(address account) external view returns (bool) {
        return _isMember[account];
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
        digest = SegmentResultHash.digest(result, block.chainid, address(staking));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        // Malformed, EIP-2098 compact and high-s signatures are refused: one result, one signature.
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        if (signer != result.orchestrator) revert NotSignedByOrchestrator(signer, result.orchestrator);
        uint256 existing = claimOfResult[digest];
        if (existing != 0) revert AlreadyClaimed(digest, existing);
        if (!staking.isRegistered(result.orchestrator)) revert NotRegistered(result.orchestrator);
    }

    /// @dev Writes a new Open claim with the parameters and quorum in force now.
    function _storeClaim(bytes32 digest, address orchestrator, uint256 rendition, uint8 fault, bytes32 evidenceHash)
        internal
        returns (uint256 id, uint256 deadline, uint256 bond)
    {
        Parameters memory p = _params;
        id = ++claimCount;
        deadline = block.timestamp + p.votingPeriod;
        bond = p.bond;
        claimOfResult[digest] = id;
        Claim storage c = _claims[id];
        c.resultDigest = digest;
        (c.orchestrator, c.deadline, c.fault, c.status) = (orchestrator, uint64(deadline), fault, ClaimStatus.Open);
        (c.claimant, c.quorum) = (msg.sender, quorum);
        // Safe cast: `rendition` is below the length of an array decoded from calldata.
        (c.bond, c.rendition, c.slashPpm, c.finderFeePpm) = (p.bond, uint32(rendition), p.slashPpm, p.finderFeePpm);
        c.evidenceHash = evidenceHash;
        _records[orchestrator].open += 1;
    }

    /* INTERNAL: RESOLUTION */

    function _openClaim(uint256 id) internal view returns (Claim storage c) {
        c = _claims[id];
        ClaimStatus status = c.status;
        if (status == ClaimStatus.None) revert UnknownClaim(id);
        if (status != ClaimStatus.Open) revert ClaimNotOpen(id, status);
    }

    /// @dev The penalty and fee are read from the balance and supply changes Staking makes, so they are
    ///      exactly what it applied whatever its rounding: it pays the fee to the claimant and burns the
    ///      rest. The event follows the call for that reason; all state is written before it, and
    ///      Staking and the token are fixed at construction. The freeze is lifted after the slash, so
    ///      the principal it takes is the principal held since filing (plus rewards); `unfreeze` moves
    ///      no tokens and sits outside the measured span anyway.
    function _uphold(uint256 id, Claim storage c) internal {
        address orchestrator = c.orchestrator;
        address claimant = c.claimant;
        c.status = ClaimStatus.Upheld;
        Record storage r = _records[orchestrator];
        r.open -= 1;
        r.upheld += 1;

        uint256 penalty;
        uint256 finderFee;
        // Already slashed for another claim (and so unregistered): upheld, with nothing left to take.
        if (staking.isRegistered(orchestrator)) {
            uint256 supplyBefore = token.totalSupply();
            uint256 balanceBefore = token.balanceOf(claimant);
            staking.slash(orchestrator, claimant, c.slashPpm, c.finderFeePpm);
            finderFee = token.balanceOf(claimant) - balanceBefore;
            penalty = finderFee + (supplyBefore - token.totalSupply());
        }
        staking.unfreeze(orchestrator);
        emit ClaimResolved(id, ClaimStatus.Upheld, penalty, finderFee);
        token.safeTransfer(claimant, c.bond);
    }

    function _reject(uint256 id, Claim storage c) internal {
        address orchestrator = c.orchestrator;
        c.status = ClaimStatus.Rejected;
        Record storage r = _records[orchestrator];
        r.open -= 1;
        r.rejected += 1;
        emit ClaimResolved(id, ClaimStatus.Rejected, 0, 0);
        staking.unfreeze(orchestrator);
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

    function _setCommittee(address[] memory members, uint32 quorum_) internal {
        uint256 n = members.length;
        if (n == 0) revert EmptyCommittee();
        if (n > MAX_COMMITTEE) revert CommitteeTooLarge(n, MAX_COMMITTEE);
        // A strict majority: two disjoint sets of `quorum` members cannot both exist.
        if (quorum_ <= n / 2 || quorum_ > n) revert InvalidQuorum(quorum_, n);
        address[] storage old = _committee;
        for (uint256 i; i < old.length; ++i) {
            _isMember[old[i]] = false;
        }
        for (uint256 i; i < n; ++i) {
            address member = members[i];
            if (member == address(0)) revert ZeroAddress();
            if (_isMember[member]) revert DuplicateMember(member);
            _isMember[member] = true;
        }
        _committee = members;
        quorum = quorum_;
        emit CommitteeSet(members, quorum_);
    }
}
