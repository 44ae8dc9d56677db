//! Prepares the vendored provider rules (`rules/noseyparker.json`) once, when the crate is
//! built, instead of at every start of jcdiag: the literal groups and required bytes of each
//! rule (`src/provider/analysis.rs`, compiled into this script too), the group that wakes
//! it (the one rarest in `rules/ordinary-text.txt`), whether its matches may span lines, and
//! whether it compiles. The result is a Rust table in `$OUT_DIR`, included by
//! `src/provider/mod.rs`; the rules' examples stay out of the binary.

use std::fmt::Write as _;
use std::path::PathBuf;

#[allow(dead_code)]
#[path = "src/provider/analysis.rs"]
mod analysis;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let rules_path = manifest.join("rules/noseyparker.json");
    println!("cargo::rerun-if-changed=rules/noseyparker.json");
    println!("cargo::rerun-if-changed=src/provider/analysis.rs");
    println!("cargo::rerun-if-changed=rules/ordinary-text.txt");
    let ordinary = std::fs::read_to_string(manifest.join("rules/ordinary-text.txt"))
        .expect("rules/ordinary-text.txt is readable");
    let text = std::fs::read_to_string(&rules_path).expect("rules/noseyparker.json is readable");
    let vendored: analysis::VendoredRules =
        serde_json::from_str(&text).expect("rules/noseyparker.json parses");

    let mut out = String::from("static PREPARED: &[PreparedRule] = &[\n");
    for rule in &vendored.rules {
        let (compile_error, multiline) = match rule.regex() {
            Ok(re) => (None, rule.spans_lines(&re)),
            Err(e) => (Some(e.to_string()), false),
        };
        let mut groups = rule.literal_groups();
        analysis::rank_by_rarity(&mut groups, &ordinary);
        let groups: Vec<String> = groups
            .iter()
            .map(|g| {
                format!(
                    "&[{}]",
                    g.iter().map(|l| bytes(l)).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        writeln!(
            out,
            "    PreparedRule {{ id: {:?}, kind: {:?}, pattern: {:?}, generic: {}, multiline: {}, \
             compile_error: {:?}, groups: &[{}], bytes: {} }},",
            rule.id,
            rule.kind(),
            rule.pattern,
            rule.is_generic(),
            multiline,
            compile_error,
            groups.join(", "),
            bytes(&rule.required_bytes()),
        )
        .expect("writing to a String");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("prepared_rules.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// `b"..."` for any bytes.
fn bytes(b: &[u8]) -> String {
    let mut s = String::from("b\"");
    for &c in b {
        match c {
            b'"' | b'\\' => write!(s, "\\{}", c as char),
            0x20..=0x7e => write!(s, "{}", c as char),
            _ => write!(s, "\\x{c:02x}"),
        }
        .expect("writing to a String");
    }
    s.push('"');
    s
}
