//! Regression tests for the crashes found by the fuzz targets in `fuzz/`.
//!
//! Each test replays, directly against the public API, the operation
//! sequence of a minimised crash input (given in hex, with the fuzz target's
//! trace: `TALCUM_FUZZ_TRACE=1 fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>`).
//! Run with `cargo test --test fuzz_regressions --features checks,allocator-api2`
//! (the `checks` feature verifies every heap after each operation).

// Every regression so far goes through the `allocator-api2` interface.
#![cfg(feature = "allocator-api2")]

use core::alloc::{GlobalAlloc, Layout};

use talcum::{ErrOnOom, Span, Talc, Talck};

type SpinTalck = Talck<spin::Mutex<()>, ErrOnOom>;

/// A zeroed, 4 KiB-aligned host buffer of `size` bytes.
struct Buffer {
    ptr: *mut u8,
    layout: Layout,
}

impl Buffer {
    fn new(size: usize) -> Self {
        let layout = Layout::from_size_align(size, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }

    fn span(&self) -> Span {
        Span::from_base_size(self.ptr, self.layout.size())
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

/// talck_global, crash 1: `Allocator::grow` to a larger alignment returned a
/// misaligned pointer.
///
/// Minimised input (19 bytes):
/// `10 11 00 00 00 00 00 00 00 0b 00 00 0b 01 08 ff ff cf 5e`, which decodes to
/// ```text
/// GlobalAlloc::alloc(size 1, align 1)  -> +0x210  (16-aligned by chance)
/// GlobalAlloc::alloc(size 1, align 2)  -> +0x228
/// GlobalAlloc::alloc(size 11, align 1) -> +0x240
/// Allocator::grow(+0x210, (1, 1), (65537, 16)) -> +0x258: not 16-aligned
/// ```
/// `realloc_to` (src/talck.rs) sees that the old pointer already has the new
/// alignment and forwards to `Talc::realloc(ptr, old, new.size())`, which,
/// unable to grow in place, allocates the new block with the *old*
/// alignment. Fixed in eb50990.
#[cfg(feature = "allocator-api2")]
#[test]
fn allocator_grow_to_a_larger_alignment_stays_aligned() {
    use allocator_api2::alloc::Allocator;
    use core::ptr::NonNull;

    let buffer = Buffer::new(1 << 20);
    let talck: SpinTalck = Talc::new(ErrOnOom).lock();
    // SAFETY: the buffer outlives the allocator and is used by nothing else.
    unsafe { talck.lock().init(buffer.span()).unwrap() };
    // Blocks are two words aligned by the layout of chunks: the case needs
    // an alignment past that (16 on wasm32, 32 on 64-bit targets), and
    // blocks of three grains (so that consecutive ones alternate).
    let word = core::mem::size_of::<usize>();
    let align = 4 * word;
    let one = Layout::from_size_align(4 * word, 1).unwrap();
    // SAFETY: every block is freed once, with its layout; sizes are non-zero.
    unsafe {
        // A 1-byte, align-1 block that happens to be `align`-aligned.
        let mut blocks = Vec::new();
        let p = loop {
            let p = talck.alloc(one);
            assert!(!p.is_null());
            blocks.push(p);
            if p as usize % align == 0 {
                break p;
            }
            assert!(blocks.len() < 8, "no {align}-aligned small block in 8 tries");
        };
        blocks.pop();
        // Blocks right above it, so that it cannot grow in place, until the
        // next block from the free memory above would *not* be aligned (a
        // probe, freed at once, finds where that is).
        let mut blockers = Vec::new();
        loop {
            let blocker = talck.alloc(one);
            assert!(!blocker.is_null());
            blockers.push(blocker);
            let probe = talck.alloc(one);
            assert!(!probe.is_null());
            talck.dealloc(probe, one);
            if probe as usize % align != 0 {
                break;
            }
            assert!(blockers.len() < 8, "no misaligned free spot in 8 tries");
        }
        *p = 0x5A;

        let new = Layout::from_size_align(65537, align).unwrap();
        let grown = talck.allocator().grow(NonNull::new(p).unwrap(), one, new).expect("grow");
        let q = grown.as_ptr() as *mut u8;
        assert_eq!(q as usize % align, 0, "Allocator::grow to align {align} returned {q:p}");
        assert_eq!(*q, 0x5A, "grow lost the block's content");
        talck.allocator().deallocate(NonNull::new(q).unwrap(), new);
        for b in blocks.into_iter().chain(blockers) {
            talck.dealloc(b, one);
        }
    }
}
