//! [`Span`]: a plain `[base, acme)` address range.
//!
//! A span only describes memory; it owns nothing and dereferences nothing, so
//! every method here is safe. Empty spans are normalised: any span with
//! `acme <= base` behaves as empty, and operations on empty spans return
//! empty spans.

use core::ops::Range;

const WORD: usize = core::mem::size_of::<usize>();

/// A half-open range of addresses, `[base, acme)`.
///
/// Spans keep pointer provenance: the allocator hands out pointers derived
/// from the `base` of the spans it was given.
///
/// ```
/// # use talcum::Span;
/// let mut memory = [0u8; 64];
/// let span = Span::from(&mut memory);
/// assert_eq!(span.size(), 64);
/// assert!(span.contains(memory.as_mut_ptr()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    base: *mut u8,
    acme: *mut u8,
}

// SAFETY: a span is just a pair of addresses; it grants no access by itself.
unsafe impl Send for Span {}
// SAFETY: as above.
unsafe impl Sync for Span {}

impl core::fmt::Debug for Span {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:p}..{:p}", self.base, self.acme)
    }
}

impl Default for Span {
    fn default() -> Self {
        Self::empty()
    }
}

impl Span {
    /// The span `[base, acme)`. If `acme <= base` the span is empty.
    #[inline]
    pub const fn new(base: *mut u8, acme: *mut u8) -> Self {
        Self { base, acme }
    }

    /// An empty span.
    #[inline]
    pub const fn empty() -> Self {
        Self { base: core::ptr::null_mut(), acme: core::ptr::null_mut() }
    }

    /// The span of `size` bytes from `base`. If the end would pass the top of
    /// the address space, it stops at the last address instead of wrapping.
    #[inline]
    pub fn from_base_size(base: *mut u8, size: usize) -> Self {
        let room = usize::MAX - base.addr();
        Self { base, acme: base.wrapping_add(size.min(room)) }
    }

    /// The span covering an array, by raw pointer (never dereferenced);
    /// usable in `const` contexts, e.g. `Span::from_array(&raw mut ARENA)`.
    #[inline]
    pub const fn from_array<T, const N: usize>(array: *mut [T; N]) -> Self {
        let base = array.cast::<u8>();
        Self { base, acme: base.wrapping_add(core::mem::size_of::<[T; N]>()) }
    }

    /// The span covering a slice, by raw pointer (never dereferenced).
    #[inline]
    pub fn from_slice_ptr(slice: *mut [u8]) -> Self {
        Self::from_base_size(slice.cast(), slice.len())
    }

    /// Whether the span holds no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.acme.addr() <= self.base.addr()
    }

    /// The number of bytes in the span (0 if empty).
    #[inline]
    pub fn size(&self) -> usize {
        self.acme.addr().saturating_sub(self.base.addr())
    }

    /// The base and acme pointers, or `None` if the span is empty.
    #[inline]
    pub fn get_base_acme(&self) -> Option<(*mut u8, *mut u8)> {
        (!self.is_empty()).then_some((self.base, self.acme))
    }

    /// The base pointer (meaningless for an empty span).
    #[inline]
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// The acme (one past the end) pointer (meaningless for an empty span).
    #[inline]
    pub fn acme(&self) -> *mut u8 {
        self.acme
    }

    /// Whether `ptr` lies within `[base, acme)`.
    #[inline]
    pub fn contains(&self, ptr: *mut u8) -> bool {
        self.base.addr() <= ptr.addr() && ptr.addr() < self.acme.addr()
    }

    /// Whether `other` lies entirely within this span. An empty `other` is
    /// contained by every span.
    #[inline]
    pub fn contains_span(&self, other: Span) -> bool {
        other.is_empty()
            || (self.base.addr() <= other.base.addr() && other.acme.addr() <= self.acme.addr())
    }

    /// Shrinks the span to word-aligned ends: the base rounds up, the acme
    /// rounds down. The result may be empty.
    #[inline]
    pub fn word_align_inward(self) -> Self {
        let base = self.base.addr();
        let Some(up) = base.checked_add(WORD - 1) else {
            return Self::empty();
        };
        let base = self.base.with_addr(up & !(WORD - 1));
        let acme = self.acme.with_addr(self.acme.addr() & !(WORD - 1));
        let span = Self { base, acme };
        if span.is_empty() {
            Self::empty()
        } else {
            span
        }
    }

    /// Grows the span by `low` bytes below and `high` bytes above, saturating
    /// at the ends of the address space.
    #[inline]
    pub fn extend(self, low: usize, high: usize) -> Self {
        let base = self.base.with_addr(self.base.addr().saturating_sub(low));
        let acme = self.acme.with_addr(self.acme.addr().saturating_add(high));
        Self { base, acme }
    }

    /// Shrinks the span by `low` bytes from the bottom and `high` bytes from
    /// the top. The result may be empty.
    #[inline]
    pub fn truncate(self, low: usize, high: usize) -> Self {
        let base = self.base.with_addr(self.base.addr().saturating_add(low));
        let acme = self.acme.with_addr(self.acme.addr().saturating_sub(high));
        Self { base, acme }
    }

    /// The part of the span at or above `min`.
    #[inline]
    pub fn above(self, min: *mut u8) -> Self {
        if min.addr() > self.base.addr() {
            Self { base: self.base.with_addr(min.addr()), acme: self.acme }
        } else {
            self
        }
    }

    /// The part of the span below `max`.
    #[inline]
    pub fn below(self, max: *mut u8) -> Self {
        if max.addr() < self.acme.addr() {
            Self { base: self.base, acme: self.acme.with_addr(max.addr()) }
        } else {
            self
        }
    }

    /// The intersection of the two spans (keeping this span's provenance).
    #[inline]
    pub fn fit_within(self, other: Span) -> Self {
        self.above(other.base).below(other.acme)
    }

    /// The smallest span covering both (keeping this span's provenance).
    /// Empty spans are ignored.
    #[inline]
    pub fn fit_over(self, other: Span) -> Self {
        if other.is_empty() {
            return self;
        }
        if self.is_empty() {
            return other;
        }
        let base = self.base.addr().min(other.base.addr());
        let acme = self.acme.addr().max(other.acme.addr());
        Self { base: self.base.with_addr(base), acme: self.acme.with_addr(acme) }
    }
}

impl<T, const N: usize> From<&mut [T; N]> for Span {
    fn from(array: &mut [T; N]) -> Self {
        Self::from_base_size(array.as_mut_ptr().cast(), core::mem::size_of::<[T; N]>())
    }
}

impl From<*mut [u8]> for Span {
    fn from(slice: *mut [u8]) -> Self {
        Self::from_slice_ptr(slice)
    }
}

impl From<&mut [u8]> for Span {
    fn from(slice: &mut [u8]) -> Self {
        Self::from_slice_ptr(slice)
    }
}

impl From<Range<*mut u8>> for Span {
    fn from(range: Range<*mut u8>) -> Self {
        Self::new(range.start, range.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(addr: usize) -> *mut u8 {
        core::ptr::without_provenance_mut(addr)
    }

    #[test]
    fn empty_and_size() {
        assert!(Span::empty().is_empty());
        assert_eq!(Span::empty().size(), 0);
        assert!(Span::new(at(16), at(8)).is_empty());
        assert_eq!(Span::new(at(16), at(8)).size(), 0);
        assert_eq!(Span::new(at(8), at(24)).size(), 16);
        assert_eq!(Span::new(at(8), at(24)).get_base_acme(), Some((at(8), at(24))));
        assert_eq!(Span::new(at(8), at(8)).get_base_acme(), None);
    }

    #[test]
    fn from_base_size_saturates() {
        let s = Span::from_base_size(at(usize::MAX - 40), 100);
        assert_eq!(s.acme().addr(), usize::MAX);
        assert_eq!(s.size(), 40);
        let s = s.word_align_inward();
        assert_eq!(s.acme().addr() % WORD, 0);
        assert!(s.acme().addr() > s.base().addr());
    }

    #[test]
    fn contains() {
        let s = Span::new(at(8), at(24));
        assert!(s.contains(at(8)));
        assert!(s.contains(at(23)));
        assert!(!s.contains(at(24)));
        assert!(!s.contains(at(7)));
        assert!(s.contains_span(Span::new(at(8), at(24))));
        assert!(s.contains_span(Span::new(at(9), at(10))));
        assert!(!s.contains_span(Span::new(at(9), at(25))));
        assert!(s.contains_span(Span::empty()));
    }

    #[test]
    fn align_inward() {
        let s = Span::new(at(1), at(2 * WORD + 3)).word_align_inward();
        assert_eq!((s.base().addr(), s.acme().addr()), (WORD, 2 * WORD));
        assert!(Span::new(at(1), at(WORD - 1)).word_align_inward().is_empty());
        assert!(Span::new(at(usize::MAX - 2), at(usize::MAX)).word_align_inward().is_empty());
    }

    #[test]
    fn extend_truncate_saturate() {
        let s = Span::new(at(8), at(24));
        assert_eq!(s.extend(4, 4), Span::new(at(4), at(28)));
        assert_eq!(s.extend(100, 0).base().addr(), 0);
        assert_eq!(s.extend(0, usize::MAX).acme().addr(), usize::MAX);
        assert_eq!(s.truncate(4, 4), Span::new(at(12), at(20)));
        assert!(s.truncate(10, 10).is_empty());
    }

    #[test]
    fn above_below_fit() {
        let s = Span::new(at(8), at(24));
        assert_eq!(s.above(at(16)), Span::new(at(16), at(24)));
        assert_eq!(s.above(at(0)), s);
        assert_eq!(s.below(at(16)), Span::new(at(8), at(16)));
        assert_eq!(s.below(at(100)), s);
        assert_eq!(s.fit_within(Span::new(at(12), at(100))), Span::new(at(12), at(24)));
        assert!(s.fit_within(Span::new(at(30), at(40))).is_empty());
        assert_eq!(s.fit_over(Span::new(at(30), at(40))), Span::new(at(8), at(40)));
        assert_eq!(s.fit_over(Span::empty()), s);
        assert_eq!(Span::empty().fit_over(s), s);
    }

    #[test]
    fn conversions() {
        let mut arr = [0u64; 4];
        let s = Span::from(&mut arr);
        assert_eq!(s.size(), 32);
        assert_eq!(Span::from_array(&raw mut arr), s);
        let mut bytes = [0u8; 10];
        let p: *mut [u8] = &mut bytes[..];
        assert_eq!(Span::from(p).size(), 10);
        let r = at(8)..at(40);
        assert_eq!(Span::from(r).size(), 32);
    }
}
