// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IMinter
/// @notice Per-round inflation of the work token. Each round (initialized by anyone, or lazily by the
///         first reward) inflation moves by `inflationChange` toward the target bonding rate, and the
///         round's mintable amount is fixed as `inflation × totalSupply`. Rates are parts per billion.
interface IMinter {
    event RoundInitialized(uint256 indexed round, uint256 inflation, uint256 mintable, uint256 bondingRate);
    event RewardMinted(uint256 indexed round, address indexed to, uint256 amount);

    error NotStaking(address caller);
    error RoundAlreadyInitialized(uint256 round);
    error MintableExceeded(uint256 round, uint256 minted, uint256 mintable);
    error InvalidParameters();

    /// @notice Initializes the current round: adjusts inflation and fixes the round's mintable amount.
    ///         Callable by anyone, once per round.
    function initializeRound() external;

    /// @notice Mints `mintable × stake / totalStake` of the current round to the caller (staking only),
    ///         initializing the round first if needed.
    /// @return minted The amount minted.
    function mintReward(uint256 stake, uint256 totalStake) external returns (uint256 minted);

    /// @notice Current inflation per round, in parts per billion of total supply.
    function inflation() external view returns (uint64);
    /// @notice Step by which inflation moves each round.
    function inflationChange() external view returns (uint256);
    /// @notice Target share of supply bonded, parts per billion.
    function targetBondingRate() external view returns (uint256);
    /// @notice The last round that was initialized (meaningful once `roundInitialized(r)`).
    function lastInitializedRound() external view returns (uint256);
    /// @notice True if `round` is the last initialized round (the Minter keeps only that round's
    ///         state; an earlier round reads false even if it was initialized in its time).
    function roundInitialized(uint256 round) external view returns (bool);
    /// @notice Amount mintable in the last initialized round.
    function currentMintable() external view returns (uint128);
    /// @notice Amount already minted in the last initialized round.
    function currentMinted() external view returns (uint128);
}
