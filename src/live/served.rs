//! What a request says as it will be served: read from the exact bytes that go on the wire (after the case's
//! headers, parameters and tampering are applied), not from the case that asked for them.
//!
//! A gateway reads its action and region from more than one place (API 3.0: the `X-TC-Action` / `X-TC-Region`
//! headers; the `Signature` form and the legacy gateway: `Action` / `Region` parameters in the query or form body;
//! Zenlayer: `X-ZC-Action`), and which one wins when a request carries several is its business. So everything
//! is gathered: every action and every region any of those places names, and every value that could be read as
//! an instance id, in every spelling a server could decode it to (percent-decoded up to [`DECODINGS`] times,
//! lower-cased, the `ins-` ids and long digit runs found inside longer strings). The guard proves the lot.
//!
//! The legacy gateway's short region names (`gz`, `sh`, `bj`…) are mapped with the provider's own sourced table
//! ([`crate::provider::tencent_legacy::wire::SHORT_REGIONS`]), so a proof is made in the region a request is
//! served in, not in a name API 3.0 does not know.

use serde_json::Value;

use crate::message::Request;
use crate::provider::tencent_legacy::wire::region_name;

/// How many times a value is percent-decoded: a server decodes once, a proxy in front of it perhaps once more.
pub const DECODINGS: usize = 3;

/// The shortest digit run read as a possible id: Zenlayer's ids are opaque digit strings (`564212148932313088`;
/// reference/zenlayer-api.md: "format not documented"), and six digits are fewer than any documented example.
const DIGIT_RUN: usize = 6;

/// What a request on the wire can make a server do, and to what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// Every action named: by header or by parameter, as written.
    pub actions: Vec<String>,
    /// Every region named, lower-cased, short names mapped (`sh` → `ap-shanghai`).
    pub regions: Vec<String>,
    /// Every value that could be read as an instance id, in every spelling found, once each.
    pub candidates: Vec<String>,
    /// The values of every `DryRun` parameter, as written.
    pub dry_run: Vec<String>,
}

/// Reads a request as it will be served; `Err` says why it cannot be read, and such a request is not sent.
pub fn read(request: &Request) -> Result<Served, String> {
    let mut served = Served::default();
    for (name, value) in &request.headers {
        if name.contains(['\r', '\n', '\0']) || value.contains(['\r', '\n', '\0']) {
            return Err(format!(
                "the header {name:?} holds CR, LF or NUL: it would add headers of its own"
            ));
        }
        if name.eq_ignore_ascii_case("x-tc-action") || name.eq_ignore_ascii_case("x-zc-action") {
            push(&mut served.actions, value.trim().to_owned());
        }
        if name.eq_ignore_ascii_case("x-tc-region") {
            push_region(&mut served.regions, value);
        }
    }
    let body = std::str::from_utf8(&request.body).map_err(|_| {
        "its body is not UTF-8 text: what a server reads in it cannot be known".to_owned()
    })?;
    let query = request
        .target
        .split_once('?')
        .map_or("", |(_, query)| query);
    let mut pairs = form_pairs(query);
    pairs.extend(form_pairs(body));
    if let Ok(json) = serde_json::from_str::<Value>(body) {
        if let Value::Object(top) = &json {
            for (name, value) in top {
                if let Some(text) = scalar(value) {
                    pairs.push((name.clone(), text));
                }
            }
        }
        let (mut strings, mut keys) = (Vec::new(), Vec::new());
        walk(&json, &mut strings, &mut keys);
        pairs.extend(strings.into_iter().map(|text| (String::new(), text)));
        // A key is a name: only the ids inside it count.
        for key in keys {
            for spelling in spellings(&key) {
                add_ids_inside(&mut served.candidates, &spelling);
            }
        }
    }
    for (name, value) in &pairs {
        let name = name.trim();
        if name.eq_ignore_ascii_case("action") {
            push(&mut served.actions, value.trim().to_owned());
        } else if name.eq_ignore_ascii_case("region") {
            push_region(&mut served.regions, value);
        } else if name.eq_ignore_ascii_case("dryrun") {
            served.dry_run.push(value.clone());
        }
        for spelling in spellings(value) {
            add_candidates(&mut served.candidates, &spelling);
        }
        // A parameter's name is read by some servers as a value (`instanceIds.ins-…`): its ids count too.
        for spelling in spellings(name) {
            add_ids_inside(&mut served.candidates, &spelling);
        }
    }
    // Whatever no parser above understood (a tampered body, a target without `?`): the ids inside the raw text.
    for text in [request.target.as_str(), body] {
        for spelling in spellings(text) {
            add_ids_inside(&mut served.candidates, &spelling);
        }
    }
    Ok(served)
}

/// `name=value` pairs of a query or form body, percent-decoded once (`+` as a space), every pair kept.
fn form_pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// A JSON string or number as text.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Every string and number of a JSON document into `values`, every object key into `keys`, at any depth.
fn walk(value: &Value, values: &mut Vec<String>, keys: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| walk(item, values, keys)),
        Value::Object(map) => map.iter().for_each(|(key, item)| {
            keys.push(key.clone());
            walk(item, values, keys);
        }),
        other => values.extend(scalar(other)),
    }
}

/// The text and what a server could decode it to: percent-decoded up to [`DECODINGS`] times, each lower-cased
/// too.
fn spellings(text: &str) -> Vec<String> {
    let mut out = vec![text.to_owned()];
    let mut current = text.to_owned();
    for _ in 0..DECODINGS {
        let decoded = percent_decode(&current);
        if decoded == current {
            break;
        }
        out.push(decoded.clone());
        current = decoded;
    }
    let lowered: Vec<String> = out.iter().map(|text| text.to_ascii_lowercase()).collect();
    for text in lowered {
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

/// `%XX` escapes decoded (invalid ones left as they are; a result that is not UTF-8 leaves the text as it was).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_or_else(|_| text.to_owned(), std::borrow::Cow::into_owned)
}

/// A value itself (trimmed) and the ids inside it.
fn add_candidates(out: &mut Vec<String>, value: &str) {
    let value = value.trim();
    if !value.is_empty() {
        push(out, value.to_owned());
    }
    add_ids_inside(out, value);
}

/// The instance-id-like parts of a longer text: every `ins-` and what follows it (all of its letters and digits,
/// and the eight that make a CVM id), every run of at least [`DIGIT_RUN`] digits, and every word (a run of letters,
/// digits, `-` and `_`) of such a text.
fn add_ids_inside(out: &mut Vec<String>, text: &str) {
    let lowered = text.to_ascii_lowercase();
    for (at, _) in lowered.match_indices("ins-") {
        let rest = &lowered[at + 4..];
        let tail: String = rest
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if !tail.is_empty() {
            push(out, format!("ins-{tail}"));
            push(
                out,
                format!("ins-{}", tail.chars().take(8).collect::<String>()),
            );
        }
    }
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() >= DIGIT_RUN {
                push(out, run.clone());
            }
            run.clear();
        }
    }
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        if word.len() >= DIGIT_RUN && word != text && word.chars().any(|c| c.is_ascii_digit()) {
            push(out, word.to_owned());
        }
    }
}

/// The region a `Region` value is served in: trimmed, lower-cased, a legacy short name mapped.
pub fn region_of(value: &str) -> String {
    region_name(&value.trim().to_ascii_lowercase()).to_owned()
}

fn push_region(out: &mut Vec<String>, value: &str) {
    for spelling in spellings(value) {
        let region = region_of(&spelling);
        if !region.is_empty() {
            push(out, region);
        }
    }
}

fn push(out: &mut Vec<String>, value: String) {
    if !out.contains(&value) {
        out.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: "POST".into(),
            target: target.into(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn every_region_and_action_a_gateway_could_read_is_found() {
        let served = read(&request(
            "/v2/index.php?Action=ReturnInstance&Region=sh&instanceId=%2569ns-EXISTS01x",
            &[
                ("X-TC-Region", "ap-guangzhou"),
                ("x-tc-action", "terminateinstances"),
            ],
            "Region=bj&DryRun=false",
        ))
        .unwrap();
        assert_eq!(
            served.regions,
            ["ap-guangzhou", "ap-shanghai", "ap-beijing"]
        );
        assert_eq!(served.actions, ["terminateinstances", "ReturnInstance"]);
        assert_eq!(served.dry_run, ["false"]);
        for id in ["ins-exists01", "ins-exists01x"] {
            assert!(
                served.candidates.contains(&id.to_owned()),
                "{id}: {:?}",
                served.candidates
            );
        }
    }

    #[test]
    fn ids_inside_json_strings_and_digit_runs_are_candidates() {
        let served = read(&request(
            "/api/v2/bmc",
            &[("X-ZC-Action", "TerminateInstance")],
            r#"{"instanceId":"x564212148932313088y","Note":["ins-abcdefgh"]}"#,
        ))
        .unwrap();
        for id in ["564212148932313088", "ins-abcdefgh", "x564212148932313088y"] {
            assert!(
                served.candidates.contains(&id.to_owned()),
                "{id}: {:?}",
                served.candidates
            );
        }
    }

    #[test]
    fn a_header_holding_a_line_break_is_not_read_but_refused() {
        let refused = read(&request(
            "/",
            &[("X-Note", "a\r\nX-TC-Region: ap-shanghai")],
            "",
        ));
        assert!(refused.is_err());
    }
}
