//! talcum as the global allocator of a native program: a [`Talck`] (a
//! `Talc` behind a spin lock) over a static array. Every allocation of the
//! program, std's own included, comes out of `ARENA`.
//!
//! ```text
//! cargo run --example native_global
//! cargo run --example native_global --features counters   # also prints counters
//! ```
//!
//! The same works in a `no_std` binary (a kernel, firmware): the allocator
//! needs nothing but the memory it is given and a lock.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::thread;

use talcum::{ErrOnOom, InitOnOom, Span, Talc, Talck};

/// The heap: 16 MiB in the program's zero-initialised data (`.bss`).
const ARENA_SIZE: usize = 16 << 20;
static mut ARENA: [u8; ARENA_SIZE] = [0; ARENA_SIZE];

/// `InitOnOom` claims the arena on the first allocation, so no code has to
/// run before `main` (std allocates before it, too).
#[global_allocator]
static ALLOC: Talck<spin::Mutex<()>, InitOnOom> =
    // SAFETY: ARENA is used by the allocator only, for the whole program.
    Talc::new(unsafe { InitOnOom::new(Span::from_array(&raw mut ARENA)) }).lock();

// The alternative, when the program has a point where it sets things up
// before anything allocates (typical of `no_std` firmware):
//
//     #[global_allocator]
//     static ALLOC: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
//
//     fn init_heap() {
//         // SAFETY: ARENA is used by the allocator only, for the whole program.
//         unsafe { ALLOC.lock().init(Span::from_array(&raw mut ARENA)).unwrap() };
//     }
//
// `err_on_oom` below shows that handler on a second, local allocator.

const WORDS: usize = 100_000;
const BIG: usize = ARENA_SIZE - (2 << 20);
const THREADS: usize = 4;

/// xorshift64: a small reproducible source of words.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `count` words of two or three syllables, separated by spaces, built by
/// pushing onto one `String` (which reallocates as it grows).
fn corpus(count: usize) -> String {
    const SYLLABLES: [&str; 8] = ["ta", "lc", "um", "ko", "ri", "sen", "a", "bo"];
    let mut rng = Rng(0x7a1c_5eed);
    let mut text = String::new();
    for i in 0..count {
        if i > 0 {
            text.push(' ');
        }
        let syllables = 2 + (rng.next() % 2) as usize;
        for _ in 0..syllables {
            text.push_str(SYLLABLES[(rng.next() % 8) as usize]);
        }
    }
    text
}

fn count_words(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for word in text.split(' ') {
        *counts.entry(word.to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Splits `text` into `parts` pieces at spaces.
fn split_at_spaces(text: &str, parts: usize) -> Vec<(usize, usize)> {
    let mut ranges = Vec::with_capacity(parts);
    let mut start = 0;
    for part in 1..=parts {
        let mut end = text.len() * part / parts;
        while end < text.len() && text.as_bytes()[end] != b' ' {
            end += 1;
        }
        ranges.push((start, end));
        start = (end + 1).min(text.len());
    }
    ranges
}

fn in_arena<T: ?Sized>(ptr: *const T) -> bool {
    Span::from_array(&raw mut ARENA).contains(ptr.cast::<u8>().cast_mut())
}

/// `ErrOnOom` with an explicit `init`: a second allocator over a buffer that
/// the global allocator handed out. When the buffer is full, allocation
/// returns null instead of growing anything; freeing makes room again.
fn err_on_oom() -> usize {
    let mut buffer = vec![0u8; 64 << 10].into_boxed_slice();
    let local: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
    // SAFETY: the buffer is used by `local` only, and outlives it (locals
    // drop in reverse order).
    let heap = unsafe { local.lock().init(Span::from_slice_ptr(&raw mut *buffer)) }
        .expect("64 KiB is enough");
    let layout = Layout::new::<[u8; 1024]>();
    let mut blocks = Vec::new();
    loop {
        // SAFETY: `layout` has a non-zero size.
        let block = unsafe { local.alloc(layout) };
        if block.is_null() {
            break;
        }
        blocks.push(block);
    }
    let fitted = blocks.len();
    assert!(fitted > 0 && fitted * layout.size() <= heap.size());
    for block in blocks {
        // SAFETY: each block is live and was allocated with `layout`.
        unsafe { local.dealloc(block, layout) };
    }
    // SAFETY: as above; everything was freed, so the big block fits again.
    unsafe {
        let big = Layout::from_size_align(fitted * layout.size(), 8).unwrap();
        let block = local.alloc(big);
        assert!(!block.is_null(), "freed blocks merge back into one");
        local.dealloc(block, big);
    }
    fitted
}

fn main() {
    // 1. A text of WORDS words, in the arena.
    let text = Arc::new(corpus(WORDS));
    assert!(in_arena(text.as_ptr()), "the String's buffer comes from ARENA");

    // 2. Word counts: THREADS threads, each filling its own HashMap through
    //    the shared allocator, merged into one ordered map.
    let workers: Vec<_> = split_at_spaces(&text, THREADS)
        .into_iter()
        .map(|(start, end)| {
            let text = Arc::clone(&text);
            thread::spawn(move || count_words(&text[start..end]))
        })
        .collect();
    let mut merged: BTreeMap<String, usize> = BTreeMap::new();
    for worker in workers {
        for (word, n) in worker.join().expect("worker panicked") {
            *merged.entry(word).or_insert(0) += n;
        }
    }
    let sequential: BTreeMap<String, usize> = count_words(&text).into_iter().collect();
    assert_eq!(merged, sequential, "the threads counted what one thread counts");
    assert_eq!(merged.values().sum::<usize>(), WORDS);
    let (top_word, top_count) = merged
        .iter()
        .max_by_key(|&(w, n)| (*n, std::cmp::Reverse(w)))
        .map(|(w, n)| (w.clone(), *n))
        .unwrap();

    // 3. Sorting and deduplicating numbers: a large Vec, grown by pushes.
    let mut rng = Rng(42);
    let mut numbers: Vec<u64> = (0..200_000).map(|_| rng.next() % 50_000).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]));
    numbers.shrink_to_fit();
    assert!(in_arena(numbers.as_ptr()));

    // 4. ErrOnOom on a local allocator.
    let fitted = err_on_oom();

    let distinct = merged.len();
    let unique_numbers = numbers.len();
    drop((merged, sequential, numbers));
    let text_len = text.len();
    drop(text);

    // 5. Memory comes back. The text (1 MiB of capacity) and the numbers
    //    (1.6 MB) were live together, so a block of all but 2 MiB of the
    //    arena needs memory they used: it fits only if their freed chunks
    //    merged back with the free space around them.
    let mut big: Vec<u8> = Vec::new();
    big.try_reserve_exact(BIG).expect("freed memory merges back");
    assert!(in_arena(big.as_ptr()));
    drop(big);

    println!(
        "native_global: talcum is the global allocator over a {} MiB static arena",
        ARENA_SIZE >> 20
    );
    println!("  text:       {WORDS} words, {text_len} bytes, built by one growing String");
    println!("  word count: {THREADS} threads agree with one: {distinct} distinct words, most frequent {top_word:?} x{top_count}");
    println!("  numbers:    200000 sorted and deduplicated to {unique_numbers}");
    println!("  ErrOnOom:   {fitted} blocks of 1 KiB fit a 64 KiB local heap, then null; all fit again after freeing");
    println!("  afterwards: with the work freed, one {} MiB block fits", BIG >> 20);
    #[cfg(feature = "counters")]
    {
        // Copied out first: printing allocates, and the lock is not reentrant.
        let counters = *ALLOC.lock().get_counters();
        println!("counters of the global allocator:\n{counters}");
    }
    println!("native_global: ok");
}
