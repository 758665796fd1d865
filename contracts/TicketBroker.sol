// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeERC20, IERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ITicketBroker} from "./interfaces/ITicketBroker.sol";
import {IStaking} from "./interfaces/IStaking.sol";

/// @title TicketBroker
/// @notice Deposits, reserves and winning-ticket redemption for probabilistic micropayments.
contract TicketBroker is ITicketBroker, EIP712 {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /* TYPES */

    struct Sender {
        uint128 deposit;
        uint64 withdrawRound; // 0: not unlocking
        uint64 reserveSnapshotRound; // round + 1 of the last reserve snapshot; 0: never
    }

    struct Reserve {
        uint128 funds;
        uint128 fundsAtRoundStart;
    }

    /// @dev Slot 0 is all a redemption by an unbounded key reads; slot 1 only a grant's bounds.
    struct SignerAuth {
        bool authorized;
        // Tickets created in this round or later are rejected (a revocation, or a grant's untilRound); 0: no end.
        uint64 revokedFrom;
        // The only recipient the key's tickets may pay; 0: any (authorizeSigner). A grant always sets
        // one, and a cap with it: recipient 0 iff maxSpend 0, so a redemption reads slot 1 only for a
        // key with a recipient.
        address recipient;
        // Face value the key's tickets may take under the grant (0: no cap), and have taken since it
        // was relayed (spent <= maxSpend).
        uint128 maxSpend;
        uint128 spent;
    }

    /// @dev A ticket's unpacked fields, kept in memory through one redemption.
    struct Draft {
        address sender;
        address signer;
        uint256 faceValue;
        uint256 nonce;
        uint256 creationRound;
        uint8 v;
    }

    /* CONSTANTS */

    /// @dev secp256k1n / 2: the largest canonical `s` (as OpenZeppelin's ECDSA accepts).
    uint256 internal constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice Nonces per replay word: word `w` covers nonces `w * 192 .. w * 192 + 191`.
    uint256 public constant NONCE_WORD_BITS = 192;
    /// @notice Replay words kept per (signer, recipient): the window is the newest 16 words.
    uint256 public constant NONCE_RING_SLOTS = 16;

    bytes32 public constant TICKET_TYPEHASH = keccak256(
        "Ticket(address recipient,address sender,address signer,uint256 faceValue,uint256 winProb,uint256 senderNonce,bytes32 recipientRandHash,uint256 creationRound)"
    );
    bytes32 public constant SIGNER_GRANT_TYPEHASH = keccak256(
        "SignerGrant(address funder,address signer,address recipient,uint256 maxSpend,uint256 untilRound,uint256 nonce,uint256 deadline)"
    );

    /* IMMUTABLES */

    IERC20 internal immutable _token;
    IStaking public immutable staking;
    /// @inheritdoc ITicketBroker
    uint256 public immutable unlockPeriod;
    /// @inheritdoc ITicketBroker
    uint256 public immutable ticketValidity;
    uint256 internal immutable _startBlock;
    uint256 internal immutable _roundLength;

    /* STORAGE */

    mapping(address => Sender) internal _senders;
    mapping(address => Reserve) internal _reserves;
    mapping(address sender => mapping(uint256 round => mapping(address recipient => uint256))) internal _reserveClaimed;
    /// @dev Replay state: a ring of NONCE_RING_SLOTS words per (signer, recipient). Word `w` (nonces
    ///      `w * 192 .. w * 192 + 191`) lives in slot `w % 16` as `(w + 1) << 192 | bits` (bit `i`: nonce
    ///      `w * 192 + i` paid); 0 is an empty slot. A newer word evicts the older one sharing its slot.
    mapping(address signer => mapping(address recipient => uint256[NONCE_RING_SLOTS] ring)) internal _nonceRing;
    mapping(address funder => mapping(address signer => SignerAuth)) internal _signers;
    /// @dev The nonce the funder's next signer grant must carry. Bumped by a relayed grant, by
    ///      `cancelSignerGrants` and by `revokeSigner`: a grant signed before any of them is dead.
    mapping(address funder => uint256) internal _signerGrantNonces;

    /* CONSTRUCTOR */

    /// @param token_ The ERC-20 in which tickets are paid (the devnet uses the work token).
    /// @param staking_ Staking, credited with every ticket redeemed to an orchestrator (present or
    ///        past: `IStaking.everRegistered`); its round clock is shared.
    /// @param unlockPeriod_ Rounds from unlock to withdrawal; must exceed ticketValidity_.
    /// @param ticketValidity_ Rounds a ticket stays redeemable, at most Staking's rate-change cooldown.
    constructor(IERC20 token_, IStaking staking_, uint256 unlockPeriod_, uint256 ticketValidity_)
        EIP712("peerflow TicketBroker", "1")
    {
        if (address(token_) == address(0) || address(staking_) == address(0)) revert InvalidParameters();
        if (ticketValidity_ == 0 || unlockPeriod_ <= ticketValidity_) revert InvalidParameters();
        if (ticketValidity_ > staking_.rateChangeCooldown()) revert InvalidParameters();
        _token = token_;
        staking = staking_;
        unlockPeriod = unlockPeriod_;
        ticketValidity = ticketValidity_;
        _startBlock = staking_.startBlock();
        _roundLength = staking_.roundLength();
    }

    /* FUNDING */

    /// @inheritdoc ITicketBroker
    function fundDeposit(uint256 amount) external {
        _fund(msg.sender, amount, 0);
    }

    /// @inheritdoc ITicketBroker
    function fundReserve(uint256 amount) external {
        _fund(msg.sender, 0, amount);
    }

    /// @inheritdoc ITicketBroker
    function fundDepositAndReserve(uint256 depositAmount, uint256 reserveAmount) external {
        _fund(msg.sender, depositAmount, reserveAmount);
    }

    /// @inheritdoc ITicketBroker
    function fundDepositAndReserveFor(address sender, uint256 depositAmount, uint256 reserveAmount) external {
        if (sender == address(0)) revert InvalidParameters();
        _fund(sender, depositAmount, reserveAmount);
    }

    /// @inheritdoc ITicketBroker
    function fundDepositAndReserveWithPermit(
        uint256 depositAmount,
        uint256 reserveAmount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        // A front-run permit (same signature used first by someone else) leaves the allowance in
        // place; the transfer below then fails only if the allowance really is missing.
        try IERC20Permit(address(_token)).permit(
            msg.sender, address(this), depositAmount + reserveAmount, deadline, v, r, s
        ) {} catch {}
        _fund(msg.sender, depositAmount, reserveAmount);
    }

    /// @inheritdoc ITicketBroker
    function unlock() external {
        Sender storage sender = _senders[msg.sender];
        if (sender.deposit == 0 && _reserves[msg.sender].funds == 0) revert NoFunds(msg.sender);
        if (sender.withdrawRound != 0) revert AlreadyUnlocking(sender.withdrawRound);
        uint256 round = currentRound();
        uint256 withdrawRound = round + unlockPeriod;
        sender.withdrawRound = withdrawRound.toUint64();
        emit Unlock(msg.sender, round, withdrawRound);
    }

    /// @inheritdoc ITicketBroker
    function cancelUnlock() external {
        Sender storage sender = _senders[msg.sender];
        if (sender.withdrawRound == 0) revert NotUnlocking(msg.sender);
        sender.withdrawRound = 0;
        emit UnlockCancelled(msg.sender);
    }

    /// @inheritdoc ITicketBroker
    function withdraw() external {
        Sender storage sender = _senders[msg.sender];
        uint256 withdrawRound = sender.withdrawRound;
        if (withdrawRound == 0) revert NotUnlocking(msg.sender);
        uint256 round = currentRound();
        if (round < withdrawRound) revert UnlockPeriodNotOver(withdrawRound, round);
        uint256 deposit = sender.deposit;
        Reserve storage r = _touchReserve(msg.sender, round);
        uint256 reserve = r.funds;
        sender.deposit = 0;
        sender.withdrawRound = 0;
        // Withdrawn funds back nothing, this round included: reserve added later waits a round.
        r.funds = 0;
        r.fundsAtRoundStart = 0;
        emit Withdrawal(msg.sender, deposit, reserve);
        _token.safeTransfer(msg.sender, deposit + reserve);
    }

    /* SIGNERS */

    /// @inheritdoc ITicketBroker
    function authorizeSigner(address signer) external {
        if (signer == msg.sender || signer == address(0)) revert SignerIsFunder();
        SignerAuth storage auth = _signers[msg.sender][signer];
        // A grant's cap and spent live in slot 1, set iff it has a recipient: only then is it cleared.
        if (auth.recipient != address(0)) (auth.maxSpend, auth.spent) = (0, 0);
        (auth.authorized, auth.revokedFrom, auth.recipient) = (true, 0, address(0));
        emit SignerAuthorized(msg.sender, signer);
    }

    /// @inheritdoc ITicketBroker
    function authorizeSignerWithSig(
        address funder,
        address signer,
        address recipient,
        uint256 maxSpend,
        uint256 untilRound,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert SignerGrantExpired(deadline, block.timestamp);
        if (signer == funder || signer == address(0)) revert SignerIsFunder();
        if (recipient == address(0)) revert SignerGrantRecipientZero();
        // Nonzero: a grant is always capped (and maxSpend 0 stores "no cap"); the bound keeps the
        // uint128 cast below exact.
        if (maxSpend == 0 || maxSpend > type(uint128).max) revert SignerGrantMaxSpendOutOfRange(maxSpend);
        {
            uint256 round = currentRound();
            // untilRound > round keeps this round's tickets valid, as revokeSigner does; the bound keeps
            // the uint64 cast below exact.
            if (untilRound <= round || untilRound > type(uint64).max) {
                revert SignerGrantRoundOutOfRange(untilRound, round);
            }
        }
        uint256 nonce = _signerGrantNonces[funder];
        bytes32 digest = _signerGrantDigest(funder, signer, recipient, maxSpend, untilRound, nonce, deadline);
        // tryRecover rejects high-s values, v outside {27, 28}, lengths other than 65, and never
        // returns address(0) without an error: funder zero cannot be granted for.
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != funder) revert SignerGrantInvalidSignature();
        _signerGrantNonces[funder] = nonce + 1;
        // Exactly what the funder signed: it may extend, shorten, renew or rebind an earlier
        // authorization; the amount spent starts again from 0 (the new cap is the key's budget from now).
        _signers[funder][signer] = SignerAuth({
            authorized: true,
            revokedFrom: uint64(untilRound),
            recipient: recipient,
            maxSpend: uint128(maxSpend),
            spent: 0
        });
        emit SignerGrantNonceUsed(funder, nonce);
        emit SignerAuthorized(funder, signer);
        emit SignerGrantAuthorized(funder, signer, recipient, maxSpend, untilRound);
    }

    /// @dev The EIP-712 digest of a SignerGrant under this broker's domain.
    function _signerGrantDigest(
        address funder,
        address signer,
        address recipient,
        uint256 maxSpend,
        uint256 untilRound,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(SIGNER_GRANT_TYPEHASH, funder, signer, recipient, maxSpend, untilRound, nonce, deadline)
            )
        );
    }

    /// @inheritdoc ITicketBroker
    function cancelSignerGrants() external {
        _useSignerGrantNonce(msg.sender);
    }

    /// @inheritdoc ITicketBroker
    function revokeSigner(address signer) external {
        SignerAuth storage auth = _signers[msg.sender][signer];
        // Tickets of the current round stay valid: recipients may already have accepted them.
        uint256 from = currentRound() + 1;
        // An authorization that already ends by then (revoked, or a grant's untilRound) has nothing to revoke.
        if (!auth.authorized || (auth.revokedFrom != 0 && auth.revokedFrom <= from)) {
            revert SignerNotAuthorized(msg.sender, signer);
        }
        auth.revokedFrom = from.toUint64();
        emit SignerRevoked(msg.sender, signer, from);
        // A grant signed before the revocation and not yet relayed must not re-authorize the key.
        _useSignerGrantNonce(msg.sender);
    }

    /// @dev Burns `funder`'s current grant nonce: every grant signed for it, unrelayed, dies.
    function _useSignerGrantNonce(address funder) internal {
        uint256 nonce = _signerGrantNonces[funder];
        _signerGrantNonces[funder] = nonce + 1;
        emit SignerGrantNonceUsed(funder, nonce);
    }

    /* REDEMPTION */

    /// @inheritdoc ITicketBroker
    function redeemWinningTicket(SignedTicket calldata ticket) external {
        _redeemOne(msg.sender, ticket);
    }

    /// @inheritdoc ITicketBroker
    function redeemWinningTicketFor(address recipient, SignedTicket calldata ticket) external {
        _requireRedeemer(recipient);
        _redeemOne(recipient, ticket);
    }

    /// @inheritdoc ITicketBroker
    function redeemWinningTickets(SignedTicket[] calldata tickets) external returns (RedeemStatus[] memory statuses) {
        return _redeemBatch(msg.sender, tickets);
    }

    /// @inheritdoc ITicketBroker
    function redeemWinningTicketsFor(address recipient, SignedTicket[] calldata tickets)
        external
        returns (RedeemStatus[] memory statuses)
    {
        _requireRedeemer(recipient);
        return _redeemBatch(recipient, tickets);
    }

    /// @inheritdoc ITicketBroker
    function payFees(address to, uint256 amount) external {
        if (msg.sender != address(staking)) revert NotStaking(msg.sender);
        emit FeesPaid(to, amount);
        _token.safeTransfer(to, amount);
    }

    /* VIEWS */

    /// @inheritdoc ITicketBroker
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc ITicketBroker
    function currentRound() public view returns (uint256) {
        return (block.number - _startBlock) / _roundLength;
    }

    /// @inheritdoc ITicketBroker
    function getSenderInfo(address sender) external view returns (SenderInfo memory) {
        Sender memory s = _senders[sender];
        return SenderInfo(s.deposit, _reserves[sender].funds, s.withdrawRound);
    }

    /// @inheritdoc ITicketBroker
    function claimableReserve(address sender, address recipient, uint256 creationRound)
        external
        view
        returns (uint256)
    {
        return _claimableReserve(sender, recipient, currentRound(), creationRound);
    }

    /// @inheritdoc ITicketBroker
    function nonceState(address signer, address recipient, uint256 nonce) public view returns (NonceState) {
        if (nonce > type(uint56).max) revert InvalidParameters();
        uint256 word = nonce / NONCE_WORD_BITS;
        uint256 slot = _nonceRing[signer][recipient][word % NONCE_RING_SLOTS];
        uint256 stored = slot >> NONCE_WORD_BITS;
        if (stored > word + 1) return NonceState.TooOld;
        // forge-lint: disable-next-line(incorrect-shift)
        if (stored == word + 1 && slot & (1 << (nonce % NONCE_WORD_BITS)) != 0) return NonceState.Used;
        return NonceState.Redeemable;
    }

    /// @inheritdoc ITicketBroker
    function isNonceUsed(address signer, address recipient, uint256 nonce) external view returns (bool) {
        return nonceState(signer, recipient, nonce) != NonceState.Redeemable;
    }

    /// @inheritdoc ITicketBroker
    function nonceSlot(address signer, address recipient, uint256 slotIndex)
        external
        view
        returns (uint64 wordId, uint192 bits)
    {
        if (slotIndex >= NONCE_RING_SLOTS) revert InvalidParameters();
        uint256 slot = _nonceRing[signer][recipient][slotIndex];
        if (slot == 0) return (0, 0);
        return (uint64((slot >> NONCE_WORD_BITS) - 1), uint192(slot));
    }

    /// @inheritdoc ITicketBroker
    function signerGrantNonce(address funder) external view returns (uint256) {
        return _signerGrantNonces[funder];
    }

    /// @inheritdoc ITicketBroker
    function isAuthorizedSigner(address funder, address signer, uint256 creationRound) public view returns (bool) {
        if (signer == funder) return true;
        SignerAuth storage auth = _signers[funder][signer];
        return _roundAuthorized(auth.authorized, auth.revokedFrom, creationRound);
    }

    /// @inheritdoc ITicketBroker
    function signerGrant(address funder, address signer)
        external
        view
        returns (address recipient, uint256 maxSpend, uint256 spent, uint256 untilRound, bool authorized)
    {
        if (signer == funder) return (address(0), 0, 0, 0, true);
        SignerAuth storage auth = _signers[funder][signer];
        return (
            auth.recipient,
            auth.maxSpend,
            auth.spent,
            auth.revokedFrom,
            _roundAuthorized(auth.authorized, auth.revokedFrom, currentRound())
        );
    }

    /// @inheritdoc ITicketBroker
    function hashTicket(Ticket calldata t) external view returns (bytes32) {
        return _hashTicket(
            t.recipient, t.sender, t.signer, t.faceValue, t.winProb, t.senderNonce, t.recipientRandHash, t.creationRound
        );
    }

    /// @inheritdoc ITicketBroker
    function isWinningTicket(bytes32 r, bytes32 s, uint8 v, bytes32 recipientRand, uint256 winProb)
        external
        pure
        returns (bool)
    {
        // A non-canonical encoding never wins: it is not a second draw of the same signature.
        if ((v != 27 && v != 28) || uint256(s) > HALF_N) return false;
        return _draw(r, s, v, recipientRand) < winProb;
    }

    /// @inheritdoc ITicketBroker
    function unpackTicket(SignedTicket calldata ticket, address recipient)
        external
        pure
        returns (Ticket memory fields, uint8 v)
    {
        Draft memory d = _unpack(ticket);
        fields = Ticket({
            recipient: recipient,
            sender: d.sender,
            signer: d.signer,
            faceValue: d.faceValue,
            winProb: ticket.winProb,
            senderNonce: d.nonce,
            recipientRandHash: keccak256(abi.encodePacked(ticket.recipientRand)),
            creationRound: d.creationRound
        });
        v = d.v;
    }

    /* INTERNAL: REDEMPTION */

    /// @dev The caller redeems for `recipient`: it is the recipient, or the recipient's redeemer in
    ///      Staking (the one record of an orchestrator's keys). Whoever calls, fees go to `recipient`.
    function _requireRedeemer(address recipient) internal view {
        if (msg.sender != recipient && staking.redeemerOf(recipient) != msg.sender) {
            revert NotRedeemer(msg.sender, recipient);
        }
    }

    /// @dev Whether `recipient` is paid directly: it never registered as an orchestrator. Anyone who
    ///      is or was one goes through its fee pool, so that neither its delegators' fee share nor a
    ///      slash (which leaves it unregistered, and creditFees reverting) can be routed around.
    function _paysDirectly(address recipient) internal view returns (bool) {
        return !staking.everRegistered(recipient);
    }

    /// @dev One ticket to `recipient`, all or nothing; its face value is credited to `recipient`'s
    ///      fee pool, or transferred to it if it never registered (after the ticket's state is written).
    function _redeemOne(address recipient, SignedTicket calldata ticket) internal {
        bool direct = _paysDirectly(recipient);
        (RedeemStatus status, uint256 faceValue, uint256 creationRound) = _redeem(ticket, recipient, currentRound());
        if (status != RedeemStatus.Redeemed) _revertWith(status);
        if (_settle(recipient, faceValue, creationRound, direct) > 0) _token.safeTransfer(recipient, faceValue);
    }

    /// @dev Settles `amount` of tickets created in `creationRound` for `recipient`: credited to its fee
    ///      pool, or (`direct`) announced and returned, for the caller to transfer once with the rest.
    function _settle(address recipient, uint256 amount, uint256 creationRound, bool direct)
        internal
        returns (uint256 toTransfer)
    {
        if (direct) {
            emit PaidToRecipient(recipient, amount, creationRound);
            return amount;
        }
        staking.creditFees(recipient, amount, creationRound);
        return 0;
    }

    /// @dev Tickets to `recipient`, each paid or skipped with its status; every payment is credited
    ///      to `recipient`'s fee pool, or, if it never registered, summed and transferred to it in one
    ///      transfer after the loop (every ticket's state written first). A ticket signed for another
    ///      recipient fails its signature check here (the digest is computed with `recipient`) and is
    ///      skipped: a batch pays one recipient.
    function _redeemBatch(address recipient, SignedTicket[] calldata tickets)
        internal
        returns (RedeemStatus[] memory statuses)
    {
        uint256 round = currentRound();
        bool direct = _paysDirectly(recipient); // one look-up per batch: nothing in the loop changes it
        statuses = new RedeemStatus[](tickets.length);
        // Fees are credited once per run of tickets with the same creation round (one fee share).
        uint256 credit;
        uint256 creditRound;
        uint256 toTransfer; // direct payments, transferred once after the loop
        for (uint256 i; i < tickets.length; ++i) {
            // Each ticket's scratch memory (draft, hashes, ecrecover input) is released after it: the
            // loop reuses one region instead of growing memory (and its quadratic cost) per ticket.
            uint256 freeMemory;
            assembly ("memory-safe") {
                freeMemory := mload(0x40)
            }
            (RedeemStatus status, uint256 faceValue, uint256 creationRound) = _redeem(tickets[i], recipient, round);
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
            statuses[i] = status;
            if (status != RedeemStatus.Redeemed) {
                _emitRejected(tickets[i], recipient, status);
                continue;
            }
            if (credit > 0 && creationRound != creditRound) {
                toTransfer += _settle(recipient, credit, creditRound, direct);
                credit = 0;
            }
            credit += faceValue;
            creditRound = creationRound;
        }
        if (credit > 0) toTransfer += _settle(recipient, credit, creditRound, direct);
        if (toTransfer > 0) _token.safeTransfer(recipient, toTransfer);
    }

    /// @dev TicketRejected for `t` (a function of its own: `_redeemBatch`'s stack is full).
    function _emitRejected(SignedTicket calldata t, address recipient, RedeemStatus status) internal {
        emit TicketRejected(address(uint160(t.senderFace >> 96)), recipient, uint56(t.meta >> 40), status);
    }

    /// @dev Checks one ticket addressed to `recipient` and, if it can be paid in full, pays it from the
    ///      sender's funds. Returns without touching state when it cannot. Everything keyed by the
    ///      recipient (the signed digest, the replay ring, the reserve share and its eligibility, the
    ///      event) uses `recipient`, never the caller. Only a registered orchestrator may draw on the
    ///      reserve (`IStaking.reserveEligibility`): a recipient paid directly, which never registered,
    ///      is paid from the deposit only.
    function _redeem(SignedTicket calldata t, address recipient, uint256 round)
        internal
        returns (RedeemStatus status, uint256 faceValue, uint256 creationRound)
    {
        Draft memory d = _unpack(t);
        faceValue = d.faceValue;
        creationRound = d.creationRound;
        if (faceValue == 0) return (RedeemStatus.ZeroFaceValue, 0, 0);
        if (creationRound > round) return (RedeemStatus.FutureRound, 0, 0);
        if (round >= creationRound + ticketValidity) return (RedeemStatus.Expired, 0, 0);

        // The draw reads the signature, which the recipient cannot know when it commits to
        // recipientRand; only the canonical encoding is accepted below, so it is the only draw.
        if (_draw(t.r, t.s, d.v, t.recipientRand) >= t.winProb) return (RedeemStatus.NotWinning, 0, 0);
        {
            bytes32 ticketHash = _hashTicket(
                recipient,
                d.sender,
                d.signer,
                faceValue,
                t.winProb,
                d.nonce,
                keccak256(abi.encodePacked(t.recipientRand)),
                creationRound
            );
            // tryRecover rejects high-s values, and ecrecover v outside {27, 28}: one encoding per signature.
            (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(ticketHash, d.v, t.r, t.s);
            if (err != ECDSA.RecoverError.NoError || recovered != d.signer) {
                return (RedeemStatus.InvalidSignature, 0, 0);
            }
        }
        // A hot key: the round, and a grant's recipient. What a grant still lets it spend (no cap:
        // type(uint256).max) is checked below, once the ticket could otherwise be paid. Slot 0 of its
        // SignerAuth only, unless it has a recipient (a grant, always capped): then slot 1 too.
        uint256 capLeft = type(uint256).max;
        if (d.signer != d.sender) {
            SignerAuth storage auth = _signers[d.sender][d.signer];
            (bool authorized, uint256 revokedFrom, address bound) = (auth.authorized, auth.revokedFrom, auth.recipient);
            // The round as isAuthorizedSigner checks it (inlined: every hot-key ticket's path), then
            // the recipient.
            if (
                !authorized || (revokedFrom != 0 && creationRound >= revokedFrom)
                    || (bound != address(0) && bound != recipient)
            ) return (RedeemStatus.UnauthorizedSigner, 0, 0);
            // spent <= maxSpend always: a payment adds at most what is left.
            if (bound != address(0)) capLeft = auth.maxSpend - auth.spent;
        }

        // Replay protection is per nonce within the window, so redemption order never matters there.
        uint256[NONCE_RING_SLOTS] storage ring = _nonceRing[d.signer][recipient];
        uint256 index;
        uint256 slot;
        {
            uint256 tag; // the nonce's word + 1 (0 is an empty slot)
            uint256 bit;
            // The nonce is a uint56: its word + 1 < 2^50 fits the slot's 64-bit tag, nothing overflows.
            unchecked {
                tag = d.nonce / NONCE_WORD_BITS + 1;
                index = (tag - 1) & (NONCE_RING_SLOTS - 1);
                // forge-lint: disable-next-line(incorrect-shift)
                bit = 1 << (d.nonce % NONCE_WORD_BITS);
            }
            slot = ring[index];
            uint256 stored = slot >> NONCE_WORD_BITS;
            if (stored == tag) {
                if (slot & bit != 0) return (RedeemStatus.NonceUsed, 0, 0);
                slot |= bit;
            } else if (stored > tag) {
                // A newer word took the slot: this word's unpaid nonces were given up with it.
                return (RedeemStatus.NonceTooOld, 0, 0);
            } else {
                // Empty, or an older word: the window moves on and evicts it.
                slot = tag << NONCE_WORD_BITS | bit;
            }
        }
        Sender storage sender = _senders[d.sender];
        {
            uint256 withdrawRound = sender.withdrawRound;
            if (withdrawRound != 0 && round >= withdrawRound) return (RedeemStatus.FundsUnlocked, 0, 0);
        }
        // Past the grant's cap: refused before anything is paid (the funder pays the whole face value,
        // from deposit and reserve, or nothing: the face value is what the cap counts).
        if (faceValue > capLeft) return (RedeemStatus.UnauthorizedSigner, 0, 0);

        uint256 deposit = sender.deposit;
        uint256 fromReserve;
        if (faceValue > deposit) {
            fromReserve = faceValue - deposit;
            if (fromReserve > _claimableReserve(d.sender, recipient, round, creationRound)) {
                return (RedeemStatus.InsufficientFunds, 0, 0);
            }
            _claimFromReserve(d.sender, recipient, round, fromReserve);
            deposit = faceValue;
        }
        sender.deposit = uint128(deposit - faceValue);
        ring[index] = slot;
        if (capLeft != type(uint256).max) _spend(d.sender, d.signer, faceValue);
        emit WinningTicketRedeemed(d.sender, recipient, faceValue, d.nonce, fromReserve);
        return (RedeemStatus.Redeemed, faceValue, creationRound);
    }

    /// @dev Adds `faceValue` (at most what the cap leaves, checked by the caller) to what `signer`'s
    ///      grant from `funder` has spent.
    function _spend(address funder, address signer, uint256 faceValue) internal {
        SignerAuth storage auth = _signers[funder][signer];
        uint256 spent;
        // spent + faceValue <= maxSpend < 2^128.
        unchecked {
            spent = auth.spent + faceValue;
        }
        auth.spent = uint128(spent);
        emit SignerSpent(funder, signer, spent);
    }

    function _roundAuthorized(bool authorized, uint256 revokedFrom, uint256 creationRound)
        internal
        pure
        returns (bool)
    {
        return authorized && (revokedFrom == 0 || creationRound < revokedFrom);
    }

    /// @dev The lottery draw: keccak256(r ‖ s ‖ v ‖ recipientRand), the signature's 65 bytes first.
    function _draw(bytes32 r, bytes32 s, uint8 v, bytes32 recipientRand) internal pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(r, s, v, recipientRand)));
    }

    function _unpack(SignedTicket calldata t) internal pure returns (Draft memory d) {
        uint256 senderFace = t.senderFace;
        uint256 meta = t.meta;
        d.sender = address(uint160(senderFace >> 96));
        d.faceValue = uint96(senderFace);
        d.signer = address(uint160(meta >> 96));
        d.nonce = uint56(meta >> 40);
        d.creationRound = uint32(meta >> 8);
        d.v = uint8(meta);
    }

    function _hashTicket(
        address recipient,
        address sender,
        address signer,
        uint256 faceValue,
        uint256 winProb,
        uint256 nonce,
        bytes32 recipientRandHash,
        uint256 creationRound
    ) internal view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    TICKET_TYPEHASH,
                    recipient,
                    sender,
                    signer,
                    faceValue,
                    winProb,
                    nonce,
                    recipientRandHash,
                    creationRound
                )
            )
        );
    }

    function _revertWith(RedeemStatus status) internal pure {
        if (status == RedeemStatus.ZeroFaceValue) revert TicketZeroFaceValue();
        if (status == RedeemStatus.FutureRound) revert TicketFromFutureRound();
        if (status == RedeemStatus.Expired) revert TicketExpired();
        if (status == RedeemStatus.NotWinning) revert TicketNotWinning();
        if (status == RedeemStatus.InvalidSignature) revert TicketInvalidSignature();
        if (status == RedeemStatus.UnauthorizedSigner) revert TicketUnauthorizedSigner();
        if (status == RedeemStatus.NonceUsed) revert TicketNonceUsed();
        if (status == RedeemStatus.NonceTooOld) revert TicketNonceTooOld();
        if (status == RedeemStatus.FundsUnlocked) revert TicketFundsUnlocked();
        revert TicketInsufficientFunds();
    }

    /* INTERNAL: FUNDS */

    function _fund(address sender, uint256 depositAmount, uint256 reserveAmount) internal {
        uint256 total = depositAmount + reserveAmount;
        if (total == 0) revert ZeroAmount();
        if (depositAmount > 0) {
            Sender storage s = _senders[sender];
            s.deposit = (s.deposit + depositAmount).toUint128();
            emit DepositFunded(sender, msg.sender, depositAmount);
        }
        if (reserveAmount > 0) {
            // Snapshot first: reserve added now backs tickets from the next round on.
            Reserve storage reserve = _touchReserve(sender, currentRound());
            reserve.funds = (reserve.funds + reserveAmount).toUint128();
            emit ReserveFunded(sender, msg.sender, reserveAmount);
        }
        // Accounting by balance difference: a token that delivers less than it was asked to (a
        // transfer fee, a rounding rebase) would credit funds the broker does not hold. Refused.
        uint256 balanceBefore = _token.balanceOf(address(this));
        _token.safeTransferFrom(msg.sender, address(this), total);
        uint256 balanceAfter = _token.balanceOf(address(this));
        if (balanceAfter != balanceBefore + total) revert UnsupportedToken(total, balanceBefore, balanceAfter);
    }

    /// @dev Per round, each orchestrator eligible for the reserve may claim up to the reserve at the
    ///      round's start divided by the active-set size at the round's start.
    function _claimableReserve(address sender, address recipient, uint256 round, uint256 creationRound)
        internal
        view
        returns (uint256)
    {
        Reserve memory reserve = _reserves[sender];
        if (reserve.funds == 0) return 0;
        (bool eligible, uint256 activeCount) = staking.reserveEligibility(recipient, round, creationRound);
        if (!eligible || activeCount == 0) return 0;
        uint256 atStart =
            _senders[sender].reserveSnapshotRound == round + 1 ? reserve.fundsAtRoundStart : reserve.funds;
        uint256 allocation = atStart / activeCount;
        uint256 claimed = _reserveClaimed[sender][round][recipient];
        if (claimed >= allocation) return 0;
        uint256 left = allocation - claimed;
        return left < reserve.funds ? left : reserve.funds;
    }

    function _claimFromReserve(address sender, address recipient, uint256 round, uint256 amount) internal {
        Reserve storage reserve = _touchReserve(sender, round);
        reserve.funds -= uint128(amount);
        _reserveClaimed[sender][round][recipient] += amount;
    }

    function _touchReserve(address sender, uint256 round) internal returns (Reserve storage reserve) {
        reserve = _reserves[sender];
        Sender storage s = _senders[sender];
        if (s.reserveSnapshotRound != round + 1) {
            reserve.fundsAtRoundStart = reserve.funds;
            s.reserveSnapshotRound = uint64(round + 1);
        }
    }
}
