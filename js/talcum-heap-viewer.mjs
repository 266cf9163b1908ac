// talcum heap viewer: a live panel of talcum's statistics block and heap map.
// An ES module with no dependencies. Give it the wasm module's exports (with
// talcum's `stats` feature and `talcum::export_stats!`):
//
//   import { createHeapViewer } from "./talcum-heap-viewer.mjs";
//   const wasm = await init();                    // wasm-bindgen's init, or instance.exports
//   const viewer = createHeapViewer(document.body, wasm);
//
// Each animation frame it reads the block (56 bytes) straight from
// `WebAssembly.Memory`; only when the block's change counter moved does it
// call `talcum_heap_map()` and redraw.

/** The block's layout, version 1: field name -> byte offset (all u32). */
export const STATS_FIELDS = [
  "version", "size", "changes", "live_bytes", "peak_live_bytes", "free_bytes",
  "free_chunks", "largest_free", "heaps", "claimed_bytes", "pages_grown",
  "growth_steps", "failed_allocations", "live_allocations",
];
export const STATS_VERSION = 1;
const PAGE = 65536;
const STATE_NAMES = ["free", "allocated", "allocator"];
const COLOURS = { free: "#3fb950", allocated: "#388bfd", allocator: "#8b949e", none: "#21262d" };

/** Reads the statistics block at `addr` from `memory` into an object. */
export function readStats(memory, addr) {
  // A fresh view each time: growth detaches the old buffer.
  const words = new Uint32Array(memory.buffer, addr, STATS_FIELDS.length);
  if (words[0] !== STATS_VERSION) {
    throw new Error(`talcum stats block version ${words[0]}, this viewer reads ${STATS_VERSION}`);
  }
  const s = {};
  STATS_FIELDS.forEach((name, i) => { s[name] = words[i]; });
  return s;
}

/** Walks the heaps (a call into wasm) and returns [{addr, size, state}]. */
export function readHeapMap(exports) {
  const n = exports.talcum_heap_map();
  const words = new Uint32Array(exports.memory.buffer, exports.talcum_heap_map_buffer(), 2 * n);
  const chunks = new Array(n);
  for (let i = 0; i < n; i++) {
    const w = words[2 * i];
    chunks[i] = { addr: w & ~3, size: words[2 * i + 1], state: STATE_NAMES[w & 3] };
  }
  return chunks;
}

/** 1 - largest free chunk / free bytes: 0 when all free memory is one chunk. */
export function fragmentation(s) {
  return s.free_bytes === 0 ? 0 : 1 - s.largest_free / s.free_bytes;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(2)} MiB`;
}

const FIGURES = [
  ["live", "live_bytes", bytes],
  ["peak", "peak_live_bytes", bytes],
  ["free", "free_bytes", bytes],
  ["free-chunks", "free_chunks", String],
  ["largest-free", "largest_free", bytes],
  ["live-allocations", "live_allocations", String],
  ["heaps", "heaps", String],
  ["claimed", "claimed_bytes", bytes],
  ["pages-grown", "pages_grown", String],
  ["growth-steps", "growth_steps", String],
  ["failed", "failed_allocations", String],
  ["changes", "changes", String],
];

/**
 * Renders a panel into `container` and keeps it live.
 * `exports`: {memory, talcum_stats, talcum_heap_map, talcum_heap_map_buffer}.
 * Options: width (px, default 512), rowHeight (px per 64 KiB page, default 6),
 * history (timeline samples, default 240), autostart (default true).
 * Returns {update(force), start(), stop(), element, stats, chunks}.
 */
export function createHeapViewer(container, exports, options = {}) {
  const width = options.width ?? 512;
  const rowHeight = options.rowHeight ?? 6;
  const historyMax = options.history ?? 240;
  const addr = exports.talcum_stats();
  const doc = container.ownerDocument;

  const panel = doc.createElement("section");
  panel.className = "talcum-heap-viewer";
  panel.style.cssText =
    "font: 12px/1.4 system-ui, sans-serif; background: #0d1117; color: #e6edf3;" +
    `padding: 10px; border-radius: 6px; width: ${width}px; box-sizing: content-box`;
  const title = doc.createElement("div");
  title.textContent = "talcum heap";
  title.style.cssText = "font-weight: 600; margin-bottom: 6px";
  const table = doc.createElement("div");
  table.style.cssText = "display: grid; grid-template-columns: repeat(4, auto); gap: 2px 10px";
  const cells = {};
  for (const [key] of [...FIGURES, ["fragmentation"]]) {
    const label = doc.createElement("span");
    label.textContent = key.replace("-", " ");
    label.style.color = "#8b949e";
    const value = doc.createElement("span");
    value.dataset.talcum = key;
    table.append(label, value);
    cells[key] = value;
  }
  const legend = doc.createElement("div");
  legend.style.margin = "6px 0 2px";
  for (const state of ["allocated", "free", "allocator", "none"]) {
    const sw = doc.createElement("span");
    sw.style.cssText = `display:inline-block;width:10px;height:10px;margin:0 4px 0 8px;background:${COLOURS[state]}`;
    legend.append(sw, state === "none" ? "not a heap" : state);
  }
  const mapCaption = doc.createElement("div");
  mapCaption.style.color = "#8b949e";
  const map = doc.createElement("canvas");
  map.width = width;
  map.dataset.talcum = "map";
  const timelineCaption = doc.createElement("div");
  timelineCaption.textContent = "growth timeline: claimed (grey), live (blue), peak (orange), per redraw";
  timelineCaption.style.cssText = "color: #8b949e; margin-top: 6px";
  const timeline = doc.createElement("canvas");
  timeline.width = width;
  timeline.height = 80;
  timeline.dataset.talcum = "timeline";
  panel.append(title, table, legend, mapCaption, map, timelineCaption, timeline);
  container.append(panel);

  const history = [];
  let lastChanges = -1;
  let frame = 0;
  const viewer = { element: panel, stats: null, chunks: [], update, start, stop };

  function drawFigures(s) {
    for (const [key, field, fmt] of FIGURES) {
      cells[key].dataset.value = String(s[field]);
      cells[key].textContent = fmt(s[field]);
    }
    const f = fragmentation(s);
    cells.fragmentation.dataset.value = f.toFixed(4);
    cells.fragmentation.textContent = `${(f * 100).toFixed(1)} %`;
  }

  // One row per 64 KiB page, from the lowest to the highest page of a heap.
  function drawMap(chunks) {
    const ctx = map.getContext("2d");
    if (chunks.length === 0) {
      map.height = rowHeight;
      ctx.fillStyle = COLOURS.none;
      ctx.fillRect(0, 0, width, rowHeight);
      return;
    }
    const first = Math.floor(chunks[0].addr / PAGE);
    const last = chunks.reduce((m, c) => Math.max(m, Math.ceil((c.addr + c.size) / PAGE)), 0);
    const rows = last - first;
    map.height = rows * rowHeight;
    mapCaption.textContent =
      `memory map: pages ${first}..${last - 1} (one row per 64 KiB page), ${chunks.length} chunks`;
    ctx.fillStyle = COLOURS.none;
    ctx.fillRect(0, 0, width, map.height);
    const scale = width / PAGE;
    for (const c of chunks) {
      ctx.fillStyle = COLOURS[c.state];
      let at = c.addr;
      const end = c.addr + c.size;
      while (at < end) {
        const page = Math.floor(at / PAGE);
        const rowEnd = Math.min(end, (page + 1) * PAGE);
        const x = (at - page * PAGE) * scale;
        // At least a pixel, so that small chunks stay visible.
        const w = Math.max(1, (rowEnd - at) * scale);
        ctx.fillRect(x, (page - first) * rowHeight, w, rowHeight - 1);
        at = rowEnd;
      }
    }
  }

  function drawTimeline() {
    const ctx = timeline.getContext("2d");
    ctx.fillStyle = "#161b22";
    ctx.fillRect(0, 0, width, timeline.height);
    const top = Math.max(1, ...history.map((h) => h.claimed));
    const n = history.length;
    const x = (i) => (n <= 1 ? 0 : (i / (n - 1)) * (width - 1));
    const y = (v) => timeline.height - 1 - (v / top) * (timeline.height - 4);
    for (const [field, colour] of [["claimed", "#8b949e"], ["peak", "#d29922"], ["live", "#388bfd"]]) {
      ctx.strokeStyle = colour;
      ctx.beginPath();
      history.forEach((h, i) => (i ? ctx.lineTo(x(i), y(h[field])) : ctx.moveTo(x(i), y(h[field]))));
      ctx.stroke();
    }
  }

  /** Reads the block; redraws when it changed (or when `force`). */
  function update(force = false) {
    const s = readStats(exports.memory, addr);
    viewer.stats = s;
    if (!force && s.changes === lastChanges) return false;
    lastChanges = s.changes;
    history.push({ claimed: s.claimed_bytes, live: s.live_bytes, peak: s.peak_live_bytes });
    if (history.length > historyMax) history.shift();
    viewer.chunks = readHeapMap(exports);
    drawFigures(s);
    drawMap(viewer.chunks);
    drawTimeline();
    return true;
  }

  function tick() {
    update();
    frame = requestAnimationFrame(tick);
  }
  function start() {
    if (!frame) frame = requestAnimationFrame(tick);
  }
  function stop() {
    cancelAnimationFrame(frame);
    frame = 0;
  }

  update(true);
  if (options.autostart ?? true) start();
  return viewer;
}
