//! talcum through the `Allocator` API on stable Rust: `allocator_api2`
//! collections in a heap of their own, with the allocator's counters.
//!
//! ```text
//! cargo run --example allocator_api --features allocator-api2,counters
//! ```
//!
//! A `Talck` over a local arena, handed to collections as a `TalckRef`
//! (`Talck::allocator()`), keeps one job's allocations apart from the rest of
//! the program: the job cannot take more than its arena, and when it is done
//! the whole arena is free again. (With the `nightly` feature the same
//! `TalckRef` works with `std`'s own `Vec::new_in` and `Box::new_in`.)

use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;
use talcum::{Counters, ErrOnOom, Span, Talc, Talck, TalckRef};

type Arena<'a> = TalckRef<'a, spin::Mutex<()>, ErrOnOom>;

/// One record of the job: a name and some samples, each in the arena.
struct Record<'a> {
    name: Vec<u8, Arena<'a>>,
    samples: Box<[u32], Arena<'a>>,
}

fn counters(talck: &Talck<spin::Mutex<()>, ErrOnOom>) -> Counters {
    *talck.lock().get_counters()
}

fn main() {
    // The arena: 256 KiB from the global allocator (any memory will do: a
    // static array, a memory-mapped region, a stack buffer).
    let mut memory = std::vec![0u8; 256 << 10].into_boxed_slice();
    let talck: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
    // SAFETY: `memory` is used by `talck` only, and outlives it (locals drop
    // in reverse order).
    let heap = unsafe { talck.lock().init(Span::from_slice_ptr(&raw mut *memory)) }
        .expect("256 KiB holds the metadata");
    let arena = talck.allocator();
    let at_start = counters(&talck);
    println!("allocator_api: a {} B heap; counters at the start:\n{at_start}\n", heap.size());

    let (live, squares_sum, name_bytes, samples_sum) = {
        // A Vec that grows by pushes: `grow` extends in place when the chunk
        // above is free, so reaching a new capacity copies nothing.
        let mut squares: Vec<u64, Arena> = Vec::new_in(arena);
        for i in 0..5_000u64 {
            squares.push(i * i);
        }
        assert!(heap.contains(squares.as_ptr().cast_mut().cast()));

        // Records, each with two allocations of its own.
        let mut records: Vec<Record, Arena> = Vec::with_capacity_in(100, arena);
        for r in 1..=100u32 {
            let mut name = Vec::new_in(arena);
            name.extend_from_slice(format!("record-{r:03}").as_bytes());
            let mut samples = Vec::with_capacity_in(r as usize * 4, arena);
            samples.extend((0..r * 4).map(|s| s ^ r));
            records.push(Record { name, samples: samples.into_boxed_slice() });
        }

        // An over-aligned value.
        #[repr(align(256))]
        struct Page([u8; 256]);
        let page = Box::new_in(Page([7; 256]), arena);
        assert_eq!(&*page as *const Page as usize % 256, 0);

        let live = counters(&talck);
        println!("while the job runs:\n{live}\n");
        assert_eq!(live.allocation_count, 1 + 1 + 2 * 100 + 1);
        // Nothing was ever moved: each time `squares` outgrew its capacity,
        // the free chunk above it was taken in place of a new allocation.
        assert_eq!(live.total_allocation_count, live.allocation_count as u64);

        // The arena is a hard limit: asking for more is an error, not an
        // abort, and leaves everything as it was.
        assert!(squares.try_reserve(heap.size()).is_err());
        assert_eq!(counters(&talck).allocation_count, live.allocation_count);

        // Shrinking gives the tail back in place.
        squares.truncate(10);
        squares.shrink_to_fit();
        assert_eq!(squares.capacity(), 10);

        assert!(page.0.iter().all(|&b| b == 7));
        let name_bytes: usize = records.iter().map(|r| r.name.len()).sum();
        let samples_sum: u64 =
            records.iter().flat_map(|r| r.samples.iter()).map(|&s| u64::from(s)).sum();
        (live, squares.iter().sum::<u64>(), name_bytes, samples_sum)
    };
    // The same figures computed without the arena.
    assert_eq!(squares_sum, (0..10u64).map(|i| i * i).sum::<u64>());
    assert_eq!(name_bytes, 100 * "record-000".len());
    let expected: u64 = (1..=100u32).flat_map(|r| (0..r * 4).map(move |s| u64::from(s ^ r))).sum();
    assert_eq!(samples_sum, expected);

    let after = counters(&talck);
    println!("after the job:\n{after}\n");
    assert_eq!(after.allocation_count, 0);
    assert_eq!(after.allocated_bytes, 0);
    assert_eq!(after.fragment_count, 1, "every freed chunk merged back into one");
    assert_eq!(after.available_bytes, at_start.available_bytes);
    // Shrinking (`shrink_to_fit`, `into_boxed_slice`) allocated nothing new.
    assert_eq!(after.total_allocation_count, live.total_allocation_count);
    println!(
        "allocator_api: job results match (squares {squares_sum}, name bytes {name_bytes}, \
         samples {samples_sum}); the heap is whole again: ok"
    );
}
