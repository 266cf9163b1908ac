//! Memory that grows up to the 4 GiB end of wasm32's address space, where the top
//! heap's end address (2^32) does not fit in a `usize`. Its own test binary: once
//! memory has reached the end, nothing else in the instance could grow.
//!
//! Blocks are touched only at their ends and every few MiB, so the resident memory
//! of the engine stays small although 4 GiB are mapped.
#![cfg(target_arch = "wasm32")]

use std::alloc::{alloc, dealloc, realloc, Layout};

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{assert_talcum_is_global, memory_bytes, Block, MIB, WASM_PAGE};

const END: u64 = 1 << 32;

/// A block written at its first and last byte only.
struct Sparse {
    ptr: *mut u8,
    layout: Layout,
    mark: u8,
}

impl Sparse {
    fn try_new(size: usize, mark: u8) -> Option<Sparse> {
        let layout = Layout::from_size_align(size, 16).unwrap();
        let ptr = unsafe { alloc(layout) };
        if ptr.is_null() {
            return None;
        }
        assert_eq!(ptr as usize % 16, 0);
        let end = ptr as u64 + size as u64;
        assert!(end <= memory_bytes(), "block {ptr:p}+{size} ends past memory");
        unsafe {
            ptr.write_volatile(mark);
            ptr.add(size - 1).write_volatile(!mark);
        }
        Some(Sparse { ptr, layout, mark })
    }

    fn end(&self) -> u64 {
        self.ptr as u64 + self.layout.size() as u64
    }

    fn check(&self) {
        unsafe {
            assert_eq!(self.ptr.read_volatile(), self.mark, "first byte of {:p} changed", self.ptr);
            assert_eq!(
                self.ptr.add(self.layout.size() - 1).read_volatile(),
                !self.mark,
                "last byte of {:p}+{} changed",
                self.ptr,
                self.layout.size()
            );
        }
    }
}

impl Drop for Sparse {
    fn drop(&mut self) {
        self.check();
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

/// Allocates `size`-byte blocks until null.
fn fill_with(size: usize, list: &mut Vec<Sparse>) {
    while list.len() < list.capacity() {
        match Sparse::try_new(size, list.len() as u8) {
            Some(s) => list.push(s),
            None => return,
        }
    }
    panic!("list capacity too small for {size}-byte blocks");
}

#[wasm_bindgen_test]
fn grow_to_the_end_of_the_address_space_and_back() {
    assert_talcum_is_global();
    // Lists and a rescue block up front: nothing else may allocate once memory is full.
    let mut blocks: Vec<Sparse> = Vec::with_capacity(100_000);
    let rescue = Block::new(MIB, 8, 1);

    for size in [256 * MIB, 16 * MIB, MIB, WASM_PAGE, 4096, 64] {
        fill_with(size, &mut blocks);
    }
    let reached = memory_bytes();
    // Node and Chromium both allow 4 GiB; without that the test would prove nothing.
    assert!(reached > 3 << 30, "memory stopped growing at {reached:#x} bytes");
    // Engines allow 65536 pages for wasm32; if memory stopped short of that by a
    // whole growth step of the allocator, the engine must have refused it.
    let ungrown_pages = ((END - reached) / WASM_PAGE as u64) as usize;
    if ungrown_pages >= talcum::MIN_GROW_PAGES {
        assert_eq!(
            core::arch::wasm32::memory_grow(0, talcum::MIN_GROW_PAGES),
            usize::MAX,
            "allocation failed at {reached} bytes although memory.grow still works"
        );
    }
    let top = blocks.iter().map(Sparse::end).max().unwrap();
    assert!(top <= reached, "a block ends at {top:#x}, past memory ({reached:#x})");
    assert!(
        reached - top < 8 * WASM_PAGE as u64,
        "the highest block ends at {top:#x}, far below the end of memory {reached:#x}"
    );
    // Free the highest block and take it again: the chunk at the very top, whose end
    // does not fit in a usize when memory is 4 GiB, must round-trip. Memory is full
    // (all other free fragments are smaller than 64 bytes), so the freed block is the
    // only place that fits.
    let hi = (0..blocks.len()).max_by_key(|&i| blocks[i].end()).unwrap();
    let size = blocks[hi].layout.size();
    let old_ptr = blocks[hi].ptr;
    drop(blocks.swap_remove(hi));
    let again = Sparse::try_new(size, 0x3C).expect("freed top block could not be allocated again");
    assert_eq!(again.ptr, old_ptr, "freed top block {old_ptr:p} not reused");

    // Growing the top block can happen neither in place (nothing lies above) nor
    // anywhere else (memory is full): realloc must fail and leave it intact.
    unsafe {
        let p = realloc(again.ptr, again.layout, size + 2 * MIB);
        assert!(p.is_null(), "realloc past the end of memory returned {p:p}");
    }
    again.check();
    drop(again);

    drop(rescue);
    for b in &blocks {
        b.check();
    }

    // Free everything: the 256 MiB blocks and what lies between them join up.
    blocks.clear();
    let whole = Sparse::try_new(1024 * MIB, 0x77).expect("1 GiB after freeing everything");
    whole.check();
    let second = Sparse::try_new(1024 * MIB, 0x78).expect("second 1 GiB");
    assert!(whole.end() <= second.ptr as u64 || second.end() <= whole.ptr as u64);
    drop(second);
    drop(whole);

    // With ~4 GiB free, the largest layouts Rust allows: their chunks are 2^31 bytes
    // or more, so bit 31 of the size is set (where a tag bit must not be).
    for (size, align) in [
        (isize::MAX as usize, 1),
        (isize::MAX as usize - 7, 8),
        (isize::MAX as usize + 1 - WASM_PAGE, WASM_PAGE),
        ((3 << 29) + 12345, 16),
    ] {
        let layout = Layout::from_size_align(size, align).unwrap();
        unsafe {
            let p = alloc(layout);
            assert!(!p.is_null(), "{size:#x} bytes aligned {align} returned null with 4 GiB free");
            assert_eq!(p as usize % align, 0);
            assert!(p as u64 + size as u64 <= memory_bytes());
            p.write_volatile(1);
            p.add(size / 2).write_volatile(2);
            p.add(size - 1).write_volatile(3);
            // A second block of the same size cannot fit as well, and must not wrap.
            let q = alloc(layout);
            if !q.is_null() {
                assert!(
                    q as u64 + size as u64 <= p as u64 || p as u64 + size as u64 <= q as u64,
                    "two {size:#x}-byte blocks overlap: {p:p} and {q:p}"
                );
                dealloc(q, layout);
            }
            assert_eq!(p.read_volatile(), 1);
            assert_eq!(p.add(size / 2).read_volatile(), 2);
            assert_eq!(p.add(size - 1).read_volatile(), 3);
            dealloc(p, layout);
        }
    }
    // And everything joins up once more: two 1.5 GiB blocks side by side.
    let a = Sparse::try_new(3 << 29, 0x42).expect("first 1.5 GiB after freeing the 2 GiB blocks");
    let b = Sparse::try_new(3 << 29, 0x43).expect("second 1.5 GiB after freeing the 2 GiB blocks");
    assert!(a.end() <= b.ptr as u64 || b.end() <= a.ptr as u64);
}
