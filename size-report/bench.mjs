// The speed half of `cargo size-report`: times the bench modules in Node.
//
// Usage: node bench.mjs CONFIG.json
//
// CONFIG: { "runs": R,
//           "allocators": [{ "name": "...", "path": "x.wasm" }, ...],
//           "workloads": [{ "name": "...", "export": "bench_...", "seed": S, "n": N }, ...] }
//
// Every module is raw wasm with no imports, instantiated with
// `WebAssembly.instantiate(module, {})`: no wasm-bindgen glue is measured.
// First, for each workload and allocator, one run on a fresh instance with
// every byte of every block written and verified (`full = 1`); it also
// warms the engine. All allocators must report the same action count for a
// workload (the same program makes the same calls). Then R timed rounds:
// in each round, each workload runs once per allocator, each on a fresh
// instance, the allocator order rotating from round to round.
//
// Output, one line each:
//   check <allocator> <workload> <actions>
//   run <allocator> <workload> <round> <actions> <wall_us> <cpu_us> <grown_bytes>
//     (cpu_us: the process's user + system CPU time over the call, from
//     process.cpuUsage(): unlike wall time, it leaves out the time other
//     processes held the CPU)
//   error <allocator> <workload> <message>      (then exit status 2)

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const CODES = {
  "-1": "block contents changed while live (or a copy lost bytes)",
  "-2": "the allocator returned null",
  "-3": "a pointer lacks its requested alignment",
  "-4": "invalid layout (workload bug)",
};

function fail(alloc, workload, message) {
  console.log(`error ${alloc} ${workload} ${message.replace(/\s+/g, " ")}`);
  process.exit(2);
}

async function runOnce(entry, w, full) {
  const instance = await WebAssembly.instantiate(entry.module, {});
  const ex = instance.exports;
  const fn = ex[w.export];
  if (typeof fn !== "function") fail(entry.name, w.name, `no export ${w.export}`);
  const before = ex.memory.buffer.byteLength;
  let result;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    result = fn(w.seed, w.n, full ? 1 : 0);
  } catch (e) {
    fail(entry.name, w.name, `trapped: ${e && e.message ? e.message : String(e)}`);
  }
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  if (result < 0) {
    fail(entry.name, w.name, `check failed (code ${result}: ${CODES[String(result)] ?? "unknown"})`);
  }
  return {
    actions: result,
    micros: (t1 - t0) * 1000,
    cpu: c1.user + c1.system,
    grown: ex.memory.buffer.byteLength - before,
  };
}

async function main() {
  const path = process.argv[2];
  if (!path) {
    console.error("usage: node bench.mjs CONFIG.json");
    process.exit(1);
  }
  const cfg = JSON.parse(readFileSync(path, "utf8"));
  const entries = cfg.allocators.map((a) => ({
    name: a.name,
    module: new WebAssembly.Module(readFileSync(a.path)),
  }));

  for (const w of cfg.workloads) {
    let expected = null;
    for (const e of entries) {
      const r = await runOnce(e, w, true);
      if (expected === null) expected = { name: e.name, actions: r.actions };
      else if (r.actions !== expected.actions) {
        fail(e.name, w.name, `made ${r.actions} actions where ${expected.name} made ${expected.actions}`);
      }
      console.log(`check ${e.name} ${w.name} ${r.actions}`);
    }
  }

  for (let round = 0; round < cfg.runs; round++) {
    for (const w of cfg.workloads) {
      for (let k = 0; k < entries.length; k++) {
        const e = entries[(k + round) % entries.length];
        const r = await runOnce(e, w, false);
        console.log(`run ${e.name} ${w.name} ${round} ${r.actions} ${r.micros.toFixed(3)} ${r.cpu} ${r.grown}`);
      }
    }
  }
}

main().catch((e) => {
  console.log(`error - - ${e && e.stack ? e.stack : String(e)}`);
  process.exit(2);
});
