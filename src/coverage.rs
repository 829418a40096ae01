//! Documented error codes × cases: which case proves each code and how, or why none can.
//!
//! The catalog (`cases/documented-codes.toml`) lists every code the seed documents name, per provider, with its
//! source, how the cases prove it ([`Proof`]) and where the mock's message for it comes from ([`MessageSource`]);
//! [`coverage`] joins it with the cases' `covers`. "Has a case" is not "is proved": a code reached only through a
//! world flag that exists to produce it, or only by injecting that very code, shows that the mock can send it and
//! that the harness reads it, not that terminus knows when the real API does. Proof and message source are data,
//! decided from evidence and checked against the cases and the seeds by a test (`tests/testsuite/cases.rs`), so
//! they cannot drift from what the cases do.

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
    /// The world flags that exist to produce a code: a case whose world sets one reaches that code by a switch.
    #[serde(default)]
    pub switches: Vec<Switch>,
}

/// A world flag that exists to produce certain codes (`instances.unreturnable` → `FailedOperation.Unreturnable`),
/// rather than a state the real API has and the mock reasons from.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Switch {
    /// The world list and the field in it: `accounts.mfa`, `instances.unreturnable`, `bmc-instances.commitment`.
    pub field: String,
    /// The codes it produces.
    pub codes: Vec<String>,
}

/// How the cases prove a documented code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// No case can; the row says why.
    Reason,
    /// Only by an injected fault that answers with it.
    Fault,
    /// Only through a world flag that exists to produce it (see [`Switch`]).
    Switch,
    /// The mock derives it from the world's state and the request.
    Behaviour,
}

impl Proof {
    /// The name used in the catalog and the reports.
    pub fn name(self) -> &'static str {
        match self {
            Proof::Reason => "reason",
            Proof::Fault => "fault",
            Proof::Switch => "switch",
            Proof::Behaviour => "behaviour",
        }
    }
}

/// Where the mock's message for a code comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageSource {
    /// terminus's own wording: no document or recorded answer gives it.
    Terminus,
    /// The documentation's description of the code (ids the mock quotes aside).
    Documentation,
    /// A real answer recorded in `shared/reference/real-wire.md` (the ids it quotes aside).
    Recorded,
}

impl MessageSource {
    /// The name used in the catalog and the reports.
    pub fn name(self) -> &'static str {
        match self {
            MessageSource::Terminus => "terminus",
            MessageSource::Documentation => "documentation",
            MessageSource::Recorded => "recorded",
        }
    }
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
    /// How the cases prove it: the strongest way any covering case reaches it.
    pub proof: Proof,
    /// Where the mock's message for it comes from (the weakest source among the covering cases' messages); none
    /// for a code no case reaches.
    pub message_source: Option<MessageSource>,
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
    /// How the cases prove it.
    pub proof: Proof,
    /// Where the mock's message for it comes from.
    #[serde(rename = "message-source")]
    pub message_source: Option<MessageSource>,
}

impl Row {
    /// Neither a case nor a reason: a gap.
    pub fn is_gap(&self) -> bool {
        self.cases.is_empty() && self.reason.is_none()
    }
}

/// The largest catalog read: the committed one is about 20 KiB.
const MAX_CATALOG_BYTES: u64 = 1024 * 1024;

impl Catalog {
    /// Reads the catalog file (a regular file of at most [`MAX_CATALOG_BYTES`]).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text =
            crate::file::read_text(path, MAX_CATALOG_BYTES).map_err(|error| error.to_string())?;
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
                proof: documented.proof,
                message_source: documented.message_source,
            }
        })
        .collect()
}

/// The matrix as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| provider | code | source | proof | message | cases | reason |\n|---|---|---|---|---|---|---|\n",
    );
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
            "| {} | `{}` | {} | {} | {} | {cases} | {reason} |\n",
            row.provider,
            row.code,
            row.source,
            row.proof.name(),
            row.message_source.map_or("", MessageSource::name),
        ));
    }
    out.push('\n');
    out.push_str(&summary(rows));
    out
}

/// What the matrix adds up to, in words: how many codes have a case, how each is proved, whose words the
/// messages are.
pub fn summary(rows: &[Row]) -> String {
    let covered = rows.iter().filter(|row| !row.cases.is_empty()).count();
    let gaps = rows.iter().filter(|row| row.is_gap()).count();
    let proved = |proof: Proof| rows.iter().filter(|row| row.proof == proof).count();
    let worded = |source: MessageSource| {
        rows.iter()
            .filter(|row| row.message_source == Some(source))
            .count()
    };
    format!(
        "{covered} of {} documented codes have a case; {gaps} have neither a case nor a reason.\n\
         Proved by behaviour (the mock derives them from state and input): {}; only through a world switch that \
         exists to produce them: {}; only by an injected fault: {}; by no case, with a reason: {}.\n\
         Messages from a recorded real answer: {}; from the documentation: {}; terminus's own wording: {}.\n",
        rows.len(),
        proved(Proof::Behaviour),
        proved(Proof::Switch),
        proved(Proof::Fault),
        proved(Proof::Reason),
        worded(MessageSource::Recorded),
        worded(MessageSource::Documentation),
        worded(MessageSource::Terminus),
    )
}
