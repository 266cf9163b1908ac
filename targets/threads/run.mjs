// Threaded wasm in Node: N worker_threads instantiate one module over one
// shared WebAssembly.Memory and run its `stress` export at once, all through
// one talcum `Talck<spin::Mutex<()>, WasmHandler>` (see src/lib.rs).
//
//   node run.mjs <module.wasm> [workers=4] [ops=20000] [seed=1]
//
// Each worker gets its own stack and thread-local block (allocated through
// talcum by the main instance) before it runs anything: `__stack_pointer` is
// set from JavaScript and `__wasm_init_tls` copies the TLS image. While the
// workers run, the main thread grows memory itself (foreign growth: talcum
// must never touch those pages) and fills the new pages with a pattern that
// is checked at the end. The verdict is the last line, `RESULT=0` (passed)
// or `RESULT=<reason>`; the exit status follows it.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';

const PAGE = 65536;
const STACK = 1 << 20;

if (!isMainThread) {
  const { module, memory, id, seed, ops, stackTop, tls } = workerData;
  try {
    const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
    e.__stack_pointer.value = stackTop;
    e.__wasm_init_tls(tls);
    const t0 = performance.now();
    const code = e.stress(id, seed, ops);
    parentPort.postMessage({ code, op: e.fail_op(id), ms: performance.now() - t0 });
  } catch (err) {
    parentPort.postMessage({ code: -1, error: String(err && err.stack || err) });
  }
} else {
  const [path, workersArg = '4', opsArg = '20000', seedArg = '1'] = process.argv.slice(2);
  const workers = Number(workersArg), ops = Number(opsArg), seed0 = Number(seedArg);
  const bytes = readFileSync(path);
  const module = new WebAssembly.Module(bytes);
  const limits = memoryImportLimits(bytes);
  if (!limits || !limits.shared) finish('the module does not import a shared memory');
  const memory = new WebAssembly.Memory({ initial: limits.min, maximum: limits.max, shared: true });
  const main = new WebAssembly.Instance(module, { env: { memory } }).exports;

  // Foreign pages: grown by JavaScript, filled with a pattern, checked at the end.
  const foreign = [];
  const growForeign = () => {
    const page = memory.grow(1);
    new Uint8Array(memory.buffer, page * PAGE, PAGE).set(pagePattern(page));
    foreign.push(page);
  };

  const tlsSize = Math.max(main.__tls_size.value, 16), tlsAlign = Math.max(main.__tls_align.value, 16);
  const areas = [];
  for (let i = 0; i < workers; i++) {
    const stack = main.alloc_area(STACK, 16), tls = main.alloc_area(tlsSize, tlsAlign);
    if (!stack || !tls) finish('no memory for a worker stack or TLS block');
    areas.push({ stackTop: stack + STACK, tls });
  }
  // Before the workers: memory grown by someone else, so that talcum's next
  // growth cannot extend its heap and must start a separate one.
  growForeign();
  const liveBefore = main.counter(0);
  console.log(`threads: ${workers} workers x ${ops} operations, seeds ${seed0}..${seed0 + workers - 1}; ` +
    `memory ${limits.min}..${limits.max} pages, shared; TLS ${main.__tls_size.value} B`);

  const t0 = performance.now();
  const ticker = setInterval(() => { if (foreign.length < 64) growForeign(); }, 3);
  const results = await Promise.all(areas.map((area, id) => new Promise((resolve) => {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { module, memory, id, seed: seed0 + id, ops, ...area },
    });
    w.once('message', (m) => resolve(m));
    w.once('error', (err) => resolve({ code: -1, error: String(err) }));
    w.once('exit', (c) => resolve({ code: -1, error: `worker exited (${c}) without a result` }));
  })));
  clearInterval(ticker);
  const ms = performance.now() - t0;

  const failures = [];
  results.forEach((r, id) => {
    if (r.code === 0) {
      console.log(`threads: worker ${id} ok (${r.ms.toFixed(0)} ms)`);
    } else {
      const why = r.error ?? `code ${r.code} (${['', 'null', 'misaligned', 'pattern', 'not zeroed', 'bad parcel'][r.code] ?? '?'}) at operation ${r.op}`;
      console.log(`threads: worker ${id} FAILED: ${why}`);
      failures.push(`worker ${id}`);
    }
  });
  const drained = main.drain_exchange();
  if (drained !== 0) failures.push(`exchange drain: code ${drained}`);
  const liveAfter = main.counter(0), heaps = main.counter(1);
  if (liveAfter !== liveBefore) failures.push(`live allocations ${liveBefore} before, ${liveAfter} after`);
  if (heaps < 2) failures.push(`${heaps} heap(s): talcum never grew past a foreign page`);
  const touched = foreign.filter((page) => {
    const want = pagePattern(page), have = new Uint8Array(memory.buffer, page * PAGE, PAGE);
    return have.some((b, i) => b !== want[i]);
  });
  if (touched.length) failures.push(`foreign pages written: ${touched.join(', ')}`);
  console.log(`threads: ${ms.toFixed(0)} ms; memory ${(memory.buffer.byteLength / 2 ** 20).toFixed(1)} MiB, ` +
    `${foreign.length} foreign pages (intact: ${foreign.length - touched.length}), talcum heaps ${heaps}, ` +
    `live allocations ${liveBefore} -> ${liveAfter}`);
  finish(failures.length ? failures.join('; ') : 0);
}

function finish(result) {
  console.log(`RESULT=${result}`);
  process.exit(result === 0 ? 0 : 1);
}

function pagePattern(page) {
  const p = new Uint8Array(PAGE);
  for (let i = 0; i < PAGE; i++) p[i] = (page * 131 + i * 7 + (i >> 8)) & 255;
  return p;
}

// The limits of the module's imported memory, from its import section.
function memoryImportLimits(bytes) {
  let at = 8;
  const leb = () => {
    let v = 0, shift = 0, b;
    do { b = bytes[at++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return v;
  };
  const name = () => { const n = leb(); at += n; };
  while (at < bytes.length) {
    const id = bytes[at++], size = leb(), end = at + size;
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        name(); name();
        const kind = bytes[at++];
        if (kind === 0) leb();
        else if (kind === 1) { at++; const f = bytes[at++]; leb(); if (f & 1) leb(); }
        else if (kind === 2) {
          const flags = bytes[at++], min = leb(), max = flags & 1 ? leb() : undefined;
          return { min, max, shared: (flags & 2) !== 0 };
        } else if (kind === 3) { at += 2; }
        else return null;
      }
    }
    at = end;
  }
  return null;
}
