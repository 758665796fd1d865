// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IMinter
/// @notice Per-round inflation of the work token. Each round (initialized by anyone, or lazily by the
///         first reward) inflation moves by `inflationChange` toward the target bonding rate, and the
///         round's inflation is fixed as `inflation × totalSupply`. Rates are parts per billion.
///
///         Treasury (Livepeer's LIP-92): when a round is initialized, `treasuryRewardCutRate` of the
///         round's inflation is minted at once to `treasury` (the governance timelock), capped so that
///         the treasury's balance never goes above `treasuryBalanceCeiling` through this mint
///         (`min(cut, ceiling − balance)`, nothing when the balance is already at or above it). Once
///         the treasury's balance reaches the ceiling, the rate is set to zero
///         (`TreasuryRewardCutRateSet(0)`) and stays there until governance sets it again. What the
///         treasury did not take is the stakers' `currentMintable`, paid through Staking's rewards;
///         the round's mints (treasury plus rewards) never exceed its inflation.
///
///         Governance (the owner, the timelock after deployment; two-step ownership) sets
///         `inflationChange`, `targetBondingRate` (both ≤ 1e9), the treasury, its rate (≤
///         `MAX_TREASURY_REWARD_CUT_RATE`) and its ceiling. Every change applies from the next round
///         initialized: the current round's amounts stay as fixed.
interface IMinter {
    /// @notice Round `round` was initialized: `inflation` for it, `mintable` its whole inflation
    ///         (treasury share included), `bondingRate` the bonded share of supply it was computed from.
    event RoundInitialized(uint256 indexed round, uint256 inflation, uint256 mintable, uint256 bondingRate);
    event RewardMinted(uint256 indexed round, address indexed to, uint256 amount);
    /// @notice The treasury's share of round `round`, minted to `treasury`.
    event TreasuryRewardMinted(uint256 indexed round, address indexed treasury, uint256 amount);
    /// @notice The treasury's balance reached its ceiling in round `round`; the rate was set to zero.
    event TreasuryCeilingReached(uint256 indexed round, uint256 balance, uint256 ceiling);
    event TreasurySet(address indexed treasury);
    event TreasuryRewardCutRateSet(uint256 rate);
    event TreasuryBalanceCeilingSet(uint256 ceiling);
    event InflationChangeSet(uint256 inflationChange);
    event TargetBondingRateSet(uint256 targetBondingRate);

    error NotStaking(address caller);
    error RoundAlreadyInitialized(uint256 round);
    error MintableExceeded(uint256 round, uint256 minted, uint256 mintable);
    error InvalidParameters();
    /// @notice A rate above its bound (`max`).
    error RateOutOfBounds(uint256 rate, uint256 max);
    /// @notice The treasury cannot be the zero address.
    error ZeroTreasury();
    /// @notice A treasury cut needs a treasury: set it first.
    error TreasuryNotSet();

    /// @notice Initializes the current round: adjusts inflation, fixes the round's mintable amount and
    ///         mints the treasury's share. Callable by anyone, once per round.
    function initializeRound() external;

    /// @notice Mints `currentMintable × stake / totalStake` of the current round to the caller (staking
    ///         only), initializing the round first if needed.
    /// @return minted The amount minted.
    function mintReward(uint256 stake, uint256 totalStake) external returns (uint256 minted);

    /* GOVERNANCE (owner only) */

    /// @notice Sets the per-round inflation step (≤ 1e9 ppb).
    function setInflationChange(uint256 inflationChange) external;
    /// @notice Sets the target bonded share of supply (≤ 1e9 ppb).
    function setTargetBondingRate(uint256 targetBondingRate) external;
    /// @notice Sets the treasury the share is minted to (non-zero).
    function setTreasury(address treasury) external;
    /// @notice Sets the treasury's share of each round's inflation (ppb, ≤ MAX_TREASURY_REWARD_CUT_RATE;
    ///         non-zero only with a treasury set).
    function setTreasuryRewardCutRate(uint256 rate) external;
    /// @notice Sets the treasury balance above which no share is minted (work-token wei).
    function setTreasuryBalanceCeiling(uint256 ceiling) external;

    /* VIEWS */

    /// @notice Largest treasury share governance may set: half of each round's inflation (stakers
    ///         always keep the other half, so bonding keeps its reward).
    function MAX_TREASURY_REWARD_CUT_RATE() external view returns (uint256);
    /// @notice Current inflation per round, in parts per billion of total supply.
    function inflation() external view returns (uint64);
    /// @notice Step by which inflation moves each round.
    function inflationChange() external view returns (uint256);
    /// @notice Target share of supply bonded, parts per billion.
    function targetBondingRate() external view returns (uint256);
    /// @notice Where the treasury's share is minted (zero: none yet).
    function treasury() external view returns (address);
    /// @notice The treasury's share of each round's inflation, parts per billion.
    function treasuryRewardCutRate() external view returns (uint256);
    /// @notice The treasury balance the share never pushes it beyond.
    function treasuryBalanceCeiling() external view returns (uint256);
    /// @notice The last round that was initialized (meaningful once `roundInitialized(r)`).
    function lastInitializedRound() external view returns (uint256);
    /// @notice True if `round` is the last initialized round (the Minter keeps only that round's
    ///         state; an earlier round reads false even if it was initialized in its time).
    function roundInitialized(uint256 round) external view returns (bool);
    /// @notice Amount mintable as rewards in the last initialized round (its inflation less the
    ///         treasury's share).
    function currentMintable() external view returns (uint128);
    /// @notice Amount already minted as rewards in the last initialized round.
    function currentMinted() external view returns (uint128);
}
