//! Global-allocator wrappers: [`Talck`], a `Talc` behind a lock, and
//! [`TalckSingleThreaded`], a `Talc` behind no lock for programs with one
//! thread.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::{null_mut, NonNull};
#[cfg(feature = "checks")]
use core::sync::atomic::{AtomicBool, Ordering};

use crate::{OomHandler, Span, Talc};

/// The `GlobalAlloc` calls, shared by both wrappers.
mod raw {
    use super::*;

    #[inline]
    pub(super) unsafe fn alloc<O: OomHandler>(talc: &mut Talc<O>, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from `GlobalAlloc::alloc`.
        unsafe { talc.malloc(layout) }.map_or(null_mut(), NonNull::as_ptr)
    }

    #[inline]
    pub(super) unsafe fn alloc_zeroed<O: OomHandler>(
        talc: &mut Talc<O>,
        layout: Layout,
    ) -> *mut u8 {
        // SAFETY: forwarded from `GlobalAlloc::alloc_zeroed`.
        unsafe { talc.malloc_zeroed(layout) }.map_or(null_mut(), NonNull::as_ptr)
    }

    #[inline]
    pub(super) unsafe fn dealloc<O: OomHandler>(talc: &mut Talc<O>, ptr: *mut u8, layout: Layout) {
        // SAFETY: `GlobalAlloc::dealloc` requires a live, non-null block.
        unsafe { talc.free(NonNull::new_unchecked(ptr), layout) }
    }

    #[inline]
    pub(super) unsafe fn realloc<O: OomHandler>(
        talc: &mut Talc<O>,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: `GlobalAlloc::realloc` requires a live, non-null block, and
        // a new size that makes a valid layout with the old alignment.
        unsafe { talc.realloc_valid(NonNull::new_unchecked(ptr), layout, new_size) }
            .map_or(null_mut(), NonNull::as_ptr)
    }
}

/// A [`Talc`] behind a [`lock_api`] lock: a `GlobalAlloc`, and through
/// [`TalckRef`] an `Allocator`.
///
/// ```
/// use talcum::{ErrOnOom, Span, Talc, Talck};
/// static mut ARENA: [u8; 1 << 16] = [0; 1 << 16];
///
/// let talck: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
/// // SAFETY: ARENA is used by this allocator only.
/// unsafe { talck.lock().init(Span::from_slice_ptr(&raw mut ARENA)).unwrap() };
/// let layout = core::alloc::Layout::new::<[u32; 10]>();
/// // SAFETY: freed once with its layout.
/// unsafe {
///     use core::alloc::GlobalAlloc;
///     let p = talck.alloc(layout);
///     assert!(!p.is_null());
///     talck.dealloc(p, layout);
/// }
/// ```
pub struct Talck<R: lock_api::RawMutex, O: OomHandler> {
    mutex: lock_api::Mutex<R, Talc<O>>,
    /// Raised while a fault that `checks` found is reported (see `checks`).
    #[cfg(feature = "checks")]
    fault: AtomicBool,
}

impl<R: lock_api::RawMutex, O: OomHandler> core::fmt::Debug for Talck<R, O> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Talck")
    }
}

impl<R: lock_api::RawMutex, O: OomHandler> Talck<R, O> {
    /// Wraps `talc` in a lock.
    pub const fn new(talc: Talc<O>) -> Self {
        Self {
            mutex: lock_api::Mutex::new(talc),
            #[cfg(feature = "checks")]
            fault: AtomicBool::new(false),
        }
    }

    /// Locks the allocator, for heap management (`init`, `claim`, ...),
    /// direct calls, or a look at its state.
    pub fn lock(&self) -> TalckGuard<'_, R, O> {
        self.guard(self.mutex.lock())
    }

    /// Locks the allocator if it is free.
    pub fn try_lock(&self) -> Option<TalckGuard<'_, R, O>> {
        Some(self.guard(self.mutex.try_lock()?))
    }

    #[inline]
    fn guard<'a>(
        &'a self,
        #[allow(unused_mut)] mut talc: lock_api::MutexGuard<'a, R, Talc<O>>,
    ) -> TalckGuard<'a, R, O> {
        // With `checks`, a fault found while the lock is held raises the flag
        // (the panic's allocations then use the reserve); it clears when the
        // guard is dropped, just before the lock is released.
        #[cfg(feature = "checks")]
        {
            talc.heaps.fault = &self.fault;
        }
        TalckGuard {
            #[cfg(feature = "checks")]
            _reporting: crate::checks::Reporting(&self.fault),
            talc,
        }
    }

    /// Unwraps the `Talc`.
    pub fn into_inner(self) -> Talc<O> {
        #[allow(unused_mut)]
        let mut talc = self.mutex.into_inner();
        // The flag it pointed to goes with this `Talck`.
        #[cfg(feature = "checks")]
        {
            talc.heaps.fault = core::ptr::null();
        }
        talc
    }

    /// A handle implementing `Allocator` (with the `nightly` or
    /// `allocator-api2` feature).
    pub const fn allocator(&self) -> TalckRef<'_, R, O> {
        TalckRef(self)
    }
}

// SAFETY: every call runs under the lock with exclusive access to the `Talc`;
// `realloc` grows or shrinks in place when it can.
unsafe impl<R: lock_api::RawMutex, O: OomHandler> GlobalAlloc for Talck<R, O> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        #[cfg(feature = "checks")]
        if self.fault.load(Ordering::SeqCst) {
            return crate::checks::reserve_alloc(layout);
        }
        // SAFETY: forwarded.
        unsafe { raw::alloc(&mut self.lock().talc, layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        #[cfg(feature = "checks")]
        if self.fault.load(Ordering::SeqCst) {
            return crate::checks::reserve_alloc_zeroed(layout);
        }
        // SAFETY: forwarded.
        unsafe { raw::alloc_zeroed(&mut self.lock().talc, layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // While a fault is reported, a block freed by the panic's code is
        // leaked: its `Talc` is held by the failing call.
        #[cfg(feature = "checks")]
        if self.fault.load(Ordering::SeqCst) || crate::checks::in_reserve(ptr) {
            return;
        }
        // SAFETY: forwarded.
        unsafe { raw::dealloc(&mut self.lock().talc, ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        #[cfg(feature = "checks")]
        if self.fault.load(Ordering::SeqCst) || crate::checks::in_reserve(ptr) {
            // SAFETY: forwarded.
            return unsafe {
                crate::checks::reserve_realloc(|l| self.alloc(l), ptr, layout, new_size)
            };
        }
        // SAFETY: forwarded.
        unsafe { raw::realloc(&mut self.lock().talc, ptr, layout, new_size) }
    }
}

/// The locked [`Talc`] of a [`Talck`], from [`Talck::lock`].
///
/// It reads the allocator's state through `Deref` (`get_arena`,
/// `get_counters`, ...), and changes it through `unsafe` methods that
/// forward to `Talc`'s (`init`, `claim`, `malloc`, ...). It never hands safe
/// code a `&mut Talc`: through one, safe code could replace or swap the
/// allocator while blocks allocated from it are live, and their next `free`
/// would corrupt memory.
///
/// ```compile_fail
/// # use talcum::{ErrOnOom, Talc, Talck};
/// let talck: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
/// *talck.lock() = Talc::new(ErrOnOom); // error: cannot assign through a `Deref`
/// ```
pub struct TalckGuard<'a, R: lock_api::RawMutex, O: OomHandler> {
    // Dropped first, while the lock is still held: only the lock's holder
    // can have raised the fault flag, so only it clears it.
    #[cfg(feature = "checks")]
    _reporting: crate::checks::Reporting<'a>,
    talc: lock_api::MutexGuard<'a, R, Talc<O>>,
}

impl<R: lock_api::RawMutex, O: OomHandler> core::ops::Deref for TalckGuard<'_, R, O> {
    type Target = Talc<O>;

    fn deref(&self) -> &Talc<O> {
        &self.talc
    }
}

impl<R: lock_api::RawMutex, O: OomHandler> core::fmt::Debug for TalckGuard<'_, R, O> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&*self.talc, f)
    }
}

/// `unsafe` methods of the guard that forward to `Talc`'s namesakes.
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        #[doc = concat!("[`Talc::", stringify!($name), "`] on the locked allocator.")]
        ///
        /// # Safety
        #[doc = concat!("As for [`Talc::", stringify!($name), "`].")]
        #[inline]
        pub unsafe fn $name(&mut self, $($arg: $ty),*) -> $ret {
            // SAFETY: forwarded to the caller.
            unsafe { self.talc.$name($($arg),*) }
        }
    )*};
}

impl<R: lock_api::RawMutex, O: OomHandler> TalckGuard<'_, R, O> {
    forward! {
        malloc(layout: Layout) -> Result<NonNull<u8>, ()>;
        malloc_zeroed(layout: Layout) -> Result<NonNull<u8>, ()>;
        free(ptr: NonNull<u8>, layout: Layout) -> ();
        grow(ptr: NonNull<u8>, old_layout: Layout, new_size: usize) -> Result<NonNull<u8>, ()>;
        grow_in_place(ptr: NonNull<u8>, old_layout: Layout, new_size: usize) -> Result<NonNull<u8>, ()>;
        shrink(ptr: NonNull<u8>, layout: Layout, new_size: usize) -> ();
        realloc(ptr: NonNull<u8>, old_layout: Layout, new_size: usize) -> Result<NonNull<u8>, ()>;
        init(arena: Span) -> Result<Span, ()>;
        claim(memory: Span) -> Result<Span, ()>;
        extend(heap: Span, new_heap: Span) -> Span;
        truncate(heap: Span, new_heap: Span) -> Span;
    }

    /// Exclusive access to the `Talc` itself.
    ///
    /// # Safety
    /// The `Talc` must not be replaced or swapped with another (its heaps,
    /// and the blocks allocated from them, belong to this `Talck`), and its
    /// OOM handler only as [`Talc::oom_handler_mut`] allows.
    pub unsafe fn as_mut(&mut self) -> &mut Talc<O> {
        &mut self.talc
    }
}

/// A [`Talc`] with no lock, for programs that never run a second thread.
///
/// It is `Sync` (a `static` needs that) only when its handler is `Send`: one
/// thread at a time may use it, not always the same one.
///
/// ```compile_fail
/// # use talcum::{OomHandler, Talc, TalckSingleThreaded};
/// struct NotSend(std::rc::Rc<()>);
/// // SAFETY: leaves the `Talc` alone.
/// unsafe impl OomHandler for NotSend {
///     fn handle_oom(_: &mut Talc<Self>, _: core::alloc::Layout) -> Result<(), ()> { Err(()) }
/// }
/// fn needs_sync<T: Sync>() {}
/// needs_sync::<TalckSingleThreaded<NotSend>>(); // error: `Rc` is not `Send`
/// ```
///
/// It costs nothing at run time. Where a target can have threads, the
/// promise is yours to keep, so construction is `unsafe`; on WebAssembly
/// without the `atomics` feature there are no threads, and
/// `TalckWasm` is this type with the wasm handler (but for feature `tiny`).
pub struct TalckSingleThreaded<O: OomHandler> {
    talc: UnsafeCell<Talc<O>>,
    /// Raised while a fault that `checks` found is reported (see `checks`).
    #[cfg(feature = "checks")]
    fault: AtomicBool,
}

// SAFETY: `new`'s contract: one thread at a time uses the allocator; it may
// be a different thread each time, so the handler must be `Send`.
unsafe impl<O: OomHandler + Send> Sync for TalckSingleThreaded<O> {}

impl<O: OomHandler> core::fmt::Debug for TalckSingleThreaded<O> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TalckSingleThreaded")
    }
}

impl<O: OomHandler> TalckSingleThreaded<O> {
    /// Wraps `talc` with no lock.
    ///
    /// # Safety
    /// The allocator must only ever be used from one thread at a time, and
    /// never re-entered: the OOM handler must not allocate through it.
    pub const unsafe fn new(talc: Talc<O>) -> Self {
        Self {
            talc: UnsafeCell::new(talc),
            #[cfg(feature = "checks")]
            fault: AtomicBool::new(false),
        }
    }

    /// Exclusive access to the `Talc`, for heap management or direct calls.
    ///
    /// # Safety
    /// No other reference to the `Talc` may be in use (including a running
    /// allocation on this thread), for as long as the returned one lives;
    /// and, as for [`TalckGuard::as_mut`], the `Talc` must not be replaced.
    ///
    /// With `checks`, a fault found through it makes the allocator serve
    /// every later allocation from a small reserve (the fault is reported by
    /// a panic, which may allocate; nothing clears the flag after it).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn talc(&self) -> &mut Talc<O> {
        // SAFETY: the caller guarantees exclusivity.
        let talc = unsafe { &mut *self.talc.get() };
        #[cfg(feature = "checks")]
        {
            talc.heaps.fault = &self.fault;
        }
        talc
    }
}

// SAFETY: by `new`'s contract each call has exclusive access to the `Talc`.
unsafe impl<O: OomHandler> GlobalAlloc for TalckSingleThreaded<O> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        #[cfg(feature = "checks")]
        if self.fault.load(Ordering::SeqCst) {
            return crate::checks::reserve_alloc(layout);
        }
        #[cfg(feature = "checks")]
        let _reporting = crate::checks::Reporting(&self.fault);
        // SAFETY: exclusive by `new`'s contract; forwarded.
        unsafe { raw::alloc(self.talc(), layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        #[cfg(feature = "checks")]
        if self.fault.load(Ordering::SeqCst) {
            return crate::checks::reserve_alloc_zeroed(layout);
        }
        #[cfg(feature = "checks")]
        let _reporting = crate::checks::Reporting(&self.fault);
        // SAFETY: exclusive by `new`'s contract; forwarded.
        unsafe { raw::alloc_zeroed(self.talc(), layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // While a fault is reported, a block freed by the panic's code is
        // leaked: its `Talc` is held by the failing call.
        #[cfg(feature = "checks")]
        if self.fault.load(Ordering::SeqCst) || crate::checks::in_reserve(ptr) {
            return;
        }
        #[cfg(feature = "checks")]
        let _reporting = crate::checks::Reporting(&self.fault);
        // SAFETY: exclusive by `new`'s contract; forwarded.
        unsafe { raw::dealloc(self.talc(), ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        #[cfg(feature = "checks")]
        if self.fault.load(Ordering::SeqCst) || crate::checks::in_reserve(ptr) {
            // SAFETY: forwarded.
            return unsafe {
                crate::checks::reserve_realloc(|l| self.alloc(l), ptr, layout, new_size)
            };
        }
        #[cfg(feature = "checks")]
        let _reporting = crate::checks::Reporting(&self.fault);
        // SAFETY: exclusive by `new`'s contract; forwarded.
        unsafe { raw::realloc(self.talc(), ptr, layout, new_size) }
    }
}

/// A shared handle to a [`Talck`] implementing `Allocator`: the unstable
/// `core::alloc::Allocator` with the `nightly` feature,
/// `allocator_api2::alloc::Allocator` with the `allocator-api2` feature.
#[derive(Debug)]
pub struct TalckRef<'a, R: lock_api::RawMutex, O: OomHandler>(&'a Talck<R, O>);

impl<'a, R: lock_api::RawMutex, O: OomHandler> TalckRef<'a, R, O> {
    /// The allocator behind this handle.
    pub fn talck(&self) -> &'a Talck<R, O> {
        self.0
    }
}

impl<R: lock_api::RawMutex, O: OomHandler> Clone for TalckRef<'_, R, O> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R: lock_api::RawMutex, O: OomHandler> Copy for TalckRef<'_, R, O> {}

/// Implements an `Allocator` trait (same shape in core and allocator-api2).
#[cfg(any(feature = "nightly", feature = "allocator-api2"))]
macro_rules! impl_allocator {
    ($Allocator:path, $AllocError:path) => {
        // SAFETY: blocks stay valid until deallocated (the `Talck` outlives
        // the handle), and copies of a handle share one allocator.
        unsafe impl<R: lock_api::RawMutex, O: OomHandler> $Allocator for TalckRef<'_, R, O> {
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: the heaps are valid by the `Talc`'s contracts.
                let ptr = unsafe { self.0.lock().malloc(layout) }.map_err(|_| $AllocError)?;
                Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
            }

            fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, $AllocError> {
                let ptr =
                    // SAFETY: the heaps are valid by the `Talc`'s contracts.
                    unsafe { self.0.lock().malloc_zeroed(layout) }.map_err(|_| $AllocError)?;
                Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
            }

            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                // SAFETY: `ptr` is a live block of this allocator.
                unsafe { self.0.lock().free(ptr, layout) }
            }

            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: forwarded: `ptr` is live with `old`.
                unsafe { self.resize(ptr, old, new) }.map_err(|_| $AllocError)
            }

            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $AllocError> {
                // SAFETY: forwarded: `ptr` is live with `old`.
                unsafe { self.resize(ptr, old, new) }.map_err(|_| $AllocError)
            }
        }
    };
}

#[cfg(feature = "nightly")]
impl_allocator!(core::alloc::Allocator, core::alloc::AllocError);
#[cfg(feature = "allocator-api2")]
impl_allocator!(allocator_api2::alloc::Allocator, allocator_api2::alloc::AllocError);

#[cfg(any(feature = "nightly", feature = "allocator-api2"))]
impl<R: lock_api::RawMutex, O: OomHandler> TalckRef<'_, R, O> {
    /// Resizes to `new`, which may also ask for a different alignment,
    /// keeping the first `min(old, new)` bytes.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this allocator with `old`.
    unsafe fn resize(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ()> {
        let mut talc = self.0.lock();
        // The same alignment: `realloc`'s own path (in place, at the top of
        // the heap, or moved, the old block freed to the core at once).
        if old.align() == new.align() {
            // SAFETY: forwarded; `new` is a valid layout of that alignment.
            let moved = unsafe { talc.realloc(ptr, old, new.size()) }?;
            return Ok(NonNull::slice_from_raw_parts(moved, new.size()));
        }
        let aligned = ptr.as_ptr().addr() % new.align() == 0;
        // SAFETY: forwarded; resizing in place keeps the alignment.
        if aligned && unsafe { talc.grow_in_place(ptr, old, new.size()) }.is_ok() {
            return Ok(NonNull::slice_from_raw_parts(ptr, new.size()));
        }
        // SAFETY: a distinct new block with the new layout; the copy fits
        // both; then the old one is freed.
        let moved = unsafe {
            let moved = talc.malloc(new)?;
            moved.as_ptr().copy_from_nonoverlapping(ptr.as_ptr(), old.size().min(new.size()));
            talc.free(ptr, old);
            moved
        };
        Ok(NonNull::slice_from_raw_parts(moved, new.size()))
    }
}
