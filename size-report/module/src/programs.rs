//! Real programs on well-known crates (`mod-programs`), for the memory
//! tables of the report: what an allocator's footprint is on code it did
//! not see coming.
//!
//! Each `prog_*(seed, n)` export builds its input in the module from `seed`
//! (no files), runs a real crate over it, checks the result (a round trip,
//! or a count known in advance), frees everything, and returns a checksum of
//! its output (never negative), or a negative error code from
//! [`crate::workloads`]. The same program makes the same allocator calls
//! and returns the same checksum under every allocator (`bench.mjs` checks
//! both).
//!
//! * `prog_json`: serde_json. A document of `n` user records (strings with
//!   escapes and non-ASCII text, arrays, nested objects, numbers) is built
//!   as a `Value`, serialised, parsed back and compared, then printed
//!   pretty, parsed again and compared. Many small blocks (strings, vectors,
//!   map nodes) and two growing output strings.
//! * `prog_markdown`: pulldown-cmark. A document of `n` sections
//!   (headings, paragraphs with inline markup and links, lists, code
//!   blocks, tables, quotes) rendered to HTML; the headings are counted in
//!   the output. The parser's tree grows as one large vector; inline text is
//!   borrowed or small.
//! * `prog_deflate`: miniz_oxide. `n` KiB of log-like text compressed at
//!   levels 6 and 1 and inflated back, compared. A few large blocks: the
//!   compressor's state and output vectors that double.
//! * `prog_regex`: regex. Ten patterns (Unicode classes, case folding,
//!   captures, a set) compiled and run over `n` generated log lines, with
//!   one `replace_all`. Many small blocks while compiling, lazy-DFA caches
//!   while searching.
//! * `prog_index`: std's `HashMap` and `BTreeMap`. An inverted index of `n`
//!   generated documents over a vocabulary of about 30 000 words, with a
//!   sliding window that drops old documents' postings, then a ranking.
//!   Tables that rehash, thousands of vectors that grow and shrink.

use crate::workloads::{Rng, E_CONTENT};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::hash::{BuildHasherDefault, DefaultHasher};

/// Syllables of the generated words: 32, so words of two or three make a
/// vocabulary of about 33 000.
const SYLLABLES: [&str; 32] = [
    "ka", "lo", "mi", "ne", "po", "ru", "sa", "ti", "ve", "zo", "bra", "cle", "dri", "fla", "gro",
    "pla", "que", "sti", "tra", "vro", "an", "el", "is", "on", "ur", "ash", "eth", "ing", "ost",
    "und", "ix", "oy",
];

/// Words that make the text less regular: non-ASCII, and characters that
/// JSON escapes.
const ODD: [&str; 8] =
    ["naïve", "Zürich", "déjà-vu", "Ελλάδα", "Москва", "\"quoted\"", "back\\slash", "tab\there"];

fn word(rng: &mut Rng, out: &mut String) {
    for _ in 0..2 + rng.below(2) {
        out.push_str(SYLLABLES[rng.below(32) as usize]);
    }
}

/// `words` words separated by spaces, one in 16 from `ODD`.
fn sentence(rng: &mut Rng, out: &mut String, words: usize) {
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        if rng.below(16) == 0 {
            out.push_str(ODD[rng.below(8) as usize]);
        } else {
            word(rng, out);
        }
    }
}

/// FNV-1a over `parts`, folded to a non-negative `i32`.
fn checksum(parts: &[u64]) -> u32 {
    let h = parts
        .iter()
        .flat_map(|p| p.to_le_bytes())
        .fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    h & 0x7fff_ffff
}

fn code(r: Result<u32, i32>) -> i32 {
    match r {
        Ok(n) => (n & 0x7fff_ffff) as i32,
        Err(e) => e,
    }
}

fn bad<E>(_: E) -> i32 {
    E_CONTENT
}

// ---------------------------------------------------------------- json ----

fn record(rng: &mut Rng, i: u32) -> serde_json::Value {
    use serde_json::{json, Value};
    let tags: Vec<Value> = (0..rng.range(1, 8))
        .map(|_| {
            let mut t = String::new();
            word(rng, &mut t);
            Value::from(t)
        })
        .collect();
    let history: Vec<Value> = (0..rng.range(0, 12))
        .map(|k| {
            json!({
                "t": 1_700_000_000u64 + u64::from(rng.below(1 << 30)),
                "v": i64::from(rng.next() as i32),
                "ok": rng.below(4) != 0,
                "step": k,
            })
        })
        .collect();
    let mut bio = String::new();
    let words = rng.range(3, 40);
    sentence(rng, &mut bio, words);
    let mut street = String::new();
    word(rng, &mut street);
    json!({
        "id": i,
        "name": format!("user-{i:06}"),
        "email": format!("{street}.{i}@example.org"),
        "active": rng.below(2) == 0,
        "score": f64::from(rng.below(800_000)) / 8.0,
        "tags": tags,
        "history": history,
        "bio": bio,
        "address": {
            "street": format!("{} {street} street", rng.range(1, 999)),
            "zip": format!("{:05}", rng.below(100_000)),
            "geo": [f64::from(rng.below(1440)) / 8.0 - 90.0, f64::from(rng.below(2880)) / 8.0 - 180.0],
        },
    })
}

/// serde_json: builds `n` records, serialises, parses back, compares;
/// pretty-prints, parses again, compares.
pub fn json(seed: u32, n: u32) -> Result<u32, i32> {
    let mut rng = Rng::new(seed);
    let doc = serde_json::Value::Array((0..n).map(|i| record(&mut rng, i)).collect());
    let text = serde_json::to_string(&doc).map_err(bad)?;
    let back: serde_json::Value = serde_json::from_str(&text).map_err(bad)?;
    if back != doc {
        return Err(E_CONTENT);
    }
    drop(doc);
    let pretty = serde_json::to_string_pretty(&back).map_err(bad)?;
    let again: serde_json::Value = serde_json::from_str(&pretty).map_err(bad)?;
    if again != back || again.as_array().map(Vec::len) != Some(n as usize) {
        return Err(E_CONTENT);
    }
    Ok(checksum(&[text.len() as u64, pretty.len() as u64]))
}

// ------------------------------------------------------------ markdown ----

/// A paragraph of inline markup.
fn paragraph(rng: &mut Rng, md: &mut String) {
    for _ in 0..rng.range(2, 8) {
        let mut s = String::new();
        let words = rng.range(3, 12);
        sentence(rng, &mut s, words);
        match rng.below(6) {
            0 => {
                let _ = write!(md, "*{s}* ");
            }
            1 => {
                let _ = write!(md, "**{s}** ");
            }
            2 => {
                let _ = write!(md, "`{s}` ");
            }
            3 => {
                let _ = write!(md, "[{s}](https://example.org/{}/{}) ", rng.below(1000), s.len());
            }
            4 => {
                let _ = write!(md, "~~{s}~~ ");
            }
            _ => {
                md.push_str(&s);
                md.push_str(". ");
            }
        }
    }
    md.push_str("\n\n");
}

/// pulldown-cmark: a document of `n` sections to HTML.
pub fn markdown(seed: u32, n: u32) -> Result<u32, i32> {
    use pulldown_cmark::{html, Options, Parser};
    let mut rng = Rng::new(seed);
    let mut md = String::new();
    for s in 0..n {
        let _ = write!(md, "## Section {s}: ");
        let words = rng.range(2, 6);
        sentence(&mut rng, &mut md, words);
        md.push_str("\n\n");
        for _ in 0..rng.range(1, 4) {
            paragraph(&mut rng, &mut md);
        }
        match rng.below(4) {
            0 => {
                for i in 0..rng.range(3, 9) {
                    let indent = if i > 0 && rng.below(3) == 0 { "  " } else { "" };
                    let _ = write!(md, "{indent}- ");
                    let words = rng.range(2, 10);
                    sentence(&mut rng, &mut md, words);
                    md.push('\n');
                }
            }
            1 => {
                md.push_str("```rust\n");
                for i in 0..rng.range(2, 12) {
                    let _ = writeln!(md, "let x{i} = vec![{}; {}];", rng.below(100), rng.below(64));
                }
                md.push_str("```\n");
            }
            2 => {
                md.push_str("| key | value | note |\n|---|--:|:-:|\n");
                for _ in 0..rng.range(2, 8) {
                    let mut k = String::new();
                    word(&mut rng, &mut k);
                    let _ = writeln!(md, "| {k} | {} | *{}* |", rng.below(100_000), k.len());
                }
            }
            _ => {
                md.push_str("> ");
                let words = rng.range(5, 30);
                sentence(&mut rng, &mut md, words);
                md.push('\n');
            }
        }
        md.push('\n');
    }
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(&md, opts));
    if out.matches("<h2>").count() != n as usize {
        return Err(E_CONTENT);
    }
    Ok(checksum(&[md.len() as u64, out.len() as u64]))
}

// ------------------------------------------------------------- deflate ----

/// miniz_oxide: `kib` KiB of log-like text, compressed at levels 6 and 1,
/// inflated back, compared.
pub fn deflate(seed: u32, kib: u32) -> Result<u32, i32> {
    use miniz_oxide::{deflate::compress_to_vec, inflate::decompress_to_vec};
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    let want = kib as usize * 1024;
    while text.len() < want {
        let _ = write!(
            text,
            "2026-11-{:02} {:02}:{:02}:{:02} {} ",
            rng.range(1, 30),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            ["INFO", "WARN", "DEBUG", "ERROR"][rng.below(4) as usize]
        );
        let words = rng.range(3, 16);
        sentence(&mut rng, &mut text, words);
        let _ = writeln!(text, " id={:08x}", rng.next() as u32);
    }
    let data = text.into_bytes();
    let packed = compress_to_vec(&data, 6);
    let fast = compress_to_vec(&data, 1);
    let unpacked = decompress_to_vec(&packed).map_err(bad)?;
    if unpacked != data {
        return Err(E_CONTENT);
    }
    drop(unpacked);
    let unfast = decompress_to_vec(&fast).map_err(bad)?;
    if unfast != data {
        return Err(E_CONTENT);
    }
    Ok(checksum(&[data.len() as u64, packed.len() as u64, fast.len() as u64]))
}

// --------------------------------------------------------------- regex ----

/// regex: ten patterns compiled and run over `n` log lines.
pub fn regex(seed: u32, n: u32) -> Result<u32, i32> {
    use regex::{Regex, RegexSet};
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    for _ in 0..n {
        let mut user = String::new();
        word(&mut rng, &mut user);
        let _ = write!(
            text,
            "2026-11-{:02} {:02}:{:02}:{:02} [{}] {user}@example.{}: ",
            rng.range(1, 30),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            ["info", "WARN", "debug", "Error"][rng.below(4) as usize],
            ["org", "com", "net"][rng.below(3) as usize],
        );
        let words = rng.range(3, 14);
        sentence(&mut rng, &mut text, words);
        let _ = writeln!(
            text,
            " (took {} ms) from 10.{}.{}.{}",
            rng.below(5000),
            rng.below(256),
            rng.below(256),
            rng.below(256)
        );
    }
    const PATTERNS: [&str; 10] = [
        r"(?m)^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})",
        r"\b[\w.]+@[\w.]+\.(?:org|com)\b",
        r"(?i)\b(?:error|warn)\b",
        r"took (\d+) ms",
        r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
        r"\p{Greek}+|\p{Cyrillic}+",
        r"(?i)\b\w*(?:ing|ost|und)\b",
        r"\b\w+ü\w*\b|\bdéjà\b",
        r#""[^"]*""#,
        r"(?m)\[(\w+)\] (\w+)@",
    ];
    let mut counts = Vec::new();
    for p in PATTERNS {
        let re = Regex::new(p).map_err(bad)?;
        counts.push(re.find_iter(&text).count() as u64);
    }
    // Captures: the durations add up to the sum written above (not known
    // here, so each line's duration is parsed and summed twice).
    let took = Regex::new(PATTERNS[3]).map_err(bad)?;
    let total: u64 =
        took.captures_iter(&text).filter_map(|c| c.get(1)?.as_str().parse::<u64>().ok()).sum();
    let by_line: u64 = text
        .lines()
        .filter_map(|l| l.split("took ").nth(1)?.split(' ').next()?.parse::<u64>().ok())
        .sum();
    if total != by_line || counts[3] != u64::from(n) || counts[0] != u64::from(n) {
        return Err(E_CONTENT);
    }
    let set = RegexSet::new(PATTERNS).map_err(bad)?;
    let mut in_set = 0u64;
    for line in text.lines() {
        in_set += set.matches(line).iter().count() as u64;
    }
    let masked = Regex::new(PATTERNS[4]).map_err(bad)?.replace_all(&text, "x.x.x.x");
    counts.extend([total, in_set, masked.len() as u64]);
    Ok(checksum(&counts))
}

// --------------------------------------------------------------- index ----

/// std collections: an inverted index over `n` documents with a sliding
/// window of 512 documents, then a ranking by frequency.
///
/// The map hashes with fixed keys: on wasm32-unknown-unknown std seeds
/// `RandomState` with a heap address, which would make the iteration
/// order, and so the `BTreeMap`'s allocations, depend on the allocator.
pub fn index(seed: u32, n: u32) -> Result<u32, i32> {
    const WINDOW: u32 = 512;
    let mut rng = Rng::new(seed);
    let mut postings: HashMap<String, Vec<u32>, BuildHasherDefault<DefaultHasher>> =
        HashMap::default();
    let mut live = 0u64;
    let mut doc = String::new();
    for d in 0..n {
        doc.clear();
        let words = rng.range(20, 200);
        sentence(&mut rng, &mut doc, words);
        for w in doc.split(' ') {
            let list = postings.entry(w.to_lowercase()).or_default();
            if list.last() != Some(&d) {
                list.push(d);
                live += 1;
            }
        }
        if d % 64 == 63 && d >= WINDOW {
            let oldest = d - WINDOW;
            postings.retain(|_, list| {
                let before = list.len();
                list.retain(|&x| x > oldest);
                live -= (before - list.len()) as u64;
                if list.len() < list.capacity() / 4 {
                    list.shrink_to_fit();
                }
                !list.is_empty()
            });
        }
    }
    let counted: u64 = postings.values().map(|l| l.len() as u64).sum();
    if counted != live {
        return Err(E_CONTENT);
    }
    let mut ranking: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (w, list) in &postings {
        ranking.entry(list.len()).or_default().push(w);
    }
    let mut top: Vec<&str> = ranking.values().rev().flatten().copied().take(100).collect();
    top.sort_unstable();
    let words = postings.len() as u64;
    let top_len: u64 = top.iter().map(|w| w.len() as u64).sum();
    Ok(checksum(&[live, words, ranking.len() as u64, top_len]))
}

// ------------------------------------------------------------- exports ----

/// serde_json round trips of `n` records.
#[export_name = "prog_json"]
pub extern "C" fn prog_json(seed: u32, n: u32) -> i32 {
    code(json(seed, n))
}

/// pulldown-cmark over `n` sections.
#[export_name = "prog_markdown"]
pub extern "C" fn prog_markdown(seed: u32, n: u32) -> i32 {
    code(markdown(seed, n))
}

/// miniz_oxide over `n` KiB.
#[export_name = "prog_deflate"]
pub extern "C" fn prog_deflate(seed: u32, n: u32) -> i32 {
    code(deflate(seed, n))
}

/// regex over `n` lines.
#[export_name = "prog_regex"]
pub extern "C" fn prog_regex(seed: u32, n: u32) -> i32 {
    code(regex(seed, n))
}

/// An inverted index of `n` documents.
#[export_name = "prog_index"]
pub extern "C" fn prog_index(seed: u32, n: u32) -> i32 {
    code(index(seed, n))
}
