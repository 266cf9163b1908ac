//! The speed half: runs `bench.mjs` in Node over the bench and programs
//! modules and turns its lines into medians, spreads and memory figures.

use crate::modules::Paths;
use crate::programs::{ProgCell, ProgOutcome, ProgTable, Program};
use crate::variants::Profile;
use crate::Result;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Which table a workload belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Group {
    /// The everyday workloads: actions per µs, and time over the floor.
    Main,
    /// Worst cases for a binned allocator (issue 12): time per call, and the
    /// ratio to dlmalloc.
    Worst,
    /// Memory patterns (issue 14): memory grown against peak live bytes;
    /// verified, not timed, run on one build per allocator.
    Memory,
    /// Zeroed allocation (issue 12): time per run, and the ratio to
    /// dlmalloc.
    Zeroed,
}

/// The pause (ms) after each of the garbage collections before a
/// first-touch instance, which go on until the earlier instances' memory is
/// freed (see `bench.mjs`).
pub const FRESH_PAUSE_MS: u64 = 5;

/// One benchmark workload: an export of the bench module, called as
/// `export(seed, n, full, ...args)`.
pub struct Workload {
    pub name: &'static str,
    pub export: &'static str,
    pub seed: u32,
    pub n: u32,
    pub args: &'static [u32],
    pub group: Group,
    /// Timed calls per instance and round, when not the run's `--reps`.
    pub reps: Option<usize>,
    /// Whether the verification run writes and checks every byte (else the
    /// first byte of each block: patterns that would move gigabytes).
    pub full: bool,
    /// Timed at first touch: each timed call on a brand-new instance (no
    /// untimed calls before it), rather than batches after two untimed
    /// calls.
    pub fresh: bool,
    /// Run on memory used and freed before: see [`Warm`].
    pub warm: Option<Warm>,
    /// What an action is, for the report.
    pub unit: &'static str,
    pub about: &'static str,
}

impl Workload {
    /// Timed as well as verified. Memory patterns are not, nor workloads on
    /// used memory (`warm`): their time is a `memset`'s, which the memory
    /// of a virtual machine makes erratic (EXPERIMENTS.md).
    pub fn timed(&self) -> bool {
        self.group != Group::Memory && self.warm.is_none()
    }

    /// Verified on every bench module (both profiles, the floor too), not
    /// only on one build per allocator as the memory patterns are.
    pub fn verified_everywhere(&self) -> bool {
        self.group != Group::Memory
    }
}

const CALLS: &str = "allocator calls";

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "random",
        export: "bench_random",
        seed: 1,
        n: 100_000,
        args: &[],
        group: Group::Main,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "100 000 random steps over 1024 slots: an empty slot gets a block of 1..=10000 B, \
                a full one is freed; alignment mostly a word (1/8 byte, 5/8 4 B, 3/16 8 B, \
                1/32 16 B, 1/32 64 B); then everything left is freed",
    },
    Workload {
        name: "realloc",
        export: "bench_realloc",
        seed: 2,
        n: 100_000,
        args: &[],
        group: Group::Main,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "as random, but half of the steps on a full slot resize its block to a new \
                random size (1..=10000 B) instead of freeing it",
    },
    Workload {
        name: "small",
        export: "bench_small",
        seed: 3,
        n: 200_000,
        args: &[],
        group: Group::Main,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "200 000 random steps over 4096 slots with blocks of 8..=256 B",
    },
    Workload {
        name: "vec",
        export: "bench_vec",
        seed: 4,
        n: 4,
        args: &[],
        group: Group::Main,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: "pushes",
        about: "a `Vec<u32>` grown to 1 MiB by `push`, four times in a row (72 allocator \
                calls: the time is the pushes' memory traffic, so it has no time over the \
                floor)",
    },
    Workload {
        name: "app",
        export: "bench_app",
        seed: 5,
        n: 50_000,
        args: &[],
        group: Group::Main,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "50 000 steps of a small program: a `BTreeMap<String, Vec<u32>>` index \
                that gains records and loses keys, a bounded `VecDeque<String>` log of \
                `format!`ted lines, 16..=4096 B scratch buffers, sorted snapshots",
    },
    Workload {
        name: "walk-1100-20k",
        export: "bench_walk",
        seed: 6,
        n: 20_000,
        args: &[1100, 1200],
        group: Group::Worst,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "the bin walk at issue 12's full size: 20 000 free 1100 B chunks kept apart \
                by live 16 B blocks, then 20 000 requests of 1200 B (none of the chunks fits), \
                then all freed",
    },
    Workload {
        name: "walk-300-20k",
        export: "bench_walk",
        seed: 7,
        n: 20_000,
        args: &[300, 308],
        group: Group::Worst,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "the same with 300 B chunks and 308 B requests",
    },
    Workload {
        name: "band",
        export: "bench_band",
        seed: 8,
        n: 20_000,
        args: &[40_000, 1000, 1200],
        group: Group::Worst,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "narrow-band churn: 40 000 live blocks of 1000..=1200 B, then 20 000 times one \
                picked at random is freed and replaced by a new one",
    },
    Workload {
        name: "steps",
        export: "bench_steps",
        seed: 9,
        n: 64,
        args: &[1000, 8],
        group: Group::Worst,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "1000 byte buffers of 8 B grown in turn by `realloc`, +8 B a step, 64 rounds \
                (to 520 B)",
    },
    Workload {
        name: "pair",
        export: "bench_pair",
        seed: 10,
        n: 2000,
        args: &[64],
        group: Group::Worst,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "two byte buffers grown in turn by `realloc`, +64 B a step, 2000 steps each \
                (to 125 KiB)",
    },
    Workload {
        name: "pinned",
        export: "bench_pinned",
        seed: 11,
        n: 3000,
        args: &[1000, 16],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(a) a growing block with small blocks pinned between its steps: 3000 times, \
                allocate a block 1000 B larger than the current one, free the current one, \
                allocate 16 B that stay live",
    },
    Workload {
        name: "pinned-4k",
        export: "bench_pinned",
        seed: 15,
        n: 1000,
        args: &[4096, 64],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(a) with page-sized steps: 1000 times +4096 B, 64 B kept after each step",
    },
    Workload {
        name: "pinned-small",
        export: "bench_pinned",
        seed: 16,
        n: 4000,
        args: &[64, 8],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(a) with small steps: 4000 times +64 B, 8 B kept after each step",
    },
    Workload {
        name: "doubling",
        export: "bench_doubling",
        seed: 17,
        n: 19,
        args: &[16, 64],
        group: Group::Memory,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(b) a buffer doubling from 16 B to 8 MiB: each step allocates a block twice \
                the size, frees the old one, and allocates 64 B that stay live",
    },
    Workload {
        name: "doubling-realloc",
        export: "bench_regrow_doubling",
        seed: 18,
        n: 19,
        args: &[16, 64],
        group: Group::Memory,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(b) through `realloc`, as a `Vec` grows: 16 B doubled to 8 MiB, 64 B kept \
                after each step",
    },
    Workload {
        name: "temp",
        export: "bench_temp",
        seed: 12,
        n: 1000,
        args: &[512 * 1024, 1536 * 1024, 32],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(c) a temporary buffer with a small long-lived block: 1000 times, allocate a \
                buffer of 0.5..=1.5 MiB, then 32 B that stay live, then free the buffer",
    },
    Workload {
        name: "temp-small",
        export: "bench_temp",
        seed: 19,
        n: 20_000,
        args: &[8 * 1024, 24 * 1024, 16],
        group: Group::Memory,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(c) with small buffers: 20 000 times a buffer of 8..=24 KiB, 16 B kept",
    },
    Workload {
        name: "temp-big",
        export: "bench_temp",
        seed: 20,
        n: 2000,
        args: &[64 << 20, 192 << 20, 32],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(c) with huge buffers: 2000 times a buffer of 64..=192 MiB, 32 B kept: an \
                allocator that strands the freed buffers reaches the 4 GiB end of wasm32 \
                memory and returns null (counted)",
    },
    Workload {
        name: "regrow",
        export: "bench_regrow",
        seed: 26,
        n: 4000,
        args: &[1000, 16],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(d) a buffer grown by `realloc`, +1000 B at a time, 4000 times, with 16 B \
                allocated and kept after each step",
    },
    Workload {
        name: "regrow-64",
        export: "bench_regrow",
        seed: 27,
        n: 5000,
        args: &[64, 16],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(d) with small steps: +64 B, 5000 times, 16 B kept after each step (a string \
                built while small objects are made)",
    },
    Workload {
        name: "creep",
        export: "bench_creep",
        seed: 28,
        n: 2000,
        args: &[64 * 1024, 65 * 1024],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(e) a scratch buffer whose size creeps up between uses: 2000 times allocate, \
                touch and free a buffer of 64 KiB + 65 KiB per earlier use (to 127 MiB); each \
                use needs a page more than the last, so growing memory by exactly the \
                shortfall calls `memory.grow` on every use",
    },
    Workload {
        name: "creep-16k",
        export: "bench_creep",
        seed: 29,
        n: 2000,
        args: &[16, 16 * 1024],
        group: Group::Memory,
        reps: None,
        full: false,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(e) with steps of a quarter page: 2000 uses from 16 B, +16 KiB per use (to \
                31 MiB); exact-shortfall growth calls `memory.grow` every fourth use",
    },
    Workload {
        name: "rebuild",
        export: "bench_rebuild",
        seed: 32,
        n: 20,
        args: &[4 << 20, 256 << 10, 64],
        group: Group::Memory,
        reps: None,
        full: true,
        fresh: false,
        warm: None,
        unit: CALLS,
        about: "(f) a buffer rebuilt a little bigger each round (issue 22): 20 times, allocate, \
                fill and free a buffer of 4 MiB + 256 KiB per earlier round (to 8.75 MiB), then \
                allocate 64 B that stay live; nothing else is on the heap",
    },
    Workload {
        name: "zeroed",
        export: "bench_zeroed",
        seed: 30,
        n: 64,
        args: &[64 * 1024, 4 << 20],
        group: Group::Zeroed,
        reps: None,
        full: true,
        fresh: true,
        warm: None,
        unit: CALLS,
        about: "first touch: on a brand-new instance (each timed call on its own), zeroed \
                blocks (`std::alloc::alloc_zeroed`, as `vec![0u8; n]` asks) of 64 KiB..=4 MiB, \
                8-aligned, until 64 MiB are live, then all freed: memory fresh from \
                `memory.grow`, already zero. As everywhere, the timed call reads and writes \
                only the first byte of each block: the figure is what handing out zeroed \
                memory costs, not what using it does (a program that then writes every byte \
                takes the page faults that a clearing allocator's `memset` took: see \
                EXPERIMENTS.md)",
    },
    Workload {
        name: "zeroed-reuse",
        export: "bench_zeroed",
        seed: 30,
        n: 64,
        args: &[64 * 1024, 4 << 20],
        group: Group::Zeroed,
        reps: None,
        full: true,
        fresh: false,
        warm: Some(Warm { seed: 31 }),
        unit: CALLS,
        about: "verified, not timed: the same on an instance whose memory was used and \
                freed before (a run with another seed first writes every byte of every block), \
                so that every block must be cleared; checked on every bench module, byte by \
                byte",
    },
];

/// How a workload is run on memory used and freed before.
pub struct Warm {
    /// The verification run first runs the workload once with this seed,
    /// every byte written.
    pub seed: u32,
}

/// The timing of one allocator on one workload.
pub struct Timing {
    /// Median CPU time of a call (user + system), microseconds: the median
    /// over rounds of each round's median batch (per call).
    pub median_us: f64,
    /// The same in wall-clock time.
    pub median_wall_us: f64,
    /// Interquartile range over median of the rounds' CPU times (`None`
    /// for fewer than 4 rounds).
    pub spread: Option<f64>,
}

/// One allocator on one workload.
pub struct Cell {
    /// Actions per call (the same in every call).
    pub actions: u64,
    /// Allocator calls per call of the workload.
    pub calls: u64,
    /// From the verification run (fresh instance, memory tracked):
    /// memory grown, the peak of live bytes, bytes moved by `realloc`, and
    /// its CPU time in µs.
    pub grown: u64,
    pub peak: u64,
    pub moved: u64,
    pub verify_us: f64,
    /// `memory.grow` calls (changes of the memory size after an allocator
    /// call), null returns, and the heap (memory above `__heap_base`) when
    /// the live bytes peaked.
    pub grows: u64,
    pub nulls: u64,
    pub heap_at_peak: u64,
    /// The verification run was stopped at the run's time limit: no
    /// figures (all zero).
    pub stopped: bool,
    /// `None`: not timed (a memory pattern, stopped, or slower in its
    /// verification run than the run's cap).
    pub time: Option<Timing>,
}

impl Cell {
    pub fn per_us(&self) -> Option<f64> {
        let t = self.time.as_ref()?;
        (t.median_us > 0.0).then(|| self.actions as f64 / t.median_us)
    }

    /// Nanoseconds per allocator call (the workload's own work included).
    pub fn ns_per_call(&self) -> Option<f64> {
        let t = self.time.as_ref()?;
        (self.calls > 0).then(|| t.median_us * 1000.0 / self.calls as f64)
    }
}

/// Results by allocator name, then workload name.
pub type Table = BTreeMap<String, BTreeMap<String, Cell>>;
/// Results by profile.
pub type Speeds = BTreeMap<Profile, Table>;

/// What to run.
pub struct Plan<'a> {
    pub rounds: usize,
    pub reps: usize,
    /// Cells whose verification run took more CPU time than this (µs) are
    /// not timed.
    pub cap_us: u64,
    /// Timed calls are batched to last at least this long (µs of CPU).
    pub batch_us: u64,
    /// A verification run that takes longer (ms of wall time) is stopped.
    pub limit_ms: u64,
    /// The same for a program's runs on one instance, all together.
    pub program_limit_ms: u64,
    pub workloads: Vec<&'a Workload>,
    /// The programs to run, each `runs` times per instance.
    pub programs: Vec<&'a Program>,
    pub runs: u32,
}

/// The median (0 for no values).
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// (third quartile - first quartile) / median; 0 for fewer than 4 values.
pub fn spread(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let mid = median(v.iter().copied());
    if n < 4 || mid <= 0.0 {
        return 0.0;
    }
    (v[(3 * n) / 4] - v[n / 4]) / mid
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The protocol name of an allocator built with a profile.
fn entry_name(alloc: &str, profile: Profile) -> String {
    format!("{alloc}@{}", profile.name())
}

fn split_name(name: &str) -> Option<(String, Profile)> {
    let (alloc, p) = name.rsplit_once('@')?;
    Some((alloc.to_string(), Profile::parse(p)?))
}

/// One verification run (`None`: stopped at the time limit).
struct Check {
    actions: u64,
    calls: u64,
    grown: u64,
    peak: u64,
    moved: u64,
    cpu: f64,
    grows: u64,
    nulls: u64,
    heap_at_peak: u64,
}

/// One timed batch: its round, and its CPU and wall time per call.
struct Sample {
    round: usize,
    cpu: f64,
    wall: f64,
}

/// The profile whose builds run the memory patterns: "z" when it is built,
/// else the first one.
pub fn memory_profile(modules: &[(&str, Profile, PathBuf)]) -> Option<Profile> {
    let mut profiles = modules.iter().map(|m| m.1);
    if profiles.clone().any(|p| p == Profile::Z) {
        Some(Profile::Z)
    } else {
        profiles.next()
    }
}

/// Runs the benchmark over `modules` (allocator name, profile, bench module
/// path) and the programs over `programs` (allocator name, programs module
/// path). Node's own output is kept in `target/size-report/bench-out.txt`.
pub fn run(
    paths: &Paths,
    modules: &[(&str, Profile, PathBuf)],
    programs: &[(&str, PathBuf)],
    plan: &Plan,
) -> Result<(Speeds, ProgTable)> {
    let memory = memory_profile(modules);
    let allocators: Vec<String> = modules
        .iter()
        .map(|(name, profile, path)| {
            format!(
                "{{\"name\": {}, \"path\": {}, \"memory\": {}}}",
                json_str(&entry_name(name, *profile)),
                json_str(&path.to_string_lossy()),
                // The floor is a measuring device, not in the memory tables.
                memory == Some(*profile) && *name != crate::variants::FLOOR
            )
        })
        .collect();
    let workloads: Vec<String> = plan
        .workloads
        .iter()
        .map(|w| {
            let args: Vec<String> = w.args.iter().map(|a| a.to_string()).collect();
            let reps = w.reps.map_or(String::new(), |r| format!(", \"reps\": {r}"));
            let warm =
                w.warm.as_ref().map_or(String::new(), |w| format!(", \"warm_seed\": {}", w.seed));
            format!(
                "{{\"name\": {}, \"export\": {}, \"seed\": {}, \"n\": {}, \"args\": [{}], \
                 \"timed\": {}, \"everywhere\": {}, \"full\": {}, \"fresh\": {}{reps}{warm}}}",
                json_str(w.name),
                json_str(w.export),
                w.seed,
                w.n,
                args.join(", "),
                w.timed(),
                w.verified_everywhere(),
                w.full,
                w.fresh,
            )
        })
        .collect();
    let prog_allocators: Vec<String> = programs
        .iter()
        .map(|(name, path)| {
            format!(
                "{{\"name\": {}, \"path\": {}}}",
                json_str(name),
                json_str(&path.to_string_lossy())
            )
        })
        .collect();
    let prog_list: Vec<String> = plan
        .programs
        .iter()
        .map(|p| {
            format!(
                "{{\"name\": {}, \"export\": {}, \"seed\": {}, \"n\": {}}}",
                json_str(p.name),
                json_str(p.export),
                p.seed,
                p.n
            )
        })
        .collect();
    let programs_config = if programs.is_empty() || prog_list.is_empty() {
        String::new()
    } else {
        format!(
            ",\n\"programs\": {{\"runs\": {}, \"allocators\": [\n{}\n],\n\"list\": [\n{}\n]}}",
            plan.runs,
            prog_allocators.join(",\n"),
            prog_list.join(",\n")
        )
    };
    let config = format!(
        "{{\"rounds\": {}, \"reps\": {}, \"cap_us\": {}, \"batch_us\": {}, \"limit_ms\": {}, \
         \"program_limit_ms\": {}, \"fresh_pause_ms\": {FRESH_PAUSE_MS},\n\
         \"allocators\": [\n{}\n],\n\"workloads\": [\n{}\n]{programs_config}}}\n",
        plan.rounds,
        plan.reps,
        plan.cap_us,
        plan.batch_us,
        plan.limit_ms,
        plan.program_limit_ms,
        allocators.join(",\n"),
        workloads.join(",\n")
    );
    let config_path = paths.target.join("bench.json");
    fs::write(&config_path, config).map_err(|e| format!("write {config_path:?}: {e}"))?;
    let log_path = paths.target.join("bench-out.txt");
    let mut log = fs::File::create(&log_path).map_err(|e| format!("create {log_path:?}: {e}"))?;

    // Calls are timed in CPU time (see bench.mjs): on a shared machine, wall
    // time mostly measures the other processes.
    // `--no-liftoff`: compile with the optimising tier up front, so that no
    // run measures the baseline compiler or a tier-up in the middle.
    // `--expose-gc`: bench.mjs collects garbage before each timed series.
    let mut child = Command::new("node")
        .args(["--no-liftoff", "--expose-gc"])
        .arg(paths.here.join("bench.mjs"))
        .arg(&config_path)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from node")?;
    let mut checks: BTreeMap<(String, String), Option<Check>> = BTreeMap::new();
    let mut progs = ProgTable::new();
    let mut samples: BTreeMap<(String, String), Vec<Sample>> = BTreeMap::new();
    let mut error = None;
    let mut last_round = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading node's output: {e}"))?;
        let _ = writeln!(log, "{line}");
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("bad line from bench.mjs: {line}");
        match f.as_slice() {
            ["check", alloc, workload, actions, calls, grown, peak, moved, cpu, grows, nulls, heap] =>
            {
                let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
                let check = Check {
                    actions: num(actions)?,
                    calls: num(calls)?,
                    grown: num(grown)?,
                    peak: num(peak)?,
                    moved: num(moved)?,
                    cpu: cpu.parse().map_err(|_| bad())?,
                    grows: num(grows)?,
                    nulls: num(nulls)?,
                    heap_at_peak: num(heap)?,
                };
                eprintln!(
                    "  verified {alloc} {workload}: {} calls, {:.2} MiB grown in {} memory.grow \
                     calls{} ({:.0} ms)",
                    check.calls,
                    check.grown as f64 / 1048576.0,
                    check.grows,
                    if check.nulls > 0 {
                        format!(", {} nulls", check.nulls)
                    } else {
                        String::new()
                    },
                    check.cpu / 1000.0
                );
                checks.insert((alloc.to_string(), workload.to_string()), Some(check));
            }
            ["prog", alloc, program, _sum, calls, g1, gn, peak, heap, r1, rn, nulls, c1, cn] => {
                let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
                let flt = |s: &str| s.parse::<f64>().map_err(|_| bad());
                let cell = ProgCell {
                    grown_first: num(g1)?,
                    grown_all: num(gn)?,
                    peak: num(peak)?,
                    heap_at_peak: num(heap)?,
                    grows_first: num(r1)?,
                    grows_all: num(rn)?,
                    nulls: num(nulls)?,
                    cpu_first_us: flt(c1)?,
                    cpu_all_us: flt(cn)?,
                };
                eprintln!(
                    "  ran {alloc} {program}: {calls} calls, {:.2} MiB grown after one run, \
                     {:.2} after {} ({:.0} ms)",
                    cell.grown_first as f64 / 1048576.0,
                    cell.grown_all as f64 / 1048576.0,
                    plan.runs,
                    cell.cpu_all_us / 1000.0
                );
                progs
                    .entry(alloc.to_string())
                    .or_default()
                    .insert(program.to_string(), ProgOutcome::Done(cell));
            }
            ["stopped", alloc, name, limit] => {
                eprintln!("  stopped {alloc} {name} at the {limit} ms limit");
                if plan.programs.iter().any(|p| p.name == *name) && !alloc.contains('@') {
                    progs
                        .entry(alloc.to_string())
                        .or_default()
                        .insert(name.to_string(), ProgOutcome::Stopped);
                } else {
                    checks.insert((alloc.to_string(), name.to_string()), None);
                }
            }
            ["slow", alloc, workload] => {
                eprintln!("  not timing {alloc} {workload}: its verification run took too long");
            }
            ["run", alloc, workload, round, _rep, _actions, wall, cpu, _batch] => {
                let parsed = (round.parse::<usize>(), wall.parse(), cpu.parse());
                let (Ok(round), Ok(wall), Ok(cpu)) = parsed else {
                    return Err(bad());
                };
                if last_round != round.to_string() {
                    eprintln!("  timing round {}/{}", round + 1, plan.rounds);
                    last_round = round.to_string();
                }
                samples
                    .entry((alloc.to_string(), workload.to_string()))
                    .or_default()
                    .push(Sample { round, cpu, wall });
            }
            ["error", alloc, workload, ..] => {
                let message = f[3..].join(" ");
                error = Some(format!(
                    "allocator {alloc}, workload {workload}: {message}\n\
                     reproduce: node --no-liftoff --expose-gc {} {}",
                    paths.here.join("bench.mjs").display(),
                    config_path.display()
                ));
            }
            _ => eprintln!("  node: {line}"),
        }
    }
    let status = child.wait().map_err(|e| format!("waiting for node: {e}"))?;
    if let Some(e) = error {
        return Err(format!("benchmark check failed: {e}"));
    }
    if !status.success() {
        return Err(format!("bench.mjs failed ({status})"));
    }

    let mut speeds = Speeds::new();
    for ((name, workload), check) in checks {
        let Some((alloc, profile)) = split_name(&name) else {
            return Err(format!("bench.mjs named an unknown allocator {name:?}"));
        };
        let time = samples.get(&(name.clone(), workload.clone())).map(|s| timing(s));
        let cell = match check {
            Some(check) => Cell {
                actions: check.actions,
                calls: check.calls,
                grown: check.grown,
                peak: check.peak,
                moved: check.moved,
                verify_us: check.cpu,
                grows: check.grows,
                nulls: check.nulls,
                heap_at_peak: check.heap_at_peak,
                stopped: false,
                time,
            },
            None => Cell {
                actions: 0,
                calls: 0,
                grown: 0,
                peak: 0,
                moved: 0,
                verify_us: 0.0,
                grows: 0,
                nulls: 0,
                heap_at_peak: 0,
                stopped: true,
                time: None,
            },
        };
        speeds.entry(profile).or_default().entry(alloc).or_default().insert(workload, cell);
    }
    Ok((speeds, progs))
}

/// Each round's median call, then the median and spread over rounds.
fn timing(samples: &[Sample]) -> Timing {
    let mut rounds: BTreeMap<usize, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for s in samples {
        let r = rounds.entry(s.round).or_default();
        r.0.push(s.cpu);
        r.1.push(s.wall);
    }
    let cpu: Vec<f64> = rounds.values().map(|r| median(r.0.iter().copied())).collect();
    let wall: Vec<f64> = rounds.values().map(|r| median(r.1.iter().copied())).collect();
    Timing {
        median_us: median(cpu.iter().copied()),
        median_wall_us: median(wall.iter().copied()),
        spread: (cpu.len() >= 4).then(|| spread(cpu.iter().copied())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spread() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), 2.5);
        assert_eq!(median(std::iter::empty()), 0.0);
        let s = spread([10.0, 10.0, 10.0, 10.0, 10.0].into_iter());
        assert_eq!(s, 0.0);
        let s = spread([8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0].into_iter());
        assert!((s - (14.0 - 10.0) / 11.5).abs() < 1e-9);
    }

    #[test]
    fn rounds_then_median() {
        let s = |round, cpu| Sample { round, cpu, wall: cpu };
        // Round medians 10, 20, 30: the median is 20, not the pooled 15.
        let t = timing(&[s(0, 9.0), s(0, 10.0), s(0, 11.0), s(1, 20.0), s(2, 30.0)]);
        assert_eq!(t.median_us, 20.0);
    }

    #[test]
    fn names_round_trip() {
        let n = entry_name("talcum+counters", Profile::O3);
        assert_eq!(split_name(&n), Some(("talcum+counters".to_string(), Profile::O3)));
        assert_eq!(split_name("x@q"), None);
    }

    #[test]
    fn workloads_are_distinct() {
        for (i, a) in WORKLOADS.iter().enumerate() {
            assert!(WORKLOADS[i + 1..].iter().all(|b| b.name != a.name), "{}", a.name);
            assert!(!a.name.contains(char::is_whitespace));
        }
    }
}
