//! With `checks`, a fault found inside a global `Talck` does not hang when
//! the panic frees a block allocated before the fault: while the fault flag
//! is raised, `dealloc` leaks the block instead of taking the lock that the
//! failing call (on the same thread) holds. (Found by review: `dealloc` used
//! to look only at the reserve, then spun on the lock forever.)
//!
//! A panic hook that keeps the last message (a common pattern) does exactly
//! this: replacing the previous message frees it. A watchdog aborts the
//! process after 20 s, so a hang fails the run instead of stalling it.
// Not under Miri: a global allocator that writes into a block as it frees
// it trips Miri's Box protectors (a known false positive: rust-lang/miri#2104),
// also in the test harness's own allocations.
#![cfg(all(feature = "checks", not(miri)))]

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use talcum::{InitOnOom, Span, Talc, Talck};

static mut ARENA: [u8; 8 << 20] = [0; 8 << 20];

#[global_allocator]
static ALLOC: Talck<spin::Mutex<()>, InitOnOom> =
    // SAFETY: the arena serves this allocator only.
    Talc::new(unsafe { InitOnOom::new(Span::from_array(&raw mut ARENA)) }).lock();

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static DONE: AtomicBool = AtomicBool::new(false);
static READY: AtomicBool = AtomicBool::new(false);

#[test]
fn a_panic_hook_that_frees_an_old_block_hangs() {
    *LAST_PANIC.lock().unwrap() = Some(String::from("no panic yet: a block from the arena"));
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        // Frees the previous message: a block allocated before the fault.
        let _old = LAST_PANIC.lock().unwrap().replace(msg);
    }));
    std::thread::spawn(|| {
        // Running: the thread's start-up allocations are behind it.
        READY.store(true, Ordering::SeqCst);
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(100));
            if DONE.load(Ordering::SeqCst) {
                return;
            }
        }
        // Nothing that allocates: the allocator is what hangs.
        #[cfg(unix)]
        {
            use std::io::Write;
            use std::os::fd::FromRawFd;
            // SAFETY: fd 2 is stderr; the process aborts right after.
            let mut stderr = unsafe { std::fs::File::from_raw_fd(2) };
            let _ =
                stderr.write_all(b"review: a fault whose panic frees an old block hung for 20 s\n");
        }
        std::process::abort();
    });
    while !READY.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let l = Layout::new::<[u64; 16]>();
    // SAFETY: a fresh block, freed once...
    let p = unsafe { ALLOC.alloc(l) };
    assert!(!p.is_null());
    // SAFETY: ...as the contract asks...
    unsafe { ALLOC.dealloc(p, l) };
    // SAFETY: ...and once more: the fault that `checks` reports.
    let r = std::panic::catch_unwind(|| unsafe { ALLOC.dealloc(p, l) });
    DONE.store(true, Ordering::SeqCst);
    let _ = std::panic::take_hook();
    assert!(r.is_err());
    let msg = LAST_PANIC.lock().unwrap().clone().unwrap_or_default();
    assert!(msg.contains("double free"), "{msg}");
}
