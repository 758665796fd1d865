// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title ChangeLog
/// @notice A value's history by block number, kept beside its current value (which lives in the
///         caller's struct, in a slot the change writes anyway): one entry per block in which the value
///         changed, written only when it changes in a later block than the last recorded change.
/// @dev Entry `i` is `changeBlock | valueBefore << 40`: the value at the end of every block before
///      `changeBlock` (and from the previous entry's block on) was `valueBefore`; from the last
///      entry's block on, the value is the current one. Blocks increase strictly along the log, so a
///      lookup is a binary search: O(log n) storage reads whatever the number of changes. The length
///      lives in the caller's struct too (no separate length slot to write, unlike a dynamic array).
///      Blocks are stored in 40 bits (10^12 blocks: millennia at a block every 250 ms).
///      Compared with OpenZeppelin's Checkpoints.Trace208 (which a first version used) a change costs
///      no write of an array length and a first value needs no entry at all (see `floor`), which is
///      what a new position's first bond saves.
library ChangeLog {
    uint256 internal constant BLOCK_BITS = 40;
    uint256 internal constant BLOCK_MASK = (1 << BLOCK_BITS) - 1;

    /// @dev Call before `value` changes in this block, with `valueBefore` its value so far; returns
    ///      the new length. `floor` is the block before which the value is known to be zero without an
    ///      entry (0: none), so that a value set for the first time in block `floor` needs no entry.
    ///      Nothing is written when a change was already recorded in this block (the entry of the
    ///      block's first change holds the value before the block).
    function noteChange(mapping(uint256 => uint256) storage log, uint256 length, uint256 floor, uint256 valueBefore)
        internal
        returns (uint256)
    {
        uint256 last = length == 0 ? floor : log[length - 1] & BLOCK_MASK;
        if (last == block.number) return length;
        // valueBefore < 2^216 (callers' values are at most 160 bits); block.number < 2^40 (see above).
        log[length] = block.number | valueBefore << BLOCK_BITS;
        return length + 1;
    }

    /// @dev The value at the end of block `timepoint`, `current` being its value now (the caller
    ///      checks `timepoint` is in the past). The most recent value is checked first: snapshots of
    ///      live proposals are recent.
    function valueAt(mapping(uint256 => uint256) storage log, uint256 length, uint256 timepoint, uint256 current)
        internal
        view
        returns (uint256)
    {
        if (length == 0 || log[length - 1] & BLOCK_MASK <= timepoint) return current;
        // The first entry whose block is after `timepoint` holds the value at its end.
        uint256 low;
        uint256 high = length - 1; // entry `length - 1` is after timepoint (checked above)
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (log[mid] & BLOCK_MASK > timepoint) high = mid;
            else low = mid + 1;
        }
        return log[low] >> BLOCK_BITS;
    }
}
