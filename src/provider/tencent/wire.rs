//! Tencent Cloud API 3.0 on the wire: the envelope, error codes and messages, and action parameters decoded
//! from a JSON body or from flattened `Name.N` form parameters.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

/// The API version of CVM `TerminateInstances`.
pub const VERSION: &str = "2017-03-12";

/// The regions `TerminateInstances` supports (seed 001: "This API only supports: …").
pub const SUPPORTED_REGIONS: [&str; 18] = [
    "ap-bangkok",
    "ap-beijing",
    "ap-chengdu",
    "ap-chongqing",
    "ap-guangzhou",
    "ap-hongkong",
    "ap-jakarta",
    "ap-nanjing",
    "ap-seoul",
    "ap-shanghai",
    "ap-shanghai-fsi",
    "ap-shenzhen-fsi",
    "ap-singapore",
    "ap-tokyo",
    "eu-frankfurt",
    "na-ashburn",
    "na-siliconvalley",
    "sa-saopaulo",
];

/// CVM regions the SDKs know (Go SDK `regions.go`) that `TerminateInstances` does not support.
pub const OTHER_CVM_REGIONS: [&str; 4] =
    ["ap-guangzhou-open", "ap-mumbai", "eu-moscow", "na-toronto"];

/// Common parameters of the `Signature` parameter form, which are not action parameters.
pub const COMMON_PARAMS: [&str; 11] = [
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "SecretId",
    "Signature",
    "SignatureMethod",
    "Token",
    "Language",
    "RequestClient",
];

/// An error to answer with: a documented code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The documented code, e.g. `InvalidInstanceId.NotFound`.
    pub code: String,
    /// A message in the style of the official one (messages are not stable; clients must not parse them).
    pub message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// `{"Response":{…fields,"RequestId":…}}`.
pub fn success(request_id: &str, mut fields: Map<String, Value>) -> Vec<u8> {
    fields.insert("RequestId".to_owned(), Value::from(request_id));
    serde_json::to_vec(&json!({ "Response": fields })).expect("JSON values serialise")
}

/// `{"Response":{"Error":{"Code":…,"Message":…},"RequestId":…}}`.
pub fn error(request_id: &str, error: &ApiError) -> Vec<u8> {
    let body = json!({
        "Response": {
            "Error": { "Code": error.code, "Message": error.message },
            "RequestId": request_id,
        }
    });
    serde_json::to_vec(&body).expect("JSON values serialise")
}

/// Reads `{"Response":{…}}`: `Ok(fields)` without `Error`, `Err(code)` with one; the outer `Err` when the body is
/// not this envelope.
#[allow(clippy::type_complexity)]
pub fn read_answer(body: &[u8]) -> Result<Result<Map<String, Value>, String>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("the answer is not JSON: {error}"))?;
    let response = value
        .get("Response")
        .and_then(Value::as_object)
        .ok_or("the answer has no Response object")?;
    if !response.get("RequestId").is_some_and(Value::is_string) {
        return Err("the answer's Response has no RequestId".into());
    }
    match response.get("Error") {
        Some(error) => error
            .get("Code")
            .and_then(Value::as_str)
            .map(|code| Err(code.to_owned()))
            .ok_or_else(|| "the answer's Error has no Code".to_owned()),
        None => Ok(Ok(response.clone())),
    }
}

/// Action parameters, whatever the encoding, as a JSON object; `flattened` says they came from a query or form,
/// where every value is a string.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionParams {
    /// The parameters.
    pub values: Map<String, Value>,
    /// From `Name.N=value` pairs (strings) rather than a JSON body.
    pub flattened: bool,
}

impl ActionParams {
    /// Reads a JSON body (empty means `{}`).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self {
                values: Map::new(),
                flattened: false,
            });
        }
        let text = std::str::from_utf8(body).map_err(|_| {
            ApiError::new("InvalidParameter", "the request body is not valid UTF-8")
        })?;
        if let Err(error) = serde_json::from_str::<NoDuplicateKeys>(text) {
            let message = format!("the request body is not valid JSON: {error}");
            return Err(ApiError::new("InvalidParameter", message));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(values)) => Ok(Self {
                values,
                flattened: false,
            }),
            Ok(_) => Err(ApiError::new(
                "InvalidParameter",
                "the request body must be a JSON object",
            )),
            Err(error) => Err(ApiError::new(
                "InvalidParameter",
                format!("the request body is not valid JSON: {error}"),
            )),
        }
    }

    /// Reads flattened pairs (`InstanceIds.0=…`, `Filters.0.Values.1=…`), leaving out the common parameters. Names
    /// have at most [`MAX_NAME_DEPTH`] segments and indexes up to [`MAX_INDEX`]; the work is proportional to the
    /// pairs' bytes.
    pub fn from_pairs<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ApiError> {
        let mut tree = IndexMap::new();
        for (name, value) in pairs {
            if COMMON_PARAMS.contains(&name) {
                continue;
            }
            insert_path(&mut tree, name, value)?;
        }
        // Lists may be numbered from 0 (SDKs) or 1 (the legacy documentation): they read without the holes.
        let values = tree
            .into_iter()
            .map(|(name, node)| (name, node.into_value()))
            .collect();
        Ok(Self {
            values,
            flattened: true,
        })
    }

    /// Refuses any parameter not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self
            .values
            .keys()
            .find(|name| !known.contains(&name.as_str()))
        {
            Some(name) => Err(ApiError::new(
                "UnknownParameter",
                format!("The parameter `{name}` is not recognized."),
            )),
            None => Ok(()),
        }
    }

    /// A list of strings; `None` when absent.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        let wrong = || {
            ApiError::new(
                "InvalidParameter",
                format!("The parameter `{name}` must be an array of strings."),
            )
        };
        let items = value.as_array().ok_or_else(wrong)?;
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// A boolean; JSON `true`/`false`, or in flattened form `true`/`false`/`True`/`False` (Python sends `True`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Bool(flag) if !self.flattened => Some(*flag),
            Value::String(text) if self.flattened => match text.as_str() {
                "true" | "True" => Some(true),
                "false" | "False" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            ApiError::new(
                "InvalidParameter",
                format!("The parameter `{name}` must be a Boolean."),
            )
        })
    }

    /// A non-negative integer; a JSON number, or digits in flattened form.
    pub fn integer(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(number) if !self.flattened => number.as_u64(),
            Value::String(text) if self.flattened => text.parse().ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            ApiError::new(
                "InvalidParameter",
                format!("The parameter `{name}` must be an integer."),
            )
        })
    }
}

/// A JSON document in which no object gives a key twice (serde_json would keep the last one silently, and a
/// duplicated `InstanceIds` is as ambiguous as a parameter given twice in a form).
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = NoDuplicateKeys;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(NoDuplicateKeys)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{key}` is given more than once"
                )));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(NoDuplicateKeys)
    }
}

/// The most segments a flattened name has: `Filters.N.Values.N`, the deepest shape API 3.0 flattens (a list of
/// structures that hold a list). A deeper name is no parameter of any action: `UnknownParameter`.
pub const MAX_NAME_DEPTH: usize = 4;

/// The largest index a flattened name may carry: a list holds at most 100 items (`InstanceIds`: "max 100 per
/// request"), numbered from 0 (the SDKs) or from 1 (the legacy documentation), so no valid request uses more than
/// 100. A larger one is `InvalidParameterValue.LimitExceeded`, the code of a batch over 100.
pub const MAX_INDEX: usize = 100;

/// A flattened parameter tree while it is being read. Lists are sparse (index to item), so a large index costs one
/// entry, not a run of holes; together with [`MAX_NAME_DEPTH`] this keeps the work and memory proportional to the
/// bytes received, and every walk of the tree (insert, convert, drop) at most [`MAX_NAME_DEPTH`] deep.
enum Node {
    /// Created on the way to a deeper segment, not yet given a shape.
    Unset,
    /// A value.
    Text(String),
    /// `Name.N`: items by index.
    List(BTreeMap<usize, Node>),
    /// `Name.Field`: fields in the order first given.
    Fields(IndexMap<String, Node>),
}

impl Node {
    /// The JSON value: lists in index order without holes, so `InstanceIds.1`, `InstanceIds.2` read as a list of two.
    fn into_value(self) -> Value {
        match self {
            Node::Unset => Value::Null,
            Node::Text(text) => Value::String(text),
            Node::List(items) => Value::Array(items.into_values().map(Node::into_value).collect()),
            Node::Fields(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(name, node)| (name, node.into_value()))
                    .collect(),
            ),
        }
    }
}

/// A name as quoted in an error: at most 64 characters, so that an error about a 60 KB name is not 60 KB long.
fn quoted(name: &str) -> String {
    const SHOWN: usize = 64;
    match name.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

/// Puts `value` at the dotted path `name` (segments of digits index lists), within [`MAX_NAME_DEPTH`] and
/// [`MAX_INDEX`].
fn insert_path(
    values: &mut IndexMap<String, Node>,
    name: &str,
    value: &str,
) -> Result<(), ApiError> {
    let unknown = |why: &str| {
        ApiError::new(
            "UnknownParameter",
            format!("The parameter `{}` is not recognized{why}.", quoted(name)),
        )
    };
    let conflict = || {
        ApiError::new(
            "InvalidParameter",
            format!(
                "The parameter `{}` is given twice or clashes with another.",
                quoted(name)
            ),
        )
    };
    if name.split('.').nth(MAX_NAME_DEPTH).is_some() {
        return Err(unknown(&format!(
            ": a flattened name has at most {MAX_NAME_DEPTH} segments (Filters.N.Values.N)"
        )));
    }
    let mut segments = name.split('.');
    let first = segments.next().unwrap_or_default();
    if first.is_empty() || first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unknown(""));
    }
    let mut slot = values.entry(first.to_owned()).or_insert(Node::Unset);
    for segment in segments {
        if segment.is_empty() {
            return Err(unknown(": it has an empty segment"));
        }
        slot = if segment.bytes().all(|b| b.is_ascii_digit()) {
            let index = segment
                .parse::<usize>()
                .ok()
                .filter(|&index| index <= MAX_INDEX)
                .ok_or_else(|| {
                    ApiError::new(
                        "InvalidParameterValue.LimitExceeded",
                        format!(
                            "The index in `{}` is over {MAX_INDEX}: a list holds at most {} items.",
                            quoted(name),
                            crate::world::rules::MAX_BATCH
                        ),
                    )
                })?;
            if matches!(slot, Node::Unset) {
                *slot = Node::List(BTreeMap::new());
            }
            match slot {
                Node::List(items) => items.entry(index).or_insert(Node::Unset),
                _ => return Err(conflict()),
            }
        } else {
            if matches!(slot, Node::Unset) {
                *slot = Node::Fields(IndexMap::new());
            }
            match slot {
                Node::Fields(fields) => fields.entry(segment.to_owned()).or_insert(Node::Unset),
                _ => return Err(conflict()),
            }
        };
    }
    if !matches!(slot, Node::Unset) {
        return Err(conflict());
    }
    *slot = Node::Text(value.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_ids_numbered_from_zero_or_one_read_as_the_same_list() {
        let from_zero =
            ActionParams::from_pairs([("InstanceIds.0", "a"), ("InstanceIds.1", "b")].into_iter())
                .unwrap();
        let from_one =
            ActionParams::from_pairs([("InstanceIds.1", "a"), ("InstanceIds.2", "b")].into_iter())
                .unwrap();
        assert_eq!(
            from_zero.strings("InstanceIds").unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            from_one.strings("InstanceIds").unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn a_json_key_given_twice_is_refused() {
        let error =
            ActionParams::from_json(br#"{"InstanceIds": ["ins-a"], "InstanceIds": ["ins-b"]}"#)
                .unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
        assert!(
            error
                .message
                .contains("`InstanceIds` is given more than once"),
            "{}",
            error.message
        );
        assert!(ActionParams::from_json(br#"{"A": [{"x": 1}, {"x": 2}]}"#).is_ok());
    }

    #[test]
    fn a_name_deeper_than_filters_n_values_n_is_an_unknown_parameter() {
        let deepest = ActionParams::from_pairs([("Filters.0.Values.1", "x")].into_iter()).unwrap();
        assert_eq!(deepest.values["Filters"][0]["Values"][0], "x");
        // The issue's crash: 30,000 levels overflowed the stack (insert, walk and drop were recursive).
        let deep = format!("InstanceIds{}", ".0".repeat(30_000));
        let error = ActionParams::from_pairs([(deep.as_str(), "ins-a")].into_iter()).unwrap_err();
        assert_eq!(error.code, "UnknownParameter");
        assert!(error.message.len() < 200, "{}", error.message);
        let five = ActionParams::from_pairs([("Filters.0.Values.1.x", "x")].into_iter());
        assert_eq!(five.unwrap_err().code, "UnknownParameter");
    }

    #[test]
    fn an_index_over_100_is_refused_and_a_large_index_costs_no_holes() {
        let last = ActionParams::from_pairs([("InstanceIds.100", "a")].into_iter()).unwrap();
        assert_eq!(last.strings("InstanceIds").unwrap(), Some(vec!["a".into()]));
        for name in [
            "InstanceIds.101",
            "Filters.999.Values.0",
            "InstanceIds.99999999999999999999999",
        ] {
            let error = ActionParams::from_pairs([(name, "a")].into_iter()).unwrap_err();
            assert_eq!(error.code, "InvalidParameterValue.LimitExceeded", "{name}");
        }
    }

    #[test]
    fn an_empty_segment_or_a_numeric_first_segment_is_an_unknown_parameter() {
        for name in ["InstanceIds..0", "InstanceIds.", ".0", "0", "0.InstanceIds"] {
            let error = ActionParams::from_pairs([(name, "a")].into_iter()).unwrap_err();
            assert_eq!(error.code, "UnknownParameter", "{name}");
        }
    }

    #[test]
    fn a_list_and_a_field_at_one_place_clash() {
        let error =
            ActionParams::from_pairs([("Filters.0", "a"), ("Filters.Name", "b")].into_iter())
                .unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
        let error = ActionParams::from_pairs([("A", "a"), ("A.0", "b")].into_iter()).unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        let error =
            ActionParams::from_pairs([("InstanceIds.0", "a"), ("InstanceIds.0", "b")].into_iter())
                .unwrap_err();
        assert_eq!(error.code, "InvalidParameter");
    }

    #[test]
    fn python_booleans_are_read_only_in_flattened_form() {
        let flat = ActionParams::from_pairs([("ReleaseAddress", "True")].into_iter()).unwrap();
        assert_eq!(flat.boolean("ReleaseAddress").unwrap(), Some(true));
        let json = ActionParams::from_json(br#"{"ReleaseAddress": "True"}"#).unwrap();
        assert_eq!(
            json.boolean("ReleaseAddress").unwrap_err().code,
            "InvalidParameter"
        );
    }
}
