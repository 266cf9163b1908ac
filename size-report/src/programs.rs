//! The real programs of the memory tables: exports of the programs module
//! (`module/src/programs.rs`, one build per allocator), run by `bench.mjs`.

use std::collections::BTreeMap;

/// One real program: an export of the programs module, called as
/// `export(seed, n)`.
pub struct Program {
    pub name: &'static str,
    pub export: &'static str,
    pub seed: u32,
    pub n: u32,
    /// The crate it exercises (its version comes from the module's lock
    /// file).
    pub krate: &'static str,
    pub about: &'static str,
}

/// How many times each program runs on its instance: the memory after the
/// first run and after all of them is reported.
pub const RUNS: u32 = 10;

pub const PROGRAMS: &[Program] = &[
    Program {
        name: "json",
        export: "prog_json",
        seed: 21,
        n: 1000,
        krate: "serde_json",
        about: "builds a `serde_json::Value` of 1000 user records (strings with escapes and \
                non-ASCII text, arrays, nested objects, numbers), serialises it, parses it back \
                and compares, then pretty-prints, parses and compares again: many small \
                blocks and two growing strings",
    },
    Program {
        name: "markdown",
        export: "prog_markdown",
        seed: 22,
        n: 600,
        krate: "pulldown-cmark",
        about: "renders a generated Markdown document of 600 sections (headings, paragraphs \
                with inline markup and links, lists, code blocks, tables, quotes) to HTML and \
                counts its headings: a parse tree that grows as one large vector, small inline \
                strings, a growing output string",
    },
    Program {
        name: "deflate",
        export: "prog_deflate",
        seed: 23,
        n: 512,
        krate: "miniz_oxide",
        about: "compresses 512 KiB of generated log text at levels 6 and 1 and inflates both \
                back, compared: a few large blocks (the compressor's state, output vectors \
                that double)",
    },
    Program {
        name: "regex",
        export: "prog_regex",
        seed: 24,
        n: 2000,
        krate: "regex",
        about: "compiles ten patterns (Unicode classes, case folding, captures, a `RegexSet`) \
                and runs them over 2000 generated log lines, with one `replace_all`: many \
                small blocks while compiling, lazy-DFA caches while searching",
    },
    Program {
        name: "index",
        export: "prog_index",
        seed: 25,
        n: 3000,
        krate: "std",
        about: "std's `HashMap` (fixed hash keys) and `BTreeMap`: an inverted index of 3000 \
                generated documents over a vocabulary of about 33 000 words, a sliding window \
                that drops the postings of old documents, then a ranking: tables that rehash, \
                thousands of vectors that grow and shrink",
    },
];

/// One allocator on one program.
pub struct ProgCell {
    /// Memory grown after the first run and after all `RUNS`.
    pub grown_first: u64,
    pub grown_all: u64,
    /// The peak of live bytes in the first run (the same for every
    /// allocator), and the heap (memory above `__heap_base`) at that peak.
    pub peak: u64,
    pub heap_at_peak: u64,
    /// `memory.grow` calls after the first run and after all runs.
    pub grows_first: u64,
    pub grows_all: u64,
    /// Null returns over all runs (the programs stop at the first).
    pub nulls: u64,
    /// CPU time of the first run and of all runs, µs.
    pub cpu_first_us: f64,
    pub cpu_all_us: f64,
}

/// A program's outcome for one allocator: figures, or stopped at the
/// run's time limit.
pub enum ProgOutcome {
    Done(ProgCell),
    Stopped,
}

/// Results by allocator name, then program name.
pub type ProgTable = BTreeMap<String, BTreeMap<String, ProgOutcome>>;
