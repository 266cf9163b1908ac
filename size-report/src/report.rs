//! The Markdown report and the SVG chart.

use crate::speed::{Cell, Group, Speeds, Table, Workload};
use crate::variants::{Profile, Variant, BASELINE, DLMALLOC_CRATE, FLOOR, VARIANTS};
use std::fmt::Write;

/// A module's size before and after wasm-opt.
#[derive(Clone, Copy)]
pub struct Sizes {
    pub raw: u64,
    pub opt: u64,
}

/// One allocator's sizes (absent when its build was skipped).
pub struct SizeRow {
    pub variant: &'static Variant,
    pub version: Option<String>,
    pub minimal: Option<Sizes>,
    pub app: Option<Sizes>,
}

/// A function's size, its share of the module, and its name.
pub type FunctionSize = (u64, String, String);

/// Everything the report says.
pub struct Report {
    pub header: Vec<String>,
    pub sizes: Vec<SizeRow>,
    pub budget_line: Option<String>,
    /// twiggy's largest functions: (bytes, share of the module, name).
    pub largest: Option<(String, Vec<FunctionSize>)>,
    pub speed: Option<SpeedRun>,
    pub notes: Vec<String>,
}

/// The speed and memory half of a report.
pub struct SpeedRun {
    pub speeds: Speeds,
    pub rounds: usize,
    pub reps: usize,
    pub cap_us: u64,
    pub batch_us: u64,
    pub workloads: Vec<&'static Workload>,
    /// Why the figures were taken on a busy machine, if they were.
    pub busy: Option<String>,
}

impl Report {
    fn baseline(&self) -> (Option<u64>, Option<u64>) {
        let row = self.sizes.iter().find(|r| r.variant.name == BASELINE);
        (row.and_then(|r| r.minimal.map(|s| s.opt)), row.and_then(|r| r.app.map(|s| s.opt)))
    }

    /// `name`'s minimal-module bytes over the baseline.
    pub fn minimal_over(&self, name: &str) -> Option<i64> {
        let base = self.baseline().0?;
        let row = self.sizes.iter().find(|r| r.variant.name == name)?;
        Some(row.minimal?.opt as i64 - base as i64)
    }
}

fn over(s: Option<Sizes>, base: Option<u64>) -> String {
    match (s, base) {
        (Some(s), Some(b)) => format!("{}", s.opt as i64 - b as i64),
        _ => "—".into(),
    }
}

fn raw(s: Option<Sizes>) -> String {
    s.map_or("—".into(), |s| s.raw.to_string())
}

fn opt(s: Option<Sizes>) -> String {
    s.map_or("—".into(), |s| s.opt.to_string())
}

fn label(v: &Variant) -> String {
    if v.talcum {
        format!("**{}**", v.name)
    } else if v.name == FLOOR {
        "*floor* (harness only)".to_string()
    } else {
        v.name.to_string()
    }
}

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# talcum: WebAssembly size and speed\n");
    for line in &r.header {
        let _ = writeln!(md, "{line}");
    }
    md.push('\n');

    let (base_min, base_app) = r.baseline();
    let _ = writeln!(md, "## Size (bytes)\n");
    let _ = writeln!(
        md,
        "`minimal` exports only `alloc`, `dealloc` and `realloc`: the allocator's own cost. \
         `app` uses `Vec`, `String`, `BTreeMap` and `format!`. *raw*: as rustc wrote it \
         (with its name section); *-Oz*: after `wasm-opt -Oz`; *over*: -Oz bytes minus the \
         null allocator's.\n"
    );
    let _ = writeln!(
        md,
        "| allocator | setup | minimal raw | minimal -Oz | minimal over | app raw | app -Oz | app over |"
    );
    let _ = writeln!(md, "|---|---|--:|--:|--:|--:|--:|--:|");
    for row in &r.sizes {
        let setup = match &row.version {
            Some(v) => format!("{} ({v})", row.variant.setup),
            None => row.variant.setup.to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            label(row.variant),
            cell(&setup),
            raw(row.minimal),
            opt(row.minimal),
            over(row.minimal, base_min),
            raw(row.app),
            opt(row.app),
            over(row.app, base_app),
        );
    }
    if let Some(line) = &r.budget_line {
        let _ = writeln!(md, "\n{line}");
    }

    if let Some((about, rows)) = &r.largest {
        let _ = writeln!(md, "\n## talcum's largest functions\n\n{about}\n");
        let _ = writeln!(md, "| bytes | share | function |");
        let _ = writeln!(md, "|--:|--:|---|");
        for (bytes, share, name) in rows {
            let _ = writeln!(md, "| {bytes} | {share} | `{}` |", cell(name));
        }
    }

    if let Some(run) = &r.speed {
        speed_sections(&mut md, r, run);
    }

    if !r.notes.is_empty() {
        let _ = writeln!(md, "\n## Notes\n");
        for n in &r.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    md
}

/// The variants present in a table, in the report's order.
fn rows_of(table: &Table) -> Vec<&'static Variant> {
    VARIANTS.iter().filter(|v| table.contains_key(v.name)).collect()
}

fn cell_of<'a>(table: &'a Table, alloc: &str, w: &Workload) -> Option<&'a Cell> {
    table.get(alloc)?.get(w.name)
}

/// Nanoseconds per allocator call over the floor's.
fn over_floor(table: &Table, alloc: &str, w: &Workload) -> Option<f64> {
    let c = cell_of(table, alloc, w)?;
    let floor = cell_of(table, FLOOR, w)?;
    Some(c.ns_per_call()? - floor.ns_per_call()?)
}

/// The ratio of an allocator's time to dlmalloc's (the crate).
fn to_dlmalloc(table: &Table, alloc: &str, w: &Workload) -> Option<f64> {
    let c = cell_of(table, alloc, w)?.time.as_ref()?;
    let d = cell_of(table, DLMALLOC_CRATE, w)?.time.as_ref()?;
    (d.median_us > 0.0).then(|| c.median_us / d.median_us)
}

fn ns(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A table of `rows` by `cols`. `value` gives a cell's number (compared for
/// the best, the floor left out) and text; a workload that is timed but has
/// no timing for the allocator reads "not timed", with the CPU time of its
/// verification run.
fn grid(
    md: &mut String,
    rows: &[&'static Variant],
    cols: &[&Workload],
    table: &Table,
    high_is_good: Option<bool>,
    value: impl Fn(&str, &Workload) -> Option<(f64, String)>,
) {
    let _ = write!(md, "| allocator |");
    for w in cols {
        let _ = write!(md, " {} |", w.name);
    }
    let _ = write!(md, "\n|---|");
    for _ in cols {
        let _ = write!(md, "--:|");
    }
    md.push('\n');
    let best: Vec<Option<f64>> = cols
        .iter()
        .map(|w| {
            let vals = rows
                .iter()
                .filter(|v| v.name != FLOOR)
                .filter_map(|v| value(v.name, w).map(|(x, _)| x));
            match high_is_good {
                Some(true) => vals.max_by(f64::total_cmp),
                Some(false) => vals.min_by(f64::total_cmp),
                None => None,
            }
        })
        .collect();
    for v in rows {
        let _ = write!(md, "| {} |", label(v));
        for (w, best) in cols.iter().zip(&best) {
            match value(v.name, w) {
                Some((x, text)) if v.name != FLOOR && Some(x) == *best => {
                    let _ = write!(md, " **{text}** |");
                }
                Some((_, text)) => {
                    let _ = write!(md, " {text} |");
                }
                None => {
                    let text = match cell_of(table, v.name, w) {
                        Some(c) if c.time.is_none() && w.timed() => {
                            format!("not timed ({:.1} s verified)", c.verify_us / 1e6)
                        }
                        _ => "—".to_string(),
                    };
                    let _ = write!(md, " {text} |");
                }
            }
        }
        md.push('\n');
    }
}

/// How wall-clock time compared with CPU time over a profile's cells, and
/// the median spread.
fn wall_note(speeds: &Speeds) -> (f64, f64) {
    let cells = || speeds.values().flat_map(|t| t.values()).flat_map(|m| m.values());
    let times = || cells().filter_map(|c| c.time.as_ref());
    let (wall, cpu) = times().fold((0.0, 0.0), |(w, c), t| (w + t.median_wall_us, c + t.median_us));
    let spread = crate::speed::median(times().filter_map(|t| t.spread));
    (if cpu > 0.0 { wall / cpu } else { 0.0 }, spread)
}

fn speed_sections(md: &mut String, r: &Report, run: &SpeedRun) {
    let node = r.header.iter().find_map(|h| h.strip_prefix("- Node: ")).unwrap_or("");
    let (wall_ratio, spread) = wall_note(&run.speeds);
    let _ = writeln!(md, "\n## Speed\n");
    if let Some(busy) = &run.busy {
        let _ = writeln!(
            md,
            "> **Taken on a busy machine** ({busy}). CPU time leaves out the time other \
             processes held the processors, but not what they did to the caches: read these \
             figures as a preview, and small differences as noise.\n"
        );
    }
    let _ = writeln!(
        md,
        "Each workload is Rust code inside the bench module (the same code for every \
         allocator), exported and called from Node {node} on raw wasm \
         (`WebAssembly.instantiate(module, {{}})`, no wasm-bindgen), `node --no-liftoff`. \
         Bench modules are built twice: at opt-level 3 (what wasm-pack ships by default: fat \
         LTO, one codegen unit) and at opt-level \"z\" (the size profile above); neither goes \
         through wasm-opt.\n\n\
         First every allocator runs every workload once on a fresh instance with every byte \
         of every block written and verified: a changed byte, a misaligned or null pointer, \
         a trap, or a different count of actions or allocator calls aborts the report. The \
         memory figures come from this run. Then {rounds} rounds: in each, every allocator \
         runs each timed workload on a fresh instance, twice untimed (the first call grows \
         the memory the workload needs, the second settles the heap into the state later \
         calls start from), then {reps} timed batches of calls, each batch as many calls as \
         make at least {batch:.0} ms; the allocators' order rotates from round to round. \
         Timed calls touch only the first byte of each block. Each call is timed in the \
         process's CPU time (`process.cpuUsage()`, user + system), so that other processes \
         do not count; the wall-clock medians added up to {wall_ratio:.2}× the CPU-time \
         ones. A cell is the median over the rounds of each round's median batch, per call; \
         its spread is the interquartile range of those round figures over their median \
         ({spread:.1}% over all cells; per cell below; none with fewer than 4 rounds). Cells \
         whose verification run took over {cap:.1} s of CPU are not timed.\n\n\
         The *floor* (`size-report/module/src/floor.rs`) is a bump allocator with \
         power-of-two free lists and no headers: about the least work that serves the \
         workloads, so its time is the harness's own. *Over the floor* is an allocator's \
         time minus the floor's, per allocator call: the allocator's own cost, cache effects \
         included (so it can come out below zero).\n",
        rounds = run.rounds,
        reps = run.reps,
        spread = spread * 100.0,
        cap = run.cap_us as f64 / 1e6,
        batch = run.batch_us as f64 / 1e3,
    );
    for (group, title) in [
        (Group::Main, "Everyday workloads"),
        (Group::Worst, "Worst cases for a binned allocator (issue 12)"),
        (Group::Memory, "Memory patterns (issue 14; verified, not timed)"),
    ] {
        let ws: Vec<_> = run.workloads.iter().filter(|w| w.group == group).collect();
        if ws.is_empty() {
            continue;
        }
        let _ = writeln!(md, "{title}:\n");
        for w in ws {
            let _ = writeln!(md, "- **{}** ({}): {}.", w.name, w.unit, w.about);
        }
        md.push('\n');
    }

    let main: Vec<&Workload> =
        run.workloads.iter().copied().filter(|w| w.group == Group::Main).collect();
    let worst: Vec<&Workload> =
        run.workloads.iter().copied().filter(|w| w.group == Group::Worst).collect();
    let timed: Vec<&Workload> = run.workloads.iter().copied().filter(|w| w.timed()).collect();
    let per_call: Vec<&Workload> = timed.iter().copied().filter(|w| w.name != "vec").collect();
    for profile in Profile::ALL {
        let Some(table) = run.speeds.get(&profile) else {
            continue;
        };
        let rows = rows_of(table);
        let suffix = if profile == Profile::O3 { " (wasm-pack's default)" } else { "" };
        let _ = writeln!(md, "### {}{suffix}\n", profile.label());
        if !main.is_empty() {
            let _ = writeln!(md, "Actions per µs (higher is better; best in **bold**):\n");
            grid(md, &rows, &main, table, Some(true), |a, w| {
                let v = cell_of(table, a, w)?.per_us()?;
                Some((v, format!("{v:.2}")))
            });
            md.push('\n');
        }
        if !per_call.is_empty() && table.contains_key(FLOOR) {
            let _ = writeln!(
                md,
                "Over the floor: ns per allocator call (lower is better; the floor's own time \
                 per call in its row):\n"
            );
            grid(md, &rows, &per_call, table, Some(false), |a, w| {
                if a == FLOOR {
                    let v = cell_of(table, a, w)?.ns_per_call()?;
                    return Some((v, format!("({})", ns(v))));
                }
                let v = over_floor(table, a, w)?;
                Some((v, ns(v)))
            });
            md.push('\n');
        }
        if !worst.is_empty() {
            let _ = writeln!(
                md,
                "Worst cases: ns per allocator call, all work included, and the ratio to \
                 dlmalloc's time (lower is better):\n"
            );
            grid(md, &rows, &worst, table, Some(false), |a, w| {
                let v = cell_of(table, a, w)?.ns_per_call()?;
                let ratio = to_dlmalloc(table, a, w).map_or(String::new(), |x| {
                    if x >= 10.0 {
                        format!(" ({x:.0}×)")
                    } else {
                        format!(" ({x:.2}×)")
                    }
                });
                Some((v, format!("{}{ratio}", ns(v))))
            });
            md.push('\n');
        }
        if !timed.is_empty() {
            let _ =
                writeln!(md, "Spread, % (interquartile range of the rounds over their median):\n");
            grid(md, &rows, &timed, table, None, |a, w| {
                let s = cell_of(table, a, w)?.time.as_ref()?.spread?;
                Some((s, format!("{:.1}", s * 100.0)))
            });
            md.push('\n');
        }
    }

    // Memory: from the "z" builds' verification runs (else the other
    // profile's), competitors only.
    let Some(table) = run.speeds.get(&Profile::Z).or_else(|| run.speeds.values().next()) else {
        return;
    };
    let rows: Vec<&'static Variant> = rows_of(table).into_iter().filter(|v| v.sizes).collect();
    let all: Vec<&Workload> = run.workloads.to_vec();
    let _ = writeln!(
        md,
        "## Memory grown (MiB, lower is better)\n\n`memory.buffer.byteLength` after the \
         workload minus before it, in the verification run on a fresh instance: the heap \
         each allocator needed. *Peak live* is the most bytes the workload held at once \
         (the sum of its live requests), the same for every allocator.\n"
    );
    grid(md, &rows, &all, table, Some(false), |a, w| {
        let v = mib(cell_of(table, a, w)?.grown);
        Some((v, format!("{v:.2}")))
    });
    let _ = write!(md, "| *peak live* |");
    for w in &all {
        let peak = rows.iter().find_map(|v| cell_of(table, v.name, w)).map(|c| mib(c.peak));
        let _ = write!(md, " {} |", peak.map_or("—".to_string(), |p| format!("*{p:.2}*")));
    }
    md.push('\n');
    let moved: Vec<&Workload> = all
        .iter()
        .copied()
        .filter(|w| rows.iter().any(|v| cell_of(table, v.name, w).is_some_and(|c| c.moved > 0)))
        .collect();
    if !moved.is_empty() {
        let _ = writeln!(
            md,
            "\nBytes `realloc` copied to a new place (MiB, the smaller of the old and new \
             sizes each time a block moved; lower is better):\n"
        );
        grid(md, &rows, &moved, table, Some(false), |a, w| {
            let v = mib(cell_of(table, a, w)?.moved);
            Some((v, format!("{v:.2}")))
        });
    }
    let _ = writeln!(
        md,
        "\n![size against speed](chart.svg)\n\n*Chart: minimal-module bytes over baseline \
         against random-workload actions per µs at opt-level \"z\".*"
    );
}

/// A step of 1, 2 or 5 times a power of ten giving about `target` ticks.
fn nice_step(span: f64, target: f64) -> f64 {
    if span <= 0.0 {
        return 1.0;
    }
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let frac = raw / mag;
    let m = if frac <= 1.0 {
        1.0
    } else if frac <= 2.0 {
        2.0
    } else if frac <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn tick_label(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else if step >= 0.1 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One chart point: label, x (bytes over baseline), y (actions/µs), talcum?
pub struct Point {
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub talcum: bool,
}

/// The size/speed scatter chart as SVG.
pub fn chart(points: &[Point]) -> String {
    let (w, h) = (800.0, 500.0);
    let (left, right, top, bottom) = (80.0, 40.0, 56.0, 64.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max_x = points.iter().map(|p| p.x).fold(0.0, f64::max) * 1.1;
    let max_y = points.iter().map(|p| p.y).fold(0.0, f64::max) * 1.15;
    let sx = nice_step(max_x, 6.0);
    let sy = nice_step(max_y, 6.0);
    let max_x = (max_x / sx).ceil().max(1.0) * sx;
    let max_y = (max_y / sy).ceil().max(1.0) * sy;
    let px = |x: f64| left + x.max(0.0) / max_x * pw;
    let py = |y: f64| top + ph - y.max(0.0) / max_y * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"13\">"
    );
    let _ = writeln!(s, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">\
         wasm32 allocators: size against speed (up and left is better)</text>",
        w / 2.0
    );
    // Grid and ticks.
    let mut x = 0.0;
    while x <= max_x + sx / 2.0 {
        let gx = px(x);
        let _ = writeln!(
            s,
            "<line x1=\"{gx:.1}\" y1=\"{top}\" x2=\"{gx:.1}\" y2=\"{:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{gx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
            top + ph,
            top + ph + 18.0,
            tick_label(x, sx)
        );
        x += sx;
    }
    let mut y = 0.0;
    while y <= max_y + sy / 2.0 {
        let gy = py(y);
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#444\">{}</text>",
            left + pw,
            left - 8.0,
            gy + 4.0,
            tick_label(y, sy)
        );
        y += sy;
    }
    let _ = writeln!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">minimal module: bytes over the \
         null-allocator baseline (wasm-opt -Oz)</text>",
        left + pw / 2.0,
        h - 18.0
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate(22 {:.1}) rotate(-90)\" text-anchor=\"middle\">random \
         workload: actions per µs (median, opt-level z)</text>",
        top + ph / 2.0
    );

    // Points, then labels placed where they overlap no point and no earlier
    // label.
    let mut order: Vec<&Point> = points.iter().collect();
    order.sort_by(|a, b| b.talcum.cmp(&a.talcum).then(a.x.total_cmp(&b.x)));
    for p in &order {
        let (cx, cy) = (px(p.x), py(p.y));
        let colour = if p.talcum { "#d62728" } else { "#1f77b4" };
        let _ = writeln!(s, "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"5\" fill=\"{colour}\"/>");
    }
    // Obstacles: every point, then each label as it is placed.
    let mut placed: Vec<(f64, f64, f64, f64)> = order
        .iter()
        .map(|p| (px(p.x) - 6.0, py(p.y) - 6.0, px(p.x) + 6.0, py(p.y) + 6.0))
        .collect();
    for p in &order {
        let (cx, cy) = (px(p.x), py(p.y));
        let tw = 7.0 * p.label.chars().count() as f64;
        // Label boxes (left, baseline) tried nearest first, all around the point.
        let mut candidates = Vec::new();
        for r in [10.0, 20.0, 32.0, 46.0, 62.0] {
            let d = r * 0.7;
            candidates.extend([
                (cx + r, cy + 4.0),
                (cx - r - tw, cy + 4.0),
                (cx + d, cy - d),
                (cx + d, cy + d + 10.0),
                (cx - d - tw, cy - d),
                (cx - d - tw, cy + d + 10.0),
                (cx - tw / 2.0, cy - r),
                (cx - tw / 2.0, cy + r + 10.0),
            ]);
        }
        let free = |&(x, y): &(f64, f64)| {
            let (x0, y0, x1, y1) = (x - 2.0, y - 12.0, x + tw + 2.0, y + 3.0);
            x0 >= left
                && x1 <= left + pw
                && y0 >= top
                && y1 <= top + ph
                && placed.iter().all(|&(a, b, c, d)| x1 < a || x0 > c || y1 < b || y0 > d)
        };
        let (lx, ly) = candidates.iter().copied().find(free).unwrap_or((cx + 8.0, cy + 4.0));
        placed.push((lx - 2.0, ly - 12.0, lx + tw + 2.0, ly + 3.0));
        // A leader line when the label is not right beside its point.
        let nx = cx.clamp(lx, lx + tw);
        let ny = cy.clamp(ly - 10.0, ly + 2.0);
        if (nx - cx).hypot(ny - cy) > 10.0 {
            let _ = writeln!(
                s,
                "<line x1=\"{cx:.1}\" y1=\"{cy:.1}\" x2=\"{nx:.1}\" y2=\"{ny:.1}\" \
                 stroke=\"#999\" stroke-width=\"0.8\"/>"
            );
        }
        let weight = if p.talcum { " font-weight=\"bold\"" } else { "" };
        let _ = writeln!(s, "<text x=\"{lx:.1}\" y=\"{ly:.1}\"{weight}>{}</text>", xml(&p.label));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_nice() {
        assert_eq!(nice_step(10_000.0, 5.0), 2000.0);
        assert_eq!(nice_step(7.0, 6.0), 2.0);
        assert_eq!(nice_step(0.0, 6.0), 1.0);
    }

    #[test]
    fn chart_is_well_formed() {
        let svg = chart(&[
            Point { label: "a<b".into(), x: 100.0, y: 2.0, talcum: true },
            Point { label: "c".into(), x: 110.0, y: 2.1, talcum: false },
        ]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a&lt;b"));
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}
