//! A case's exchanges reduced to what a real API keeps stable: each step's HTTP status, error code (or
//! success) and the envelope's shape (keys and value types, not values). Messages, request ids, dates and
//! signatures — which differ between any two runs, and between the mock and the real API by design — are gone.
//!
//! A live run writes its exchanges in this form (`<case>@live.snap`); `terminus diff` reduces a full mock
//! snapshot to the same form when the other side is one, so mock and live are compared case by case on what
//! both can be held to.

use serde_json::Value;

use crate::exchange::Exchange;
use crate::harness::snapshot::STEP_MARK;
use crate::provider::ProviderId;

/// The first line of a reduced rendering.
pub const MARK: &str =
    "# terminus outcome: status, error code, envelope shape (messages and request ids normalised)";

/// Renders exchanges in the reduced form.
pub fn render(provider: ProviderId, exchanges: &[Exchange]) -> String {
    let mut out = format!("{MARK}\n");
    for exchange in exchanges {
        out.push_str(&format!("{STEP_MARK}{}\n", exchange.step));
        match &exchange.response {
            Ok(response) => out.push_str(&answer(provider, response.status, &response.body)),
            Err(error) => out.push_str(&format!("no answer: {}\n", error.kind())),
        }
    }
    out
}

/// The reduced form of a rendering: itself if it is one already, else read back from a full snapshot
/// (`harness::snapshot::render`, with or without insta's header). `None` when the text is neither.
pub fn reduce(provider: ProviderId, text: &str) -> Option<String> {
    if let Some(start) = text.find(MARK) {
        return Some(text[start..].trim_end().to_owned() + "\n");
    }
    let mut out = format!("{MARK}\n");
    let mut sections = text.split(STEP_MARK).skip(1).peekable();
    sections.peek()?;
    for section in sections {
        let (number, rest) = section.split_once('\n')?;
        out.push_str(&format!("{STEP_MARK}{}\n", number.trim()));
        let (_, response) = rest.split_once("-- response\n")?;
        let (first, rest) = response.split_once('\n').unwrap_or((response, ""));
        if let Some(kind) = first.strip_prefix("no answer: ") {
            out.push_str(&format!("no answer: {}\n", kind.trim()));
            continue;
        }
        let status: u16 = first.strip_prefix("HTTP ")?.trim().parse().ok()?;
        let body = rest.split_once("\n\n").map_or("", |(_, body)| body).trim();
        out.push_str(&answer(provider, status, body.as_bytes()));
    }
    Some(out)
}

/// One answer's lines: `HTTP 200`, `error CODE` or `success`, `shape …`.
fn answer(provider: ProviderId, status: u16, body: &[u8]) -> String {
    let verdict = match provider.read_answer(body) {
        Ok(Ok(_)) => "success".to_owned(),
        Ok(Err(code)) => format!("error {code}"),
        Err(why) => format!("not the provider's envelope: {why}"),
    };
    let shape = serde_json::from_slice::<Value>(body)
        .map_or_else(|_| "(not JSON)".to_owned(), |value| shape(&value));
    format!("HTTP {status}\n{verdict}\nshape {shape}\n")
}

/// A JSON value's shape: objects with their keys sorted, leaves and lists by type.
pub fn shape(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        // What a list holds is the account's data (an empty account lists nothing): its items are not shape.
        Value::Array(_) => "array".into(),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|key| format!("{key}: {}", shape(&map[key])))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_snapshot_and_its_answer_reduce_alike_whatever_the_message_and_request_id() {
        let full = "---\nsource: x\n---\n== step 1\n-- request\nPOST / HTTP/1.1\nHost: h\n\n{}\n\n\
                    -- response\nHTTP 200\nServer: nginx\nDate: [DATE]\n\n{\n  \"Response\": {\n    \"Error\": \
                    {\n      \"Code\": \"InvalidInstanceId.NotFound\",\n      \"Message\": \"mock words\"\n    },\n    \
                    \"RequestId\": \"[REQUEST_ID]\"\n  }\n}\n";
        let reduced = reduce(ProviderId::Tencent, full).unwrap();
        let live_body = br#"{"Response":{"RequestId":"5d2a7c9e-0d7b-4f4e-9a54-6c1f0a7f0c11","Error":{"Message":"real words","Code":"InvalidInstanceId.NotFound"}}}"#;
        let live = format!(
            "{MARK}\n{STEP_MARK}1\n{}",
            answer(ProviderId::Tencent, 200, live_body)
        );
        assert_eq!(reduced, live);
        assert!(
            reduced.contains("error InvalidInstanceId.NotFound"),
            "{reduced}"
        );
        assert_eq!(reduce(ProviderId::Tencent, &live).unwrap(), live);
        let other = live.replace("NotFound", "Malformed");
        assert_ne!(reduce(ProviderId::Tencent, &other).unwrap(), reduced);
    }
}
