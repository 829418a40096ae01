//! `terminus diff` says first how much changed, then each distinct change once with every place it occurs, in text
//! or JSON: a header every answer lost is one change, not one per request.

use std::path::{Path, PathBuf};

use crate::common::binary::{terminus, text};

/// Two snapshot sets of a few real cases (recorded by `terminus run --record`), removed when dropped.
struct Sets {
    root: PathBuf,
}

impl Sets {
    fn record(name: &str) -> Self {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("diff")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let recorded = terminus(
            &[
                "run",
                "--filter",
                "tencent/terminate-instances/already-terminated",
                "--filter",
                "tencent/describe-instances/",
                "--record",
                root.join("old").to_str().unwrap(),
            ],
            &[],
        );
        assert!(recorded.status.success(), "{}", text(&recorded.stdout));
        copy(&root.join("old"), &root.join("new"));
        Self { root }
    }

    fn before(&self) -> PathBuf {
        self.root.join("old")
    }

    fn after(&self) -> PathBuf {
        self.root.join("new")
    }

    /// The new set's snapshots.
    fn new_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut pending = vec![self.after()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                if entry.path().is_dir() {
                    pending.push(entry.path());
                } else {
                    files.push(entry.path());
                }
            }
        }
        files.sort();
        files
    }
}

impl Drop for Sets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every answer loses its `Server: nginx` header; one case also gets another response code.
fn change(sets: &Sets) -> (usize, usize) {
    let (mut files, mut answers) = (0, 0);
    for path in sets.new_files() {
        let snapshot = std::fs::read_to_string(&path).unwrap();
        answers += snapshot.matches("Server: nginx\n").count();
        files += 1;
        std::fs::write(&path, snapshot.replace("Server: nginx\n", "")).unwrap();
    }
    let one = sets
        .new_files()
        .into_iter()
        .find(|path| path.to_string_lossy().contains("already-terminated"))
        .expect("the terminate case's snapshot");
    let snapshot = std::fs::read_to_string(&one).unwrap();
    std::fs::write(&one, snapshot.replacen("HTTP 200", "HTTP 500", 1)).unwrap();
    (files, answers)
}

#[test]
fn one_change_in_every_answer_is_shown_once_with_its_places_after_a_summary() {
    let sets = Sets::record("text");
    let (files, answers) = change(&sets);
    assert!(
        answers > files,
        "several answers per case: {answers} in {files}"
    );
    let output = terminus(
        &[
            "diff",
            sets.before().to_str().unwrap(),
            sets.after().to_str().unwrap(),
            "--places",
            "2",
        ],
        &[],
    );
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout.lines().next(),
        Some(
            format!("{files} of {files} cases changed, 0 added, 0 vanished; 2 distinct changes")
                .as_str()
        ),
        "{stdout}"
    );
    // The header's removal alone is one change; with the other status, the answer that has both is another.
    assert_eq!(
        stdout.matches("-Server: nginx").count(),
        2,
        "each distinct change is shown once: {stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "change 1 of 2: response changed: line 2: \"Server: nginx\" became \"Date: [DATE]\" ({} requests in {files} cases)",
            answers - 1
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  … and {} more", answers - 3)),
        "{stdout}"
    );
    assert!(
        stdout.contains("change 2 of 2: response changed"),
        "{stdout}"
    );
}

#[test]
fn the_json_form_lists_every_place_of_every_distinct_change() {
    let sets = Sets::record("json");
    let (files, answers) = change(&sets);
    let output = terminus(
        &[
            "diff",
            "--format",
            "json",
            sets.before().to_str().unwrap(),
            sets.after().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(json["summary"]["changed"], files);
    assert_eq!(json["summary"]["added"], 0);
    assert_eq!(json["summary"]["vanished"], 0);
    assert_eq!(json["summary"]["distinct_changes"], 2);
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes[0]["part"], "response");
    assert_eq!(changes[0]["places"].as_array().unwrap().len(), answers - 1);
    assert_eq!(changes[1]["places"].as_array().unwrap().len(), 1);
    assert!(
        changes[1]["places"][0]["case"]
            .as_str()
            .unwrap()
            .contains("already-terminated"),
        "{json}"
    );
}

#[test]
fn identical_sets_exit_0_with_a_summary_of_nothing() {
    let sets = Sets::record("same");
    let output = terminus(
        &[
            "diff",
            sets.before().to_str().unwrap(),
            sets.after().to_str().unwrap(),
        ],
        &[],
    );
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("0 of ") && stdout.contains("0 distinct changes"),
        "{stdout}"
    );
}
