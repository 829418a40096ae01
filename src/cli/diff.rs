//! `terminus diff`: compare two snapshot sets case by case.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::unusable;
use crate::harness::snapshot;

/// Compare two snapshot directories (`snapshots/`, or `terminus run --record DIR` output) case by case.
///
/// Says which cases changed, were added or vanished, and for signed requests which signing step changed.
/// Exits 1 when anything changed.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The snapshots before.
    old: PathBuf,
    /// The snapshots after.
    new: PathBuf,
}

pub(super) fn run(args: Args) -> ExitCode {
    let (old, new) = match (read_set(&args.old), read_set(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(message), _) | (_, Err(message)) => return unusable(message),
    };
    let mut changed = 0;
    for (id, before) in &old {
        let Some(after) = new.get(id) else {
            out!("vanished  {id}");
            changed += 1;
            continue;
        };
        let changes = snapshot::compare(before, after);
        if changes.is_empty() {
            continue;
        }
        changed += 1;
        out!("changed   {id}");
        for change in changes {
            out!(
                "  {}: {} changed: {}",
                change.place,
                change.part,
                change.detail
            );
            for line in change.diff.lines() {
                out!("    {line}");
            }
        }
    }
    for id in new.keys().filter(|id| !old.contains_key(*id)) {
        out!("added     {id}");
        changed += 1;
    }
    out!("\n{changed} of {} cases changed", old.len().max(new.len()));
    if changed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every `*.snap` below `dir`, keyed by its path without the `@target` suffix (`tencent/terminate-instances/x`).
fn read_set(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mut set = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|error| format!("cannot read {}: {error}", current.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "snap") {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .with_extension("")
                    .display()
                    .to_string();
                let id = relative
                    .split_once('@')
                    .map_or(relative.as_str(), |(id, _)| id)
                    .to_owned();
                let text = std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
                set.insert(id, text);
            }
        }
    }
    Ok(set)
}
