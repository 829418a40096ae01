//! Documented error codes × cases: which case proves each code, or why none can.
//!
//! The catalog (`cases/documented-codes.toml`) lists every code the seed documents name, per provider, with its
//! source; [`coverage`] joins it with the cases' `covers`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::case::Loaded;

/// The catalog of documented codes.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Catalog {
    /// Every documented code.
    pub codes: Vec<DocumentedCode>,
    /// The same situation under each provider.
    #[serde(default)]
    pub equivalents: Vec<Equivalent>,
}

/// One situation and the case that shows it under each provider (every key but `scenario` is a provider id).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Equivalent {
    /// The situation, in words.
    pub scenario: String,
    /// Provider id → case id.
    #[serde(flatten)]
    pub cases: std::collections::BTreeMap<String, String>,
}

/// A row of the side-by-side table: the situation and each provider's answer (`None`: no case named).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EquivalentRow {
    /// The situation.
    pub scenario: String,
    /// Provider id → the code its case expects (or `success`).
    pub codes: std::collections::BTreeMap<String, String>,
}

/// Each equivalence with the code each provider's case expects. Errs naming a case id that does not exist.
pub fn equivalents(catalog: &Catalog, cases: &[Loaded]) -> Result<Vec<EquivalentRow>, String> {
    catalog
        .equivalents
        .iter()
        .map(|equivalent| {
            let codes = equivalent
                .cases
                .iter()
                .map(|(provider, id)| {
                    let loaded = cases
                        .iter()
                        .find(|case| &case.id == id && case.provider.name() == provider)
                        .ok_or_else(|| {
                            format!(
                                "equivalents: {:?} names no {provider} case {id}",
                                equivalent.scenario
                            )
                        })?;
                    Ok((provider.clone(), expected_code(loaded)))
                })
                .collect::<Result<_, String>>()?;
            Ok(EquivalentRow {
                scenario: equivalent.scenario.clone(),
                codes,
            })
        })
        .collect()
}

/// The code a case is about: the one it covers, else its last expected error, else `success`.
fn expected_code(loaded: &Loaded) -> String {
    let case = &loaded.case;
    case.covers
        .first()
        .cloned()
        .or_else(|| {
            case.steps
                .iter()
                .rev()
                .find_map(|step| step.expect.error.clone())
        })
        .unwrap_or_else(|| "success".to_owned())
}

/// The side-by-side table as Markdown.
pub fn equivalents_markdown(rows: &[EquivalentRow]) -> String {
    let providers: Vec<&String> = {
        let mut all: Vec<&String> = rows.iter().flat_map(|row| row.codes.keys()).collect();
        all.sort();
        all.dedup();
        all
    };
    let mut out = format!(
        "| situation | {} |\n|---|{}\n",
        providers
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(providers.len())
    );
    for row in rows {
        let cells: Vec<String> = providers
            .iter()
            .map(|p| {
                row.codes
                    .get(*p)
                    .map_or(String::new(), |code| format!("`{code}`"))
            })
            .collect();
        out.push_str(&format!("| {} | {} |\n", row.scenario, cells.join(" | ")));
    }
    out
}

/// One documented code.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DocumentedCode {
    /// `tencent`, `tencent-legacy` or `zenlayer-bmc`.
    pub provider: String,
    /// The code as documented.
    pub code: String,
    /// The document it comes from.
    pub source: String,
    /// Why no case can reproduce it, when none can.
    pub reason: Option<String>,
}

/// A row of the coverage matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The provider id.
    pub provider: String,
    /// The code.
    pub code: String,
    /// The document it comes from.
    pub source: String,
    /// The ids of the cases that prove it.
    pub cases: Vec<String>,
    /// Why no case can, when none does.
    pub reason: Option<String>,
}

impl Row {
    /// Neither a case nor a reason: a gap.
    pub fn is_gap(&self) -> bool {
        self.cases.is_empty() && self.reason.is_none()
    }
}

impl Catalog {
    /// Reads the catalog file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
    }
}

/// Joins the catalog with the cases. A code listed more than once (by several documents) gets one row per source.
pub fn coverage(catalog: &Catalog, cases: &[Loaded]) -> Vec<Row> {
    catalog
        .codes
        .iter()
        .map(|documented| {
            let cases: Vec<String> = cases
                .iter()
                .filter(|case| {
                    case.provider.name() == documented.provider
                        && case.case.covers.contains(&documented.code)
                })
                .map(|case| case.id.clone())
                .collect();
            Row {
                provider: documented.provider.clone(),
                code: documented.code.clone(),
                source: documented.source.clone(),
                reason: if cases.is_empty() {
                    documented.reason.clone()
                } else {
                    None
                },
                cases,
            }
        })
        .collect()
}

/// The matrix as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out =
        String::from("| provider | code | source | cases | reason |\n|---|---|---|---|---|\n");
    for row in rows {
        let cases = row
            .cases
            .iter()
            .map(|id| format!("`{id}`"))
            .collect::<Vec<_>>()
            .join("<br>");
        let reason = match (&row.reason, row.is_gap()) {
            (Some(reason), _) => reason.clone(),
            (None, true) => "**no case, no reason**".to_owned(),
            (None, false) => String::new(),
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {cases} | {reason} |\n",
            row.provider, row.code, row.source
        ));
    }
    let covered = rows.iter().filter(|row| !row.cases.is_empty()).count();
    let gaps = rows.iter().filter(|row| row.is_gap()).count();
    out.push_str(&format!("\n{covered} of {} documented codes have a case; {gaps} have neither a case nor a reason.\n", rows.len()));
    out
}
