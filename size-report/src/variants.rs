//! The allocators compared, each one `alloc-*` feature of `module/`.

/// One allocator setup.
pub struct Variant {
    /// Short name, used in tables, file names and the benchmark protocol.
    pub name: &'static str,
    /// The `alloc-*` feature of the module crate.
    pub feature: &'static str,
    /// How it is set up, for the report.
    pub setup: &'static str,
    /// The crate whose version the report quotes (from the module's lock file).
    pub krate: Option<&'static str>,
    /// Whether it is timed (the baseline cannot allocate; `checks` is a
    /// debugging mode that walks the whole heap on every call).
    pub speed: bool,
    /// A talcum build: may be skipped while the core does not build.
    pub talcum: bool,
    /// Built by `--check` too.
    pub gate: bool,
    /// In the size and memory tables and the chart (the floor is not: it is
    /// a measuring device, not a competitor).
    pub sizes: bool,
    /// Timed at opt-level 3 too (else at "z" only).
    pub o3: bool,
    /// Runs the real programs (`module/src/programs.rs`) for the memory
    /// tables.
    pub programs: bool,
}

/// The null allocator: the baseline every size is measured against.
pub const BASELINE: &str = "none";
/// talcum with its default features: the build the budget applies to.
pub const TALCUM: &str = "talcum";
/// The `tiny` build, which has its own budget.
pub const TINY: &str = "talcum+tiny";
/// The `fast` build (the front end for small blocks), which has its own budget.
pub const FAST: &str = "talcum+fast";
/// Rust's default wasm allocator (std's `System`).
pub const DLMALLOC_STD: &str = "dlmalloc-std";
/// The `dlmalloc` crate as a global allocator: the reference for the worst
/// cases' ratios.
pub const DLMALLOC_CRATE: &str = "dlmalloc";
/// The bench's floor: a bump allocator timed for the harness's own cost.
pub const FLOOR: &str = "floor";

pub const VARIANTS: &[Variant] = &[
    Variant {
        name: BASELINE,
        feature: "alloc-none",
        setup: "null allocator (always returns null): the baseline",
        krate: None,
        speed: false,
        talcum: false,
        gate: true,
        sizes: true,
        o3: false,
        programs: false,
    },
    Variant {
        name: TALCUM,
        feature: "alloc-talcum",
        setup: "`talcum::TalckWasm`, default features",
        krate: Some("talcum"),
        speed: true,
        talcum: true,
        gate: true,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: "talcum+counters",
        feature: "alloc-talcum-counters",
        setup: "`talcum::TalckWasm`, feature `counters`",
        krate: Some("talcum"),
        speed: true,
        talcum: true,
        gate: false,
        sizes: true,
        o3: false,
        programs: false,
    },
    Variant {
        name: TINY,
        feature: "alloc-talcum-tiny",
        setup: "`talcum::TalckWasm`, feature `tiny` (the tiny allocator)",
        krate: Some("talcum"),
        speed: true,
        talcum: true,
        gate: true,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: FAST,
        feature: "alloc-talcum-fast",
        setup: "`talcum::TalckWasm`, feature `fast` (the front end for small blocks)",
        krate: Some("talcum"),
        speed: true,
        talcum: true,
        gate: true,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: "talcum+checks",
        feature: "alloc-talcum-checks",
        setup: "`talcum::TalckWasm`, feature `checks` (debugging; not timed)",
        krate: Some("talcum"),
        speed: false,
        talcum: true,
        gate: false,
        sizes: true,
        o3: false,
        programs: false,
    },
    Variant {
        name: DLMALLOC_STD,
        feature: "alloc-dlmalloc-std",
        setup: "no `#[global_allocator]`: std's `System` (dlmalloc), Rust's default",
        krate: None,
        speed: true,
        talcum: false,
        gate: true,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: DLMALLOC_CRATE,
        feature: "alloc-dlmalloc",
        setup: "`dlmalloc::GlobalDlmalloc` (feature `global`)",
        krate: Some("dlmalloc"),
        speed: true,
        talcum: false,
        gate: true,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: "talc",
        feature: "alloc-talc",
        setup: "`talc::wasm::new_wasm_dynamic_allocator()` (grow and extend)",
        krate: Some("talc"),
        speed: true,
        talcum: false,
        gate: false,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: "talc-small",
        feature: "alloc-talc-small",
        setup: "talc `WasmGrowAndClaim`, feature `disable-realloc-in-place`",
        krate: Some("talc"),
        speed: true,
        talcum: false,
        gate: false,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: "rlsf",
        feature: "alloc-rlsf",
        setup: "`rlsf::GlobalTlsf`",
        krate: Some("rlsf"),
        speed: true,
        talcum: false,
        gate: false,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: "rlsf-small",
        feature: "alloc-rlsf-small",
        setup: "`rlsf::SmallGlobalTlsf` (no in-place realloc, no pool merging)",
        krate: Some("rlsf"),
        speed: true,
        talcum: false,
        gate: false,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: "lol_alloc",
        feature: "alloc-lol",
        setup: "`lol_alloc::AssumeSingleThreaded<FreeListAllocator>`",
        krate: Some("lol_alloc"),
        speed: true,
        talcum: false,
        gate: false,
        sizes: true,
        o3: false,
        programs: true,
    },
    Variant {
        name: "wasmalloc",
        feature: "alloc-wasmalloc",
        setup: "`wasmalloc::WasmAlloc::new()` (size classes, mimalloc-style)",
        krate: Some("wasmalloc"),
        speed: true,
        talcum: false,
        gate: false,
        sizes: true,
        o3: true,
        programs: true,
    },
    Variant {
        name: FLOOR,
        feature: "alloc-bump",
        setup: "the floor: a bump allocator with power-of-two reuse, timed for the harness's \
                own cost (not a competitor)",
        krate: None,
        speed: true,
        talcum: false,
        gate: false,
        sizes: false,
        o3: true,
        programs: false,
    },
    // Last, so that the indices above stay put. Priced, not timed.
    Variant {
        name: "talcum+stats",
        feature: "alloc-talcum-stats",
        setup: "`talcum::TalckWasm`, feature `stats` (the block kept, nothing exported)",
        krate: Some("talcum"),
        speed: false,
        talcum: true,
        gate: false,
        sizes: true,
        o3: false,
        programs: false,
    },
];

/// A build profile of the module crate.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Profile {
    /// `release`: opt-level "z" (the size profile).
    Z,
    /// `o3`: opt-level 3, what wasm-pack ships by default.
    O3,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::O3, Profile::Z];

    /// The cargo profile's name (and its folder under the target dir).
    pub fn cargo(self) -> &'static str {
        match self {
            Profile::Z => "release",
            Profile::O3 => "o3",
        }
    }

    /// Short name: file names, the benchmark protocol, `--profile`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Z => "z",
            Profile::O3 => "o3",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Profile::Z => "opt-level \"z\"",
            Profile::O3 => "opt-level 3",
        }
    }

    pub fn parse(s: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// A module kind: one `mod-*` feature of the module crate.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    /// `alloc`/`dealloc`/`realloc` exports only.
    Minimal,
    /// `Vec`, `String`, `BTreeMap`, `format!`.
    App,
    /// The benchmark workloads (not measured for size).
    Bench,
    /// The real programs (not measured for size; built with the
    /// `programs` profile: no LTO, see `module/Cargo.toml`).
    Programs,
}

impl Kind {
    pub fn feature(self) -> &'static str {
        match self {
            Kind::Minimal => "mod-minimal",
            Kind::App => "mod-app",
            Kind::Bench => "mod-bench",
            Kind::Programs => "mod-programs",
        }
    }

    /// The cargo profile a build of this kind uses with `profile`.
    pub fn cargo_profile(self, profile: Profile) -> &'static str {
        match self {
            Kind::Programs => "programs",
            _ => profile.cargo(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Minimal => "minimal",
            Kind::App => "app",
            Kind::Bench => "bench",
            Kind::Programs => "programs",
        }
    }
}
