//! Finding and reading case files. Every error names the file, and where it can the line and field.

use std::path::{Path, PathBuf};

use super::Case;
use crate::provider::ProviderId;
use crate::world::clock::ClockSpec;

/// The time a case's clock stands at unless the case sets one: the default of every world
/// ([`crate::world::DEFAULT_EPOCH`]), 2023-11-14 22:13:20 UTC, the timestamp of the official clients' captured
/// vectors.
pub const CASE_EPOCH: i64 = crate::world::DEFAULT_EPOCH;

/// The most times a step may send its request (`repeat`): enough to exhaust any rate limit or quota a case
/// seeds, few enough that a typo cannot run for minutes (every exchange is kept for the snapshot).
pub const MAX_REPEAT: u32 = 1000;

/// The furthest a step may `advance` the clock: 100 years of 365.25 days, well past any expiry a case tests.
pub const MAX_ADVANCE: std::time::Duration = std::time::Duration::from_secs(3_155_760_000);

/// A case file that was read: its identity and contents.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The case id: the path below `cases/` without `.toml` (`tencent/terminate-instances/protected-is-refused`).
    pub id: String,
    /// The provider, from the first directory.
    pub provider: ProviderId,
    /// The action directory (`terminate-instances`).
    pub action: String,
    /// The scenario, from the file name.
    pub scenario: String,
    /// The file.
    pub path: PathBuf,
    /// The contents, with the world's defaults filled in.
    pub case: Case,
}

/// Why a case file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file cannot be read.
    #[error("cannot read case file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is not a case.
    #[error("case file {path}: {location}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line, column and field, without quoting the source (a case's world may hold keys).
        location: String,
    },
    /// The file is not at `<provider>/<action>/<scenario>.toml`, or the case breaks a rule of the format.
    #[error("case file {path}: {why}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        why: String,
    },
}

/// Every `*.toml` entry below `root` but the files directly in it (`documented-codes.toml`), sorted: the cases at
/// `<provider>/<action>/<scenario>.toml`, and every entry [`load`] must refuse by name rather than skip in
/// silence (a file at the wrong depth, a FIFO or directory named `*.toml`, a link to a directory, a name that is
/// not UTF-8). Symbolic links to directories are not followed (a link can loop, or count one case twice), and
/// directories are read at most [`MAX_DEPTH`] levels down.
pub fn discover(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = walk(root, "toml")
        .into_iter()
        .filter(|path| !(path.parent() == Some(root) && path.is_file()))
        .collect();
    found.sort();
    found
}

/// How many directory levels below a root [`walk`] reads (a case is 2 levels down, a snapshot too).
pub const MAX_DEPTH: usize = 8;

/// Every entry below `root` whose name ends in `.extension` (whatever its type), plus every directory entry that
/// [`regular_file`] will refuse (a link to a directory, a name that is not UTF-8, a directory [`MAX_DEPTH`]
/// levels down), in no order. Follows no symbolic link to a directory, so it always ends.
pub fn walk(root: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // `DirEntry::file_type` does not follow links: a link to a directory is not a directory here.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let named = path.extension().is_some_and(|ext| ext == extension);
            let utf8 = path.file_name().and_then(|name| name.to_str()).is_some();
            if kind.is_dir() && !named && utf8 && depth + 1 < MAX_DEPTH {
                pending.push((path, depth + 1));
            } else if named || kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
                found.push(path);
            }
        }
    }
    found
}

/// The largest case file read: the biggest committed case is a few kilobytes.
pub const MAX_CASE_BYTES: u64 = 1024 * 1024;

/// Reads a regular text file of at most `max` bytes through [`crate::file::read_text`]; a larger one, or anything
/// but a regular file, is an `InvalidData` error that says why.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<String> {
    crate::file::read_text(path, max).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            std::error::Error::source(&error)
                .map_or_else(|| error.to_string(), ToString::to_string),
        )
    })
}

/// Checks that `path` (found by [`walk`] below `root`) can be read as a file: a name that is UTF-8 all the way
/// from `root` (two names that are not would collapse into one id), a regular file or a link to one (a FIFO
/// would block the read forever), not a directory.
pub fn regular_file(root: &Path, path: &Path) -> Result<(), String> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    if relative.to_str().is_none() {
        return Err(
            "the path is not UTF-8; rename it (names become case ids and file names)".into(),
        );
    }
    let linked = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink());
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) if meta.is_dir() && linked => Err(
            "a symbolic link to a directory; not followed (a link can loop, or count one file twice)".into(),
        ),
        Ok(meta) if meta.is_dir() => Err(format!(
            "a directory where a file belongs, or deeper than {MAX_DEPTH} levels"
        )),
        Ok(_) => Err("not a regular file (a FIFO, socket or device)".into()),
        Err(error) => Err(format!("cannot read it: {error}")),
    }
}

/// Reads one case file found under `root`.
pub fn load(root: &Path, path: &Path) -> Result<Loaded, LoadError> {
    let invalid = |why: String| LoadError::Invalid {
        path: path.to_path_buf(),
        why,
    };
    regular_file(root, path).map_err(invalid)?;
    let text = read_bounded(path, MAX_CASE_BYTES).map_err(|source| match source.kind() {
        // Too large, or not UTF-8: say which, since the reason is the point.
        std::io::ErrorKind::InvalidData => invalid(source.to_string()),
        _ => LoadError::Read {
            path: path.to_path_buf(),
            source,
        },
    })?;
    parse(path.strip_prefix(root).unwrap_or(path), path, &text)
}

/// Reads one case from its text: `relative` is its place below the cases directory
/// (`tencent/terminate-instances/x.toml`), `path` the name messages give it.
pub fn parse(relative: &Path, path: &Path, text: &str) -> Result<Loaded, LoadError> {
    let invalid = |why: String| LoadError::Invalid {
        path: path.to_path_buf(),
        why,
    };
    let relative = relative.with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let [provider, action, scenario] = &parts[..] else {
        return Err(invalid(
            "a case lives at cases/<provider>/<action>/<scenario>.toml".into(),
        ));
    };
    let provider_id = ProviderId::from_name(provider).ok_or_else(|| {
        let known: Vec<&str> = ProviderId::ALL.iter().map(|p| p.name()).collect();
        invalid(format!(
            "unknown provider directory {provider:?}; expected one of {}",
            known.join(", ")
        ))
    })?;
    let raw: toml::Table = toml::from_str(text).map_err(|error| parse_error(path, text, &error))?;
    let mut case: Case = toml::from_str(text).map_err(|error| parse_error(path, text, &error))?;

    // The defaults of every world (crate::world): a fixed clock at CASE_EPOCH; of the example accounts, the
    // provider's only, so that a step's default credentials are its provider's.
    let world = raw.get("world").and_then(toml::Value::as_table);
    if !world.is_some_and(|world| world.contains_key("clock")) {
        case.world.clock = ClockSpec::Fixed { at: CASE_EPOCH };
    }
    if case.world.accounts.is_empty() || !world.is_some_and(|world| world.contains_key("accounts"))
    {
        case.world.accounts = vec![provider_id.example_account()].into();
    }
    case.world
        .check(&path.display().to_string())
        .map_err(|error| invalid(error.to_string()))?;
    check(&case).map_err(invalid)?;
    check_headers(&case, text).map_err(invalid)?;
    Ok(Loaded {
        id: parts.join("/"),
        provider: provider_id,
        action: action.clone(),
        scenario: scenario.clone(),
        path: path.to_path_buf(),
        case,
    })
}

fn parse_error(path: &Path, text: &str, error: &toml::de::Error) -> LoadError {
    LoadError::Parse {
        path: path.to_path_buf(),
        location: crate::world::toml_error(text, error),
    }
}

/// The rules of the format that TOML cannot express.
fn check(case: &Case) -> Result<(), String> {
    if case.steps.is_empty() {
        return Err("a case has at least one [[step]]".into());
    }
    for code in &case.covers {
        if !case
            .steps
            .iter()
            .any(|step| step.expect.error.as_deref() == Some(code))
        {
            return Err(format!(
                "covers {code:?}, but no step's expect.error is {code:?}"
            ));
        }
    }
    for (index, step) in case.steps.iter().enumerate() {
        if step.repeat == Some(0) {
            return Err(format!("step {}: repeat = 0 sends nothing", index + 1));
        }
        if let Some(repeat) = step.repeat
            && repeat > MAX_REPEAT
        {
            return Err(format!(
                "step {}: repeat = {repeat} is more than {MAX_REPEAT}",
                index + 1
            ));
        }
        if let Some(advance) = step.advance
            && advance > MAX_ADVANCE
        {
            return Err(format!(
                "step {}: advance = {:?} is more than 100 years ({} s)",
                index + 1,
                advance,
                MAX_ADVANCE.as_secs()
            ));
        }
        if let Some(id) = &step.credentials
            && !case
                .world
                .accounts
                .iter()
                .any(|account| &account.secret_id == id)
            && step.secret_key.is_none()
        {
            return Err(format!(
                "step {}: credentials {id:?} is no account of the world; give secret-key too",
                index + 1
            ));
        }
    }
    Ok(())
}

/// A header name or value holding CR, LF or NUL would end the header line early on the wire and let the case add
/// headers of its own (an `X-TC-Region` the guard never saw, a second `Host`): refused for every target, the mock,
/// `--target` and live alike, naming the step, the header and the line of the file it is on.
fn check_headers(case: &Case, text: &str) -> Result<(), String> {
    let breaks_the_line = |text: &str| text.contains(['\r', '\n', '\0']);
    for (index, step) in case.steps.iter().enumerate() {
        for (name, value) in &step.headers {
            let part = if breaks_the_line(name) {
                "name"
            } else if breaks_the_line(value) {
                "value"
            } else {
                continue;
            };
            return Err(format!(
                "line {}: step {} headers.{name:?}: the header {part} holds CR, LF or NUL, which would add a \
                 header of its own on the wire",
                header_line(text, index, name),
                index + 1,
            ));
        }
    }
    Ok(())
}

/// The 1-based line where step `step`'s header `name` is written: the first line from that step's `[[step]]` on
/// that names it (its own line when the name itself cannot be found, e.g. written with escapes).
fn header_line(text: &str, step: usize, name: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.trim_start().starts_with("[[step]]"))
        .nth(step)
        .map_or(0, |(number, _)| number);
    let key = name.split(['\r', '\n', '\0']).next().unwrap_or(name);
    lines
        .iter()
        .enumerate()
        .skip(start)
        .find(|(_, line)| !key.is_empty() && line.contains(key))
        .map_or(start, |(number, _)| number)
        + 1
}

/// `terminate-instances` → `TerminateInstances`.
pub fn pascal_case(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}
