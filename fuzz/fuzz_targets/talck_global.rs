//! `talck_global`: the locked wrapper, `Talck<spin::Mutex<()>, ErrOnOom>`,
//! through `GlobalAlloc` (alloc, alloc_zeroed, dealloc, realloc) and through
//! `allocator_api2::Allocator` on `TalckRef` (allocate, allocate_zeroed,
//! deallocate, grow, grow_zeroed, shrink, with alignment changes), against
//! the block model.
//!
//! The arena is filled with a non-zero byte before each run, and freed blocks
//! keep their pattern, so zeroed allocations really have to be zeroed.
//!
//! The free-chunk oracles (`talcum_fuzz::fit`, read under the lock just
//! before each call): every allocation must succeed when a free chunk surely
//! fits its layout (`Talc::surely_fits`, as `Talc::malloc` promises) and may
//! succeed only when some free chunk fits it; every resize must succeed when
//! one surely fits the new layout, and succeeds without any fitting one only
//! in place.

#![no_main]

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use allocator_api2::alloc::Allocator;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use talcum::{ErrOnOom, Span, Talc, Talck};
use talcum_fuzz::{
    avoid_known_bug, check_alloc_fit, check_counter_consistency, check_resize_fit, count_ops, fit,
    layout, max_size, trace, Input, Memory, Model, KIB, MAX_OPS, MIB,
};

const ARENA: usize = MIB;

type Lock = spin::Mutex<()>;

fn memory() -> &'static Memory {
    static MEMORY: OnceLock<Memory> = OnceLock::new();
    MEMORY.get_or_init(|| Memory::leak(ARENA + 64 * KIB, MIB))
}

fuzz_target!(|data: &[u8]| run(data));

/// A non-zero layout for `GlobalAlloc`, whose callers may not ask for 0 bytes.
fn global_layout(input: &mut Input) -> Layout {
    let l = input.layout();
    layout(l.size().max(1), l.align())
}

fn run(data: &[u8]) {
    let mem = memory();
    mem.fill(0xA5);
    let mut input = Input::new(data);
    let offset = input.u16() as usize;
    let base = mem.base.wrapping_add(offset);
    let arena = Span::from_base_size(base, ARENA);
    let (lo, hi) = (base as usize, base as usize + ARENA);
    let inside = move |a: usize, e: usize| lo <= a && e <= hi;

    // SAFETY: the arena is ours, unused by anything else during this run.
    let talck: Talck<Lock, ErrOnOom> = unsafe { Talc::with_arena(ErrOnOom, arena) }.lock::<Lock>();
    assert!(!talck.lock().get_arena().is_empty(), "a 1 MiB arena must be accepted");
    let alloc = talck.allocator();
    trace!("arena: buffer (1 MiB aligned) + {offset}, size {ARENA}");
    let rel = |p: *mut u8| (p as usize).wrapping_sub(lo);
    let mut model = Model::new();
    let mut ops = 0u64;

    while !input.is_empty() && (ops as usize) < MAX_OPS {
        ops += 1;
        // SAFETY (whole block): every pointer passed back to the allocator is
        // a live block of the model, with the layout the model recorded (for
        // blocks from `Allocator`, the length it returned, which fits).
        unsafe {
            match input.u8() % 12 {
                0 | 1 => {
                    let l = global_layout(&mut input);
                    let fit = fit(&*talck.lock(), l);
                    let p = talck.alloc(l);
                    trace!("GlobalAlloc::alloc({l:?}) -> +{:#x}", rel(p));
                    check_alloc_fit(fit, !p.is_null(), l, "GlobalAlloc::alloc");
                    if !p.is_null() {
                        model.add(p, l.size(), l.align(), &inside, "GlobalAlloc::alloc");
                    }
                }
                2 => {
                    let l = global_layout(&mut input);
                    let fit = fit(&*talck.lock(), l);
                    let p = talck.alloc_zeroed(l);
                    trace!("GlobalAlloc::alloc_zeroed({l:?}) -> +{:#x}", rel(p));
                    check_alloc_fit(fit, !p.is_null(), l, "GlobalAlloc::alloc_zeroed");
                    if !p.is_null() {
                        model.add_zeroed(
                            p,
                            l.size(),
                            l.align(),
                            &inside,
                            "GlobalAlloc::alloc_zeroed",
                        );
                    }
                }
                3 | 4 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let via_allocator = input.bool() || model.blocks[i].size == 0;
                    let b = model.take(i, "dealloc");
                    trace!(
                        "dealloc(block {i}: +{:#x}, {:?}) via {}",
                        rel(b.ptr),
                        b.layout(),
                        if via_allocator { "Allocator" } else { "GlobalAlloc" }
                    );
                    if via_allocator {
                        alloc.deallocate(NonNull::new_unchecked(b.ptr), b.layout());
                    } else {
                        talck.dealloc(b.ptr, b.layout());
                    }
                }
                5 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.blocks[i];
                    if b.size == 0 {
                        continue;
                    }
                    let new_size = input.size().clamp(1, max_size(b.align));
                    model.check(i, "before GlobalAlloc::realloc");
                    let new = layout(new_size, b.align);
                    let fit = fit(&*talck.lock(), new);
                    let p = talck.realloc(b.ptr, b.layout(), new_size);
                    let r = if p.is_null() { None } else { Some(p) };
                    check_resize_fit(fit, b.ptr, r, new, "GlobalAlloc::realloc");
                    trace!(
                        "GlobalAlloc::realloc(block {i}: +{:#x}, {:?}, {new_size}) -> +{:#x}",
                        rel(b.ptr),
                        b.layout(),
                        rel(p)
                    );
                    if p.is_null() {
                        assert!(
                            new_size > b.size,
                            "GlobalAlloc::realloc shrinking to {new_size} failed"
                        );
                        model.check(i, "after failed GlobalAlloc::realloc");
                    } else {
                        model.moved(i, p, new_size, &inside, "GlobalAlloc::realloc");
                    }
                }
                6 | 7 => {
                    let l = input.layout();
                    let zeroed = input.bool();
                    let fit = fit(&*talck.lock(), l);
                    let r = if zeroed { alloc.allocate_zeroed(l) } else { alloc.allocate(l) };
                    check_alloc_fit(fit, r.is_ok(), l, "Allocator::allocate");
                    trace!(
                        "Allocator::allocate(zeroed: {zeroed}, {l:?}) -> {:?}",
                        r.map(|s| rel(s.as_ptr() as *mut u8))
                    );
                    if let Ok(s) = r {
                        let len = s.len();
                        assert!(
                            len >= l.size(),
                            "Allocator::allocate({l:?}) returned only {len} bytes"
                        );
                        let p = s.as_ptr() as *mut u8;
                        if zeroed {
                            model.add_zeroed(
                                p,
                                len,
                                l.align(),
                                &inside,
                                "Allocator::allocate_zeroed",
                            );
                        } else {
                            model.add(p, len, l.align(), &inside, "Allocator::allocate");
                        }
                    }
                }
                8 | 9 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.blocks[i];
                    let mut align = if input.u8() < 192 { b.align } else { input.align() };
                    if align > b.align && avoid_known_bug("grow-align")
                        || align < b.align && avoid_known_bug("align-down")
                    {
                        align = b.align;
                    }
                    let new = layout(b.size.saturating_add(input.size()), align);
                    if new.size() < b.size {
                        continue; // a huge alignment clamped the size below the old one
                    }
                    let zeroed = input.bool();
                    model.check(i, "before Allocator::grow");
                    let old_ptr = NonNull::new_unchecked(b.ptr);
                    let fit = fit(&*talck.lock(), new);
                    let r = if zeroed {
                        alloc.grow_zeroed(old_ptr, b.layout(), new)
                    } else {
                        alloc.grow(old_ptr, b.layout(), new)
                    };
                    let got = r.as_ref().ok().map(|s| s.as_ptr() as *mut u8);
                    check_resize_fit(fit, b.ptr, got, new, "Allocator::grow");
                    trace!("Allocator::grow(zeroed: {zeroed}, block {i}: +{:#x}, {:?}, {new:?}) -> {:?}", rel(b.ptr), b.layout(), r.map(|s| rel(s.as_ptr() as *mut u8)));
                    match r {
                        Ok(s) => {
                            let len = s.len();
                            assert!(
                                len >= new.size(),
                                "Allocator::grow to {new:?} returned only {len} bytes"
                            );
                            let p = s.as_ptr() as *mut u8;
                            model.blocks[i].align = align;
                            if zeroed {
                                model.moved_zeroed(i, p, len, &inside, "Allocator::grow_zeroed");
                            } else {
                                model.moved(i, p, len, &inside, "Allocator::grow");
                            }
                        }
                        Err(_) => model.check(i, "after failed Allocator::grow"),
                    }
                }
                10 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.blocks[i];
                    let mut align = if input.u8() < 192 { b.align } else { input.align() };
                    if align > b.align && avoid_known_bug("grow-align")
                        || align < b.align && avoid_known_bug("align-down")
                    {
                        align = b.align;
                    }
                    let new = layout(b.size - input.size() % (b.size + 1), align);
                    model.check(i, "before Allocator::shrink");
                    let fit = fit(&*talck.lock(), new);
                    let r = alloc.shrink(NonNull::new_unchecked(b.ptr), b.layout(), new);
                    let got = r.as_ref().ok().map(|s| s.as_ptr() as *mut u8);
                    check_resize_fit(fit, b.ptr, got, new, "Allocator::shrink");
                    trace!(
                        "Allocator::shrink(block {i}: +{:#x}, {:?}, {new:?}) -> {:?}",
                        rel(b.ptr),
                        b.layout(),
                        r.map(|s| rel(s.as_ptr() as *mut u8))
                    );
                    match r {
                        Ok(s) => {
                            let len = s.len();
                            assert!(
                                len >= new.size(),
                                "Allocator::shrink to {new:?} returned only {len} bytes"
                            );
                            let p = s.as_ptr() as *mut u8;
                            model.blocks[i].align = align;
                            model.moved(i, p, len, &inside, "Allocator::shrink");
                        }
                        Err(_) => {
                            assert!(
                                align > b.align,
                                "Allocator::shrink to {new:?} at the same alignment failed"
                            );
                            model.check(i, "after failed Allocator::shrink");
                        }
                    }
                }
                _ => model.check_all("periodic check"),
            }
        }
        let talc = talck.lock();
        let c = talc.get_counters();
        assert_eq!(c.allocation_count, model.len(), "counters: allocation_count\n{c}");
        check_counter_consistency(c);
    }

    // SAFETY: as above.
    unsafe {
        model.check_all("final check");
        while let Some(b) = model.blocks.last().copied() {
            let b2 = model.take(model.len() - 1, "final free");
            debug_assert_eq!(b.ptr, b2.ptr);
            alloc.deallocate(NonNull::new_unchecked(b.ptr), b.layout());
        }
        let c = *talck.lock().get_counters();
        assert_eq!(c.allocation_count, 0, "counters after freeing everything\n{c}");
        let big = layout(ARENA - 16 * KIB, 8);
        let p = talck.alloc(big);
        assert!(
            !p.is_null(),
            "after freeing everything, alloc({big:?}) failed: free memory did not merge"
        );
        talck.dealloc(p, big);
    }
    count_ops(ops);
}
