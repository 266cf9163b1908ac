//! Size classes ("bins") for free chunks, and the bitmap of non-empty bins.
//!
//! Sizes are counted in grains (two words: see [`crate::chunk`]). Small
//! sizes get one bin each; from `2^SUB_BITS` grains on, every power of two
//! is split into `2^SUB_BITS` equal steps (as in TLSF), so a bin's sizes
//! differ by at most a quarter:
//!
//! ```text
//!  grains:  2 3 4 5 6 7 | 8 10 12 14 | 16 20 24 28 | 32 40 48 56 | 64 ...
//!  bin:     0 1 2 3 4 5 | 6  7  8  9 | 10 11 12 13 | 14 15 16 17 | 18 ...
//! ```
//!
//! On wasm32 the exact bins are the sizes 16 to 56 bytes. The last size
//! bin also holds every larger size (from 1 MiB on wasm32). Bin `b` holds
//! chunks of at least its lower bound, so every chunk in a bin above
//! `bin_of(n)` is bigger than `n`: a request looks at two chunks of its
//! own bin, then takes the first chunk of the next non-empty bin, found with
//! one `trailing_zeros` on the bitmap.
//!
//! One more bin, [`TOP_BIN`], above all of them, holds the free chunk on top
//! of the last heap, and no other: the one that growth extends (when another
//! heap becomes the last, the former last heap's free top moves to the bin
//! of its size). Being last in the bitmap, it serves a request only when no
//! other free chunk fits, so it stays whole for large requests and small
//! blocks fill the holes below it first.

use crate::chunk::GRAIN;

/// Number of bins: one bit each in a `u64` bitmap.
pub(crate) const BIN_COUNT: usize = 64;
/// The bin of the free chunk on top of the last heap (see the module docs).
pub(crate) const TOP_BIN: usize = BIN_COUNT - 1;
/// The last size bin, which has no upper bound.
pub(crate) const LAST_SIZE_BIN: usize = TOP_BIN - 1;

/// Each power of two of sizes is split in `2^SUB_BITS` bins.
const SUB_BITS: u32 = 2;
/// The smallest chunk, in grains.
const MIN_GRAINS: usize = 2;

/// The size bin of a free chunk of `size` bytes (a grain multiple, at least
/// two grains; sizes past the last bin's bound land in the last size bin).
// Inlined: a call costs more than the arithmetic in engines that do not
// inline wasm calls.
#[inline(always)]
pub(crate) fn bin_of(size: usize) -> usize {
    size_class(size).min(LAST_SIZE_BIN)
}

/// The bins' scale, not clamped at the last size bin: the size class of a
/// free chunk of `size` bytes (as for [`bin_of`]). The sizes of a class are
/// within a quarter of its smallest, up to the largest size there is (the
/// `stats` feature keeps its figures by these classes).
#[inline(always)]
pub(crate) const fn size_class(size: usize) -> usize {
    let grains = size / GRAIN;
    // `floor(log2(grains))`, clamped to at least `SUB_BITS` (below
    // `2^SUB_BITS` grains the formula is the identity, so small sizes are
    // exact). Setting that bit does both: it clamps without a compare, and
    // the argument is never 0, so there is no `ilog2` panic path to pay for.
    let log = (usize::BITS - 1) - (grains | (1 << SUB_BITS)).leading_zeros();
    let shift = log - SUB_BITS;
    ((shift as usize) << SUB_BITS) + (grains >> shift) - MIN_GRAINS
}

/// The smallest size (bytes) of class `class`: the inverse of [`size_class`].
#[cfg(any(test, feature = "stats"))]
pub(crate) const fn class_base(class: usize) -> usize {
    let n = class + MIN_GRAINS;
    let grains = if n < 2 << SUB_BITS { n } else { (n % 4 + 4) << (n / 4 - 1) };
    grains * GRAIN
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::MIN_CHUNK;

    #[test]
    fn small_sizes_are_exact() {
        for grains in 2..(2 << SUB_BITS) {
            assert_eq!(bin_of(grains * GRAIN), grains - MIN_GRAINS);
        }
        assert_eq!(bin_of(MIN_CHUNK), 0);
    }

    #[test]
    #[cfg_attr(miri, ignore = "slow under Miri; pure arithmetic")]
    fn bins_are_monotonic_and_contiguous() {
        let mut last = 0;
        for grains in 2..400_000usize {
            let b = bin_of(grains * GRAIN);
            assert!(b == last || b == last + 1, "jump at {grains} grains: {last} -> {b}");
            last = b;
        }
        assert_eq!(last, LAST_SIZE_BIN);
    }

    #[test]
    #[cfg_attr(miri, ignore = "slow under Miri; pure arithmetic")]
    fn a_class_spans_at_most_a_quarter() {
        for class in 0..LAST_SIZE_BIN + 8 {
            let (lo, hi) = (class_base(class), class_base(class + 1));
            assert!(hi > lo);
            assert!((hi - GRAIN - lo) * 4 <= lo, "class {class}: {lo}..{hi}");
            assert_eq!(size_class(lo), class);
            assert_eq!(size_class(hi - GRAIN), class);
        }
    }

    #[test]
    fn huge_sizes_land_in_the_last_size_bin() {
        assert_eq!(bin_of(usize::MAX & !(GRAIN - 1)), LAST_SIZE_BIN);
        assert_eq!(bin_of(1 << 31), LAST_SIZE_BIN);
        assert_eq!(class_base(LAST_SIZE_BIN), (4 << 15) * GRAIN);
        assert_eq!(bin_of((4 << 15) * GRAIN - GRAIN), LAST_SIZE_BIN - 1);
    }
}
