//! The wrappers: `Talck` as a `GlobalAlloc` (also from several threads),
//! `TalckSingleThreaded`, and `TalckRef` as an `Allocator`.

#![cfg_attr(feature = "nightly", feature(allocator_api))]

mod common;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Arc;

use common::{Arena, Rng, MIRI};
use talcum::{ErrOnOom, Span, Talc, Talck, TalckSingleThreaded};

type SpinTalck = Talck<spin::Mutex<()>, ErrOnOom>;

fn spin_talck(arena: &mut Arena) -> SpinTalck {
    let talck: SpinTalck = Talc::new(ErrOnOom).lock();
    // SAFETY: the arena outlives the allocator in every test.
    unsafe { talck.lock().init(arena.span()).unwrap() };
    talck
}

/// Random alloc / realloc / dealloc through `GlobalAlloc`, with patterns.
fn exercise(alloc: &dyn GlobalAlloc, seed: u64, ops: usize) {
    let mut rng = Rng::new(seed);
    let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
    for i in 0..ops {
        let tag = i as u8;
        match rng.range(0, 9) {
            0..=3 => {
                let layout = Layout::from_size_align(rng.size(3000), 1 << rng.range(0, 5)).unwrap();
                let zeroed = rng.chance(30);
                // SAFETY: nonzero size.
                let p = unsafe {
                    if zeroed {
                        alloc.alloc_zeroed(layout)
                    } else {
                        alloc.alloc(layout)
                    }
                };
                assert!(!p.is_null());
                assert_eq!(p as usize % layout.align(), 0);
                // SAFETY: `p` is a fresh block of `layout.size()` bytes.
                unsafe {
                    if zeroed {
                        assert!(std::slice::from_raw_parts(p, layout.size())
                            .iter()
                            .all(|&b| b == 0));
                    }
                    p.write_bytes(tag, layout.size());
                }
                live.push((p, layout, tag));
            }
            4..=5 if !live.is_empty() => {
                let k = rng.range(0, live.len() - 1);
                let (p, layout, t) = live[k];
                let new_size = rng.size(4000);
                // SAFETY: `p` is live with `layout`; nonzero new size.
                let q = unsafe { alloc.realloc(p, layout, new_size) };
                assert!(!q.is_null());
                assert_eq!(q as usize % layout.align(), 0);
                // SAFETY: `q` holds `new_size` bytes, the first `min` kept.
                unsafe {
                    let kept = layout.size().min(new_size);
                    assert!(std::slice::from_raw_parts(q, kept).iter().all(|&b| b == t));
                    q.write_bytes(tag, new_size);
                }
                live[k] = (q, Layout::from_size_align(new_size, layout.align()).unwrap(), tag);
            }
            _ if !live.is_empty() => {
                let (p, layout, t) = live.swap_remove(rng.range(0, live.len() - 1));
                // SAFETY: `p` is live with `layout`.
                unsafe {
                    assert!(std::slice::from_raw_parts(p, layout.size()).iter().all(|&b| b == t));
                    alloc.dealloc(p, layout);
                }
            }
            _ => {}
        }
    }
    for (p, layout, _) in live {
        // SAFETY: live blocks.
        unsafe { alloc.dealloc(p, layout) };
    }
}

#[test]
fn talck_as_global_alloc() {
    let mut arena = Arena::new(4 << 20);
    let talck = spin_talck(&mut arena);
    exercise(&talck, 1, if MIRI { 100 } else { 20_000 });
    #[cfg(feature = "counters")]
    assert_eq!(talck.lock().get_counters().allocation_count, 0);
}

#[test]
fn talck_from_several_threads() {
    let mut arena = Arena::new(16 << 20);
    let talck = Arc::new(spin_talck(&mut arena));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let talck = Arc::clone(&talck);
            std::thread::spawn(move || exercise(&*talck, 100 + t, if MIRI { 30 } else { 5_000 }))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    #[cfg(feature = "counters")]
    assert_eq!(talck.lock().get_counters().allocation_count, 0);
}

#[test]
fn realloc_grows_in_place_when_the_chunk_above_is_free() {
    let mut arena = Arena::new(1 << 20);
    let talck = spin_talck(&mut arena);
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: blocks are used within their sizes and freed once.
    unsafe {
        let p = talck.alloc(layout);
        // Fresh heap: the rest of the arena lies above `p`, free.
        let q = talck.realloc(p, layout, 10_000);
        assert_eq!(p, q, "grown in place");
        let q2 = talck.realloc(q, Layout::from_size_align(10_000, 8).unwrap(), 50);
        assert_eq!(q, q2, "shrunk in place");
        // Block the space above, then grow: it must move and keep contents.
        let small = Layout::from_size_align(50, 8).unwrap();
        q2.write_bytes(0x5A, 50);
        let wall = talck.alloc(layout);
        let moved = talck.realloc(q2, small, 100_000);
        assert!(!moved.is_null());
        assert!(std::slice::from_raw_parts(moved, 50).iter().all(|&b| b == 0x5A));
        talck.dealloc(moved, Layout::from_size_align(100_000, 8).unwrap());
        talck.dealloc(wall, layout);
    }
}

#[test]
fn single_threaded_wrapper() {
    let mut arena = Arena::new(4 << 20);
    // SAFETY: used from this test's thread only.
    let single = unsafe { TalckSingleThreaded::new(Talc::new(ErrOnOom)) };
    // SAFETY: no other reference is live.
    unsafe { single.talc().init(arena.span()).unwrap() };
    exercise(&single, 2, if MIRI { 100 } else { 20_000 });
}

#[test]
fn init_through_a_static_arena() {
    static mut ARENA: [u8; 1 << 16] = [0; 1 << 16];
    let talck: SpinTalck = Talc::new(ErrOnOom).lock();
    // SAFETY: ARENA is used by this allocator only.
    let heap = unsafe { talck.lock().init(Span::from_slice_ptr(&raw mut ARENA)).unwrap() };
    // Shrunk inward to where chunks start and end (a byte array may start
    // anywhere): to words, then a word past two words at the base and two
    // words at the end, so by less than four words.
    assert!(heap.size() > (1 << 16) - 4 * core::mem::size_of::<usize>());
    exercise(&talck, 3, if MIRI { 100 } else { 2_000 });
}

#[cfg(feature = "allocator-api2")]
#[test]
fn allocator_api2_collections() {
    use allocator_api2::vec::Vec as AVec;
    let mut arena = Arena::new(4 << 20);
    let talck = spin_talck(&mut arena);
    {
        let mut v: AVec<u64, _> = AVec::new_in(talck.allocator());
        for i in 0..if MIRI { 200 } else { 100_000 } {
            v.push(i);
        }
        assert!(v.iter().enumerate().all(|(i, &x)| i as u64 == x));
        v.truncate(10);
        v.shrink_to_fit();
        assert_eq!(v.capacity(), 10);
        let b = allocator_api2::boxed::Box::new_in([7u128; 4], talck.allocator());
        assert_eq!(b[3], 7);
        assert_eq!(b.as_ptr() as usize % std::mem::align_of::<u128>(), 0);
    }
    #[cfg(feature = "counters")]
    assert_eq!(talck.lock().get_counters().allocation_count, 0);
}

#[cfg(feature = "allocator-api2")]
#[test]
fn allocator_api2_alignment_changes() {
    use allocator_api2::alloc::Allocator;
    let mut arena = Arena::new(1 << 20);
    let talck = spin_talck(&mut arena);
    let a = talck.allocator();
    let l8 = Layout::from_size_align(64, 8).unwrap();
    let l4096 = Layout::from_size_align(128, 4096).unwrap();
    // SAFETY: each block is live with the layout passed.
    unsafe {
        let p = a.allocate(l8).unwrap().cast::<u8>();
        p.as_ptr().write_bytes(3, 64);
        let q = a.grow(p, l8, l4096).unwrap().cast::<u8>();
        assert_eq!(q.as_ptr() as usize % 4096, 0);
        assert!(std::slice::from_raw_parts(q.as_ptr(), 64).iter().all(|&b| b == 3));
        let r = a.shrink(q, l4096, l8).unwrap().cast::<u8>();
        assert!(std::slice::from_raw_parts(r.as_ptr(), 64).iter().all(|&b| b == 3));
        a.deallocate(r, l8);
    }
}

#[cfg(feature = "nightly")]
#[test]
fn core_allocator_collections() {
    let mut arena = Arena::new(4 << 20);
    let talck = spin_talck(&mut arena);
    {
        let mut v: Vec<u32, _> = Vec::new_in(talck.allocator());
        v.extend(0..if MIRI { 200 } else { 100_000 });
        assert!(v.iter().enumerate().all(|(i, &x)| i as u32 == x));
        v.truncate(3);
        v.shrink_to_fit();
        assert_eq!(v.capacity(), 3);
        let b = Box::new_in([9u128; 2], talck.allocator());
        assert_eq!(b[1], 9);
    }
    #[cfg(feature = "counters")]
    assert_eq!(talck.lock().get_counters().allocation_count, 0);
}
