//! Size classes ("bins") for free chunks, and the bitmap of non-empty bins.
//!
//! Sizes are counted in words. Small sizes get one bin each; from
//! `2^SUB_BITS` words on, every power of two is split into `2^SUB_BITS` equal
//! steps (as in TLSF), so a bin's sizes differ by at most a quarter:
//!
//! ```text
//!  words:  3 4 5 6 7 | 8 10 12 14 | 16 20 24 28 | 32 40 48 56 | 64 ...
//!  bin:    0 1 2 3 4 | 5  6  7  8 |  9 10 11 12 | 13 14 15 16 | 17 ...
//! ```
//!
//! The last size bin also holds every larger size. Bin `b` holds chunks of
//! at least `lower_bound(b)` words, so every chunk in a bin above `bin_of(n)`
//! is bigger than `n` words: a request looks at a few chunks of its own bin,
//! then takes the first chunk of the next non-empty bin, found with one
//! `trailing_zeros` on the bitmap. (For a request aligned past a word, a
//! chunk fits if its payload lands aligned, and surely from its size plus
//! that alignment on: the bins up to there are looked at a few chunks deep
//! too; see `Talc::search`.)
//!
//! One more bin, [`TOP_BIN`], above all of them, holds the free chunk on top
//! of the last heap, and no other: the one that growth extends (when another
//! heap becomes the last, the former last heap's free top moves to the bin
//! of its size, where the search can find it). Being last in the bitmap,
//! it serves a request only when no other free chunk fits, so it stays whole
//! for large requests and small blocks fill the holes below it first.

/// Number of bins: one bit each in a `u64` bitmap.
pub(crate) const BIN_COUNT: usize = 64;
/// The bin of the free chunk on top of the last heap (see the module docs).
pub(crate) const TOP_BIN: usize = BIN_COUNT - 1;

/// Each power of two of sizes is split in `2^SUB_BITS` bins.
const SUB_BITS: u32 = 2;

const WORD: usize = core::mem::size_of::<usize>();
/// The smallest chunk, in words: a free chunk needs a list node and a size.
const MIN_WORDS: usize = 3;

/// The size bin of a free chunk of `size` bytes (a word multiple, at least
/// three words; larger sizes than the last bin's bound land in the last bin,
/// the one below [`TOP_BIN`]).
// Inlined: a call costs more than the arithmetic in engines that do not
// inline wasm calls (measured in V8: `size-report/EXPERIMENTS.md`).
#[inline(always)]
pub(crate) fn bin_of(size: usize) -> usize {
    size_class(size).min(TOP_BIN - 1)
}

/// The bins' scale, not clamped at the last size bin: the size class of a
/// free chunk of `size` bytes (as for [`bin_of`]). The sizes of a class are
/// within a quarter of its smallest, up to the largest size there is (the
/// `stats` feature keeps its figures by these classes).
#[inline(always)]
pub(crate) const fn size_class(size: usize) -> usize {
    let words = size / WORD;
    // `floor(log2(words))`, clamped to at least `SUB_BITS` (below `2^SUB_BITS`
    // words the formula is the identity, so small sizes are linear). Setting
    // that bit does both: it clamps without a compare, and the argument is
    // never 0, so there is no `ilog2` panic path to pay for.
    let log = (usize::BITS - 1) - (words | (1 << SUB_BITS)).leading_zeros();
    let shift = log - SUB_BITS;
    ((shift as usize) << SUB_BITS) + (words >> shift) - MIN_WORDS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest size (bytes) that maps to `bin`.
    fn lower_bound(bin: usize) -> usize {
        (MIN_WORDS..).map(|w| w * WORD).find(|&s| bin_of(s) >= bin).unwrap()
    }

    #[test]
    fn small_sizes_are_exact() {
        for words in 3..(2 << SUB_BITS) {
            assert_eq!(bin_of(words * WORD), words - MIN_WORDS);
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "slow under Miri; pure arithmetic")]
    fn bins_are_monotonic_and_contiguous() {
        let mut last = 0;
        for words in 3..200_000usize {
            let b = bin_of(words * WORD);
            assert!(b == last || b == last + 1, "jump at {words} words: {last} -> {b}");
            last = b;
        }
        assert_eq!(bin_of(3 * WORD), 0);
    }

    #[test]
    #[cfg_attr(miri, ignore = "slow under Miri; pure arithmetic")]
    fn a_bin_spans_at_most_a_quarter() {
        for bin in 1..TOP_BIN - 1 {
            let lo = lower_bound(bin);
            let hi = lower_bound(bin + 1);
            assert!(hi > lo);
            assert!((hi - lo) * 4 <= lo + 3 * WORD, "bin {bin}: {lo}..{hi}");
        }
    }

    #[test]
    fn huge_sizes_land_in_the_last_size_bin() {
        assert_eq!(bin_of(usize::MAX & !(WORD - 1)), TOP_BIN - 1);
        assert_eq!(bin_of(1 << 31), TOP_BIN - 1);
        assert_eq!(bin_of((1 << 24) + WORD * 5), TOP_BIN - 1);
    }
}
