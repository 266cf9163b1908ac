//! The minimal module: the three allocator entry points and nothing else.
//!
//! The callers (there are none in the report: the module is only measured)
//! must pass a valid layout, and for `dealloc`/`realloc` a live block with
//! the layout it was allocated with, as `GlobalAlloc` requires.

use std::alloc::Layout;

/// # Safety
/// `align` is a power of two and `size` rounded up to it fits in `isize`.
#[export_name = "alloc"]
pub unsafe extern "C" fn ex_alloc(size: usize, align: usize) -> *mut u8 {
    // SAFETY: the layout is valid per this function's contract.
    unsafe { std::alloc::alloc(Layout::from_size_align_unchecked(size, align)) }
}

/// # Safety
/// `ptr` was returned by `alloc`/`realloc` with this size and alignment.
#[export_name = "dealloc"]
pub unsafe extern "C" fn ex_dealloc(ptr: *mut u8, size: usize, align: usize) {
    // SAFETY: per this function's contract.
    unsafe { std::alloc::dealloc(ptr, Layout::from_size_align_unchecked(size, align)) }
}

/// # Safety
/// As `dealloc`, and `new_size` rounded up to `align` fits in `isize`.
#[export_name = "realloc"]
pub unsafe extern "C" fn ex_realloc(
    ptr: *mut u8,
    size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    // SAFETY: per this function's contract.
    unsafe { std::alloc::realloc(ptr, Layout::from_size_align_unchecked(size, align), new_size) }
}
