// The speed half of `cargo size-report`: runs the bench modules in Node.
//
// Usage: node --no-liftoff --expose-gc bench.mjs CONFIG.json
//
// CONFIG: { "rounds": R, "reps": K, "cap_us": C, "batch_us": T,
//           "allocators": [{ "name": "...", "path": "x.wasm" }, ...],
//           "workloads": [{ "name": "...", "export": "bench_...", "seed": S, "n": N,
//                           "args": [...], "timed": true, "reps": K' }, ...] }
//
// Every module is raw wasm with no imports, instantiated with
// `WebAssembly.instantiate(module, {})`: no wasm-bindgen glue is measured.
// An export is called as `fn(seed, n, full, ...args)`.
//
// 1. Verification: for each workload and allocator, one run on a fresh
//    instance with every byte of every block written and verified
//    (`full = 1`). All allocators must report the same actions and the same
//    allocator calls for a workload (the same program makes the same calls).
//    The memory grown, the peak of live bytes and the bytes `realloc` moved
//    come from this run. A cell whose verification run took more than C µs
//    of CPU time is not timed (a quadratic worst case on a slow allocator).
// 2. Timing (workloads with `timed`): R rounds. In each round, each workload
//    runs for each allocator (the order rotating from round to round) on a
//    fresh instance: twice untimed (the first call grows the memory the
//    workload needs and touches its pages; the second settles the heap into
//    the state every later call starts from, and its time sets the batch
//    size B), then K timed batches (the workload's own `reps`, else the
//    config's) of B calls each, B making a batch last at least
//    `batch_us` µs of CPU time (default 10 000), so that calls of a
//    fraction of a millisecond are not timed one by one. Light touch
//    (`full = 0`): each block's first byte is written and checked. A full
//    garbage collection runs before each instance is made, so that earlier
//    instances' memory is freed during the untimed calls, not the timed ones.
//
// Output, one line each:
//   check <allocator> <workload> <actions> <calls> <grown_bytes> <peak_live_bytes> <moved_bytes> <cpu_us>
//   slow <allocator> <workload>                 (not timed: see above)
//   run <allocator> <workload> <round> <rep> <actions> <wall_us> <cpu_us> <batch>
//     (per call: the batch's times over its B calls; cpu_us: the process's
//     user + system CPU time over the batch, from
//     process.cpuUsage(): unlike wall time, it leaves out the time other
//     processes held the CPU)
//   error <allocator> <workload> <message>      (then exit status 2)

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const CODES = {
  "-1": "block contents changed while live (or a copy lost bytes)",
  "-2": "the allocator returned null",
  "-3": "a pointer lacks its requested alignment",
  "-4": "invalid layout or parameter (workload bug)",
};

function fail(alloc, workload, message) {
  console.log(`error ${alloc} ${workload} ${message.replace(/\s+/g, " ")}`);
  process.exit(2);
}

const collect = typeof globalThis.gc === "function" ? globalThis.gc : () => {};

async function instance(entry) {
  return (await WebAssembly.instantiate(entry.module, {})).exports;
}

// One call of the workload on `ex`; returns its actions and times.
function call(entry, w, ex, full) {
  const fn = ex[w.export];
  if (typeof fn !== "function") fail(entry.name, w.name, `no export ${w.export}`);
  let result;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    result = fn(w.seed, w.n, full ? 1 : 0, ...(w.args ?? []));
  } catch (e) {
    fail(entry.name, w.name, `trapped: ${e && e.message ? e.message : String(e)}`);
  }
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  if (result < 0) {
    fail(entry.name, w.name, `check failed (code ${result}: ${CODES[String(result)] ?? "unknown"})`);
  }
  return { actions: result, micros: (t1 - t0) * 1000, cpu: c1.user + c1.system };
}

async function verify(entry, w) {
  const ex = await instance(entry);
  const before = ex.memory.buffer.byteLength;
  const calls0 = ex.bench_calls();
  const moved0 = ex.bench_moved();
  ex.bench_reset_peak();
  const r = call(entry, w, ex, true);
  return {
    cpu: r.cpu,
    actions: r.actions,
    calls: (ex.bench_calls() - calls0) >>> 0,
    grown: ex.memory.buffer.byteLength - before,
    peak: ex.bench_peak() >>> 0,
    moved: Number(ex.bench_moved() - moved0),
  };
}

async function main() {
  const path = process.argv[2];
  if (!path) {
    console.error("usage: node --no-liftoff --expose-gc bench.mjs CONFIG.json");
    process.exit(1);
  }
  const cfg = JSON.parse(readFileSync(path, "utf8"));
  const entries = cfg.allocators.map((a) => ({
    name: a.name,
    module: new WebAssembly.Module(readFileSync(a.path)),
  }));

  const calls = new Map();
  const slow = new Set();
  for (const w of cfg.workloads) {
    let expected = null;
    for (const e of entries) {
      const r = await verify(e, w);
      if (expected === null) expected = { name: e.name, ...r };
      else if (r.actions !== expected.actions || r.calls !== expected.calls) {
        fail(e.name, w.name, `made ${r.actions} actions and ${r.calls} allocator calls where ` +
          `${expected.name} made ${expected.actions} and ${expected.calls}`);
      }
      console.log(`check ${e.name} ${w.name} ${r.actions} ${r.calls} ${r.grown} ${r.peak} ${r.moved} ${r.cpu}`);
      if (w.timed !== false && cfg.cap_us && r.cpu > cfg.cap_us) {
        slow.add(`${e.name} ${w.name}`);
        console.log(`slow ${e.name} ${w.name}`);
      }
    }
    calls.set(w.name, expected.calls);
  }

  const timed = cfg.workloads.filter((w) => w.timed !== false);
  for (let round = 0; round < cfg.rounds; round++) {
    for (const w of timed) {
      const reps = w.reps ?? cfg.reps;
      for (let k = 0; k < entries.length; k++) {
        const e = entries[(k + round) % entries.length];
        if (slow.has(`${e.name} ${w.name}`)) continue;
        // Earlier instances are collected first: V8 unmaps their memory on
        // helper threads, whose CPU time process.cpuUsage() counts, so this
        // must happen while the untimed calls run, not the timed ones.
        collect();
        const ex = await instance(e);
        call(e, w, ex, false);
        const settle = call(e, w, ex, false);
        const batch = Math.max(1, Math.ceil((cfg.batch_us ?? 10000) / Math.max(settle.cpu, 1)));
        for (let rep = 0; rep < reps; rep++) {
          const c0 = ex.bench_calls();
          let wall = 0;
          let cpu = 0;
          let actions = 0;
          for (let b = 0; b < batch; b++) {
            const r = call(e, w, ex, false);
            wall += r.micros;
            cpu += r.cpu;
            actions = r.actions;
          }
          if (((ex.bench_calls() - c0) >>> 0) !== batch * calls.get(w.name)) {
            fail(e.name, w.name, "made other allocator calls in the light run than in the full one");
          }
          console.log(`run ${e.name} ${w.name} ${round} ${rep} ${actions} ` +
            `${(wall / batch).toFixed(3)} ${(cpu / batch).toFixed(3)} ${batch}`);
        }
      }
    }
  }
}

main().catch((e) => {
  console.log(`error - - ${e && e.stack ? e.stack : String(e)}`);
  process.exit(2);
});
