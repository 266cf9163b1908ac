//! The Markdown report and the SVG chart.

use crate::programs::{ProgCell, ProgOutcome, ProgTable, Program};
use crate::speed::{Cell, Group, Speeds, Table, Workload};
use crate::variants::{Profile, Variant, BASELINE, DLMALLOC_CRATE, FLOOR, TALCUM, VARIANTS};
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
    /// Verification runs longer than this (ms) were stopped.
    pub limit_ms: u64,
    /// Programs whose runs took longer than this (ms) were stopped.
    pub program_limit_ms: u64,
    pub workloads: Vec<&'static Workload>,
    /// The real programs' memory, by allocator and program.
    pub programs: ProgTable,
    pub program_list: Vec<&'static Program>,
    /// How many times each program ran on its instance.
    pub runs: u32,
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
    let _ = writeln!(md, "# talcum: WebAssembly size, speed and memory\n");
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

/// What a grid cell shows.
enum Entry {
    /// A number (compared for the column's best, the floor left out) and
    /// its text.
    Value(f64, String),
    /// Text only.
    Text(String),
}

/// A table of `rows` by columns named `cols`; `entry(allocator, column)`
/// gives a cell. With `high_is_good`, each column's best value is bold.
fn grid_by(
    md: &mut String,
    rows: &[&'static Variant],
    cols: &[&str],
    high_is_good: Option<bool>,
    entry: impl Fn(&str, usize) -> Entry,
) {
    let _ = write!(md, "| allocator |");
    for c in cols {
        let _ = write!(md, " {c} |");
    }
    let _ = write!(md, "\n|---|");
    for _ in cols {
        let _ = write!(md, "--:|");
    }
    md.push('\n');
    let best: Vec<Option<f64>> = (0..cols.len())
        .map(|i| {
            let vals =
                rows.iter().filter(|v| v.name != FLOOR).filter_map(|v| match entry(v.name, i) {
                    Entry::Value(x, _) => Some(x),
                    Entry::Text(_) => None,
                });
            match high_is_good {
                Some(true) => vals.max_by(f64::total_cmp),
                Some(false) => vals.min_by(f64::total_cmp),
                None => None,
            }
        })
        .collect();
    for v in rows {
        let _ = write!(md, "| {} |", label(v));
        for (i, best) in best.iter().enumerate() {
            match entry(v.name, i) {
                Entry::Value(x, text) if v.name != FLOOR && Some(x) == *best => {
                    let _ = write!(md, " **{text}** |");
                }
                Entry::Value(_, text) | Entry::Text(text) => {
                    let _ = write!(md, " {text} |");
                }
            }
        }
        md.push('\n');
    }
}

/// A table of `rows` by workloads. `value` gives a cell's number (compared
/// for the best, the floor left out) and text; a workload that is timed but
/// has no timing for the allocator reads "not timed", with the CPU time of
/// its verification run, and a stopped verification run "stopped".
fn grid(
    md: &mut String,
    rows: &[&'static Variant],
    cols: &[&Workload],
    table: &Table,
    high_is_good: Option<bool>,
    value: impl Fn(&str, &Workload) -> Option<(f64, String)>,
) {
    let names: Vec<&str> = cols.iter().map(|w| w.name).collect();
    grid_by(md, rows, &names, high_is_good, |a, i| {
        let w = cols[i];
        if let Some((x, text)) = value(a, w) {
            return Entry::Value(x, text);
        }
        Entry::Text(match cell_of(table, a, w) {
            Some(c) if c.stopped => "stopped".to_string(),
            Some(c) if c.time.is_none() && w.timed() => {
                format!("not timed ({:.1} s verified)", c.verify_us / 1e6)
            }
            _ => "—".to_string(),
        })
    });
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
         memory figures come from this run (see *Memory*: the memory patterns run only \
         there, on the \"z\" builds). Then {rounds} rounds: in each, every allocator \
         runs each timed workload on a fresh instance, twice untimed (the first call grows \
         the memory the workload needs, the second settles the heap into the state later \
         calls start from), then {reps} timed batches of calls, each batch as many calls as \
         make at least {batch:.0} ms; the allocators' order rotates from round to round. \
         The first-touch workload (*zeroed*) is timed otherwise: in each round, for each \
         allocator, {reps} brand-new instances with one timed call each and no call before \
         it (one untimed call on a throwaway instance in the first round compiles the code); \
         before each, full garbage collections {pause} ms apart until the process's resident \
         memory is back to where it was before the previous instance (V8 would otherwise \
         free the earlier instances' memory inside the timed call). \
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
        pause = crate::speed::FRESH_PAUSE_MS,
    );
    for (group, title) in [
        (Group::Main, "Everyday workloads"),
        (Group::Worst, "Worst cases for a binned allocator (issue 12)"),
        (Group::Zeroed, "Zeroed allocation (issue 12)"),
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
    let zeroed: Vec<&Workload> =
        run.workloads.iter().copied().filter(|w| w.group == Group::Zeroed && w.timed()).collect();
    let timed: Vec<&Workload> = run.workloads.iter().copied().filter(|w| w.timed()).collect();
    let per_call: Vec<&Workload> =
        timed.iter().copied().filter(|w| w.name != "vec" && w.group != Group::Zeroed).collect();
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
        if !zeroed.is_empty() {
            let _ = writeln!(
                md,
                "Zeroed allocation: ms per run, all work included (`memory.grow` too), and the \
                 ratio to dlmalloc's time (lower is better; the floor never clears memory fresh \
                 from `memory.grow`, so its *zeroed* time is the engine's and the harness's \
                 cost):\n"
            );
            grid(md, &rows, &zeroed, table, Some(false), |a, w| {
                let t = cell_of(table, a, w)?.time.as_ref()?;
                let ms = t.median_us / 1000.0;
                let ratio = to_dlmalloc(table, a, w).map_or(String::new(), |x| {
                    if x >= 10.0 {
                        format!(" ({x:.0}×)")
                    } else {
                        format!(" ({x:.2}×)")
                    }
                });
                Some((ms, format!("{ms:.2}{ratio}")))
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

    if let Some(line) = zeroed_target(run) {
        let _ = writeln!(md, "### The zeroed target of issue 12\n\n{line}\n");
    }

    let _ = writeln!(
        md,
        "![size against speed](chart.svg)\n\n*Chart: minimal-module bytes over baseline \
         against random-workload actions per µs at opt-level \"z\".*"
    );
    memory_sections(md, run);
}

/// Issue 12's target for zeroed allocation: talcum at least this many
/// times dlmalloc's speed on the first-touch workload.
const ZEROED_TARGET: f64 = 3.0;
/// The workload it is judged on.
const ZEROED_WORKLOAD: &str = "zeroed";

/// The line of issue 12's zeroed target, judged in every profile that
/// timed the workload (`None` when the run did not include it).
fn zeroed_target(run: &SpeedRun) -> Option<String> {
    run.workloads.iter().find(|w| w.name == ZEROED_WORKLOAD)?;
    let time = |table: &Table, a: &str| {
        let t = table.get(a)?.get(ZEROED_WORKLOAD)?.time.as_ref()?;
        (t.median_us > 0.0).then_some(t.median_us)
    };
    // (profile, dlmalloc's time over talcum's), or None when one is missing.
    let items: Vec<(Profile, Option<f64>)> = Profile::ALL
        .iter()
        .filter_map(|&p| {
            let table = run.speeds.get(&p)?;
            Some((p, time(table, DLMALLOC_CRATE).zip(time(table, TALCUM)).map(|(d, t)| d / t)))
        })
        .collect();
    Some(zeroed_line(&items))
}

fn zeroed_line(items: &[(Profile, Option<f64>)]) -> String {
    let failed = items.iter().filter(|(_, r)| r.is_none_or(|r| r < ZEROED_TARGET)).count();
    let verdict = if items.is_empty() {
        "**not measured**".to_string()
    } else if failed == 0 {
        format!("**met** in all {}", items.len())
    } else {
        format!("**not met** in {failed} of {}", items.len())
    };
    let parts: Vec<String> = items
        .iter()
        .map(|(p, r)| {
            let text = match r {
                Some(r) if *r >= 10.0 => format!("{} {r:.0}×", p.label()),
                Some(r) => format!("{} {r:.2}×", p.label()),
                None => format!("{} not timed", p.label()),
            };
            if r.is_none_or(|r| r < ZEROED_TARGET) {
                format!("**{text}**")
            } else {
                text
            }
        })
        .collect();
    format!(
        "- First-touch zeroed allocation ≥ {ZEROED_TARGET}× dlmalloc's speed (workload \
         `{ZEROED_WORKLOAD}`, both profiles): {verdict} (dlmalloc's time over talcum's: {}).",
        parts.join(", ")
    )
}

/// A workload's cell with figures (not stopped).
fn mem_of<'a>(table: &'a Table, alloc: &str, w: &Workload) -> Option<&'a Cell> {
    cell_of(table, alloc, w).filter(|c| !c.stopped)
}

/// Free bytes at the peak over the heap then (`None` for no heap).
fn free_share(heap: u64, live: u64) -> Option<f64> {
    (heap > 0).then(|| heap.saturating_sub(live) as f64 / heap as f64)
}

/// A program's cell with figures (not stopped).
fn prog_of<'a>(progs: &'a ProgTable, alloc: &str, p: &Program) -> Option<&'a ProgCell> {
    match progs.get(alloc)?.get(p.name)? {
        ProgOutcome::Done(c) => Some(c),
        ProgOutcome::Stopped => None,
    }
}

fn prog_stopped(progs: &ProgTable, alloc: &str, p: &Program) -> bool {
    matches!(progs.get(alloc).and_then(|m| m.get(p.name)), Some(ProgOutcome::Stopped))
}

/// `x` over `base` as "1.03×" (or "126×"); `None` when `base` is 0.
fn times(x: f64, base: f64) -> Option<String> {
    if base <= 0.0 {
        return None;
    }
    let r = x / base;
    Some(if r >= 10.0 { format!("{r:.0}×") } else { format!("{r:.2}×") })
}

/// "value (ratio to dlmalloc)".
fn with_ratio(text: String, x: f64, base: Option<f64>) -> String {
    match base.and_then(|b| times(x, b)) {
        Some(r) => format!("{text} ({r})"),
        None => text,
    }
}

/// One target of issue 14, checked on talcum against dlmalloc (the crate):
/// its items (name, talcum's figure, dlmalloc's) pass when talcum's is at
/// most `limit` times dlmalloc's.
struct Target {
    what: String,
    limit: f64,
    items: Vec<(String, f64, f64)>,
    /// Items that cannot be compared (stopped runs), by name.
    missing: Vec<String>,
}

impl Target {
    fn line(&self) -> String {
        let failed: Vec<&(String, f64, f64)> =
            self.items.iter().filter(|(_, t, d)| *t > self.limit * *d).collect();
        let verdict = if self.items.is_empty() {
            "**not measured**".to_string()
        } else if failed.is_empty() && self.missing.is_empty() {
            format!("**met** on all {}", self.items.len())
        } else {
            format!(
                "**not met** on {} of {}",
                failed.len() + self.missing.len(),
                self.items.len() + self.missing.len()
            )
        };
        let mut parts: Vec<String> = self
            .items
            .iter()
            .map(|(name, t, d)| {
                let r = match times(*t, *d) {
                    Some(r) => r,
                    None if *t <= 0.0 => "0/0".to_string(),
                    None => format!("{t:.0}/0"),
                };
                if *t > self.limit * *d {
                    format!("**{name} {r}**")
                } else {
                    format!("{name} {r}")
                }
            })
            .collect();
        parts.extend(self.missing.iter().map(|m| format!("**{m} stopped**")));
        format!("- {}: {verdict} (talcum/dlmalloc: {}).", self.what, parts.join(", "))
    }
}

/// The memory half of the report: real programs, memory patterns, the
/// other workloads' memory, and the targets of issue 14.
fn memory_sections(md: &mut String, run: &SpeedRun) {
    // Memory: from the "z" builds' verification runs (else the other
    // profile's), competitors only.
    let table = run.speeds.get(&Profile::Z).or_else(|| run.speeds.values().next());
    let empty = Table::new();
    let table = table.unwrap_or(&empty);
    let rows: Vec<&'static Variant> = rows_of(table).into_iter().filter(|v| v.sizes).collect();
    let prog_rows: Vec<&'static Variant> =
        VARIANTS.iter().filter(|v| run.programs.contains_key(v.name)).collect();
    let patterns: Vec<&Workload> =
        run.workloads.iter().copied().filter(|w| w.group == Group::Memory).collect();
    let others: Vec<&Workload> =
        run.workloads.iter().copied().filter(|w| w.group != Group::Memory).collect();
    let limit = run.limit_ms as f64 / 1000.0;
    let program_limit = run.program_limit_ms as f64 / 1000.0;

    let _ = writeln!(
        md,
        "\n## Memory\n\n\
         Every memory figure comes from a run on a fresh instance with tracking on: the \
         wrapper around the allocator counts *`memory.grow` calls* as changes of \
         `memory.size` seen after an allocator call (a call that grows twice counts once), \
         and notes the memory size when the live bytes peak. *Memory grown* is \
         `memory.buffer.byteLength` after minus before. *Peak live* is the most bytes the \
         workload held at once (the sum of its live requests), the same for every \
         allocator. *Free at the peak* is the heap at that moment (the memory above \
         `__heap_base`: the module's stack and data lie below it) minus the live bytes, over \
         the heap: free chunks, headers, padding and memory not yet claimed. Ratios are to \
         dlmalloc (the crate, which std's default also is). A verification run longer than \
         {limit:.0} s of wall time, or a program whose runs take longer than \
         {program_limit:.0} s together, is stopped and reads *stopped*. Tracking is off in \
         timed calls.\n"
    );

    // The targets first: the summary.
    // Issue 14's targets name the everyday and worst-case workloads only.
    let judged: Vec<&Workload> =
        others.iter().copied().filter(|w| w.group != Group::Zeroed).collect();
    if let Some(targets) = targets(run, table, &patterns, &judged) {
        let _ = writeln!(md, "### The targets of issue 14\n\n{targets}");
    }

    if !run.program_list.is_empty() && !prog_rows.is_empty() {
        programs_section(md, run, &prog_rows);
    }

    if !patterns.is_empty() {
        let _ = writeln!(
            md,
            "### Memory patterns (issue 14)\n\nVerified, not timed, on the opt-level \"z\" \
             bench modules. A pattern does not stop at a null return: it counts it and goes on \
             without that block. Patterns marked *first byte* write and check the first byte \
             of each block only (they would move gigabytes otherwise); the others every byte.\n"
        );
        for w in &patterns {
            let touch = if w.full { "" } else { " *first byte*" };
            let _ = writeln!(md, "- **{}**{touch}: {}.", w.name, w.about);
        }
        let _ = writeln!(md, "\nMemory grown, MiB (× dlmalloc; lower is better):\n");
        memory_grids(md, &rows, &patterns, table);
        let _ = writeln!(
            md,
            "\nFree at the peak, % of the heap then (high: memory stranded in free chunks \
             at the peak; lower is better):\n"
        );
        grid(md, &rows, &patterns, table, Some(false), |a, w| {
            let c = mem_of(table, a, w)?;
            let f = free_share(c.heap_at_peak, c.peak)?;
            Some((f, format!("{:.1}", f * 100.0)))
        });
        let _ = writeln!(
            md,
            "\nCPU time of that one run, ms (× dlmalloc; memory growth and copies included, \
             a single run: a preview of speed, not a benchmark):\n"
        );
        grid(md, &rows, &patterns, table, Some(false), |a, w| {
            let c = mem_of(table, a, w)?;
            let d = mem_of(table, DLMALLOC_CRATE, w).map(|d| d.verify_us);
            let ms = c.verify_us / 1000.0;
            let text = if ms < 10.0 { format!("{ms:.1}") } else { format!("{ms:.0}") };
            Some((c.verify_us, with_ratio(text, c.verify_us, d)))
        });
        let nulls: Vec<&Workload> = patterns
            .iter()
            .copied()
            .filter(|w| rows.iter().any(|v| mem_of(table, v.name, w).is_some_and(|c| c.nulls > 0)))
            .collect();
        if !nulls.is_empty() {
            let _ =
                writeln!(md, "\nNull returns (the allocator failed a request; lower is better):\n");
            grid(md, &rows, &nulls, table, Some(false), |a, w| {
                let n = mem_of(table, a, w)?.nulls;
                Some((n as f64, n.to_string()))
            });
        } else {
            let _ = writeln!(md, "\nNo allocator returned null on any pattern.");
        }
    }

    if !others.is_empty() {
        let has_zeroed = others.iter().any(|w| w.group == Group::Zeroed);
        let _ = writeln!(
            md,
            "\n### Everyday{} workloads\n\nFrom their verification runs \
             (every byte checked), on the opt-level \"z\" bench modules{}.\n\n\
             Memory grown, MiB (× dlmalloc; lower is better):\n",
            if has_zeroed { ", worst-case and zeroed" } else { " and worst-case" },
            if has_zeroed {
                "; *zeroed-reuse*: its verified run alone, on memory that a run with another \
                 seed grew and freed"
            } else {
                ""
            }
        );
        memory_grids(md, &rows, &others, table);
    }

    let all: Vec<&Workload> = run.workloads.to_vec();
    let moved: Vec<&Workload> = all
        .iter()
        .copied()
        .filter(|w| rows.iter().any(|v| mem_of(table, v.name, w).is_some_and(|c| c.moved > 0)))
        .collect();
    if !moved.is_empty() {
        let _ = writeln!(
            md,
            "\nBytes `realloc` copied to a new place (MiB, the smaller of the old and new \
             sizes each time a block moved; lower is better):\n"
        );
        grid(md, &rows, &moved, table, Some(false), |a, w| {
            let v = mib(mem_of(table, a, w)?.moved);
            Some((v, format!("{v:.2}")))
        });
    }
}

/// Memory grown (× dlmalloc) with a peak-live row, then `memory.grow`
/// calls (× dlmalloc).
fn memory_grids(md: &mut String, rows: &[&'static Variant], cols: &[&Workload], table: &Table) {
    grid(md, rows, cols, table, Some(false), |a, w| {
        let c = mem_of(table, a, w)?;
        let d = mem_of(table, DLMALLOC_CRATE, w).map(|d| d.grown as f64);
        let v = mib(c.grown);
        Some((v, with_ratio(format!("{v:.2}"), c.grown as f64, d)))
    });
    let _ = write!(md, "| *peak live* |");
    for w in cols {
        let peak = rows.iter().find_map(|v| mem_of(table, v.name, w)).map(|c| mib(c.peak));
        let _ = write!(md, " {} |", peak.map_or("—".to_string(), |p| format!("*{p:.2}*")));
    }
    md.push('\n');
    let _ = writeln!(md, "\n`memory.grow` calls (× dlmalloc; lower is better):\n");
    grid(md, rows, cols, table, Some(false), |a, w| {
        let c = mem_of(table, a, w)?;
        let d = mem_of(table, DLMALLOC_CRATE, w).map(|d| d.grows as f64);
        Some((c.grows as f64, with_ratio(c.grows.to_string(), c.grows as f64, d)))
    });
}

/// The real programs' tables.
fn programs_section(md: &mut String, run: &SpeedRun, rows: &[&'static Variant]) {
    let progs = &run.programs;
    let list = &run.program_list;
    let _ = writeln!(
        md,
        "### Real programs\n\nOne programs module per allocator (`size-report/module/src/\
         programs.rs`; opt-level 2, no LTO: only memory is measured), each program run {runs} \
         times on a fresh instance. Every allocator must see the same allocator calls and \
         return the same checksum.\n",
        runs = run.runs
    );
    for p in list {
        let _ = writeln!(md, "- **{}** ({}): {}.", p.name, p.krate, p.about);
    }
    let cols: Vec<&str> = list.iter().map(|p| p.name).collect();
    let dl = |p: &Program| prog_of(progs, DLMALLOC_CRATE, p);
    let text_if_stopped = |a: &str, p: &Program| {
        Entry::Text(if prog_stopped(progs, a, p) { "stopped".into() } else { "—".into() })
    };
    let mem_grid = |md: &mut String, get: &dyn Fn(&ProgCell) -> u64| {
        grid_by(md, rows, &cols, Some(false), |a, i| {
            let p = list[i];
            match prog_of(progs, a, p) {
                Some(c) => {
                    let v = get(c);
                    let base = dl(p).map(|d| get(d) as f64);
                    Entry::Value(v as f64, with_ratio(format!("{:.2}", mib(v)), v as f64, base))
                }
                None => text_if_stopped(a, p),
            }
        });
    };
    let _ =
        writeln!(md, "\nMemory grown after the first run, MiB (× dlmalloc; lower is better):\n");
    mem_grid(md, &|c| c.grown_first);
    let _ = write!(md, "| *peak live* |");
    for p in list {
        let peak = rows.iter().find_map(|v| prog_of(progs, v.name, p)).map(|c| mib(c.peak));
        let _ = write!(md, " {} |", peak.map_or("—".to_string(), |x| format!("*{x:.2}*")));
    }
    md.push('\n');
    let _ = writeln!(
        md,
        "\nMemory grown after {} runs, MiB (× dlmalloc; lower is better):\n",
        run.runs
    );
    mem_grid(md, &|c| c.grown_all);
    let _ = writeln!(
        md,
        "\nFree at the peak of the first run, % of the heap then (lower is better):\n"
    );
    grid_by(md, rows, &cols, Some(false), |a, i| match prog_of(progs, a, list[i]) {
        Some(c) => match free_share(c.heap_at_peak, c.peak) {
            Some(f) => Entry::Value(f, format!("{:.1}", f * 100.0)),
            None => Entry::Text("—".into()),
        },
        None => text_if_stopped(a, list[i]),
    });
    let _ = writeln!(
        md,
        "\n`memory.grow` calls, first run / all {} runs (× dlmalloc over all runs; lower is \
         better):\n",
        run.runs
    );
    grid_by(md, rows, &cols, Some(false), |a, i| {
        let p = list[i];
        match prog_of(progs, a, p) {
            Some(c) => {
                let base = dl(p).map(|d| d.grows_all as f64);
                let text = format!("{} / {}", c.grows_first, c.grows_all);
                Entry::Value(c.grows_all as f64, with_ratio(text, c.grows_all as f64, base))
            }
            None => text_if_stopped(a, p),
        }
    });
    let _ = writeln!(
        md,
        "\nCPU time, ms: the first run / the mean of all {} (× dlmalloc on the mean; an \
         opt-level 2 build without LTO, no repetition: a preview of speed, not a benchmark):\n",
        run.runs
    );
    grid_by(md, rows, &cols, Some(false), |a, i| {
        let p = list[i];
        let runs = f64::from(run.runs.max(1));
        match prog_of(progs, a, p) {
            Some(c) => {
                let mean = c.cpu_all_us / runs;
                let base = dl(p).map(|d| d.cpu_all_us / runs);
                let text = format!("{:.0} / {:.0}", c.cpu_first_us / 1000.0, mean / 1000.0);
                Entry::Value(mean, with_ratio(text, mean, base))
            }
            None => text_if_stopped(a, p),
        }
    });
    let nulls: u64 = progs
        .values()
        .flat_map(|m| m.values())
        .map(|o| match o {
            ProgOutcome::Done(c) => c.nulls,
            ProgOutcome::Stopped => 0,
        })
        .sum();
    if nulls > 0 {
        let _ = writeln!(md, "\nSome allocators returned null: see the targets above.");
    }
    let _ = writeln!(
        md,
        "\n![memory grown on real programs](memory.svg)\n\n*Chart: memory grown after {} \
         runs of each program, over dlmalloc's; the black mark is the peak of live bytes on \
         the same scale (about the least an allocator can grow: only the module's initial memory \
         above `__heap_base` comes free).*\n",
        run.runs
    );
}

/// The summary lines of issue 14's targets (talcum against dlmalloc),
/// when talcum and dlmalloc both ran.
fn targets(
    run: &SpeedRun,
    table: &Table,
    patterns: &[&Workload],
    others: &[&Workload],
) -> Option<String> {
    let progs = &run.programs;
    let have_progs = progs.contains_key(TALCUM) && progs.contains_key(DLMALLOC_CRATE);
    let have_bench = table.contains_key(TALCUM) && table.contains_key(DLMALLOC_CRATE);
    if !have_progs && !have_bench {
        return None;
    }
    let mut grown = Target {
        what: format!(
            "Memory grown ≤ dlmalloc's on every real program (the larger of the ratios after \
             one run and after {}) and every everyday and worst-case workload",
            run.runs
        ),
        limit: 1.0,
        items: Vec::new(),
        missing: Vec::new(),
    };
    let mut pattern = Target {
        what: "Memory grown ≤ 1.25× dlmalloc's on every memory pattern".into(),
        limit: 1.25,
        items: Vec::new(),
        missing: Vec::new(),
    };
    let mut nulls = Target {
        what: "Never null where dlmalloc succeeds (null returns)".into(),
        limit: 1.0,
        items: Vec::new(),
        missing: Vec::new(),
    };
    let mut grows = Target {
        what: "`memory.grow` calls ≤ 2× dlmalloc's on every program and workload".into(),
        limit: 2.0,
        items: Vec::new(),
        missing: Vec::new(),
    };
    if have_progs {
        for p in &run.program_list {
            match (prog_of(progs, TALCUM, p), prog_of(progs, DLMALLOC_CRATE, p)) {
                (Some(t), Some(d)) => {
                    let first = t.grown_first as f64 / (d.grown_first as f64).max(1.0);
                    let all = t.grown_all as f64 / (d.grown_all as f64).max(1.0);
                    let (tg, dg) = if first >= all {
                        (t.grown_first, d.grown_first)
                    } else {
                        (t.grown_all, d.grown_all)
                    };
                    grown.items.push((p.name.to_string(), tg as f64, dg as f64));
                    grows.items.push((p.name.to_string(), t.grows_all as f64, d.grows_all as f64));
                    if d.nulls == 0 {
                        nulls.items.push((p.name.to_string(), t.nulls as f64, 0.0));
                    }
                }
                _ => {
                    grown.missing.push(p.name.to_string());
                    grows.missing.push(p.name.to_string());
                }
            }
        }
    }
    if have_bench {
        for w in others.iter().chain(patterns) {
            let target = if w.group == Group::Memory { &mut pattern } else { &mut grown };
            match (mem_of(table, TALCUM, w), mem_of(table, DLMALLOC_CRATE, w)) {
                (Some(t), Some(d)) => {
                    target.items.push((w.name.to_string(), t.grown as f64, d.grown as f64));
                    grows.items.push((w.name.to_string(), t.grows as f64, d.grows as f64));
                    if d.nulls == 0 {
                        nulls.items.push((w.name.to_string(), t.nulls as f64, 0.0));
                    }
                }
                _ => {
                    target.missing.push(w.name.to_string());
                    grows.missing.push(w.name.to_string());
                }
            }
        }
    }
    if [&grown, &pattern, &nulls, &grows].iter().all(|t| t.items.is_empty() && t.missing.is_empty())
    {
        return None;
    }
    let mut out = String::from(
        "Checked on talcum against dlmalloc in this run (ratios of talcum's figure to \
         dlmalloc's; failures in bold):\n\n",
    );
    for t in [&grown, &pattern, &nulls, &grows] {
        if !t.items.is_empty() || !t.missing.is_empty() {
            if std::ptr::eq(t, &nulls) {
                out.push_str(&nulls_line(t));
            } else {
                out.push_str(&t.line());
            }
            out.push('\n');
        }
    }
    Some(out)
}

/// The null-return target: counts, not ratios.
fn nulls_line(t: &Target) -> String {
    let failed: Vec<String> = t
        .items
        .iter()
        .filter(|(_, n, _)| *n > 0.0)
        .map(|(name, n, _)| format!("**{name}: {n:.0}**"))
        .collect();
    if failed.is_empty() {
        format!(
            "- {}: **met** on all {} where dlmalloc never failed (talcum returned null 0 times).",
            t.what,
            t.items.len()
        )
    } else {
        format!(
            "- {}: **not met** on {} of {} ({}).",
            t.what,
            failed.len(),
            t.items.len(),
            failed.join(", ")
        )
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

/// A bar colour per allocator in the memory chart.
fn colour(name: &str) -> &'static str {
    match name {
        TALCUM => "#d62728",
        "dlmalloc-std" => "#9a9a9a",
        DLMALLOC_CRATE => "#555555",
        "talc" => "#1f77b4",
        "talc-small" => "#9ecae9",
        "rlsf" => "#2ca02c",
        "rlsf-small" => "#a1d99b",
        "lol_alloc" => "#9467bd",
        "wasmalloc" => "#ff7f0e",
        _ => "#8c564b",
    }
}

/// The real programs' memory chart as SVG: per program, a bar per allocator
/// for its memory grown after all runs over dlmalloc's, and a mark for the
/// peak of live bytes on the same scale. Empty without programs or
/// dlmalloc.
pub fn memory_chart(run: &SpeedRun) -> String {
    let progs = &run.programs;
    let list = &run.program_list;
    let allocs: Vec<&Variant> = VARIANTS.iter().filter(|v| progs.contains_key(v.name)).collect();
    let base = |p: &Program| prog_of(progs, DLMALLOC_CRATE, p).map(|d| d.grown_all as f64);
    if list.is_empty() || allocs.is_empty() || list.iter().all(|p| base(p).is_none()) {
        return String::new();
    }
    let ratio = |a: &str, p: &Program| {
        let b = base(p).filter(|&b| b > 0.0)?;
        Some(prog_of(progs, a, p)?.grown_all as f64 / b)
    };
    let (w, h) = (800.0, 470.0);
    let (left, right, top, bottom) = (70.0, 20.0, 56.0, 120.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let highest = list
        .iter()
        .flat_map(|p| allocs.iter().filter_map(move |v| ratio(v.name, p)))
        .fold(1.0, f64::max);
    // Bars above 3× are cut and labelled.
    let cap = (highest * 1.1).min(3.0);
    let sy = nice_step(cap, 6.0);
    let max_y = (cap / sy).ceil().max(1.0) * sy;
    let py = |y: f64| top + ph - y.clamp(0.0, max_y) / max_y * ph;

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
         Real programs: memory grown after {} runs, over dlmalloc's (lower is better)</text>",
        w / 2.0,
        run.runs
    );
    let mut y = 0.0;
    while y <= max_y + sy / 2.0 {
        let gy = py(y);
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#444\">{}×</text>",
            left + pw,
            left - 8.0,
            gy + 4.0,
            tick_label(y, sy)
        );
        y += sy;
    }
    let _ = writeln!(
        s,
        "<text transform=\"translate(20 {:.1}) rotate(-90)\" text-anchor=\"middle\">memory \
         grown / dlmalloc's</text>",
        top + ph / 2.0
    );
    let group_w = pw / list.len() as f64;
    let bar_w = (group_w * 0.8 / allocs.len() as f64).min(18.0);
    for (g, p) in list.iter().enumerate() {
        let gx = left + g as f64 * group_w;
        let x0 = gx + (group_w - bar_w * allocs.len() as f64) / 2.0;
        for (i, v) in allocs.iter().enumerate() {
            let x = x0 + i as f64 * bar_w;
            let Some(r) = ratio(v.name, p) else {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" \
                     fill=\"#888\">–</text>",
                    x + bar_w / 2.0,
                    top + ph - 4.0
                );
                continue;
            };
            let yb = py(r);
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{yb:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                 fill=\"{}\"><title>{} {}: {r:.2}×</title></rect>",
                bar_w - 1.0,
                top + ph - yb,
                colour(v.name),
                xml(v.name),
                xml(p.name)
            );
            if r > max_y {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{r:.1}×</text>",
                    x + bar_w / 2.0,
                    top - 4.0
                );
            }
        }
        // The peak of live bytes over dlmalloc's growth: the floor.
        let peak = allocs.iter().find_map(|v| prog_of(progs, v.name, p)).map(|c| c.peak as f64);
        if let (Some(peak), Some(b)) = (peak, base(p).filter(|&b| b > 0.0)) {
            let yp = py(peak / b);
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{yp:.1}\" x2=\"{:.1}\" y2=\"{yp:.1}\" stroke=\"black\" \
                 stroke-width=\"2\"><title>peak live: {:.2}×</title></line>",
                x0 - 3.0,
                x0 + bar_w * allocs.len() as f64 + 3.0,
                peak / b
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            gx + group_w / 2.0,
            top + ph + 18.0,
            xml(p.name)
        );
    }
    // dlmalloc's level.
    let y1 = py(1.0);
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{y1:.1}\" x2=\"{:.1}\" y2=\"{y1:.1}\" stroke=\"#333\" \
         stroke-dasharray=\"5 4\"/>",
        left + pw
    );
    let _ = writeln!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>"
    );
    // Legend: two rows under the plot.
    let per_row = allocs.len().div_ceil(2).max(1);
    let cell_w = pw / per_row as f64;
    for (i, v) in allocs.iter().enumerate() {
        let lx = left + (i % per_row) as f64 * cell_w;
        let ly = top + ph + 44.0 + (i / per_row) as f64 * 20.0;
        let weight = if v.talcum { " font-weight=\"bold\"" } else { "" };
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\"{weight}>{}</text>",
            ly - 11.0,
            colour(v.name),
            lx + 17.0,
            xml(v.name)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{:.1}\" fill=\"#444\">dashed: dlmalloc (1×); black mark: peak \
         live bytes (about the least an allocator can grow)</text>",
        h - 10.0
    );
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

    fn target(limit: f64, items: &[(&str, f64, f64)]) -> Target {
        Target {
            what: "t".into(),
            limit,
            items: items.iter().map(|&(n, t, d)| (n.to_string(), t, d)).collect(),
            missing: Vec::new(),
        }
    }

    #[test]
    fn targets_judge_ratios() {
        let line = target(1.25, &[("a", 1.0, 1.0), ("b", 5.0, 4.0)]).line();
        assert!(line.contains("**met** on all 2") && line.contains("b 1.25×"), "{line}");
        let line = target(1.0, &[("a", 3.0, 2.0), ("b", 0.0, 0.0)]).line();
        assert!(line.contains("**not met** on 1 of 2"), "{line}");
        assert!(line.contains("**a 1.50×**") && line.contains("b 0/0"), "{line}");
        let mut t = target(2.0, &[("a", 1.0, 1.0)]);
        t.missing.push("c".into());
        assert!(t.line().contains("**not met** on 1 of 2") && t.line().contains("**c stopped**"));
        let line = nulls_line(&target(1.0, &[("a", 0.0, 0.0), ("b", 7.0, 0.0)]));
        assert!(line.contains("**not met** on 1 of 2") && line.contains("**b: 7**"), "{line}");
    }

    #[test]
    fn zeroed_target_judges_speed() {
        let line = zeroed_line(&[(Profile::O3, Some(11.0)), (Profile::Z, Some(3.5))]);
        assert!(line.contains("**met** in all 2"), "{line}");
        assert!(line.contains("opt-level 3 11×, opt-level \"z\" 3.50×"), "{line}");
        let line = zeroed_line(&[(Profile::O3, Some(2.9)), (Profile::Z, None)]);
        assert!(line.contains("**not met** in 2 of 2"), "{line}");
        assert!(
            line.contains("**opt-level 3 2.90×**")
                && line.contains("**opt-level \"z\" not timed**")
        );
        assert!(zeroed_line(&[]).contains("**not measured**"));
    }

    #[test]
    fn free_share_of_the_heap() {
        assert_eq!(free_share(0, 5), None);
        assert_eq!(free_share(100, 75), Some(0.25));
        assert_eq!(free_share(100, 120), Some(0.0));
    }

    fn cell(grown: u64, peak: u64) -> ProgOutcome {
        ProgOutcome::Done(ProgCell {
            grown_first: grown,
            grown_all: grown,
            peak,
            heap_at_peak: grown,
            grows_first: 1,
            grows_all: 1,
            nulls: 0,
            cpu_first_us: 1.0,
            cpu_all_us: 1.0,
        })
    }

    #[test]
    fn memory_chart_is_well_formed() {
        let list: Vec<&'static Program> = crate::programs::PROGRAMS.iter().take(2).collect();
        let mut programs = ProgTable::new();
        for (alloc, grown) in [(TALCUM, 8 << 20), (DLMALLOC_CRATE, 4 << 20)] {
            for p in &list {
                programs
                    .entry(alloc.to_string())
                    .or_default()
                    .insert(p.name.into(), cell(grown, 1 << 20));
            }
        }
        programs
            .entry("talc".into())
            .or_default()
            .insert(list[0].name.into(), ProgOutcome::Stopped);
        let run = SpeedRun {
            speeds: Speeds::new(),
            rounds: 1,
            reps: 1,
            cap_us: 1,
            batch_us: 1,
            limit_ms: 1,
            program_limit_ms: 1,
            workloads: Vec::new(),
            programs,
            program_list: list,
            runs: 10,
            busy: None,
        };
        let svg = memory_chart(&run);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        // Two programs: talcum's and dlmalloc's bars, talc has none.
        assert_eq!(svg.matches("<rect x=").count(), 4 + 3 + 1, "{svg}");
        assert!(svg.contains("talcum json: 2.00×"));
        let mut md = String::new();
        let by_name = |n: &str| VARIANTS.iter().find(|v| v.name == n).expect("a variant");
        programs_section(
            &mut md,
            &run,
            &[by_name(TALCUM), by_name(DLMALLOC_CRATE), by_name("talc")],
        );
        assert!(md.contains("| **talcum** | 8.00 (2.00×) | 8.00 (2.00×) |"), "{md}");
        assert!(md.contains("| talc | stopped | — |"), "{md}");
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
