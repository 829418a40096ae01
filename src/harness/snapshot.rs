//! A case's exchanges as readable text: each request as an HTTP message with its signing stages, and each
//! answer: the request as the bytes that went on the wire, the answer's status and headers as they came, its body
//! as indented JSON (its byte layout shows in `Content-Length`). Volatile values become bracketed placeholders
//! (`[REQUEST_ID]`, `[DATE]`), session tokens `[TOKEN]`; keys never appear in requests to begin with. The same text is an insta snapshot (`snapshots/…@mock.snap`) and what
//! `terminus diff` compares, section by section.

use serde_json::Value;

use crate::exchange::Exchange;
use crate::signing::Step;

/// The heading of each step's section.
pub const STEP_MARK: &str = "== step ";
/// The headings of the parts of a step.
pub const PARTS: [&str; 4] = [
    "-- request",
    "-- canonical request",
    "-- string to sign",
    "-- response",
];

/// Renders the exchanges of one case.
pub fn render(exchanges: &[Exchange]) -> String {
    let mut out = String::new();
    for exchange in exchanges {
        out.push_str(&format!("{STEP_MARK}{}\n", exchange.step));
        out.push_str("-- request\n");
        out.push_str(&String::from_utf8_lossy(&redact_request(
            &exchange.request.to_bytes(),
        )));
        out.push_str("\n\n");
        if let Some(trace) = &exchange.trace {
            for (heading, step) in [
                ("-- canonical request", Step::CanonicalRequest),
                ("-- string to sign", Step::StringToSign),
            ] {
                if let Some(text) = trace.get(step) {
                    out.push_str(&format!("{heading}\n{}\n\n", redact_text(text)));
                }
            }
        }
        out.push_str("-- response\n");
        match &exchange.response {
            Ok(response) => {
                out.push_str(&format!("HTTP {}\n", response.status));
                // The headers as they came, in their order and case; the time of day is not the case's.
                for (name, value) in &response.headers {
                    let value = if name.eq_ignore_ascii_case("date") {
                        "[DATE]"
                    } else {
                        value
                    };
                    out.push_str(&format!("{name}: {value}\n"));
                }
                out.push('\n');
                out.push_str(&render_body(&response.body));
                out.push_str("\n\n");
            }
            Err(error) => out.push_str(&format!("no answer: {}\n\n", error.kind())),
        }
    }
    // insta trims trailing whitespace; so does every rendering, so recordings and snapshots compare equal.
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

fn render_body(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact_json(&mut value);
            serde_json::to_string_pretty(&value).unwrap_or_default()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// `RequestId`/`requestId` values become `[REQUEST_ID]`.
fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key.eq_ignore_ascii_case("requestid") && item.is_string() {
                    *item = Value::from("[REQUEST_ID]");
                } else {
                    redact_json(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Session tokens in headers and parameters, and bearer tokens, become `[TOKEN]`.
fn redact_request(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    for line in text.split_inclusive('\n') {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("x-tc-token:") {
            out.extend_from_slice(b"X-TC-Token: [TOKEN]\r\n");
        } else if lower.starts_with("authorization:")
            && lower[14..].trim_start().starts_with("bearer ")
        {
            out.extend_from_slice(b"Authorization: Bearer [TOKEN]\r\n");
        } else {
            out.extend_from_slice(redact_text(line).as_bytes());
        }
    }
    // The wire uses CRLF; the snapshot shows plain lines.
    String::from_utf8_lossy(&out)
        .replace("\r\n", "\n")
        .trim_end()
        .as_bytes()
        .to_vec()
}

/// `Token=…` parameters become `Token=[TOKEN]`.
fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("Token=") {
        let starts_param = at == 0 || matches!(rest.as_bytes()[at - 1], b'&' | b'?' | b'\n');
        out.push_str(&rest[..at + "Token=".len()]);
        rest = &rest[at + "Token=".len()..];
        if starts_param {
            let end = rest.find(['&', '\n', '\r', ' ']).unwrap_or(rest.len());
            out.push_str("[TOKEN]");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_reach_a_snapshot() {
        assert_eq!(redact_text("a=1&Token=secret&b=2"), "a=1&Token=[TOKEN]&b=2");
        assert_eq!(redact_text("XToken=keep"), "XToken=keep");
        let request = b"POST / HTTP/1.1\r\nX-TC-Token: secret\r\n\r\n";
        assert_eq!(
            String::from_utf8_lossy(&redact_request(request)),
            "POST / HTTP/1.1\nX-TC-Token: [TOKEN]"
        );
        let request = b"POST /api/v2/bmc HTTP/1.1\r\nAuthorization: Bearer secret\r\n\r\n";
        assert_eq!(
            String::from_utf8_lossy(&redact_request(request)),
            "POST /api/v2/bmc HTTP/1.1\nAuthorization: Bearer [TOKEN]"
        );
    }
}

/// What changed in one case between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Where: `step 2 (request 1)`.
    pub place: String,
    /// Which part: `request`, `canonical request`, `string to sign`, `signature`, `response`, or `steps`.
    pub part: String,
    /// The first differing line of that part, or what happened.
    pub detail: String,
    /// A unified diff of the part.
    pub diff: String,
}

/// The snapshot text without insta's `---` header.
pub fn body(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix("---\n")
        && let Some(end) = rest.find("\n---\n")
    {
        return &rest[end + "\n---\n".len()..];
    }
    text
}

/// Compares two renderings of the same case, part by part: for signed requests it says whether the canonical
/// request, the string to sign or only the signature changed.
pub fn compare(old: &str, new: &str) -> Vec<Change> {
    let (old, new) = (sections(body(old)), sections(body(new)));
    let mut changes = Vec::new();
    if old.len() != new.len() {
        changes.push(Change {
            place: "case".into(),
            part: "steps".into(),
            detail: format!("{} requests before, {} now", old.len(), new.len()),
            diff: String::new(),
        });
    }
    for (index, (before, after)) in old.iter().zip(&new).enumerate() {
        let place = format!("{} (request {})", before.step, index + 1);
        for part in ["canonical request", "string to sign", "request", "response"] {
            let (a, b) = (before.part(part), after.part(part));
            if a == b {
                continue;
            }
            let (part_name, detail) = match part {
                "request"
                    if signature_of(a) != signature_of(b)
                        && without_signature(a) == without_signature(b) =>
                {
                    (
                        "signature".to_owned(),
                        "only the signature changed".to_owned(),
                    )
                }
                _ => (part.to_owned(), first_difference(a, b)),
            };
            changes.push(Change {
                place: place.clone(),
                part: part_name,
                detail,
                diff: super::diff(a, b),
            });
        }
    }
    changes
}

/// One request's section: its step heading and its parts.
struct Section<'a> {
    step: &'a str,
    parts: Vec<(&'a str, String)>,
}

impl Section<'_> {
    fn part(&self, name: &str) -> &str {
        self.parts
            .iter()
            .find(|(part, _)| *part == name)
            .map_or("", |(_, text)| text.as_str())
    }
}

fn sections(text: &str) -> Vec<Section<'_>> {
    let text = text.trim_end();
    let mut sections: Vec<Section<'_>> = Vec::new();
    for line in text.lines() {
        if let Some(step) = line.strip_prefix("== ") {
            sections.push(Section {
                step,
                parts: Vec::new(),
            });
        } else if let Some(part) = line.strip_prefix("-- ")
            && let Some(section) = sections.last_mut()
        {
            section.parts.push((part, String::new()));
        } else if let Some((_, text)) = sections
            .last_mut()
            .and_then(|section| section.parts.last_mut())
        {
            text.push_str(line);
            text.push('\n');
        }
    }
    sections
}

fn signature_of(request: &str) -> Option<&str> {
    request
        .lines()
        .find_map(|line| line.split_once("Signature=").map(|(_, rest)| rest))
}

fn without_signature(request: &str) -> String {
    request
        .lines()
        .map(|line| {
            line.split_once("Signature=")
                .map_or(line, |(before, _)| before)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_difference(a: &str, b: &str) -> String {
    let (mut left, mut right) = (a.lines(), b.lines());
    for number in 1.. {
        match (left.next(), right.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (None, None) => break,
            (x, y) => {
                return format!(
                    "line {number}: {:?} became {:?}",
                    x.unwrap_or("<none>"),
                    y.unwrap_or("<none>")
                );
            }
        }
    }
    "whitespace".into()
}
