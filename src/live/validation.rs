//! The per-case validation record, meant to be committed to the repository (`validation/live.json` by default; none
//! is committed yet, since no live run has been made): for each case that ran live,
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

/// Per (provider, error code), the latest date a case of that provider saw it from a live endpoint.
pub fn last_seen(record: &Record) -> BTreeMap<(String, String), String> {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (case, validation) in record {
        let provider = case.split('/').next().unwrap_or_default().to_owned();
        for code in &validation.codes {
            let date = seen.entry((provider.clone(), code.clone())).or_default();
            if validation.date > *date {
                date.clone_from(&validation.date);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_date_per_provider_and_code_is_kept() {
        let validation = |date: &str, codes: &[&str]| Validation {
            date: date.into(),
            endpoint: "https://cvm.tencentcloudapi.com".into(),
            region: Some("ap-guangzhou".into()),
            result: "passed".into(),
            terminus: "0.1.0".into(),
            codes: codes.iter().map(|code| (*code).to_owned()).collect(),
        };
        let record = Record::from([
            (
                "tencent/terminate-instances/a".to_owned(),
                validation("2026-11-01", &["MissingParameter"]),
            ),
            (
                "tencent/terminate-instances/b".to_owned(),
                validation("2026-11-20", &["MissingParameter"]),
            ),
            (
                "tencent-legacy/terminate-instances/c".to_owned(),
                validation("2026-10-01", &["MissingParameter"]),
            ),
        ]);
        let seen = last_seen(&record);
        assert_eq!(
            seen[&("tencent".to_owned(), "MissingParameter".to_owned())],
            "2026-11-20"
        );
        assert_eq!(
            seen[&("tencent-legacy".to_owned(), "MissingParameter".to_owned())],
            "2026-10-01"
        );
    }
}
