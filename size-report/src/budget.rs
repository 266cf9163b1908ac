//! `size-report/budget.toml`: the most bytes talcum's minimal modules may add
//! over the null-allocator baseline after `wasm-opt -Oz`: the default build,
//! the `tiny` build and the `fast` build.

use crate::Result;
use std::path::Path;

/// The budgets in budget.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `minimal_over_baseline`: the default build.
    pub default: u64,
    /// `tiny_over_baseline`: the `tiny` build.
    pub tiny: u64,
    /// `fast_over_baseline`: the `fast` build.
    pub fast: u64,
}

/// Reads the budgets from the file.
pub fn read(path: &Path) -> Result<Budget> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {path:?}: {e}"))?;
    parse(&text).map_err(|e| format!("{path:?}: {e}"))
}

fn parse(text: &str) -> Result<Budget> {
    let table: toml::Table = text.parse().map_err(|e| format!("not TOML: {e}"))?;
    let bytes = |key: &str| -> Result<u64> {
        table
            .get(key)
            .and_then(toml::Value::as_integer)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| format!("no `{key} = <bytes>`"))
    };
    Ok(Budget {
        default: bytes("minimal_over_baseline")?,
        tiny: bytes("tiny_over_baseline")?,
        fast: bytes("fast_over_baseline")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let b = parse(
            "# bytes\nminimal_over_baseline = 9_500 # max\ntiny_over_baseline = 1000\n\
             fast_over_baseline = 3000\n",
        );
        assert_eq!(b.ok(), Some(Budget { default: 9500, tiny: 1000, fast: 3000 }));
        assert!(parse("minimal_over_baseline = 1\ntiny_over_baseline = 1\n").is_err());
        assert!(parse("minimal_over_baseline = 3\n").is_err());
        assert!(parse("minimal_over_baseline = \"lots\"\ntiny_over_baseline = 1\n").is_err());
        assert!(parse("minimal_over_baseline = -1\ntiny_over_baseline = 1\n").is_err());
    }
}
