//! `talc_ops`: malloc / free / grow / grow_in_place / shrink / realloc on a
//! `Talc<ErrOnOom>` over a 1 MiB arena, against the block model.
//!
//! Input layout: 3 bytes choose the arena's placement (a byte offset from a
//! 1 MiB-aligned buffer, so the arena may be misaligned, and a trim of its
//! top), then one operation per byte code with its arguments.
//!
//! The free-chunk oracles (`talcum_fuzz::fit`: `Fit::sure` from
//! `Talc::surely_fits`, `Fit::any` from `Talc::for_each_free_chunk`), read
//! just before each request: with `ErrOnOom`, `malloc` must succeed when a
//! free chunk surely fits the layout (see `Talc::malloc`'s promise: the
//! search looks at a few chunks per bin), and may succeed only when some
//! free chunk fits it; `grow`/`realloc` must succeed when one surely fits
//! the new size, and succeed without any fitting one only in place.
//!
//! Built with feature `fast`, this is the target `fast_ops`: the same
//! operations and oracles over the front end, whose held blocks count as
//! free chunks (touching ones as one: they merge before memory grows), so
//! a request fails only when neither the front end nor the core can serve
//! it.

#![no_main]

use core::ptr::NonNull;

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use talcum::{ErrOnOom, Span, Talc};
use talcum_fuzz::{
    check_alloc_fit, check_counters, check_resize_fit, count_ops, fit, layout as clamped, trace,
    Input, Memory, Model, KIB, MAX_OPS, MIB,
};

const ARENA: usize = MIB;

fn memory() -> &'static Memory {
    static MEMORY: OnceLock<Memory> = OnceLock::new();
    MEMORY.get_or_init(|| Memory::leak(ARENA + 64 * KIB, MIB))
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mem = memory();
    mem.fill(0xA5);
    let mut input = Input::new(data);
    let offset = input.u16() as usize; // 0..64 KiB, any byte alignment
    let trim = input.u8() as usize * 8;
    let base = mem.base.wrapping_add(offset);
    let arena = Span::from_base_size(base, ARENA - trim);
    let (lo, hi) = (base as usize, base as usize + arena.size());
    let inside = move |a: usize, e: usize| lo <= a && e <= hi;

    // SAFETY: the arena is ours, unused by anything else during this run.
    let mut talc = unsafe { Talc::with_arena(ErrOnOom, arena) };
    trace!("arena: buffer (1 MiB aligned) + {offset}, size {}", arena.size());
    let heap = talc.get_arena();
    assert!(!heap.is_empty(), "a 1 MiB arena must be accepted");
    assert!(
        arena.contains_span(heap),
        "arena heap {heap:?} is not inside the span given, {arena:?}"
    );
    let mut model = Model::new();
    let mut ops = 0u64;

    while !input.is_empty() && (ops as usize) < MAX_OPS {
        ops += 1;
        // SAFETY (whole block): every pointer passed back to `talc` is a live
        // block of the model with the layout the model recorded for it.
        unsafe {
            match input.u8() % 10 {
                0..=2 => {
                    let layout = input.layout();
                    let fit = fit(&talc, layout);
                    let r = talc.malloc(layout);
                    trace!(
                        "malloc({layout:?}) -> {:?} ({fit:?})",
                        r.map(|p| p.as_ptr() as usize - lo)
                    );
                    check_alloc_fit(fit, r.is_ok(), layout, "malloc");
                    match r {
                        Ok(p) => {
                            assert!(
                                layout.size() <= arena.size(),
                                "malloc({layout:?}) succeeded beyond the arena's size"
                            );
                            model.add(p.as_ptr(), layout.size(), layout.align(), &inside, "malloc");
                        }
                        Err(()) => {}
                    }
                }
                3 | 4 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.take(i, "free");
                    trace!("free(block {i}: +{:#x}, {:?})", b.addr() - lo, b.layout());
                    talc.free(NonNull::new_unchecked(b.ptr), b.layout());
                }
                5 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.blocks[i];
                    let new_size =
                        b.size.saturating_add(input.size()).min(talcum_fuzz::max_size(b.align));
                    model.check(i, "before grow");
                    let new = clamped(new_size, b.align);
                    let fit = fit(&talc, new);
                    let r = talc.grow(NonNull::new_unchecked(b.ptr), b.layout(), new_size);
                    check_resize_fit(fit, b.ptr, r.ok().map(|p| p.as_ptr()), new, "grow");
                    trace!(
                        "grow(block {i}: +{:#x}, {:?}, {new_size}) -> {:?}",
                        b.addr() - lo,
                        b.layout(),
                        r.map(|p| p.as_ptr() as usize - lo)
                    );
                    match r {
                        Ok(p) => model.moved(i, p.as_ptr(), new_size, &inside, "grow"),
                        Err(()) => {
                            assert!(new_size > b.size, "grow to the same size {new_size} failed");
                            model.check(i, "after failed grow");
                        }
                    }
                }
                6 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.blocks[i];
                    let new_size =
                        b.size.saturating_add(input.size()).min(talcum_fuzz::max_size(b.align));
                    let r = talc.grow_in_place(NonNull::new_unchecked(b.ptr), b.layout(), new_size);
                    trace!(
                        "grow_in_place(block {i}: +{:#x}, {:?}, {new_size}) -> {:?}",
                        b.addr() - lo,
                        b.layout(),
                        r.map(|p| p.as_ptr() as usize - lo)
                    );
                    match r {
                        Ok(p) => {
                            assert_eq!(p.as_ptr(), b.ptr, "grow_in_place moved the block");
                            model.moved(i, p.as_ptr(), new_size, &inside, "grow_in_place");
                        }
                        Err(()) => {
                            assert!(
                                new_size > b.size,
                                "grow_in_place to the same size {new_size} failed"
                            );
                            model.check(i, "after failed grow_in_place");
                        }
                    }
                }
                7 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.blocks[i];
                    let new_size =
                        if input.bool() { 0 } else { b.size - input.size() % (b.size + 1) };
                    model.check(i, "before shrink");
                    trace!(
                        "shrink(block {i}: +{:#x}, {:?}, {new_size})",
                        b.addr() - lo,
                        b.layout()
                    );
                    talc.shrink(NonNull::new_unchecked(b.ptr), b.layout(), new_size);
                    model.moved(i, b.ptr, new_size, &inside, "shrink");
                }
                8 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.blocks[i];
                    let new_size = input.size().min(talcum_fuzz::max_size(b.align));
                    model.check(i, "before realloc");
                    let new = clamped(new_size, b.align);
                    let fit = fit(&talc, new);
                    let r = talc.realloc(NonNull::new_unchecked(b.ptr), b.layout(), new_size);
                    check_resize_fit(fit, b.ptr, r.ok().map(|p| p.as_ptr()), new, "realloc");
                    trace!(
                        "realloc(block {i}: +{:#x}, {:?}, {new_size}) -> {:?}",
                        b.addr() - lo,
                        b.layout(),
                        r.map(|p| p.as_ptr() as usize - lo)
                    );
                    match r {
                        Ok(p) => {
                            if new_size <= b.size {
                                assert_eq!(p.as_ptr(), b.ptr, "realloc moved a block it shrank");
                            }
                            model.moved(i, p.as_ptr(), new_size, &inside, "realloc")
                        }
                        Err(()) => {
                            assert!(new_size > b.size, "realloc shrinking to {new_size} failed");
                            model.check(i, "after failed realloc");
                        }
                    }
                }
                _ => {
                    model.check_all("periodic check");
                    let allocatable = talc.get_allocatable_span();
                    for b in &model.blocks {
                        assert!(
                            allocatable.contains(b.ptr),
                            "block {:p} outside get_allocatable_span {allocatable:?}",
                            b.ptr
                        );
                    }
                }
            }
        }
        check_counters(talc.get_counters(), &model, Some((1, talc.get_arena().size())));
    }

    // Everything still live must be intact; free it all, and then the arena
    // must have merged back into one free chunk: a request for nearly all of
    // it must succeed.
    // SAFETY: as above.
    unsafe {
        model.check_all("final check");
        while !model.is_empty() {
            let i = model.len() - 1;
            let b = model.take(i, "final free");
            talc.free(NonNull::new_unchecked(b.ptr), b.layout());
        }
        check_counters(talc.get_counters(), &model, Some((1, talc.get_arena().size())));
        let big = talcum_fuzz::layout(arena.size() - 16 * KIB, 8);
        match talc.malloc(big) {
            Ok(p) => {
                let a = p.as_ptr() as usize;
                assert!(inside(a, a + big.size()), "big block {p:p} outside the arena");
                talc.free(p, big);
            }
            Err(()) => panic!(
                "after freeing everything, malloc({big:?}) failed: free memory did not merge"
            ),
        }
    }
    count_ops(ops);
}
