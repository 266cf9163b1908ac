//! Out-of-memory handlers: what a [`Talc`] does when no free chunk fits.

use core::alloc::Layout;

use crate::{Span, Talc};

/// Called by [`Talc::malloc`] when no free chunk fits a request.
///
/// A handler may add memory (with [`Talc::claim`], [`Talc::extend`] or
/// [`Talc::init`]) and return `Ok(())`, and the allocation is retried; or it
/// returns `Err(())` and the allocation fails. A handler that returns
/// `Ok(())` must have added memory enough for `layout`, or the retry calls
/// it again. A free chunk of the block's size and a header word, rounded
/// up to two words (at least four words), plus the alignment and two words
/// for an alignment past two words, always fits it; a new heap needs up to
/// two words more: one to where chunks start (a word past two) and one for
/// its sentinel.
///
/// # Safety
/// `handle_oom` gets the `Talc` by `&mut` so that it can add memory; it must
/// change it only through `Talc`'s own methods (`init`, `claim`, `extend`,
/// `truncate`, [`oom_handler_mut`](Talc::oom_handler_mut), ...), never
/// replace, swap or move out of it: blocks allocated from it are live, and
/// their next `free` relies on the `Talc` that handed them out. (A safe
/// trait would let safe code do that:)
///
/// ```compile_fail
/// # use talcum::{OomHandler, Talc};
/// struct Reset;
/// impl OomHandler for Reset { // error: the trait requires an `unsafe impl`
///     fn handle_oom(talc: &mut Talc<Self>, _: core::alloc::Layout) -> Result<(), ()> {
///         *talc = Talc::new(Reset);
///         Err(())
///     }
/// }
/// ```
pub unsafe trait OomHandler: Sized {
    /// Adds memory to `talc` for `layout`, or fails.
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()>;

    /// Whether the memory that [`handle_oom`](OomHandler::handle_oom) adds
    /// next would extend the heap that ends at `acme` (the last heap). A
    /// `realloc` of a block at the top of that heap then asks the handler
    /// for only what the block lacks, and grows in place; when `false` (the
    /// default), it moves the block to memory added for its whole size.
    fn extends_heap_at(&self, acme: *mut u8) -> bool {
        let _ = acme;
        false
    }
}

/// Fails every allocation that does not fit the memory already given.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrOnOom;

// SAFETY: leaves the `Talc` alone.
unsafe impl OomHandler for ErrOnOom {
    fn handle_oom(_: &mut Talc<Self>, _: Layout) -> Result<(), ()> {
        Err(())
    }
}

/// Claims a given span on the first allocation that needs memory, then
/// fails like [`ErrOnOom`]. Handy for a static arena in a `const` global.
///
/// It is neither `Copy` nor `Clone`: its span is promised to one `Talc`.
///
/// ```compile_fail
/// # use talcum::{InitOnOom, Span};
/// static mut ARENA: [u8; 4096] = [0; 4096];
/// // SAFETY: ARENA is used by this handler's allocator only.
/// let one = unsafe { InitOnOom::new(Span::from_array(&raw mut ARENA)) };
/// let two = one.clone(); // error: no `clone`: two allocators would claim ARENA
/// ```
///
/// ```
/// use talcum::{InitOnOom, Span, Talc};
/// static mut ARENA: [u8; 4096] = [0; 4096];
/// // SAFETY: ARENA is used by this allocator only.
/// let talc = Talc::new(unsafe { InitOnOom::new(Span::from_array(&raw mut ARENA)) });
/// # let _ = talc;
/// ```
#[derive(Debug)]
pub struct InitOnOom(Span);

impl InitOnOom {
    /// A handler that will hand `heap` to its `Talc` on first need.
    ///
    /// # Safety
    /// `heap` must satisfy [`Talc::claim`]'s contract for the `Talc` that
    /// this handler goes into.
    pub const unsafe fn new(heap: Span) -> Self {
        Self(heap)
    }
}

// SAFETY: changes the `Talc` through `claim` only.
unsafe impl OomHandler for InitOnOom {
    fn handle_oom(talc: &mut Talc<Self>, _: Layout) -> Result<(), ()> {
        let heap = core::mem::take(&mut talc.oom_handler.0);
        if heap.is_empty() {
            return Err(());
        }
        // SAFETY: `new`'s contract; the span is taken, so it is claimed once.
        unsafe { talc.claim(heap) }.map(|_| ())
    }
}
