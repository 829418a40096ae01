//! The module graph is the layering the folders claim, and has no cycle.
//!
//! Every `crate::<module>` path in a top-level module's code (comments aside) must name the module itself or one
//! it may depend on in [`LAYERS`], and [`LAYERS`] lists each module after everything it may depend on, so the
//! graph it allows is a DAG. A new top-level module fails this test until it is placed in the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of `src/`, bottom layer first, with the modules it may use.
const LAYERS: &[(&str, &[&str])] = &[
    ("message", &[]),
    ("file", &[]),
    ("tls", &["file"]),
    ("signing", &["message", "file"]),
    ("world", &["message", "file", "signing"]),
    ("exchange", &["message", "file", "signing"]),
    ("provider", &["message", "file", "signing", "world"]),
    ("case", &["message", "file", "signing", "world", "provider"]),
    ("coverage", &["file", "case"]),
    (
        "mock",
        &["message", "file", "signing", "world", "provider", "case"],
    ),
    (
        "harness",
        &[
            "message", "file", "signing", "world", "exchange", "provider", "case", "mock", "tls",
        ],
    ),
    (
        "record",
        &[
            "message", "file", "signing", "world", "exchange", "provider", "mock", "harness", "tls",
        ],
    ),
    (
        "live",
        &[
            "message", "file", "signing", "world", "exchange", "provider", "case", "harness", "tls",
        ],
    ),
    (
        "cli",
        &[
            "message", "file", "signing", "world", "exchange", "provider", "case", "coverage",
            "mock", "harness", "tls", "record", "live",
        ],
    ),
];

/// The top-level module a file under `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn top_level(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        name => Some(name.trim_end_matches(".rs").to_owned()),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The module name an item of a `crate::{…}` group starts with (`None` for an empty item).
fn module_head(item: &str) -> Option<String> {
    let head: String = item
        .trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!head.is_empty()).then_some(head)
}

/// The top-level modules a line of code names through `crate::` (`crate::a::b`, `crate::{a, b::c}`).
fn named_modules(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group, up to its closing brace: split on commas outside nested braces.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars().chain([',']) {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.extend(module_head(&item));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.extend(module_head(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(head);
        }
    }
    names
}

#[test]
fn the_layers_table_is_a_dag_in_order() {
    let mut seen = BTreeSet::new();
    for (module, allowed) in LAYERS {
        for dependency in *allowed {
            assert!(
                seen.contains(dependency),
                "{module} may use {dependency}, which is not listed before it: the table would allow a cycle"
            );
        }
        assert!(seen.insert(*module), "{module} is listed twice");
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let Some(module) = top_level(&src, file) else {
            continue;
        };
        let Some(may_use) = allowed.get(module.as_str()) else {
            violations.push(format!(
                "{}: top-level module `{module}` is not in LAYERS (tests/testsuite/layers.rs): place it",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in named_modules(line) {
                if used != module && !may_use.contains(&used.as_str()) {
                    violations.push(format!(
                        "{}:{}: `{module}` uses `crate::{used}`, which is not below it",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    assert_eq!(
        named_modules("use crate::{world::{A, B}, mock::Reply};"),
        ["world", "mock"]
    );
    assert_eq!(
        named_modules("let x = crate::provider::Call { a: crate::case::X };"),
        ["provider", "case"]
    );
}
