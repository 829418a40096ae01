//! A fresh clone tests itself: no build step or test reads outside the checkout, and the outside evidence the tests
//! compare with is in `tests/data`, each file with its source. (`.ci/run` proves the whole by running `cargo test`
//! in a copy of the repository with nothing beside it.)

use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Installed, not written here: the clients' virtual environment and Node modules that `tests/clients/run`
/// installs into the tree (git ignores them).
const INSTALLED: &[&str] = &[".venv", "node_modules"];

/// Every file under `dir`, recursively, sorted, but for what [`INSTALLED`] names.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                if !INSTALLED.iter().any(|name| entry.file_name() == *name) {
                    pending.push(path);
                }
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_file_of_the_copied_evidence_is_listed_with_its_source() {
    let data = repo().join("tests/data");
    let readme = terminus::file::read_text(&data.join("README.md"), 1 << 20).unwrap();
    let files = files_under(&data);
    assert!(files.len() > 1, "tests/data holds nothing but its README");
    for file in files {
        let name = file
            .strip_prefix(&data)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if name == "README.md" {
            continue;
        }
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("tests/data/README.md has no row for {name}"));
        let source = row.trim_end_matches('|').rsplit('|').next().unwrap().trim();
        assert!(!source.is_empty(), "{name}: its row names no source");
    }
}

/// The text `../shared` (where the project's notes sit beside the main checkout), split so that this file does not
/// match itself.
const BESIDE: &str = concat!("..", "/shared");

#[test]
fn no_build_step_test_or_benchmark_reads_beside_the_checkout() {
    let mut sources: Vec<PathBuf> = ["src", "tests", "benches"]
        .iter()
        .flat_map(|dir| files_under(&repo().join(dir)))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "rs" || ext == "py")
        })
        .collect();
    sources.extend([
        repo().join("build.rs"),
        repo().join("Cargo.toml"),
        repo().join(".ci/run"),
    ]);
    let mut readers = Vec::new();
    for path in sources {
        let text = terminus::file::read_text(&path, 1 << 22).unwrap();
        for (index, line) in text.lines().enumerate() {
            let code = line.trim_start();
            // A comment may say where a figure was measured; code may not read there.
            let is_comment = code.starts_with("//") || code.starts_with('#');
            if line.contains(BESIDE) && !is_comment {
                readers.push(format!("{}:{}: {}", path.display(), index + 1, code));
            }
        }
    }
    assert!(
        readers.is_empty(),
        "reads beside the checkout: {readers:#?}"
    );
}
