//! `terminus record --to-case`: a recorded exchange as the skeleton of a case file, for a human to finish (title,
//! the quote its source rests on, the codes it covers, the world it needs). The step is filled from the stored
//! request (action, version, region, `Host`, parameters without the signing ones) and the expectation from the
//! recorded answer (its error code, or success; its status when not 200).

use std::path::Path;

use serde_json::Value;

use super::cassette;
use crate::provider::ProviderId;
use crate::signing::hmac_param::Params;

/// The parameters a case never states: the signing ones, which the harness adds itself.
const SIGNING_PARAMETERS: [&str; 9] = [
    "Action",
    "Version",
    "Region",
    "Nonce",
    "Timestamp",
    "Signature",
    "SignatureMethod",
    "SecretId",
    "Token",
];

/// The skeleton (TOML) for exchange `name` (`0002-TerminateInstances`) of the cassette in `dir`, and the path
/// it belongs at under `cases/`.
pub fn skeleton(dir: &Path, name: &str) -> Result<(String, String), String> {
    let (_, recorded) = cassette::read(dir)?;
    let exchange = recorded
        .iter()
        .find(|exchange| exchange.entry.name == name)
        .ok_or_else(|| {
            let names: Vec<_> = recorded.iter().map(|e| e.entry.name.as_str()).collect();
            format!(
                "{}: no exchange {name:?}; it holds {}",
                dir.display(),
                names.join(", ")
            )
        })?;
    let request = &exchange.request;
    let provider = ProviderId::route(ProviderId::ALL, request);
    let action = exchange.entry.action.clone().unwrap_or_default();
    let form = Params::read(request).ok();
    let params: serde_json::Map<String, Value> =
        match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(map)) => map,
            _ => form
                .as_ref()
                .map(|params| {
                    params
                        .pairs()
                        .filter(|(key, _)| !SIGNING_PARAMETERS.contains(key))
                        .map(|(key, value)| (key.to_owned(), Value::from(value)))
                        .collect()
                })
                .unwrap_or_default(),
        };
    let header_or_form = |header: &str, param: &str| {
        request
            .header(header)
            .map(str::to_owned)
            .or_else(|| form.as_ref().and_then(|p| p.get(param).map(str::to_owned)))
    };
    let mut step = toml::Table::new();
    step.insert("action".into(), action.clone().into());
    if let Some(version) = header_or_form("x-tc-version", "Version")
        .or_else(|| request.header("x-zc-version").map(str::to_owned))
    {
        step.insert("version".into(), version.into());
    }
    if let Some(region) = header_or_form("x-tc-region", "Region") {
        step.insert("region".into(), region.into());
    }
    if let Some(host) = request.host() {
        let mut headers = toml::Table::new();
        headers.insert("Host".into(), host.to_owned().into());
        step.insert("headers".into(), headers.into());
    }
    let params = toml::Value::try_from(Value::Object(params))
        .map_err(|error| format!("the parameters have no TOML form: {error}"))?;
    step.insert("params".into(), params);
    let mut expect = toml::Table::new();
    if let Some(response) = &exchange.response {
        if response.status != 200 {
            expect.insert("status".into(), i64::from(response.status).into());
        }
        if let Ok(Err(code)) = provider.read_answer(&response.body) {
            expect.insert("error".into(), code.into());
        }
    }
    step.insert("expect".into(), expect.into());
    let mut case = toml::Table::new();
    case.insert("title".into(), format!("TODO: what {name} shows").into());
    let mut source = toml::Table::new();
    source.insert("doc".into(), format!("{}/{name}", dir.display()).into());
    source.insert(
        "quote".into(),
        "TODO: the line of the recorded answer (or of a document) this case rests on".into(),
    );
    case.insert("source".into(), source.into());
    case.insert("tags".into(), toml::Value::Array(vec!["recorded".into()]));
    case.insert("live".into(), "safe".into());
    case.insert("step".into(), toml::Value::Array(vec![step.into()]));
    let text = toml::to_string(&case).map_err(|error| error.to_string())?;
    let kebab = kebab(&action);
    let path = format!("cases/{}/{kebab}/TODO-scenario.toml", provider.name());
    Ok((
        format!(
            "# A skeleton from the recording {}/{name}: finish title, source quote, covers, world (and `live`),\n\
             # then save it as {path}.\n{text}",
            dir.display()
        ),
        path,
    ))
}

/// `TerminateInstances` → `terminate-instances`.
fn kebab(action: &str) -> String {
    let mut out = String::new();
    for (index, c) in action.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
