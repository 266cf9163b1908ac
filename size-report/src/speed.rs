//! The speed half: runs `bench.mjs` in Node over the bench modules and
//! turns its lines into medians.

use crate::modules::Paths;
use crate::Result;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// One benchmark workload: an export of the bench module.
pub struct Workload {
    pub name: &'static str,
    pub export: &'static str,
    pub seed: u32,
    pub n: u32,
    /// What an action is, for the report.
    pub unit: &'static str,
    pub about: &'static str,
}

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "random",
        export: "bench_random",
        seed: 1,
        n: 100_000,
        unit: "allocator calls",
        about: "100 000 random steps over 1024 slots: an empty slot gets a block of 1..=10000 B, \
                a full one is freed; alignment mostly a word (1/8 byte, 5/8 4 B, 3/16 8 B, \
                1/32 16 B, 1/32 64 B); then everything left is freed",
    },
    Workload {
        name: "realloc",
        export: "bench_realloc",
        seed: 2,
        n: 100_000,
        unit: "allocator calls",
        about: "as random, but half of the steps on a full slot resize its block to a new \
                random size (1..=10000 B) instead of freeing it",
    },
    Workload {
        name: "small",
        export: "bench_small",
        seed: 3,
        n: 200_000,
        unit: "allocator calls",
        about: "200 000 random steps over 4096 slots with blocks of 8..=256 B",
    },
    Workload {
        name: "vec",
        export: "bench_vec",
        seed: 4,
        n: 4,
        unit: "pushes",
        about: "a `Vec<u32>` grown to 1 MiB by `push`, four times in a row",
    },
    Workload {
        name: "app",
        export: "bench_app",
        seed: 5,
        n: 50_000,
        unit: "allocator calls",
        about: "50 000 steps of a small program: a `BTreeMap<String, Vec<u32>>` index \
                that gains records and loses keys, a bounded `VecDeque<String>` log of \
                `format!`ted lines, 16..=4096 B scratch buffers, sorted snapshots",
    },
];

/// The timing of one allocator on one workload.
pub struct Cell {
    /// Actions per run (the same in every run).
    pub actions: u64,
    /// Median CPU time of a run (user + system), microseconds.
    pub median_us: f64,
    /// Median wall-clock time of a run, microseconds.
    pub median_wall_us: f64,
    /// Interquartile range of the CPU times over their median.
    pub spread: f64,
    /// Memory grown by the run (the most seen), bytes.
    pub grown: u64,
}

impl Cell {
    pub fn per_us(&self) -> f64 {
        if self.median_us > 0.0 {
            self.actions as f64 / self.median_us
        } else {
            0.0
        }
    }
}

/// One timed run.
struct Sample {
    actions: u64,
    wall: f64,
    cpu: f64,
    grown: u64,
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

/// Results by allocator name, then workload name.
pub type Speeds = BTreeMap<String, BTreeMap<String, Cell>>;

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

/// Runs the benchmark over `modules` (allocator name, bench module path).
pub fn run(paths: &Paths, modules: &[(&str, PathBuf)], runs: usize) -> Result<Speeds> {
    let allocators: Vec<String> = modules
        .iter()
        .map(|(name, path)| {
            format!(
                "{{\"name\": {}, \"path\": {}}}",
                json_str(name),
                json_str(&path.to_string_lossy())
            )
        })
        .collect();
    let workloads: Vec<String> = WORKLOADS
        .iter()
        .map(|w| {
            format!(
                "{{\"name\": {}, \"export\": {}, \"seed\": {}, \"n\": {}}}",
                json_str(w.name),
                json_str(w.export),
                w.seed,
                w.n
            )
        })
        .collect();
    let config = format!(
        "{{\"runs\": {runs},\n\"allocators\": [\n{}\n],\n\"workloads\": [\n{}\n]}}\n",
        allocators.join(",\n"),
        workloads.join(",\n")
    );
    let config_path = paths.target.join("bench.json");
    fs::write(&config_path, config).map_err(|e| format!("write {config_path:?}: {e}"))?;

    // Runs are timed in CPU time (see bench.mjs): on a shared machine, wall
    // time mostly measures the other processes.
    // `--no-liftoff`: compile with the optimising tier up front, so that no
    // run measures the baseline compiler or a tier-up in the middle.
    let mut child = Command::new("node")
        .arg("--no-liftoff")
        .arg(paths.here.join("bench.mjs"))
        .arg(&config_path)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from node")?;
    let mut samples: BTreeMap<(String, String), Vec<Sample>> = BTreeMap::new();
    let mut error = None;
    let mut last_round = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading node's output: {e}"))?;
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["check", alloc, workload, actions] => {
                eprintln!("  verified {alloc} {workload}: {actions} actions, every byte checked");
            }
            ["run", alloc, workload, round, actions, wall, cpu, grown] => {
                let parsed = (actions.parse(), wall.parse(), cpu.parse(), grown.parse());
                let (Ok(actions), Ok(wall), Ok(cpu), Ok(grown)) = parsed else {
                    return Err(format!("bad line from bench.mjs: {line}"));
                };
                if last_round != *round {
                    eprintln!("  timing round {}/{runs}", round.parse::<usize>().unwrap_or(0) + 1);
                    last_round = round.to_string();
                }
                samples
                    .entry((alloc.to_string(), workload.to_string()))
                    .or_default()
                    .push(Sample { actions, wall, cpu, grown });
            }
            ["error", alloc, workload, ..] => {
                let message = f[3..].join(" ");
                error = Some(format!(
                    "allocator {alloc}, workload {workload}: {message}\n\
                     reproduce: node {} {}",
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
    for ((alloc, workload), runs) in samples {
        let cell = Cell {
            actions: runs.iter().map(|r| r.actions).max().unwrap_or(0),
            median_us: median(runs.iter().map(|r| r.cpu)),
            median_wall_us: median(runs.iter().map(|r| r.wall)),
            spread: spread(runs.iter().map(|r| r.cpu)),
            grown: runs.iter().map(|r| r.grown).max().unwrap_or(0),
        };
        speeds.entry(alloc).or_default().insert(workload, cell);
    }
    Ok(speeds)
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
}
