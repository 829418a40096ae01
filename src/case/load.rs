//! Finding and reading case files. Every error names the file, and where it can the line and field.

use std::path::{Path, PathBuf};

use super::Case;
use crate::clock::ClockSpec;
use crate::provider::ProviderId;

/// The time a case's clock stands at unless the case sets one: 2023-11-14 22:13:20 UTC, the timestamp of the
/// official clients' captured vectors.
pub const CASE_EPOCH: i64 = 1_700_000_000;

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

/// Every `*.toml` file three levels below `root` (`<provider>/<action>/<scenario>.toml`), sorted.
pub fn discover(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && depth < 2 {
                pending.push((path, depth + 1));
            } else if depth == 2 && path.extension().is_some_and(|ext| ext == "toml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Reads one case file found under `root`.
pub fn load(root: &Path, path: &Path) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
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

    // Defaults a case gets unless it says otherwise: a fixed clock, the provider's example account.
    let world = raw.get("world").and_then(toml::Value::as_table);
    if !world.is_some_and(|world| world.contains_key("clock")) {
        case.world.clock = ClockSpec::Fixed { at: CASE_EPOCH };
    }
    if case.world.accounts.is_empty() {
        case.world.accounts.push(provider_id.example_account());
    }
    case.world
        .check(&path.display().to_string())
        .map_err(|error| invalid(error.to_string()))?;
    check(&case).map_err(invalid)?;
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
