//! The Markdown report and the SVG chart.

use crate::speed::{Speeds, WORKLOADS};
use crate::variants::{Variant, BASELINE};
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
    pub speeds: Option<(Speeds, usize)>,
    pub notes: Vec<String>,
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

    if let Some((speeds, runs)) = &r.speeds {
        let names: Vec<&SizeRow> =
            r.sizes.iter().filter(|row| speeds.contains_key(row.variant.name)).collect();
        let _ = writeln!(md, "\n## Speed (actions per µs, higher is better)\n");
        let _ = writeln!(
            md,
            "Each workload is Rust code inside the bench module (the same code for every \
             allocator), exported and called from Node {} on raw wasm \
             (`WebAssembly.instantiate(module, {{}})`, no wasm-bindgen), \
             `node --no-liftoff`. Every allocator first runs every workload once with every \
             byte of every block written and verified; a mismatch, a misaligned or null \
             pointer, a trap, or a different action count aborts the report. The timed runs \
             write and verify three bytes per block (first, middle, last). Medians of {runs} \
             runs, each on a fresh instance, the allocators interleaved run by run, timed in \
             the process's CPU time (`process.cpuUsage()`, user + system) so that other \
             processes on the machine do not count; {wall}. Best in **bold**.\n",
            r.header.iter().find_map(|h| h.strip_prefix("- Node: ")).unwrap_or(""),
            wall = wall_note(speeds),
        );
        for w in WORKLOADS {
            let _ = writeln!(md, "- **{}** ({}): {}.", w.name, w.unit, w.about);
        }
        md.push('\n');
        table(&mut md, &names, speeds, |c| c.per_us(), true, |v| format!("{v:.2}"));
        let _ = writeln!(
            md,
            "\n## Memory grown (MiB, lower is better)\n\n`memory.buffer.byteLength` after the \
             workload minus before it, on a fresh instance: the heap each allocator needed.\n"
        );
        table(
            &mut md,
            &names,
            speeds,
            |c| c.grown as f64 / (1024.0 * 1024.0),
            false,
            |v| format!("{v:.2}"),
        );
        let _ = writeln!(
            md,
            "\n![size against speed](chart.svg)\n\n*Chart: minimal-module bytes over \
             baseline against random-workload actions per µs.*"
        );
    }

    if !r.notes.is_empty() {
        let _ = writeln!(md, "\n## Notes\n");
        for n in &r.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    md
}

/// How wall-clock time compared with CPU time over the whole run, and how
/// much runs varied.
fn wall_note(speeds: &Speeds) -> String {
    let cells = || speeds.values().flat_map(|m| m.values());
    let (wall, cpu) =
        cells().fold((0.0, 0.0), |(w, c), cell| (w + cell.median_wall_us, c + cell.median_us));
    let spread = crate::speed::median(cells().map(|c| c.spread));
    if cpu > 0.0 {
        format!(
            "the wall-clock medians added up to {:.2}× the CPU-time ones on this run. \
             Run-to-run spread (interquartile range over median, the median over all \
             cells): {:.1}%; read smaller differences as noise",
            wall / cpu,
            spread * 100.0
        )
    } else {
        "no CPU time was recorded".into()
    }
}

fn table(
    md: &mut String,
    rows: &[&SizeRow],
    speeds: &Speeds,
    value: impl Fn(&crate::speed::Cell) -> f64,
    high_is_good: bool,
    show: impl Fn(f64) -> String,
) {
    let _ = write!(md, "| allocator |");
    for w in WORKLOADS {
        let _ = write!(md, " {} |", w.name);
    }
    let _ = write!(md, "\n|---|");
    for _ in WORKLOADS {
        let _ = write!(md, "--:|");
    }
    md.push('\n');
    let best: Vec<Option<String>> = WORKLOADS
        .iter()
        .map(|w| {
            let vals =
                rows.iter().filter_map(|r| speeds.get(r.variant.name)?.get(w.name).map(&value));
            let best = if high_is_good {
                vals.max_by(f64::total_cmp)
            } else {
                vals.min_by(f64::total_cmp)
            };
            best.map(&show)
        })
        .collect();
    for row in rows {
        let _ = write!(md, "| {} |", label(row.variant));
        for (w, best) in WORKLOADS.iter().zip(&best) {
            match speeds.get(row.variant.name).and_then(|m| m.get(w.name)) {
                Some(c) => {
                    let s = show(value(c));
                    if best.as_ref() == Some(&s) {
                        let _ = write!(md, " **{s}** |");
                    } else {
                        let _ = write!(md, " {s} |");
                    }
                }
                None => {
                    let _ = write!(md, " — |");
                }
            }
        }
        md.push('\n');
    }
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
         workload: actions per µs (median)</text>",
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
