//! The boundary tag: one word at the base of every allocated chunk.
//!
//! ```text
//!  tag word:  [ address of the chunk's acme (word aligned) | BELOW_FREE | ALLOCATED ]
//!                                                               bit 1        bit 0
//! ```
//!
//! The acme is word aligned, so its two low bits are free for flags. A free
//! chunk starts with a list pointer, which is word aligned too: its bit 0 is
//! always clear. So reading the first word of any chunk tells at once whether
//! it is allocated, which is how a chunk looks at its upper neighbour.
//!
//! When an allocation is aligned beyond a word, the payload may sit higher in
//! its chunk; then the word just below the payload holds the tag's address (a
//! "back pointer", bit 0 clear) so that `free` can find the tag.

/// Set in the tag of every allocated chunk (and never in a free chunk's
/// first word, which is an aligned pointer).
pub(crate) const ALLOCATED: usize = 0b01;
/// Set in an allocated chunk's tag when the chunk just below it is free;
/// then the word just under this chunk's base holds that free chunk's size.
pub(crate) const BELOW_FREE: usize = 0b10;
const FLAGS: usize = ALLOCATED | BELOW_FREE;

/// Makes a tag for an allocated chunk ending at `acme`.
#[inline]
pub(crate) fn new(acme: *mut u8, below_free: bool) -> usize {
    acme.addr() | ALLOCATED | if below_free { BELOW_FREE } else { 0 }
}

/// The acme address held by a tag.
#[inline]
pub(crate) fn acme(tag: usize) -> usize {
    tag & !FLAGS
}

/// Whether a chunk's first word marks it as allocated.
#[inline]
pub(crate) fn is_allocated(first_word: usize) -> bool {
    first_word & ALLOCATED != 0
}

/// Whether a tag says the chunk below is free.
#[inline]
pub(crate) fn is_below_free(tag: usize) -> bool {
    tag & BELOW_FREE != 0
}

/// Sets or clears `BELOW_FREE` in the tag at `tag_ptr`.
///
/// # Safety
/// `tag_ptr` must point to the tag of an allocated chunk, valid for reads
/// and writes.
#[inline]
pub(crate) unsafe fn set_below_free(tag_ptr: *mut usize, below_free: bool) {
    // SAFETY: the caller guarantees `tag_ptr` is a live, writable tag.
    unsafe {
        let tag = *tag_ptr & !BELOW_FREE;
        *tag_ptr = tag | if below_free { BELOW_FREE } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip() {
        let acme_ptr = core::ptr::without_provenance_mut::<u8>(0x1000);
        let t = new(acme_ptr, false);
        assert!(is_allocated(t));
        assert!(!is_below_free(t));
        assert_eq!(acme(t), 0x1000);
        let t = new(acme_ptr, true);
        assert!(is_below_free(t));
        assert_eq!(acme(t), 0x1000);
    }

    #[test]
    fn high_addresses_keep_flags_apart() {
        // Acmes with the top bits set (e.g. bit 31 on 32-bit targets) must
        // not disturb the flags, nor the flags the address.
        let top = usize::MAX & !(core::mem::size_of::<usize>() - 1);
        let t = new(core::ptr::without_provenance_mut(top), true);
        assert_eq!(acme(t), top);
        assert!(is_allocated(t) && is_below_free(t));
        // An aligned pointer (a free chunk's first word) never reads as allocated.
        assert!(!is_allocated(top));
        assert!(!is_allocated(0));
    }

    #[test]
    fn set_below_free_toggles_only_that_bit() {
        let mut word = new(core::ptr::without_provenance_mut(0x2000), false);
        // SAFETY: `word` is a local, valid for reads and writes.
        unsafe { set_below_free(&mut word, true) };
        assert!(is_below_free(word) && is_allocated(word));
        assert_eq!(acme(word), 0x2000);
        // SAFETY: as above.
        unsafe { set_below_free(&mut word, false) };
        assert!(!is_below_free(word) && is_allocated(word));
    }
}
