// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice Every external function of the deployed contracts, as the ABIs in out/ list them, in three
///         classes: restricted (a role, an owner or a peer contract only: must refuse the deployer and
///         any account), open (permissionless by design: acts on the caller's own position, or is a
///         governance step anyone may take, e.g. the governor's propose, vote, queue and execute, the
///         timelock's renounceRole of the caller's own roles, the vesting wallet's release to its
///         owner) and views. test/unit/NoPrivilegedKeys.t.sol checks the lists against the artifacts,
///         so a new function fails it until it is classified here.
abstract contract PrivilegeLists {
    // Staking
    function _StakingRestricted() internal pure returns (string[] memory l) {
        l = new string[](13);
        l[0] = "acceptOwnership()";
        l[1] = "creditFees(address,uint256,uint256)";
        l[2] = "freeze(address)";
        l[3] = "renounceOwnership()";
        l[4] = "setMaxActive(uint256)";
        l[5] = "setMinActiveStake(uint256)";
        l[6] = "setMinSelfBond(uint256)";
        l[7] = "setUnbondingPeriod(uint256)";
        l[8] = "setVerifier(address)";
        l[9] = "slash(address,address,uint32,uint32)";
        l[10] = "transferOwnership(address)";
        l[11] = "unfreeze(address)";
        l[12] = "wire(address,address)";
    }

    function _StakingOpen() internal pure returns (string[] memory l) {
        l = new string[](15);
        l[0] = "bond(uint256,address)";
        l[1] = "bondFor(address,uint256,address)";
        l[2] = "claimEarnings()";
        l[3] = "joinActiveSet(address)";
        l[4] = "rebond(uint256)";
        l[5] = "rebondFromUnbonded(address,uint256)";
        l[6] = "registerOrchestrator(uint32,uint32)";
        l[7] = "reward()";
        l[8] = "rewardFor(address)";
        l[9] = "setRates(uint32,uint32)";
        l[10] = "setRedeemer(address)";
        l[11] = "setRewardCaller(address)";
        l[12] = "unbond(uint256)";
        l[13] = "withdrawFees(address,uint256)";
        l[14] = "withdrawStake(uint256)";
    }

    function _StakingViews() internal pure returns (string[] memory l) {
        l = new string[](45);
        l[0] = "MAX_ACTIVE_LIMIT()";
        l[1] = "MAX_UNBONDING_PERIOD()";
        l[2] = "activeSet()";
        l[3] = "activeSetPage(uint256,uint256)";
        l[4] = "activeTotalsThisRound()";
        l[5] = "currentRound()";
        l[6] = "delegateOf(address)";
        l[7] = "earningStake(address)";
        l[8] = "everRegistered(address)";
        l[9] = "freezeCount(address)";
        l[10] = "freezesBy(address,address)";
        l[11] = "frozen(address)";
        l[12] = "getBondedStake(address)";
        l[13] = "getPastBondedStake(address,uint256)";
        l[14] = "getPastDelegateOf(address,uint256)";
        l[15] = "getPastPoolStake(address,uint256)";
        l[16] = "getPoolStake(address)";
        l[17] = "isActive(address,uint256)";
        l[18] = "isRegistered(address)";
        l[19] = "lockBlocks()";
        l[20] = "maxActive()";
        l[21] = "minActiveStake()";
        l[22] = "minSelfBond()";
        l[23] = "minter()";
        l[24] = "orchestratorInfo(address)";
        l[25] = "owner()";
        l[26] = "pendingFees(address)";
        l[27] = "pendingOwner()";
        l[28] = "pendingStake(address)";
        l[29] = "poolFactors(address)";
        l[30] = "rateChangeCooldown()";
        l[31] = "redeemerOf(address)";
        l[32] = "reserveEligibility(address,uint256,uint256)";
        l[33] = "rewardCallerOf(address)";
        l[34] = "roundLength()";
        l[35] = "signsResultsFor(address,address)";
        l[36] = "slashableStake(address)";
        l[37] = "slashedUntil(address)";
        l[38] = "startBlock()";
        l[39] = "ticketBroker()";
        l[40] = "token()";
        l[41] = "totalBonded()";
        l[42] = "unbondingLock(address,uint256)";
        l[43] = "unbondingPeriod()";
        l[44] = "verifier()";
    }

    // Minter
    function _MinterRestricted() internal pure returns (string[] memory l) {
        l = new string[](9);
        l[0] = "acceptOwnership()";
        l[1] = "mintReward(uint256,uint256)";
        l[2] = "renounceOwnership()";
        l[3] = "setInflationChange(uint256)";
        l[4] = "setTargetBondingRate(uint256)";
        l[5] = "setTreasury(address)";
        l[6] = "setTreasuryBalanceCeiling(uint256)";
        l[7] = "setTreasuryRewardCutRate(uint256)";
        l[8] = "transferOwnership(address)";
    }

    function _MinterOpen() internal pure returns (string[] memory l) {
        l = new string[](1);
        l[0] = "initializeRound()";
    }

    function _MinterViews() internal pure returns (string[] memory l) {
        l = new string[](15);
        l[0] = "MAX_TREASURY_REWARD_CUT_RATE()";
        l[1] = "currentMintable()";
        l[2] = "currentMinted()";
        l[3] = "inflation()";
        l[4] = "inflationChange()";
        l[5] = "lastInitializedRound()";
        l[6] = "owner()";
        l[7] = "pendingOwner()";
        l[8] = "roundInitialized(uint256)";
        l[9] = "staking()";
        l[10] = "targetBondingRate()";
        l[11] = "token()";
        l[12] = "treasury()";
        l[13] = "treasuryBalanceCeiling()";
        l[14] = "treasuryRewardCutRate()";
    }

    // TicketBroker
    function _TicketBrokerRestricted() internal pure returns (string[] memory l) {
        l = new string[](0);
    }

    function _TicketBrokerOpen() internal pure returns (string[] memory l) {
        l = new string[](17);
        l[0] = "authorizeSigner(address)";
        l[1] = "authorizeSignerWithSig(address,address,address,uint256,uint256,uint256,bytes)";
        l[2] = "cancelSignerGrants()";
        l[3] = "cancelUnlock()";
        l[4] = "fundDeposit(uint256)";
        l[5] = "fundDepositAndReserve(uint256,uint256)";
        l[6] = "fundDepositAndReserveFor(address,uint256,uint256)";
        l[7] = "fundDepositAndReserveWithPermit(uint256,uint256,uint256,uint8,bytes32,bytes32)";
        l[8] = "fundReserve(uint256)";
        l[9] = "payFees(address,uint256)";
        l[10] = "redeemWinningTicket((uint256,uint256,uint256,bytes32,bytes32,bytes32))";
        l[11] = "redeemWinningTicketFor(address,(uint256,uint256,uint256,bytes32,bytes32,bytes32))";
        l[12] = "redeemWinningTickets((uint256,uint256,uint256,bytes32,bytes32,bytes32)[])";
        l[13] = "redeemWinningTicketsFor(address,(uint256,uint256,uint256,bytes32,bytes32,bytes32)[])";
        l[14] = "revokeSigner(address)";
        l[15] = "unlock()";
        l[16] = "withdraw()";
    }

    function _TicketBrokerViews() internal pure returns (string[] memory l) {
        l = new string[](21);
        l[0] = "NONCE_RING_SLOTS()";
        l[1] = "NONCE_WORD_BITS()";
        l[2] = "SIGNER_GRANT_TYPEHASH()";
        l[3] = "TICKET_TYPEHASH()";
        l[4] = "claimableReserve(address,address,uint256)";
        l[5] = "currentRound()";
        l[6] = "eip712Domain()";
        l[7] = "getSenderInfo(address)";
        l[8] = "hashTicket((address,address,address,uint256,uint256,uint256,bytes32,uint256))";
        l[9] = "isAuthorizedSigner(address,address,uint256)";
        l[10] = "isNonceUsed(address,address,uint256)";
        l[11] = "isWinningTicket(bytes32,bytes32,uint8,bytes32,uint256)";
        l[12] = "nonceSlot(address,address,uint256)";
        l[13] = "nonceState(address,address,uint256)";
        l[14] = "signerGrant(address,address)";
        l[15] = "signerGrantNonce(address)";
        l[16] = "staking()";
        l[17] = "ticketValidity()";
        l[18] = "token()";
        l[19] = "unlockPeriod()";
        l[20] = "unpackTicket((uint256,uint256,uint256,bytes32,bytes32,bytes32),address)";
    }

    // ServiceRegistry
    function _ServiceRegistryRestricted() internal pure returns (string[] memory l) {
        l = new string[](0);
    }

    function _ServiceRegistryOpen() internal pure returns (string[] memory l) {
        l = new string[](2);
        l[0] = "clearService()";
        l[1] = "setService(string,bytes32[],bytes32[],uint256)";
    }

    function _ServiceRegistryViews() internal pure returns (string[] memory l) {
        l = new string[](7);
        l[0] = "MAX_REGIONS()";
        l[1] = "MAX_SERVICE_IDS()";
        l[2] = "MAX_URI_LENGTH()";
        l[3] = "getActiveSet()";
        l[4] = "getActiveSetPage(uint256,uint256)";
        l[5] = "getService(address)";
        l[6] = "staking()";
    }

    // JobEscrow
    function _JobEscrowRestricted() internal pure returns (string[] memory l) {
        l = new string[](0);
    }

    function _JobEscrowOpen() internal pure returns (string[] memory l) {
        l = new string[](16);
        l[0] = "accept(uint256)";
        l[1] = "announceEndpoint(uint256,string)";
        l[2] = "cancel(uint256)";
        l[3] = "closeAuction(uint256)";
        l[4] = "commitBid(uint256,bytes32)";
        l[5] = "commitResult(uint256,bytes32,uint96,bytes32)";
        l[6] =
            "createJob((bytes32,address,(uint32,uint32,uint32,uint16),uint8,uint96,uint96,uint8,uint8,uint32,uint64,uint64,uint64,uint32),string)";
        l[7] =
            "createJobWithPermit((bytes32,address,(uint32,uint32,uint32,uint16),uint8,uint96,uint96,uint8,uint8,uint32,uint64,uint64,uint64,uint32),string,uint256,uint8,bytes32,bytes32)";
        l[8] = "dispute(uint256,address)";
        l[9] = "finalize(uint256)";
        l[10] = "releaseCheckpoint(uint256,address)";
        l[11] = "reportCheckpoint(uint256,uint256,bytes32)";
        l[12] = "revealBid(uint256,uint96,bytes32)";
        l[13] = "revealResult(uint256,bytes32,bytes32,string)";
        l[14] = "settleExpired(uint256,address)";
        l[15] = "vote(uint256,address,bool)";
    }

    function _JobEscrowViews() internal pure returns (string[] memory l) {
        l = new string[](19);
        l[0] = "BURN_ADDRESS()";
        l[1] = "MAX_BIDDERS()";
        l[2] = "MAX_CHECKPOINTS()";
        l[3] = "MAX_DISPUTE_PERIOD()";
        l[4] = "MAX_ENDPOINT_URI()";
        l[5] = "MAX_REPLICAS()";
        l[6] = "MIN_COLLATERAL_BPS()";
        l[7] = "RECORD_VALUE_DIVISOR()";
        l[8] = "REVEAL_PERIOD()";
        l[9] = "disputeExpiry(uint256)";
        l[10] = "disputePeriod()";
        l[11] = "finalizableAt(uint256)";
        l[12] = "getJob(uint256)";
        l[13] = "getSlot(uint256,address)";
        l[14] = "jobCount()";
        l[15] = "providersOf(uint256)";
        l[16] = "recordOf(address)";
        l[17] = "resultRevealDeadline(uint256)";
        l[18] = "token()";
    }

    // FaultClaims
    function _FaultClaimsRestricted() internal pure returns (string[] memory l) {
        l = new string[](6);
        l[0] = "acceptOwnership()";
        l[1] = "renounceOwnership()";
        l[2] = "setCommittee(address[],uint32)";
        l[3] = "setParameters((uint128,uint64,uint32,uint32))";
        l[4] = "setTermLength(uint64)";
        l[5] = "transferOwnership(address)";
    }

    function _FaultClaimsOpen() internal pure returns (string[] memory l) {
        l = new string[](3);
        l[0] = "expire(uint256)";
        l[1] =
            "fileClaim((address,address,bytes32,uint256,bytes32,(string,uint32,uint32,uint32,string)[],bytes32[]),bytes,uint256,uint8,bytes32,string)";
        l[2] = "vote(uint256,bool)";
    }

    function _FaultClaimsViews() internal pure returns (string[] memory l) {
        l = new string[](31);
        l[0] = "BOND_PER_SLASHABLE_PPM()";
        l[1] = "EXPIRY_KEEP_PPM()";
        l[2] = "MAX_COMMITTEE()";
        l[3] = "MAX_TERMS()";
        l[4] = "MAX_TERM_LENGTH()";
        l[5] = "MAX_VOTING_PERIOD()";
        l[6] = "MIN_TERM_LENGTH()";
        l[7] = "bondFor(address)";
        l[8] = "canVote(uint256,address)";
        l[9] = "claim(uint256)";
        l[10] = "claimCount()";
        l[11] = "claimOfResult(bytes32)";
        l[12] = "committee()";
        l[13] = "currentEpisode(address)";
        l[14] = "currentTerm()";
        l[15] = "episode(address,uint256)";
        l[16] = "hasVoted(uint256,address)";
        l[17] = "isMember(address)";
        l[18] = "isMemberOf(uint256,address)";
        l[19] = "owner()";
        l[20] = "parameters()";
        l[21] = "pendingOwner()";
        l[22] = "quorum()";
        l[23] = "record(address)";
        l[24] =
        "resultDigest((address,address,bytes32,uint256,bytes32,(string,uint32,uint32,uint32,string)[],bytes32[]))";
        l[25] = "staking()";
        l[26] = "term(uint256)";
        l[27] = "termLapsed()";
        l[28] = "termLength()";
        l[29] = "termMembers(uint256)";
        l[30] = "token()";
    }

    // StreamSupport
    function _StreamSupportRestricted() internal pure returns (string[] memory l) {
        l = new string[](0);
    }

    function _StreamSupportOpen() internal pure returns (string[] memory l) {
        l = new string[](3);
        l[0] = "setSubscriptionPrice(uint256)";
        l[1] = "subscribe(address,uint256,uint256)";
        l[2] = "tip(address,uint256,string)";
    }

    function _StreamSupportViews() internal pure returns (string[] memory l) {
        l = new string[](8);
        l[0] = "MAX_MESSAGE_BYTES()";
        l[1] = "MAX_PERIODS()";
        l[2] = "MAX_PRICE_PER_PERIOD()";
        l[3] = "PERIOD()";
        l[4] = "isSubscribed(address,address)";
        l[5] = "subscribedUntil(address,address)";
        l[6] = "subscriptionPrice(address)";
        l[7] = "token()";
    }

    // WorkToken
    function _WorkTokenRestricted() internal pure returns (string[] memory l) {
        l = new string[](2);
        l[0] = "mint(address,uint256)";
        l[1] = "setMinter(address)";
    }

    function _WorkTokenOpen() internal pure returns (string[] memory l) {
        l = new string[](8);
        l[0] = "approve(address,uint256)";
        l[1] = "burn(uint256)";
        l[2] = "burnFrom(address,uint256)";
        l[3] = "delegate(address)";
        l[4] = "delegateBySig(address,uint256,uint256,uint8,bytes32,bytes32)";
        l[5] = "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)";
        l[6] = "transfer(address,uint256)";
        l[7] = "transferFrom(address,address,uint256)";
    }

    function _WorkTokenViews() internal pure returns (string[] memory l) {
        l = new string[](18);
        l[0] = "CLOCK_MODE()";
        l[1] = "DOMAIN_SEPARATOR()";
        l[2] = "allowance(address,address)";
        l[3] = "balanceOf(address)";
        l[4] = "checkpoints(address,uint32)";
        l[5] = "clock()";
        l[6] = "decimals()";
        l[7] = "delegates(address)";
        l[8] = "eip712Domain()";
        l[9] = "getPastTotalSupply(uint256)";
        l[10] = "getPastVotes(address,uint256)";
        l[11] = "getVotes(address)";
        l[12] = "minter()";
        l[13] = "name()";
        l[14] = "nonces(address)";
        l[15] = "numCheckpoints(address)";
        l[16] = "symbol()";
        l[17] = "totalSupply()";
    }

    // VotePower
    function _VotePowerRestricted() internal pure returns (string[] memory l) {
        l = new string[](0);
    }

    function _VotePowerOpen() internal pure returns (string[] memory l) {
        l = new string[](0);
    }

    function _VotePowerViews() internal pure returns (string[] memory l) {
        l = new string[](12);
        l[0] = "CLOCK_MODE()";
        l[1] = "clock()";
        l[2] = "delegate(address)";
        l[3] = "delegateBySig(address,uint256,uint256,uint8,bytes32,bytes32)";
        l[4] = "delegates(address)";
        l[5] = "getPastBalanceOf(address,uint256)";
        l[6] = "getPastDelegate(address,uint256)";
        l[7] = "getPastTotalSupply(uint256)";
        l[8] = "getPastVotes(address,uint256)";
        l[9] = "getVotes(address)";
        l[10] = "staking()";
        l[11] = "token()";
    }

    // PeerflowTimelock
    function _PeerflowTimelockRestricted() internal pure returns (string[] memory l) {
        l = new string[](8);
        l[0] = "cancel(bytes32)";
        l[1] = "execute(address,uint256,bytes,bytes32,bytes32)";
        l[2] = "executeBatch(address[],uint256[],bytes[],bytes32,bytes32)";
        l[3] = "grantRole(bytes32,address)";
        l[4] = "revokeRole(bytes32,address)";
        l[5] = "schedule(address,uint256,bytes,bytes32,bytes32,uint256)";
        l[6] = "scheduleBatch(address[],uint256[],bytes[],bytes32,bytes32,uint256)";
        l[7] = "updateDelay(uint256)";
    }

    function _PeerflowTimelockOpen() internal pure returns (string[] memory l) {
        l = new string[](4);
        l[0] = "onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)";
        l[1] = "onERC1155Received(address,address,uint256,uint256,bytes)";
        l[2] = "onERC721Received(address,address,uint256,bytes)";
        l[3] = "renounceRole(bytes32,address)";
    }

    function _PeerflowTimelockViews() internal pure returns (string[] memory l) {
        l = new string[](19);
        l[0] = "CANCELLER_ROLE()";
        l[1] = "DEFAULT_ADMIN_ROLE()";
        l[2] = "DELAY_BOUND_LIMIT()";
        l[3] = "EXECUTOR_ROLE()";
        l[4] = "MAX_DELAY()";
        l[5] = "MIN_DELAY()";
        l[6] = "PROPOSER_ROLE()";
        l[7] = "getMinDelay()";
        l[8] = "getOperationState(bytes32)";
        l[9] = "getRoleAdmin(bytes32)";
        l[10] = "getTimestamp(bytes32)";
        l[11] = "hasRole(bytes32,address)";
        l[12] = "hashOperation(address,uint256,bytes,bytes32,bytes32)";
        l[13] = "hashOperationBatch(address[],uint256[],bytes[],bytes32,bytes32)";
        l[14] = "isOperation(bytes32)";
        l[15] = "isOperationDone(bytes32)";
        l[16] = "isOperationPending(bytes32)";
        l[17] = "isOperationReady(bytes32)";
        l[18] = "supportsInterface(bytes4)";
    }

    // PeerflowGovernor
    function _PeerflowGovernorRestricted() internal pure returns (string[] memory l) {
        l = new string[](6);
        l[0] = "relay(address,uint256,bytes)";
        l[1] = "setProposalThreshold(uint256)";
        l[2] = "setVotingDelay(uint48)";
        l[3] = "setVotingPeriod(uint32)";
        l[4] = "updateQuorumNumerator(uint256)";
        l[5] = "updateTimelock(address)";
    }

    function _PeerflowGovernorOpen() internal pure returns (string[] memory l) {
        l = new string[](17);
        l[0] = "cancel(address[],uint256[],bytes[],bytes32)";
        l[1] = "cancel(uint256)";
        l[2] = "castOverrideVote(uint256,uint8,string)";
        l[3] = "castOverrideVoteBySig(uint256,uint8,address,string,bytes)";
        l[4] = "castVote(uint256,uint8)";
        l[5] = "castVoteBySig(uint256,uint8,address,bytes)";
        l[6] = "castVoteWithReason(uint256,uint8,string)";
        l[7] = "castVoteWithReasonAndParams(uint256,uint8,string,bytes)";
        l[8] = "castVoteWithReasonAndParamsBySig(uint256,uint8,address,string,bytes,bytes)";
        l[9] = "execute(address[],uint256[],bytes[],bytes32)";
        l[10] = "execute(uint256)";
        l[11] = "onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)";
        l[12] = "onERC1155Received(address,address,uint256,uint256,bytes)";
        l[13] = "onERC721Received(address,address,uint256,bytes)";
        l[14] = "propose(address[],uint256[],bytes[],string)";
        l[15] = "queue(address[],uint256[],bytes[],bytes32)";
        l[16] = "queue(uint256)";
    }

    function _PeerflowGovernorViews() internal pure returns (string[] memory l) {
        l = new string[](42);
        l[0] = "BALLOT_TYPEHASH()";
        l[1] = "CLOCK_MODE()";
        l[2] = "COUNTING_MODE()";
        l[3] = "EXTENDED_BALLOT_TYPEHASH()";
        l[4] = "OVERRIDE_BALLOT_TYPEHASH()";
        l[5] = "clock()";
        l[6] = "eip712Domain()";
        l[7] = "getProposalId(address[],uint256[],bytes[],bytes32)";
        l[8] = "getVotes(address,uint256)";
        l[9] = "getVotesWithParams(address,uint256,bytes)";
        l[10] = "hasVoted(uint256,address)";
        l[11] = "hasVotedOverride(uint256,address)";
        l[12] = "hashProposal(address[],uint256[],bytes[],bytes32)";
        l[13] = "maxProposalThreshold()";
        l[14] = "maxQuorumNumerator()";
        l[15] = "maxVotingDelay()";
        l[16] = "maxVotingPeriod()";
        l[17] = "minQuorumNumerator()";
        l[18] = "minVotingPeriod()";
        l[19] = "name()";
        l[20] = "nonces(address)";
        l[21] = "proposalCount()";
        l[22] = "proposalDeadline(uint256)";
        l[23] = "proposalDetails(uint256)";
        l[24] = "proposalDetailsAt(uint256)";
        l[25] = "proposalEta(uint256)";
        l[26] = "proposalNeedsQueuing(uint256)";
        l[27] = "proposalProposer(uint256)";
        l[28] = "proposalSnapshot(uint256)";
        l[29] = "proposalThreshold()";
        l[30] = "proposalVotes(uint256)";
        l[31] = "quorum(uint256)";
        l[32] = "quorumDenominator()";
        l[33] = "quorumNumerator()";
        l[34] = "quorumNumerator(uint256)";
        l[35] = "state(uint256)";
        l[36] = "supportsInterface(bytes4)";
        l[37] = "timelock()";
        l[38] = "token()";
        l[39] = "version()";
        l[40] = "votingDelay()";
        l[41] = "votingPeriod()";
    }

    // VestingWallet
    function _VestingWalletRestricted() internal pure returns (string[] memory l) {
        l = new string[](2);
        l[0] = "renounceOwnership()";
        l[1] = "transferOwnership(address)";
    }

    function _VestingWalletOpen() internal pure returns (string[] memory l) {
        l = new string[](2);
        l[0] = "release()";
        l[1] = "release(address)";
    }

    function _VestingWalletViews() internal pure returns (string[] memory l) {
        l = new string[](10);
        l[0] = "duration()";
        l[1] = "end()";
        l[2] = "owner()";
        l[3] = "releasable()";
        l[4] = "releasable(address)";
        l[5] = "released()";
        l[6] = "released(address)";
        l[7] = "start()";
        l[8] = "vestedAmount(address,uint64)";
        l[9] = "vestedAmount(uint64)";
    }
}
