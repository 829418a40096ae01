//! `terminus diff`: compare two snapshot sets case by case.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::unusable;
use crate::case;
use crate::harness::snapshot;
use crate::live::outcome;
use crate::provider::ProviderId;

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
    // A live set (`run --live --record`) holds only the cases that ran live, in the reduced form
    // (`live::outcome`): the other side is reduced to it, and a case it does not hold was not run live.
    let live = is_live(&old) || is_live(&new);
    let mut changed = 0;
    let mut not_live = 0;
    for (id, before) in &old {
        let Some(after) = new.get(id) else {
            if live {
                not_live += 1;
                continue;
            }
            out!("vanished  {id}");
            changed += 1;
            continue;
        };
        if live {
            let provider = id
                .split('/')
                .next()
                .and_then(ProviderId::from_name)
                .unwrap_or(ProviderId::Tencent);
            let (Some(before), Some(after)) = (
                outcome::reduce(provider, before),
                outcome::reduce(provider, after),
            ) else {
                out!("unreadable {id}: not a snapshot terminus wrote");
                changed += 1;
                continue;
            };
            if before != after {
                changed += 1;
                out!("changed   {id}");
                let diff = similar::TextDiff::from_lines(&before, &after);
                for line in diff.unified_diff().context_radius(2).to_string().lines() {
                    out!("    {line}");
                }
                out!(
                    "  which side to change: live is the ground truth; check the case's source, then change the \
                     case and the mock"
                );
            }
            continue;
        }
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
    if live {
        out!(
            "\n{changed} of {} cases differ between mock and live ({not_live} not run live)",
            old.len().min(new.len())
        );
        return if changed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    out!("\n{changed} of {} cases changed", old.len().max(new.len()));
    if changed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Whether a set is a live run's: every snapshot in the reduced form.
fn is_live(set: &BTreeMap<String, String>) -> bool {
    !set.is_empty() && set.values().all(|text| text.starts_with(outcome::MARK))
}

/// The largest snapshot read: a recorded case is kilobytes; the bound keeps two huge files from taking the
/// memory and the diff's time.
const MAX_SNAPSHOT_BYTES: u64 = 16 * 1024 * 1024;

/// Every `*.snap` below `dir`, keyed by its path without the `@target` suffix (`tencent/terminate-instances/x`).
/// Refuses, naming the entry, what cannot be one snapshot: a FIFO or directory named `*.snap`, a symbolic link to
/// a directory (not followed: it can loop, or count one snapshot many times), a name that is not UTF-8, or two
/// files with one id.
fn read_set(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mut set = BTreeMap::new();
    let mut paths = case::walk(dir, "snap");
    paths.sort();
    for path in paths {
        case::regular_file(dir, &path).map_err(|why| format!("{}: {why}", path.display()))?;
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
        let text = case::read_bounded(&path, MAX_SNAPSHOT_BYTES)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        if set.insert(id.clone(), text).is_some() {
            return Err(format!(
                "{}: a second snapshot of {id} (one per case in a set)",
                path.display()
            ));
        }
    }
    Ok(set)
}
