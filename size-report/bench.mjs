// The speed and memory half of `cargo size-report`: runs the bench and
// programs modules in Node.
//
// Usage: node --no-liftoff --expose-gc bench.mjs CONFIG.json
//
// CONFIG: { "rounds": R, "reps": K, "cap_us": C, "batch_us": T, "limit_ms": L,
//           "program_limit_ms": PL, "fresh_pause_ms": P,
//           "allocators": [{ "name": "...", "path": "x.wasm", "memory": true }, ...],
//           "workloads": [{ "name": "...", "export": "bench_...", "seed": S, "n": N,
//                           "args": [...], "timed": true, "full": true, "reps": K',
//                           "fresh": false, "warm_seed": W, "everywhere": false }, ...],
//           "programs": { "runs": M,
//                         "allocators": [{ "name": "...", "path": "p.wasm" }, ...],
//                         "list": [{ "name": "...", "export": "prog_...", "seed": S, "n": N }, ...] } }
//
// Every module is raw wasm with no imports, instantiated with
// `WebAssembly.instantiate(module, {})`: no wasm-bindgen glue is measured.
// A workload export is called as `fn(seed, n, full, ...args)`, a program as
// `fn(seed, n)`.
//
// 1. Verification (the memory pass): for each workload and allocator, one
//    run on a fresh instance with every byte of every block written and
//    verified (`full = 1`; a workload with `"full": false` touches and checks
//    the first byte of each block only). Workloads that are not timed (the
//    memory patterns) are verified for the allocators with `"memory": true`
//    only (one build per allocator: the figures do not depend on the
//    profile), unless `"everywhere": true` (a check worth making on every
//    build, such as zeroed blocks on used memory). All allocators must report the same actions and allocator
//    calls for a workload (the same program makes the same calls), except
//    where an allocator returned null (a memory pattern goes on without the
//    block). Memory tracking is on in this run (`bench_track(1)`): the memory
//    grown, the `memory.grow` calls (changes of the memory size after an
//    allocator call), the peak of live bytes and the memory size at that
//    peak, the bytes `realloc` moved and the null returns come from it. A
//    cell whose verification run took more than C µs of CPU time is not
//    timed (a quadratic worst case on a slow allocator).
//    A workload with a `warm_seed` W first runs once on that instance with
//    seed W, every byte written (untimed, untracked, its result checked),
//    so that the verified call runs on memory used and freed before; the
//    figures are the verified call's alone.
//    Verification runs, and programs, run in a worker thread: a verification
//    run longer than L ms of wall time, or a program whose M runs take
//    longer than PL ms, is stopped (`stopped` line) and the worker replaced.
// 2. Programs: for each program and allocator, a fresh instance with
//    tracking on runs the program M times: the memory grown and the
//    `memory.grow` calls after the first run and after all M, the peak of
//    live bytes and the memory size at that peak in the first run. All
//    allocators must return the same checksum and make the same calls.
// 3. Timing (workloads with `timed`): R rounds. In each round, each workload
//    runs for each allocator (the order rotating from round to round) on a
//    fresh instance: twice untimed (the first call grows the memory the
//    workload needs and touches its pages; the second settles the heap into
//    the state every later call starts from, and its time sets the batch
//    size B), then K timed batches (the workload's own `reps`, else the
//    config's) of B calls each, B making a batch last at least
//    `batch_us` µs of CPU time (default 10 000), so that calls of a
//    fraction of a millisecond are not timed one by one. Light touch
//    (`full = 0`): each block's first byte is written and checked. Tracking
//    is off: the wrapper's only extra cost is one test of its flag per
//    allocator call, the same for every allocator. A full garbage collection
//    runs before each instance is made, so that earlier instances' memory is
//    freed during the untimed calls, not the timed ones.
//    A workload with `"fresh": true` is timed at first touch instead: in
//    each round, for each allocator (the order rotating), K times (its own
//    `reps`, else the config's) a brand-new instance with exactly one timed
//    call (batch 1), so that no earlier call has grown or dirtied its
//    memory. Before each instance, the earlier ones' memory must be gone:
//    otherwise V8 frees it (on helper threads, whose CPU time
//    process.cpuUsage() counts) while the next instance grows its own,
//    inside the timed call (measured: a call that ran while 64 MiB of an
//    earlier instance were freed took 20 ms, 55%, longer). So: full
//    collections P ms apart (default 5), at least two, until the process's
//    resident memory is back within 16 MiB of what it was before the
//    previous instance was made (at most 300 ms; a `note` line at the end
//    counts the times that limit was reached). In the first round, one
//    untimed call on a throwaway instance first: V8 compiles a function at
//    its first call, and the compiled code is the module's, shared by its
//    later instances (their memory is not).
//
// Output, one line each:
//   check <allocator> <workload> <actions> <calls> <grown_bytes> <peak_live_bytes> <moved_bytes> <cpu_us> <grows> <nulls> <heap_at_peak_bytes>
//     (heap at peak: the memory above __heap_base when the live bytes peaked)
//   prog <allocator> <program> <checksum> <calls> <grown_first> <grown_all> <peak_live> <heap_at_peak> <grows_first> <grows_all> <nulls> <cpu_first_us> <cpu_all_us>
//   stopped <allocator> <workload or program> <limit_ms>
//   slow <allocator> <workload>                 (not timed: see above)
//   run <allocator> <workload> <round> <rep> <actions> <wall_us> <cpu_us> <batch>
//     (per call: the batch's times over its B calls; cpu_us: the process's
//     user + system CPU time over the batch, from
//     process.cpuUsage(): unlike wall time, it leaves out the time other
//     processes held the CPU)
//   note <text>                                 (printed as is)
//   error <allocator> <workload> <message>      (then exit status 2)

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Worker, isMainThread, parentPort } from "node:worker_threads";

const CODES = {
  "-1": "block contents changed while live (or a copy lost bytes)",
  "-2": "the allocator returned null",
  "-3": "a pointer lacks its requested alignment",
  "-4": "invalid layout or parameter (workload bug)",
  "-5": "a block from alloc_zeroed did not read zero",
};

function describe(result) {
  return `code ${result}: ${CODES[String(result)] ?? "unknown"}`;
}

function fail(alloc, workload, message) {
  console.log(`error ${alloc} ${workload} ${message.replace(/\s+/g, " ")}`);
  process.exit(2);
}

const collect = typeof globalThis.gc === "function" ? globalThis.gc : () => {};

function cpuNow() {
  const c = process.cpuUsage();
  return c.user + c.system;
}

async function instance(module) {
  return (await WebAssembly.instantiate(module, {})).exports;
}

// ---- in the worker: the memory pass ----

// The heap at the live bytes' peak: the memory above __heap_base then.
function heapAtPeak(ex) {
  return Math.max(0, ex.bench_peak_pages() * 65536 - ex.bench_heap_base());
}

// One verification run of a workload on a fresh instance, tracking on.
async function verify(task) {
  collect();
  const ex = await instance(task.module);
  const fn = ex[task.export];
  if (typeof fn !== "function") throw new Error(`no export ${task.export}`);
  if (task.warmSeed != null) {
    const warm = fn(task.warmSeed, task.n, 1, ...(task.args ?? []));
    if (warm < 0) return { result: warm };
  }
  const before = ex.memory.buffer.byteLength;
  const calls0 = ex.bench_calls();
  const moved0 = ex.bench_moved();
  const nulls0 = ex.bench_nulls();
  ex.bench_reset_peak();
  ex.bench_track(1);
  const c0 = cpuNow();
  const result = fn(task.seed, task.n, task.full ? 1 : 0, ...(task.args ?? []));
  const cpu = cpuNow() - c0;
  return {
    result,
    cpu,
    calls: (ex.bench_calls() - calls0) >>> 0,
    grown: ex.memory.buffer.byteLength - before,
    peak: ex.bench_peak() >>> 0,
    moved: Number(ex.bench_moved() - moved0),
    grows: ex.bench_grows() >>> 0,
    nulls: (ex.bench_nulls() - nulls0) >>> 0,
    heap: heapAtPeak(ex),
  };
}

// A program run `runs` times on a fresh instance, tracking on.
async function program(task) {
  collect();
  const ex = await instance(task.module);
  const fn = ex[task.export];
  if (typeof fn !== "function") throw new Error(`no export ${task.export}`);
  const before = ex.memory.buffer.byteLength;
  const calls0 = ex.bench_calls();
  const nulls0 = ex.bench_nulls();
  ex.bench_reset_peak();
  ex.bench_track(1);
  let c0 = cpuNow();
  const result = fn(task.seed, task.n);
  const cpuFirst = cpuNow() - c0;
  const first = {
    calls: (ex.bench_calls() - calls0) >>> 0,
    grown: ex.memory.buffer.byteLength - before,
    peak: ex.bench_peak() >>> 0,
    heap: heapAtPeak(ex),
    grows: ex.bench_grows() >>> 0,
  };
  let again = result;
  c0 = cpuNow();
  for (let i = 1; i < task.runs && again === result; i++) again = fn(task.seed, task.n);
  const cpuAll = cpuFirst + cpuNow() - c0;
  return {
    // A later run that fails reports its error; one that returns another
    // checksum reports a content error (the programs are deterministic).
    result: again === result ? result : again < 0 ? again : -1,
    first,
    grownAll: ex.memory.buffer.byteLength - before,
    growsAll: ex.bench_grows() >>> 0,
    nulls: (ex.bench_nulls() - nulls0) >>> 0,
    cpuFirst,
    cpuAll,
  };
}

if (!isMainThread) {
  parentPort.on("message", async (task) => {
    try {
      const r = task.kind === "program" ? await program(task) : await verify(task);
      parentPort.postMessage({ ok: true, r });
    } catch (e) {
      parentPort.postMessage({ ok: false, error: `trapped: ${e && e.message ? e.message : String(e)}` });
    }
  });
}

// ---- in the main thread ----

// Runs tasks in one worker thread at a time; a task that outlives its limit
// has its worker terminated (wasm code stops at its next loop check) and
// resolves to `{ stopped: true }`.
class Runner {
  constructor() {
    this.worker = null;
  }
  run(task, limitMs) {
    if (!this.worker) this.worker = new Worker(new URL(import.meta.url));
    const w = this.worker;
    return new Promise((resolve) => {
      const done = (value) => {
        clearTimeout(timer);
        w.off("message", onMessage);
        w.off("error", onError);
        resolve(value);
      };
      const onMessage = (m) => done(m);
      const onError = (e) => {
        this.worker = null;
        done({ ok: false, error: `worker failed: ${e && e.message ? e.message : String(e)}` });
      };
      const timer = setTimeout(() => {
        this.worker = null;
        w.terminate();
        done({ stopped: true });
      }, limitMs);
      w.on("message", onMessage);
      w.on("error", onError);
      w.postMessage(task);
    });
  }
  close() {
    if (this.worker) this.worker.terminate();
    this.worker = null;
  }
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
  if (result < 0) fail(entry.name, w.name, `check failed (${describe(result)})`);
  return { actions: result, micros: (t1 - t0) * 1000, cpu: c1.user + c1.system };
}

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// First-touch settling (see the header): the resident memory when the last
// instance was about to be made, and how often settling gave up.
let settledRss = null;
let unsettled = 0;
const SETTLE_SLACK = 16 * 1048576;
const SETTLE_MAX_MS = 300;

async function settleFresh(pauseMs) {
  const t0 = performance.now();
  for (let n = 1; ; n++) {
    collect();
    await pause(pauseMs);
    if (n < 2) continue;
    if (settledRss === null || process.memoryUsage.rss() <= settledRss + SETTLE_SLACK) break;
    if (performance.now() - t0 > SETTLE_MAX_MS) {
      unsettled++;
      break;
    }
  }
  settledRss = process.memoryUsage.rss();
}

// One call on a brand-new instance; returns the call's figures and the
// allocator calls it made. The instance lives in this function's frame
// only: held in a local of firstTouch's loop instead, it outlived its
// iteration (a suspended async function's frame kept it), and settling
// waited out its limit for 118 of 540 instances.
async function freshCall(e, w) {
  const ex = await instance(e.module);
  const c0 = ex.bench_calls();
  const r = call(e, w, ex, false);
  return { ...r, calls: (ex.bench_calls() - c0) >>> 0 };
}

// First-touch timing: `reps` brand-new instances, one timed call each.
async function firstTouch(e, w, round, reps, expectedCalls, pauseMs) {
  if (round === 0) await freshCall(e, w);
  for (let rep = 0; rep < reps; rep++) {
    await settleFresh(pauseMs);
    const r = await freshCall(e, w);
    if (r.calls !== expectedCalls) {
      fail(e.name, w.name, "made other allocator calls in the light run than in the full one");
    }
    console.log(`run ${e.name} ${w.name} ${round} ${rep} ${r.actions} ` +
      `${r.micros.toFixed(3)} ${r.cpu.toFixed(3)} 1`);
  }
}

async function main() {
  const path = process.argv[2];
  if (!path) {
    console.error("usage: node --no-liftoff --expose-gc bench.mjs CONFIG.json");
    process.exit(1);
  }
  const cfg = JSON.parse(readFileSync(path, "utf8"));
  const load = (a) => ({
    name: a.name,
    memory: a.memory !== false,
    module: new WebAssembly.Module(readFileSync(a.path)),
  });
  const entries = (cfg.allocators ?? []).map(load);
  const runner = new Runner();
  const limit = cfg.limit_ms ?? 60000;
  const programLimit = cfg.program_limit_ms ?? 60000;

  const calls = new Map();
  const slow = new Set();
  for (const w of cfg.workloads ?? []) {
    let expected = null;
    for (const e of entries) {
      if (w.timed === false && !w.everywhere && !e.memory) continue;
      const task = {
        kind: "verify",
        module: e.module,
        export: w.export,
        seed: w.seed,
        n: w.n,
        full: w.full !== false,
        args: w.args ?? [],
        warmSeed: w.warm_seed ?? null,
      };
      const m = await runner.run(task, limit);
      if (m.stopped) {
        console.log(`stopped ${e.name} ${w.name} ${limit}`);
        slow.add(`${e.name} ${w.name}`);
        continue;
      }
      if (!m.ok) fail(e.name, w.name, m.error);
      const r = m.r;
      if (r.result < 0) {
        const when = task.warmSeed != null ? " (the run on used memory or its warm-up)" : "";
        fail(e.name, w.name, `check failed${when} (${describe(r.result)})`);
      }
      if (r.nulls === 0) {
        if (expected === null) expected = { name: e.name, ...r };
        else if (r.result !== expected.result || r.calls !== expected.calls) {
          fail(e.name, w.name, `made ${r.result} actions and ${r.calls} allocator calls where ` +
            `${expected.name} made ${expected.result} and ${expected.calls}`);
        }
      }
      console.log(`check ${e.name} ${w.name} ${r.result} ${r.calls} ${r.grown} ${r.peak} ` +
        `${r.moved} ${r.cpu} ${r.grows} ${r.nulls} ${r.heap}`);
      if (w.timed !== false && r.nulls > 0) {
        fail(e.name, w.name, `the allocator returned null ${r.nulls} times`);
      }
      if (w.timed !== false && cfg.cap_us && r.cpu > cfg.cap_us) {
        slow.add(`${e.name} ${w.name}`);
        console.log(`slow ${e.name} ${w.name}`);
      }
    }
    if (expected !== null) calls.set(w.name, expected.calls);
  }

  const progs = cfg.programs;
  if (progs) {
    const pentries = progs.allocators.map(load);
    for (const p of progs.list) {
      let expected = null;
      for (const e of pentries) {
        const task = { kind: "program", module: e.module, export: p.export, seed: p.seed, n: p.n, runs: progs.runs };
        const m = await runner.run(task, programLimit);
        if (m.stopped) {
          console.log(`stopped ${e.name} ${p.name} ${programLimit}`);
          continue;
        }
        if (!m.ok) fail(e.name, p.name, m.error);
        const r = m.r;
        if (r.result < 0) fail(e.name, p.name, `check failed (${describe(r.result)})`);
        if (expected === null) expected = { name: e.name, result: r.result, calls: r.first.calls };
        else if (r.result !== expected.result || r.first.calls !== expected.calls) {
          fail(e.name, p.name, `returned ${r.result} after ${r.first.calls} allocator calls where ` +
            `${expected.name} returned ${expected.result} after ${expected.calls}`);
        }
        console.log(`prog ${e.name} ${p.name} ${r.result} ${r.first.calls} ${r.first.grown} ` +
          `${r.grownAll} ${r.first.peak} ${r.first.heap} ${r.first.grows} ${r.growsAll} ` +
          `${r.nulls} ${r.cpuFirst} ${r.cpuAll}`);
      }
    }
  }
  runner.close();

  const timed = (cfg.workloads ?? []).filter((w) => w.timed !== false);
  for (let round = 0; round < (cfg.rounds ?? 0); round++) {
    for (const w of timed) {
      const reps = w.reps ?? cfg.reps;
      for (let k = 0; k < entries.length; k++) {
        const e = entries[(k + round) % entries.length];
        if (slow.has(`${e.name} ${w.name}`)) continue;
        if (w.fresh) {
          await firstTouch(e, w, round, reps, calls.get(w.name), cfg.fresh_pause_ms ?? 5);
          continue;
        }
        // Earlier instances are collected first: V8 unmaps their memory on
        // helper threads, whose CPU time process.cpuUsage() counts, so this
        // must happen while the untimed calls run, not the timed ones.
        collect();
        const ex = await instance(e.module);
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
  if (unsettled > 0) {
    console.log(`note ${unsettled} first-touch instances were made before the earlier ones' ` +
      `memory was freed (${SETTLE_MAX_MS} ms limit)`);
  }
}

if (isMainThread) {
  main().catch((e) => {
    console.log(`error - - ${e && e.stack ? e.stack : String(e)}`);
    process.exit(2);
  });
}
