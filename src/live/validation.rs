//! The per-case validation record kept in the repository (`validation/live.json`): for each case that ran live,
//! when, against which endpoint and region, what it gave, with which terminus version, and the codes the real
//! API answered. `terminus coverage` reads it to say, per documented code, when it was last seen live.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The record, case id to its last live run.
pub type Record = BTreeMap<String, Validation>;

/// One case's last live run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Validation {
    /// The date of the run, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The endpoint it ran against.
    pub endpoint: String,
    /// The region, where the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `passed`, `failed` or `error`.
    pub result: String,
    /// The terminus version that ran it.
    pub terminus: String,
    /// The error codes the endpoint answered, in step order (`success` for a success).
    pub codes: Vec<String>,
}

/// Reads the record at `path`; a missing file is an empty record.
pub fn read(path: &Path) -> Result<Record, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|error| format!("{}: not a validation record: {error}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Record::new()),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

/// Writes the record (sorted, pretty, ending in a newline: it is reviewed in diffs).
pub fn write(path: &Path, record: &Record) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(record).unwrap_or_default() + "\n";
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Per error code, the latest date a case saw it from a live endpoint.
pub fn last_seen(record: &Record) -> BTreeMap<String, String> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for validation in record.values() {
        for code in &validation.codes {
            let date = seen.entry(code.clone()).or_default();
            if validation.date > *date {
                date.clone_from(&validation.date);
            }
        }
    }
    seen
}
