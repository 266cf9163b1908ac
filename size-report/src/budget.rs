//! `size-report/budget.toml`: the most bytes talcum's minimal module may add
//! over the null-allocator baseline after `wasm-opt -Oz`.

use crate::Result;
use std::path::Path;

/// The key in budget.toml.
pub const KEY: &str = "minimal_over_baseline";

/// Reads `KEY = <bytes>` from the file (comments and other keys ignored).
pub fn read(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {path:?}: {e}"))?;
    parse(&text).ok_or_else(|| format!("{path:?}: no line `{KEY} = <bytes>`"))
}

fn parse(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let (key, value) = line.split_once('=')?;
        if key.trim() != KEY {
            return None;
        }
        value.trim().replace('_', "").parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse("# bytes\nminimal_over_baseline = 9_500 # max\n"), Some(9500));
        assert_eq!(parse("other = 3\n"), None);
        assert_eq!(parse("minimal_over_baseline = lots\n"), None);
    }
}
