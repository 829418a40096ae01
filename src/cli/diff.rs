//! `terminus diff`: compare two snapshot sets case by case.
//!
//! One change usually shows in many requests (a header every answer carries, a canonical-request rule every signed
//! request follows), so changes are grouped: two changes are the same when they touch the same part with the same
//! removed and added lines (for a signature, whenever only the signature changed). The summary comes first, then
//! each distinct change once, with the diff of its first occurrence and every place it occurs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use super::{Format, unusable};
use crate::case;
use crate::harness::snapshot;
use crate::live::outcome;
use crate::provider::ProviderId;

/// Compare two snapshot directories (`snapshots/`, or `terminus run --record DIR` output) case by case.
///
/// Says which cases changed, were added or vanished, and which distinct changes they show (for signed requests,
/// which signing step changed), each once with every place it occurs. Exits 1 when anything changed.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The snapshots before.
    old: PathBuf,
    /// The snapshots after.
    new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Places listed per change in text (JSON lists them all).
    #[arg(long, default_value_t = 10)]
    places: usize,
}

/// The whole comparison (the `--format json` document).
#[derive(Debug, Serialize)]
struct Comparison {
    summary: Summary,
    /// Case ids only in the new set.
    added: Vec<String>,
    /// Case ids only in the old set.
    vanished: Vec<String>,
    /// Case ids present in both whose exchanges differ.
    changed: Vec<String>,
    /// The distinct changes, the most widespread first.
    changes: Vec<Group>,
}

#[derive(Debug, Serialize)]
struct Summary {
    cases_before: usize,
    cases_after: usize,
    changed: usize,
    added: usize,
    vanished: usize,
    distinct_changes: usize,
}

/// One distinct change and where it occurs.
#[derive(Debug, Serialize)]
struct Group {
    /// `request`, `canonical request`, `string to sign`, `signature`, `response`, or `steps`.
    part: String,
    /// The first differing line, at its first occurrence.
    detail: String,
    /// The unified diff of the part, at its first occurrence.
    diff: String,
    /// Every place: case id and request.
    places: Vec<Place>,
}

#[derive(Debug, Serialize)]
struct Place {
    case: String,
    place: String,
}

pub(super) fn run(args: Args) -> ExitCode {
    let (old, new) = match (read_set(&args.old), read_set(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(message), _) | (_, Err(message)) => return unusable(message),
    };
    if is_live(&old) || is_live(&new) {
        return live_diff(&old, &new);
    }
    let comparison = compare(&old, &new);
    match args.format {
        Format::Json => out!(
            "{}",
            serde_json::to_string_pretty(&comparison).unwrap_or_default()
        ),
        Format::Text => print_text(&comparison, args.places),
    }
    let summary = &comparison.summary;
    if summary.changed + summary.added + summary.vanished == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn compare(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Comparison {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut changed = Vec::new();
    for (id, before) in old {
        let Some(after) = new.get(id) else {
            continue;
        };
        let changes = snapshot::compare(before, after);
        if changes.is_empty() {
            continue;
        }
        changed.push(id.clone());
        for change in changes {
            let key = (change.part.clone(), identity(&change));
            let place = Place {
                case: id.clone(),
                place: change.place.clone(),
            };
            match index.get(&key) {
                Some(&at) => groups[at].places.push(place),
                None => {
                    index.insert(key, groups.len());
                    groups.push(Group {
                        part: change.part,
                        detail: change.detail,
                        diff: change.diff,
                        places: vec![place],
                    });
                }
            }
        }
    }
    // The most widespread first; among equals, in order of first occurrence (the sort is stable).
    groups.sort_by_key(|group| std::cmp::Reverse(group.places.len()));
    let added: Vec<String> = new
        .keys()
        .filter(|id| !old.contains_key(*id))
        .cloned()
        .collect();
    let vanished: Vec<String> = old
        .keys()
        .filter(|id| !new.contains_key(*id))
        .cloned()
        .collect();
    Comparison {
        summary: Summary {
            cases_before: old.len(),
            cases_after: new.len(),
            changed: changed.len(),
            added: added.len(),
            vanished: vanished.len(),
            distinct_changes: groups.len(),
        },
        added,
        vanished,
        changed,
        changes: groups,
    }
}

/// What makes two changes the same: the removed and added lines of the part (any signature change is one).
fn identity(change: &snapshot::Change) -> String {
    if change.part == "signature" || change.diff.is_empty() {
        return change.detail.clone();
    }
    change
        .diff
        .lines()
        .filter(|line| {
            (line.starts_with('-') || line.starts_with('+'))
                && !line.starts_with("---")
                && !line.starts_with("+++")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn print_text(comparison: &Comparison, places: usize) {
    let summary = &comparison.summary;
    out!(
        "{} of {} cases changed, {} added, {} vanished; {} distinct change{}",
        summary.changed,
        summary.cases_before.max(summary.cases_after),
        summary.added,
        summary.vanished,
        summary.distinct_changes,
        if summary.distinct_changes == 1 {
            ""
        } else {
            "s"
        }
    );
    for id in &comparison.vanished {
        out!("vanished  {id}");
    }
    for id in &comparison.added {
        out!("added     {id}");
    }
    for (number, group) in comparison.changes.iter().enumerate() {
        let cases = {
            let mut cases: Vec<&str> = group
                .places
                .iter()
                .map(|place| place.case.as_str())
                .collect();
            cases.dedup();
            cases.len()
        };
        out!(
            "\nchange {} of {}: {} changed: {} ({} request{} in {} case{})",
            number + 1,
            comparison.changes.len(),
            group.part,
            group.detail,
            group.places.len(),
            if group.places.len() == 1 { "" } else { "s" },
            cases,
            if cases == 1 { "" } else { "s" }
        );
        for line in group.diff.lines() {
            out!("    {line}");
        }
        for place in group.places.iter().take(places) {
            out!("  in {}: {}", place.case, place.place);
        }
        if group.places.len() > places {
            out!(
                "  … and {} more (--places N, or --format json for all)",
                group.places.len() - places
            );
        }
    }
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

/// Whether a set is a live run's: every snapshot in the reduced form (`run --live --record`).
fn is_live(set: &BTreeMap<String, String>) -> bool {
    !set.is_empty() && set.values().all(|text| text.starts_with(outcome::MARK))
}

/// Mock against live: a live set holds only the cases that ran live, in the reduced form (`live::outcome`); the
/// other side is reduced to it, and a case it does not hold was not run live (counted, not "vanished").
fn live_diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> ExitCode {
    let mut changed = 0;
    let mut not_live = 0;
    for (id, before) in old {
        let Some(after) = new.get(id) else {
            not_live += 1;
            continue;
        };
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
    }
    for id in new.keys().filter(|id| !old.contains_key(*id)) {
        out!("added     {id}");
        changed += 1;
    }
    out!(
        "\n{changed} of {} cases differ between mock and live ({not_live} not run live)",
        old.len().min(new.len())
    );
    if changed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
