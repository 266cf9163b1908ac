// End-to-end test of the heap viewer in headless Chromium, through WebDriver's
// HTTP protocol (no npm dependencies): serves the page, runs the workload,
// checks that the panel shows what the statistics block and
// `Talc::get_counters()` hold at that moment, and saves a PNG of the panel.
//
// Usage: node test/e2e.mjs <pkg dir from wasm-bindgen --target web> [screenshot.png]
// Environment: CHROMEDRIVER (default /usr/bin/chromedriver), CHROME (default
// /usr/bin/chromium).

import http from "node:http";
import net from "node:net";
import fs from "node:fs/promises";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const here = path.dirname(fileURLToPath(import.meta.url));
const exampleDir = path.resolve(here, "..");
const repo = path.resolve(exampleDir, "../..");
const pkgDir = path.resolve(process.argv[2] ?? "pkg");
const screenshot = process.argv[3] ? path.resolve(process.argv[3]) : null;
const CHROMEDRIVER = process.env.CHROMEDRIVER ?? "/usr/bin/chromedriver";
const CHROME = process.env.CHROME ?? "/usr/bin/chromium";

// ---- a static server: / -> www, /pkg -> the wasm-bindgen output, /js -> js/
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
  ".wasm": "application/wasm", ".ts": "text/plain" };
function resolve(url) {
  const p = decodeURIComponent(new URL(url, "http://x").pathname);
  if (p === "/" || p === "/index.html") return path.join(exampleDir, "www/index.html");
  for (const [prefix, dir] of [["/pkg/", pkgDir], ["/js/", path.join(repo, "js")]]) {
    if (p.startsWith(prefix)) {
      const file = path.resolve(dir, p.slice(prefix.length));
      return file.startsWith(dir + path.sep) ? file : null;
    }
  }
  return null;
}
const server = http.createServer(async (req, res) => {
  const file = resolve(req.url);
  try {
    if (!file) throw new Error("not found");
    const body = await fs.readFile(file);
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    }).on("error", fail);
  });
}
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---- WebDriver over HTTP
let driverUrl;
async function wd(method, route, body) {
  const res = await fetch(driverUrl + route, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`WebDriver ${method} ${route}: ${JSON.stringify(json.value).slice(0, 500)}`);
  return json.value;
}

let driver;
let session;
let failed = 0;
const t0 = Date.now();
try {
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const site = `http://127.0.0.1:${server.address().port}/`;
  const port = await freePort();
  driver = spawn(CHROMEDRIVER, [`--port=${port}`], { stdio: ["ignore", "ignore", "inherit"] });
  driverUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await wd("GET", "/status")).ready) break;
    } catch (e) {
      if (i > 100) throw e;
    }
    await sleep(100);
  }
  session = (await wd("POST", "/session", {
    capabilities: { alwaysMatch: { browserName: "chrome", "goog:chromeOptions": {
      binary: CHROME,
      args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=700,1000", "--hide-scrollbars", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"],
    } } },
  })).sessionId;
  const exec = (script, args = []) => wd("POST", `/session/${session}/execute/sync`, { script, args });

  await wd("POST", `/session/${session}/url`, { url: site });
  for (let i = 0; !(await exec("return window.heapViewerReady === true")); i++) {
    if (i > 300) {
      throw new Error(`page not ready: ${await exec("return document.getElementById('status')?.textContent")}`);
    }
    await sleep(100);
  }

  // The workload in steps, a few frames apart (points on the timeline).
  for (let seed = 1; seed <= 6; seed++) {
    await exec(`window.heapViewer.run_workload(100, ${seed})`);
    await sleep(60);
  }
  await exec("window.heapViewer.free_every_other()");
  await sleep(60);
  // More workload, then everything read in the same turn of the page's event
  // loop: nothing can change between the panel, the block and the counters.
  const snap = await exec(`
    const h = window.heapViewer;
    h.run_workload(120, 9);
    h.viewer.update(true);
    const dom = {}, text = {};
    for (const el of document.querySelectorAll("[data-talcum]")) {
      if (el.dataset.value !== undefined) {
        dom[el.dataset.talcum] = el.dataset.value;
        text[el.dataset.talcum] = el.textContent;
      }
    }
    const c = h.viewer.chunks;
    const free = c.filter((x) => x.state === "free");
    return {
      dom, text,
      block: h.stats(),
      counters: [0, 1, 2, 3, 4, 5].map(h.counter),
      pages: h.wasm.memory.buffer.byteLength / 65536,
      initialPages: h.initialPages,
      initialStats: h.initialStats,
      map: {
        chunks: c.length,
        allocated: c.filter((x) => x.state === "allocated").length,
        free: free.length,
        freeBytes: free.reduce((s, x) => s + x.size, 0),
        largestFree: Math.max(0, ...free.map((x) => x.size)),
        bytes: c.reduce((s, x) => s + x.size, 0),
        height: document.querySelector("[data-talcum=map]").height,
      },
    };`);
  const { dom, text, block: b, counters: c, map } = snap;
  console.log("block:", JSON.stringify(b));
  console.log("panel:", JSON.stringify(text));
  const checks = [
    ["layout version 1, 56 bytes", () => { assert.equal(b.version, 1); assert.equal(b.size, 56); }],
    ["live bytes: panel = block = counters", () => {
      assert.equal(Number(dom.live), b.live_bytes);
      assert.equal(b.live_bytes, c[1]);
    }],
    ["live allocations: panel = block = counters = map", () => {
      assert.equal(Number(dom["live-allocations"]), b.live_allocations);
      assert.equal(b.live_allocations, c[0]);
      assert.equal(map.allocated, c[0]);
    }],
    ["free bytes: panel = block = counters = map", () => {
      assert.equal(Number(dom.free), b.free_bytes);
      assert.equal(b.free_bytes, c[2]);
      assert.equal(map.freeBytes, c[2]);
    }],
    ["free chunks: panel = block = counters = map", () => {
      assert.equal(Number(dom["free-chunks"]), b.free_chunks);
      assert.equal(text["free-chunks"], String(b.free_chunks));
      assert.equal(b.free_chunks, c[3]);
      assert.equal(map.free, c[3]);
      assert.ok(b.free_chunks > 1, "the workload leaves holes");
    }],
    ["heaps and claimed bytes: panel = block = counters; the map tiles the heaps", () => {
      assert.equal(Number(dom.heaps), b.heaps);
      assert.equal(b.heaps, c[4]);
      assert.equal(Number(dom.claimed), b.claimed_bytes);
      assert.equal(b.claimed_bytes, c[5]);
      assert.equal(map.bytes, c[5]);
    }],
    ["largest free chunk and fragmentation", () => {
      assert.equal(Number(dom["largest-free"]), b.largest_free);
      assert.equal(b.largest_free, map.largestFree);
      assert.equal(dom.fragmentation, (1 - b.largest_free / b.free_bytes).toFixed(4));
    }],
    ["peak: panel = block, above live after the frees", () => {
      assert.equal(Number(dom.peak), b.peak_live_bytes);
      assert.ok(b.peak_live_bytes > b.live_bytes, `peak ${b.peak_live_bytes} live ${b.live_bytes}`);
    }],
    ["growth: the pages the block counts are the pages memory grew", () => {
      assert.equal(Number(dom["pages-grown"]), b.pages_grown);
      assert.equal(Number(dom["growth-steps"]), b.growth_steps);
      assert.equal(b.pages_grown - snap.initialStats.pages_grown, snap.pages - snap.initialPages);
      assert.ok(b.growth_steps > snap.initialStats.growth_steps, "the workload grows memory");
    }],
    ["no failed allocations; change counter shown and moved", () => {
      assert.equal(Number(dom.failed), 0);
      assert.equal(Number(dom.changes), b.changes);
      assert.ok(b.changes > snap.initialStats.changes);
    }],
    ["the map has a row per page", () => assert.ok(map.height >= 6 * 2, `height ${map.height}`)],
  ];
  for (const [name, body] of checks) {
    try {
      body();
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.error(`FAIL ${name}: ${e.message}`);
    }
  }

  // The live loop: a change made without asking for a redraw shows up at
  // the next animation frames.
  await exec("window.heapViewer.run_workload(10, 3)");
  let live = false;
  for (let i = 0; i < 50 && !live; i++) {
    await sleep(50);
    live = await exec(`return document.querySelector("[data-talcum=changes]").dataset.value
      === String(window.heapViewer.stats().changes)`);
  }
  if (live) console.log("ok   the panel redraws by itself after a change");
  else { failed++; console.error("FAIL the panel did not redraw after a change"); }

  if (screenshot) {
    const el = await wd("POST", `/session/${session}/element`,
      { using: "css selector", value: ".talcum-heap-viewer" });
    const png = await wd("GET", `/session/${session}/element/${Object.values(el)[0]}/screenshot`);
    await fs.writeFile(screenshot, Buffer.from(png, "base64"));
    console.log(`screenshot: ${screenshot} (${(await fs.stat(screenshot)).size} bytes)`);
  }
} catch (e) {
  failed++;
  console.error("FAIL", e);
} finally {
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  driver?.kill();
  server.close();
}
console.log(`heap-viewer e2e: ${failed ? "FAILED" : "passed"} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exitCode = failed ? 1 : 0;
