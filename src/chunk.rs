//! The chunk layout: a header word at the base of every chunk, and the
//! footer and list links of a free one.
//!
//! ```text
//!  allocated:  | size | flags | payload .............................. |
//!  free:       | size | FREE  | next | prev | ........... | size (footer) |
//!  sentinel:   | 0    | flags |
//! ```
//!
//! Sizes are multiples of the [`GRAIN`] (two words), so the header's low
//! bits are free for two flags: [`FREE`], and [`PREV_FREE`] (the chunk just
//! below is free, and the word under this header is its footer). Chunks
//! start one word past a grain boundary, so every payload (one word past
//! its chunk) is grain aligned: 8 bytes on wasm32, 16 on 64-bit targets,
//! with no padding for the alignments most types need.
//!
//! A heap ends with a *sentinel*: an allocated header of size 0 that stops
//! merging and walks. Reading the header above a chunk tells whether that
//! neighbour is free; the `PREV_FREE` flag and the footer tell the same
//! about the chunk below, so freeing merges both ways in O(1) time.
//!
//! The links of a free chunk make a doubly linked list per bin. `next` is
//! the next chunk of the list (or null); `prev` is the address of the
//! `next` word that points to this chunk, or, for a list's first chunk, its
//! bin's number tagged with the low bit (no address: the allocator that
//! owns the bin heads may move). Unlinking needs neither the bin nor a
//! head address.

/// A machine word.
pub(crate) const WORD: usize = core::mem::size_of::<usize>();
/// Chunk sizes are multiples of this; payloads are aligned to it.
pub(crate) const GRAIN: usize = 2 * WORD;
/// The smallest chunk: header, two links and the footer.
pub(crate) const MIN_CHUNK: usize = 4 * WORD;
/// Set in a free chunk's header.
pub(crate) const FREE: usize = 1;
/// Set in a header when the chunk just below is free.
pub(crate) const PREV_FREE: usize = 2;
/// Set, with feature `fast` under `checks` or `stats`, in the header of an
/// allocated chunk that the front end holds ([`crate::front`]): free for the
/// checker and the figures, allocated for the core.
#[cfg(all(feature = "fast", any(feature = "checks", feature = "stats")))]
pub(crate) const HELD: usize = 4;
/// The flag bits of a header.
pub(crate) const FLAGS: usize = GRAIN - 1;
/// Where a free chunk keeps its links, from its base.
pub(crate) const NEXT: usize = WORD;
pub(crate) const PREV: usize = 2 * WORD;

/// The word at `p`.
///
/// # Safety
/// `p` must be valid for reads of a word, and word aligned.
#[inline(always)]
pub(crate) unsafe fn get(p: *mut u8) -> usize {
    // SAFETY: the caller's promise.
    unsafe { *p.cast::<usize>() }
}

/// Writes the word at `p`.
///
/// # Safety
/// `p` must be valid for writes of a word, and word aligned.
#[inline(always)]
pub(crate) unsafe fn set(p: *mut u8, v: usize) {
    // SAFETY: the caller's promise.
    unsafe { *p.cast::<usize>() = v }
}

/// The link at `at`: a pointer, with its provenance.
///
/// # Safety
/// As for [`get`].
#[inline(always)]
pub(crate) unsafe fn link(at: *mut u8) -> *mut u8 {
    // SAFETY: the caller's promise.
    unsafe { *at.cast::<*mut u8>() }
}

/// Sets the link at `at`.
///
/// # Safety
/// As for [`set`].
#[inline(always)]
pub(crate) unsafe fn set_link(at: *mut u8, to: *mut u8) {
    // SAFETY: the caller's promise.
    unsafe { *at.cast::<*mut u8>() = to }
}

/// The size in a header word.
#[inline(always)]
pub(crate) const fn size_of(header: usize) -> usize {
    header & !FLAGS
}

/// The `prev` link of a list's first chunk: its bin's number, tagged.
#[inline(always)]
pub(crate) fn bin_link(bin: usize) -> *mut u8 {
    core::ptr::without_provenance_mut(bin << 1 | 1)
}

/// The bin number in a `prev` link, if it is a tagged one (the chunk is
/// its list's first).
#[inline(always)]
pub(crate) fn linked_bin(prev: *mut u8) -> Option<usize> {
    (prev.addr() & 1 != 0).then_some(prev.addr() >> 1)
}

/// Where the sentinel of a heap that ends at `acme` (word aligned) lies: at
/// the last chunk boundary (a word past a grain) a word or two below it. (A
/// heap whose end is a word past a grain keeps that last word unused: it
/// may be extended only by memory that starts at its end.) Wraps for a
/// null `acme` (no heap): no chunk lies there.
#[inline(always)]
pub(crate) const fn sentinel_of(acme: usize) -> usize {
    (acme & !(GRAIN - 1)).wrapping_sub(WORD)
}

/// The chunk size that holds `size` bytes of payload after its header.
/// `size` is at most `isize::MAX` (a `Layout`'s), so this cannot overflow.
#[inline(always)]
pub(crate) fn chunk_size(size: usize) -> usize {
    ((size + WORD + FLAGS) & !FLAGS).max(MIN_CHUNK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(0), MIN_CHUNK);
        assert_eq!(chunk_size(3 * WORD), MIN_CHUNK);
        assert_eq!(chunk_size(3 * WORD + 1), MIN_CHUNK + GRAIN);
        assert_eq!(chunk_size(isize::MAX as usize) % GRAIN, 0);
        for size in 0..200 {
            let c = chunk_size(size);
            assert!(c % GRAIN == 0 && c >= size + WORD && c - (size + WORD) < GRAIN.max(MIN_CHUNK));
        }
    }

    #[test]
    fn bin_links_round_trip() {
        for bin in [0, 1, 17, 63] {
            assert_eq!(linked_bin(bin_link(bin)), Some(bin));
        }
        let word = 0usize;
        assert_eq!(linked_bin((&raw const word).cast_mut().cast()), None);
    }
}
