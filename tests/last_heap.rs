//! `Talc::get_last_heap_acme` across claim/extend/truncate/init (review).

mod common;

use common::{Arena, Rng};
use talcum::{ErrOnOom, Span, Talc};

const SLOT: usize = 4096;
const SLOTS: usize = 16;

/// Random heap management over disjoint slots (each heap may grow within its
/// slot): the last top is always null or the acme of a live heap.
#[test]
fn the_last_top_is_always_a_live_heap_acme_or_null() {
    let mut arena = Arena::new(SLOT * SLOTS);
    let whole = arena.span();
    let slot = |i: usize| Span::from_base_size(whole.base().wrapping_add(i * SLOT), SLOT);
    for seed in 0..if common::MIRI { 2 } else { 200 } {
        let mut rng = Rng::new(seed);
        let mut talc = Talc::new(ErrOnOom);
        // heaps[i]: the heap in slot i, as last returned.
        let mut heaps: Vec<Option<Span>> = vec![None; SLOTS];
        for _ in 0..200 {
            let i = rng.range(0, SLOTS - 1);
            let s = slot(i);
            // SAFETY: every slot serves this Talc only; a heap stays in its slot.
            unsafe {
                match rng.range(0, 9) {
                    0 => {
                        let size = rng.range(0, SLOT / 2);
                        heaps = vec![None; SLOTS];
                        if let Ok(h) = talc.init(Span::from_base_size(s.base(), size)) {
                            heaps[i] = Some(h);
                        }
                    }
                    1..=3 if heaps[i].is_none() => {
                        let size = rng.range(0, SLOT / 2);
                        if let Ok(h) = talc.claim(Span::from_base_size(s.base(), size)) {
                            heaps[i] = Some(h);
                        }
                    }
                    4..=6 => {
                        if let Some(h) = heaps[i] {
                            let to = rng.range(h.base().addr() - s.base().addr(), SLOT);
                            heaps[i] = Some(talc.extend(h, Span::from_base_size(s.base(), to)));
                        }
                    }
                    _ => {
                        if let Some(h) = heaps[i] {
                            let to = if rng.chance(30) { 0 } else { rng.range(0, SLOT) };
                            let want = if to == 0 {
                                Span::empty()
                            } else {
                                Span::from_base_size(s.base(), to)
                            };
                            let t = talc.truncate(h, want);
                            heaps[i] = if t.is_empty() { None } else { Some(t) };
                        }
                    }
                }
            }
            let top = talc.get_last_heap_acme();
            assert!(
                top.is_null() || heaps.iter().flatten().any(|h| h.acme() == top),
                "seed {seed}: last top {top:p} is no heap's acme: {heaps:?}"
            );
            assert_eq!(talc.get_arena().is_empty(), heaps.iter().all(Option::is_none));
        }
    }
}

/// Extending an earlier heap does not make it the last one (as documented):
/// the last is the heap most recently added.
#[test]
fn extending_an_earlier_heap_does_not_make_it_the_last() {
    let mut arena = Arena::new(3 * SLOT);
    let whole = arena.span();
    let base = whole.base();
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: disjoint parts of an arena that serves this Talc only.
    unsafe {
        let a = talc.claim(Span::from_base_size(base, SLOT / 2)).unwrap();
        let b = talc.claim(Span::from_base_size(base.wrapping_add(2 * SLOT), SLOT)).unwrap();
        let a = talc.extend(a, Span::from_base_size(base, SLOT));
        assert_eq!(a.acme(), base.wrapping_add(SLOT));
        assert_eq!(talc.get_last_heap_acme(), b.acme(), "B was the heap most recently added");
    }
}
