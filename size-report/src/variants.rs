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
}

/// The null allocator: the baseline every size is measured against.
pub const BASELINE: &str = "none";
/// talcum with its default features: the build the budget applies to.
pub const TALCUM: &str = "talcum";
/// Rust's default wasm allocator (std's `System`).
pub const DLMALLOC_STD: &str = "dlmalloc-std";
/// The `dlmalloc` crate as a global allocator.
pub const DLMALLOC_CRATE: &str = "dlmalloc";

pub const VARIANTS: &[Variant] = &[
    Variant {
        name: BASELINE,
        feature: "alloc-none",
        setup: "null allocator (always returns null): the baseline",
        krate: None,
        speed: false,
        talcum: false,
        gate: true,
    },
    Variant {
        name: TALCUM,
        feature: "alloc-talcum",
        setup: "`talcum::TalckWasm`, default features",
        krate: Some("talcum"),
        speed: true,
        talcum: true,
        gate: true,
    },
    Variant {
        name: "talcum+counters",
        feature: "alloc-talcum-counters",
        setup: "`talcum::TalckWasm`, feature `counters`",
        krate: Some("talcum"),
        speed: true,
        talcum: true,
        gate: false,
    },
    Variant {
        name: "talcum+checks",
        feature: "alloc-talcum-checks",
        setup: "`talcum::TalckWasm`, feature `checks` (debugging; not timed)",
        krate: Some("talcum"),
        speed: false,
        talcum: true,
        gate: false,
    },
    Variant {
        name: DLMALLOC_STD,
        feature: "alloc-dlmalloc-std",
        setup: "no `#[global_allocator]`: std's `System` (dlmalloc), Rust's default",
        krate: None,
        speed: true,
        talcum: false,
        gate: true,
    },
    Variant {
        name: DLMALLOC_CRATE,
        feature: "alloc-dlmalloc",
        setup: "`dlmalloc::GlobalDlmalloc` (feature `global`)",
        krate: Some("dlmalloc"),
        speed: true,
        talcum: false,
        gate: true,
    },
    Variant {
        name: "talc",
        feature: "alloc-talc",
        setup: "`talc::wasm::new_wasm_dynamic_allocator()` (grow and extend)",
        krate: Some("talc"),
        speed: true,
        talcum: false,
        gate: false,
    },
    Variant {
        name: "talc-small",
        feature: "alloc-talc-small",
        setup: "talc `WasmGrowAndClaim`, feature `disable-realloc-in-place`",
        krate: Some("talc"),
        speed: true,
        talcum: false,
        gate: false,
    },
    Variant {
        name: "rlsf",
        feature: "alloc-rlsf",
        setup: "`rlsf::GlobalTlsf`",
        krate: Some("rlsf"),
        speed: true,
        talcum: false,
        gate: false,
    },
    Variant {
        name: "rlsf-small",
        feature: "alloc-rlsf-small",
        setup: "`rlsf::SmallGlobalTlsf` (no in-place realloc, no pool merging)",
        krate: Some("rlsf"),
        speed: true,
        talcum: false,
        gate: false,
    },
    Variant {
        name: "lol_alloc",
        feature: "alloc-lol",
        setup: "`lol_alloc::AssumeSingleThreaded<FreeListAllocator>`",
        krate: Some("lol_alloc"),
        speed: true,
        talcum: false,
        gate: false,
    },
];

/// A module kind: one `mod-*` feature of the module crate.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    /// `alloc`/`dealloc`/`realloc` exports only.
    Minimal,
    /// `Vec`, `String`, `BTreeMap`, `format!`.
    App,
    /// The benchmark workloads (not measured for size).
    Bench,
}

impl Kind {
    pub fn feature(self) -> &'static str {
        match self {
            Kind::Minimal => "mod-minimal",
            Kind::App => "mod-app",
            Kind::Bench => "mod-bench",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Minimal => "minimal",
            Kind::App => "app",
            Kind::Bench => "bench",
        }
    }
}
