// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title ITicketBroker
/// @notice Probabilistic micropayments. A sender (broadcaster) funds a deposit and a reserve in one
///         ERC-20 fixed at deployment; it pays a recipient (orchestrator) with EIP-712 signed lottery
///         tickets. A ticket wins iff `keccak256(r ‖ s ‖ v ‖ recipientRand) < winProb`: the draw mixes
///         the sender's signature (65 bytes, canonical: low s, v ∈ {27, 28}), which the recipient
///         cannot know in advance, with `recipientRand`, to which the recipient committed
///         (`keccak256(recipientRand)` in the signed ticket) before the sender signed, and which it
///         reveals only when redeeming. Neither side can choose the outcome alone: the recipient
///         cannot grind `recipientRand` against a signature it has not seen, the sender cannot grind
///         its signature against a `recipientRand` it has not seen (recipients must not accept
///         tickets on parameters whose `recipientRand` was revealed). Signers are plain ECDSA keys
///         (ecrecover; no EIP-1271 contract signatures), so a signature has exactly one accepted
///         encoding and one draw. A winning ticket pays its full face value once, from the deposit
///         and, if that is short, from the recipient's per-round share of the reserve; otherwise it
///         is not paid and not burned. Who gets paid how depends on the recipient, as Staking sees it
///         at redemption (`IStaking.everRegistered`, one look-up per redemption call):
///         - a recipient that is or ever was an orchestrator is credited in its fee pool in Staking
///           (`IStaking.creditFees`, shared with its delegators by its fee share; withdrawn through
///           `IStaking.withdrawFees`); one that was slashed and is not registered again cannot be
///           credited, and its redemption reverts `IStaking.NotOrchestrator`, as before;
///         - a recipient that never registered (a compute provider leasing machines) is paid directly:
///           the face values are transferred to its address in the fee token (`PaidToRecipient`),
///           nothing is credited in Staking, and it never draws on a sender's reserve (the reserve
///           backs orchestrators only: a ticket beyond the deposit is `InsufficientFunds`). Once it
///           registers as an orchestrator, its later redemptions go to its fee pool.
///         Tokens that deliver less than the amount transferred (transfer fees) are refused when
///         funding; rebasing tokens are not supported (a negative rebase is not detectable here).
/// @dev Wire format: a signed ticket is six 32-byte words (192 bytes of calldata):
///      `senderFace` = sender << 96 | faceValue (uint96);
///      `winProb`;
///      `meta` = signer << 96 | senderNonce (uint56) << 40 | creationRound (uint32) << 8 | v;
///      `recipientRand`, `r`, `s`. The recipient is not in the calldata of a ticket: it is the caller
///      (`redeemWinningTicket(s)`) or the address named by `redeemWinningTicket(s)For`, whose caller
///      must be that recipient or its redeemer (`IStaking.redeemerOf`). Either way the signed digest,
///      the replay ring, the reserve share and the fees are the recipient's; a redeemer only pays gas.
///      Replay: per (signer, recipient) each nonce pays at most once, within a window. Nonces are
///      grouped in words of 192 (word `w` = nonces `w * 192 .. w * 192 + 191`) and the broker keeps 16
///      words in a ring: word `w` lives in slot `w % 16`. Exactly: a nonce of word `w` pays iff it was
///      never paid and no word `w + 16k` (k ≥ 1) of the pair was ever redeemed. So, with `N` the
///      newest word redeemed so far, every nonce from `(N - 15) * 192` on (the 16 newest words, 3,072
///      nonces, and any later nonce) can still be redeemed, in any order; an older nonce is too old
///      (`TicketNonceTooOld`) once a nonce of a later word in its slot (16, 32, ... words later) was
///      redeemed: that redemption evicted its word, whose unpaid nonces can never be paid.
///      Recipients should redeem each signer's winners within 3,072 nonces of the newest they have
///      redeemed, oldest first. A ticket skipped (e.g. insufficient funds) is not burned: it stays
///      redeemable while it is within the window. Senders must not reuse a nonce with the same
///      recipient: only one ticket per (signer, recipient, nonce) can be paid.
interface ITicketBroker {
    /* TYPES */

    /// @notice The signed fields of a ticket (EIP-712 type `Ticket`).
    struct Ticket {
        address recipient;
        address sender; // the funder whose deposit and reserve pay
        address signer; // the sender itself or a hot key it authorized
        uint256 faceValue;
        uint256 winProb;
        uint256 senderNonce;
        bytes32 recipientRandHash;
        uint256 creationRound;
    }

    /// @notice A ticket as redeemed: packed fields, the revealed recipientRand and the signature.
    struct SignedTicket {
        uint256 senderFace;
        uint256 winProb;
        uint256 meta;
        bytes32 recipientRand;
        bytes32 r;
        bytes32 s;
    }

    /// @notice Outcome of one ticket in a batch.
    enum RedeemStatus {
        Redeemed,
        ZeroFaceValue,
        FutureRound,
        Expired,
        NotWinning,
        InvalidSignature,
        UnauthorizedSigner,
        NonceUsed,
        FundsUnlocked,
        InsufficientFunds,
        NonceTooOld
    }

    /// @notice Replay state of one (signer, recipient, nonce), see `nonceState`.
    enum NonceState {
        Redeemable, // never paid, and its word is still in the window
        Used, // paid
        TooOld // its word was evicted from the window by a newer one: it can never be paid
    }

    /// @notice A sender's funds and unlock state.
    struct SenderInfo {
        uint256 deposit;
        uint256 reserve;
        uint256 withdrawRound; // 0 when not unlocking
    }

    /* EVENTS */

    event DepositFunded(address indexed sender, address indexed payer, uint256 amount);
    event ReserveFunded(address indexed sender, address indexed payer, uint256 amount);
    event Unlock(address indexed sender, uint256 startRound, uint256 withdrawRound);
    event UnlockCancelled(address indexed sender);
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);
    event SignerAuthorized(address indexed funder, address indexed signer);
    event SignerRevoked(address indexed funder, address indexed signer, uint256 fromCreationRound);
    /// @notice `funder`'s signer-grant nonce `nonce` was used: by a relayed grant
    ///         (`authorizeSignerWithSig`), by `cancelSignerGrants` or by `revokeSigner`. Grants must now
    ///         carry `nonce + 1`; every grant signed with `nonce` or before is dead.
    event SignerGrantNonceUsed(address indexed funder, uint256 nonce);
    /// @notice A relayed grant (`authorizeSignerWithSig`, right after its `SignerAuthorized`, which
    ///         carries no bound) authorized `signer` for `funder`'s tickets to `recipient` only, created
    ///         before `untilRound`, for at most `maxSpend` of face value redeemed from now on: the
    ///         amount spent under the key's authorization is reset to 0 (no `SignerSpent` for the reset).
    event SignerGrantAuthorized(
        address indexed funder, address indexed signer, address indexed recipient, uint256 maxSpend, uint256 untilRound
    );
    /// @notice A ticket `signer` signed for `funder` under a capped grant was paid: `spent` is the face
    ///         value redeemed under the grant so far, this ticket included (one event per ticket, emitted
    ///         before its `WinningTicketRedeemed`). `maxSpend - spent` is what the key may still spend.
    event SignerSpent(address indexed funder, address indexed signer, uint256 spent);
    event WinningTicketRedeemed(
        address indexed sender, address indexed recipient, uint256 faceValue, uint256 senderNonce, uint256 fromReserve
    );
    event TicketRejected(address indexed sender, address indexed recipient, uint256 senderNonce, RedeemStatus status);
    event FeesPaid(address indexed to, uint256 amount);
    /// @notice `amount`, the face values of the tickets created in `creationRound` that were just
    ///         redeemed to `recipient` (one event per run of such tickets in a batch, as
    ///         `IStaking.FeesCredited` for an orchestrator), was paid to `recipient`'s own address in
    ///         the fee token: `recipient` never registered as an orchestrator (`IStaking.everRegistered`
    ///         is false), so nothing is credited in Staking. A batch's direct payments are transferred
    ///         once, after every ticket of it is settled.
    event PaidToRecipient(address indexed recipient, uint256 amount, uint256 creationRound);

    /* ERRORS */

    error InvalidParameters();
    error ZeroAmount();
    error NotStaking(address caller);
    error NoFunds(address sender);
    error AlreadyUnlocking(uint256 withdrawRound);
    error NotUnlocking(address sender);
    error UnlockPeriodNotOver(uint256 withdrawRound, uint256 currentRound);
    error SignerIsFunder();
    error SignerNotAuthorized(address funder, address signer);
    /// @notice A signer grant relayed after its `deadline` (unix seconds) had passed.
    error SignerGrantExpired(uint256 deadline, uint256 timestamp);
    /// @notice A signer grant's `untilRound` is not after the current round (it would authorize
    ///         nothing) or does not fit 64 bits.
    error SignerGrantRoundOutOfRange(uint256 untilRound, uint256 currentRound);
    /// @notice A signer grant names no recipient (address zero): a grant always binds one.
    error SignerGrantRecipientZero();
    /// @notice A signer grant's `maxSpend` is zero (it would authorize nothing; a grant is always
    ///         capped) or does not fit 128 bits.
    error SignerGrantMaxSpendOutOfRange(uint256 maxSpend);
    /// @notice The signature is not the funder's over this grant with its current nonce (wrong key,
    ///         chain, broker, fields or nonce), or not a canonical 65-byte ECDSA signature.
    error SignerGrantInvalidSignature();
    error TicketZeroFaceValue();
    error TicketFromFutureRound();
    error TicketExpired();
    error TicketNotWinning();
    error TicketInvalidSignature();
    error TicketUnauthorizedSigner();
    error TicketNonceUsed();
    /// @notice The nonce's replay word was evicted by a newer word of the same (signer, recipient): the
    ///         ticket lies before the 16-word (3,072-nonce) window and can never be paid.
    error TicketNonceTooOld();
    error TicketFundsUnlocked();
    error TicketInsufficientFunds();
    /// @notice `caller` redeemed for `recipient` without being it nor its redeemer (`IStaking.redeemerOf`).
    error NotRedeemer(address caller, address recipient);
    /// @notice The token moved `received = balanceAfter - balanceBefore` into the broker instead of
    ///         `amount` (a fee-on-transfer or rebasing token): nothing is credited.
    error UnsupportedToken(uint256 amount, uint256 balanceBefore, uint256 balanceAfter);

    /* FUNDING */

    /// @notice Adds `amount` to the caller's deposit (approve the broker first).
    function fundDeposit(uint256 amount) external;
    /// @notice Adds `amount` to the caller's reserve; it backs tickets from the next round on.
    function fundReserve(uint256 amount) external;
    /// @notice Adds to the caller's deposit and reserve in one call.
    function fundDepositAndReserve(uint256 depositAmount, uint256 reserveAmount) external;
    /// @notice Adds the caller's tokens to `sender`'s deposit and reserve. Never affects `sender`'s unlock.
    function fundDepositAndReserveFor(address sender, uint256 depositAmount, uint256 reserveAmount) external;
    /// @notice Like fundDepositAndReserve, approving through an EIP-2612 permit signed by the caller.
    function fundDepositAndReserveWithPermit(
        uint256 depositAmount,
        uint256 reserveAmount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Starts the caller's unlock: its funds become withdrawable after `unlockPeriod` rounds,
    ///         and tickets stop being redeemable then. Every ticket created before the unlock expires first.
    function unlock() external;
    /// @notice Cancels the caller's own unlock. Nobody else can cancel it.
    function cancelUnlock() external;
    /// @notice Withdraws the caller's deposit and reserve once its unlock period is over.
    function withdraw() external;

    /* SIGNERS */

    /// @notice Lets `signer` (a hot key) sign tickets paid from the caller's funds, to any recipient,
    ///         for any amount, with no end: it replaces every bound an earlier grant or revocation set
    ///         (the grant's recipient, its cap and the amount spent under it are cleared; `signerGrant`
    ///         then reads recipient 0, maxSpend 0, spent 0, untilRound 0). It is the funder's own
    ///         transaction, hence unlimited: use a grant to bound a key. Leaves the caller's signer
    ///         grants untouched: to kill one signed but not relayed, call `cancelSignerGrants`.
    function authorizeSigner(address signer) external;
    /// @notice Stops `signer`: tickets it signs with a creation round after the current one are
    ///         rejected. Works on a key authorized by `authorizeSigner` or by a grant whose
    ///         `untilRound` is later than the next round (it is shortened to the next round; the
    ///         grant's recipient, cap and spent stay as they are for the current round's tickets);
    ///         reverts `SignerNotAuthorized` when the key's authorization already ends by then. Also
    ///         uses the caller's signer-grant nonce (`SignerGrantNonceUsed`), so that no grant signed
    ///         before the revocation can be relayed after it.
    function revokeSigner(address signer) external;
    /// @notice Authorizes `signer` for `funder`'s tickets to `recipient` only, created before
    ///         `untilRound`, for at most `maxSpend` of face value redeemed, on `funder`'s EIP-712
    ///         signature (a wallet's `eth_signTypedData_v4`), relayed by anyone: the funder needs no
    ///         transaction. Typed data, under this broker's domain ("peerflow TicketBroker", "1", chain
    ///         id, this broker): `SignerGrant(address funder,address signer,address recipient,uint256
    ///         maxSpend,uint256 untilRound,uint256 nonce,uint256 deadline)` with
    ///         `nonce == signerGrantNonce(funder)`. A hot key living in a web page (leaked, or the page
    ///         malicious) thus takes at most `maxSpend` under the grant, and pays `recipient` only.
    ///         The grant sets exactly what it says: whatever `signer` had before (nothing, a revoked or
    ///         expired authorization, an unlimited `authorizeSigner` or another grant, with another
    ///         recipient, cap or bound), it may now sign tickets with `creationRound < untilRound` to
    ///         `recipient`, and no others, and the amount spent under it starts again from 0: each
    ///         relayed grant lets the key spend up to its own `maxSpend` more (the funder's exposure is
    ///         the sum of the caps of the grants it signed and that were relayed). Tickets the key
    ///         signed before the grant and redeemed after it count under it. A relayer can only relay
    ///         it as signed: front-running a relay changes nothing but who pays gas.
    ///         At redemption (`redeemWinningTicket(s)(For)`), a ticket of `signer` to another recipient
    ///         is refused with `UnauthorizedSigner` (`TicketUnauthorizedSigner` for one ticket), as is
    ///         one whose face value would take the amount spent under the grant above `maxSpend`
    ///         (checked after the replay and unlock checks, before any funds move); a ticket paid adds
    ///         its face value to the amount spent (`SignerSpent`). The face value is what the funder
    ///         pays: a ticket is paid in full, from the deposit and, if that is short, the reserve, or
    ///         not at all. See `signerGrant`.
    ///         Reverts `SignerGrantExpired` after `deadline` (`block.timestamp > deadline`),
    ///         `SignerIsFunder` for `signer` zero or `funder`, `SignerGrantRecipientZero` for
    ///         `recipient` zero, `SignerGrantMaxSpendOutOfRange` unless `0 < maxSpend < 2^128`,
    ///         `SignerGrantRoundOutOfRange` unless `currentRound() < untilRound < 2^64`,
    ///         `SignerGrantInvalidSignature` unless `signature` is `funder`'s 65-byte canonical
    ///         (low-s, v ∈ {27, 28}) ECDSA signature of the grant with the current nonce (no
    ///         EIP-1271). Uses the nonce (`SignerGrantNonceUsed`) and emits `SignerAuthorized` and
    ///         `SignerGrantAuthorized`.
    /// @param recipient The only recipient the key's tickets may pay (the broadcaster a viewer pays).
    /// @param maxSpend The most face value the key's tickets may take from the funder under this grant.
    /// @param untilRound Tickets created in this round or later are refused.
    /// @param deadline Last unix time (inclusive) at which the grant can be relayed.
    /// @param signature r ‖ s ‖ v, 65 bytes.
    function authorizeSignerWithSig(
        address funder,
        address signer,
        address recipient,
        uint256 maxSpend,
        uint256 untilRound,
        uint256 deadline,
        bytes calldata signature
    ) external;
    /// @notice Uses the caller's current signer-grant nonce: every grant it signed and nobody relayed
    ///         yet dies. Authorizations already in place are untouched (see `revokeSigner`).
    function cancelSignerGrants() external;

    /* REDEMPTION */

    /// @notice Redeems one winning ticket addressed to the caller; reverts with the reason otherwise.
    ///         Its face value is credited to the caller's fee pool in Staking if the caller is or ever
    ///         was an orchestrator (reverting `IStaking.NotOrchestrator` if it was slashed and is not
    ///         registered), or else transferred to the caller at once (`PaidToRecipient`).
    function redeemWinningTicket(SignedTicket calldata ticket) external;
    /// @notice Redeems tickets addressed to the caller in one loop, in any order within the replay
    ///         window; a ticket that cannot be paid is skipped with its status and stays redeemable
    ///         while it is within the window (its nonce stays unused; only a later ticket 16 or more
    ///         words newer in the same slot, in this batch or after, would evict it). Order each
    ///         signer's tickets oldest nonce first. Payment as for `redeemWinningTicket`: credited to
    ///         the caller's fee pool per run of tickets with the same creation round, or, for a caller
    ///         that never registered as an orchestrator, one `PaidToRecipient` per such run and a
    ///         single transfer of their sum to the caller after every ticket is settled.
    /// @return statuses One status per ticket.
    function redeemWinningTickets(SignedTicket[] calldata tickets) external returns (RedeemStatus[] memory statuses);

    /// @notice Like `redeemWinningTicket`, for a ticket addressed to `recipient`, by `recipient` or by
    ///         its redeemer, a hot key the recipient set in Staking (`IStaking.setRedeemer`): the
    ///         orchestrator's stake key can stay cold. The ticket is checked, replay-protected and paid
    ///         exactly as if `recipient` had redeemed it, and its face value goes to `recipient`, never
    ///         to the caller: to its fee pool if it is or ever was an orchestrator, else transferred
    ///         to `recipient`'s address (`PaidToRecipient`). A recipient that never registered has no
    ///         redeemer unless it named one itself (`IStaking.setRedeemer`). Reverts with
    ///         `NotRedeemer` for any other caller (a revoked or replaced redeemer included), before
    ///         anything is read or paid.
    function redeemWinningTicketFor(address recipient, SignedTicket calldata ticket) external;
    /// @notice Like `redeemWinningTickets`, for tickets addressed to `recipient`, by `recipient` or its
    ///         redeemer (see `redeemWinningTicketFor`); every payment goes to `recipient`, its fee pool
    ///         or its address as in `redeemWinningTickets`, never to the caller. One
    ///         recipient per batch: the recipient is part of each ticket's signed digest, so a ticket
    ///         addressed to anyone else fails its signature check (status `InvalidSignature`, event
    ///         `TicketRejected`), is skipped and stays redeemable by its own recipient.
    /// @return statuses One status per ticket.
    function redeemWinningTicketsFor(address recipient, SignedTicket[] calldata tickets)
        external
        returns (RedeemStatus[] memory statuses);

    /// @notice Pays earned fees out of the broker. Staking only (Staking.withdrawFees).
    function payFees(address to, uint256 amount) external;

    /* VIEWS */

    /// @notice The ERC-20 in which deposits, reserves and fees are held.
    function token() external view returns (address);
    /// @notice Rounds after which an unlock can be withdrawn (> ticketValidity).
    function unlockPeriod() external view returns (uint256);
    /// @notice Rounds during which a ticket can be redeemed, counting its creation round.
    function ticketValidity() external view returns (uint256);
    /// @notice The current round (same clock as Staking).
    function currentRound() external view returns (uint256);
    /// @notice A sender's deposit, reserve and unlock state.
    function getSenderInfo(address sender) external view returns (SenderInfo memory);
    /// @notice What `recipient` can still claim from `sender`'s reserve this round, for a ticket
    ///         created in `creationRound`: the reserve at the round's start divided by every
    ///         orchestrator that may claim this round (the active set at the round's start plus those
    ///         that left it while tickets of a round they were active in are still valid, see
    ///         `IStaking.reserveEligibility`), less what it already claimed this round. Always 0 for a
    ///         recipient that is not a registered orchestrator, one paid directly (never registered)
    ///         included.
    function claimableReserve(address sender, address recipient, uint256 creationRound)
        external
        view
        returns (uint256);
    /// @notice Whether a ticket of `signer` to `recipient` with `nonce` is paid (`Used`), can no longer
    ///         be paid because its word left the window (`TooOld`), or can still pay (`Redeemable`).
    ///         Reverts with InvalidParameters for a nonce above type(uint56).max (no ticket carries one).
    function nonceState(address signer, address recipient, uint256 nonce) external view returns (NonceState);
    /// @notice True iff `nonce` can no longer pay for (signer, recipient): it was paid, or it is too
    ///         old (its word left the window). False iff `nonceState` is `Redeemable`.
    function isNonceUsed(address signer, address recipient, uint256 nonce) external view returns (bool);
    /// @notice Slot `slotIndex` (< 16) of the replay ring of (signer, recipient): it holds word `wordId`,
    ///         and bit `i` of `bits` is nonce `wordId * 192 + i` (paid). An empty slot reads (0, 0); a
    ///         slot in use always has a bit set. Reverts with InvalidParameters for `slotIndex >= 16`.
    function nonceSlot(address signer, address recipient, uint256 slotIndex)
        external
        view
        returns (uint64 wordId, uint192 bits);
    /// @notice The nonce `funder`'s next signer grant must carry (see `authorizeSignerWithSig`).
    function signerGrantNonce(address funder) external view returns (uint256);
    /// @notice True if `signer` may sign for `funder` a ticket created in `creationRound` (always for
    ///         `signer == funder`). The round only: a grant's recipient and spending cap are checked at
    ///         redemption (see `signerGrant`).
    function isAuthorizedSigner(address funder, address signer, uint256 creationRound) external view returns (bool);
    /// @notice The bounds of `signer`'s authorization for `funder`: the only recipient its tickets may
    ///         pay (`recipient`, zero: any), the most face value they may take (`maxSpend`, zero: no
    ///         cap) and how much they took since the last grant (`spent`; `maxSpend - spent` remains),
    ///         the creation round from which its tickets are refused (`untilRound`, a grant's or a
    ///         revocation's; zero: no end), and whether a ticket created in the current round passes
    ///         the round check (`authorized`, as `isAuthorizedSigner(funder, signer, currentRound())`).
    ///         A relayed grant sets a recipient and a cap (both nonzero) and spent 0; `authorizeSigner`
    ///         clears all three. All zero and false for a key never authorized; for `signer == funder`,
    ///         zeros (no bounds) and true.
    function signerGrant(address funder, address signer)
        external
        view
        returns (address recipient, uint256 maxSpend, uint256 spent, uint256 untilRound, bool authorized);
    /// @notice The EIP-712 digest of a ticket (bound to this chain and this broker).
    function hashTicket(Ticket calldata ticket) external view returns (bytes32);
    /// @notice The lottery draw: true iff the signature is in canonical form (`v ∈ {27, 28}`,
    ///         `s ≤ n/2`) and `uint256(keccak256(r ‖ s ‖ v ‖ recipientRand)) < winProb` (97 bytes
    ///         hashed: the 65-byte signature, then recipientRand). Redemption also checks the signature.
    function isWinningTicket(bytes32 r, bytes32 s, uint8 v, bytes32 recipientRand, uint256 winProb)
        external
        pure
        returns (bool);
    /// @notice Splits a signed ticket into its fields (with the recipient given) and signature.
    function unpackTicket(SignedTicket calldata ticket, address recipient)
        external
        pure
        returns (Ticket memory fields, uint8 v);
}
