//! [`Secret`]: the one type a key or token travels in (credentials, world accounts, case steps, command-line
//! flags), so that printing one is impossible by accident rather than avoided by care.
//!
//! `Debug` and `Display` print `[REDACTED]`; there is no `Serialize` (a world read back through the control API
//! leaves keys out, and the harness writes them into the one request that seeds a mock with
//! [`Secret::expose`]); equality is constant-time. The value is reachable only through [`Secret::expose`], so
//! every place that needs the bytes (an HMAC key, a header value) says so where it reads them. A small newtype
//! rather than the `secrecy` crate: secrets here are test keys that must also compare, clone, parse from a flag
//! and appear in the JSON schema of case files, which `secrecy` deliberately makes awkward.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A secret key or token. Prints as `[REDACTED]`; read it with [`Secret::expose`].
///
/// Shared rather than copied when cloned: the mock hands an account's key to the verifier of every request.
#[derive(Clone, Default, Eq)]
pub struct Secret(Arc<str>);

/// What a secret prints as.
pub const REDACTED: &str = "[REDACTED]";

impl Secret {
    /// Wraps a key or token.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into())
    }

    /// The secret's value, for the code that must use it (signing, comparing, seeding a mock). Never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `text` with every occurrence of each secret replaced by `[REDACTED]`: as written, form-encoded
/// (`+` for space), percent-encoded (`%20`) and JSON-escaped, the forms a request, a trace or a diff can hold it
/// in. For text that is built from requests carrying known secrets (a failed case's message), where no type can
/// keep the value out. Longer secrets go first, so one that contains another is replaced whole. Every non-empty
/// secret is replaced, even a very short one: a garbled message is better than a printed key.
pub fn redact_all<'a>(text: &str, secrets: impl IntoIterator<Item = &'a Secret>) -> String {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets {
        let value = secret.expose();
        if value.is_empty() {
            continue;
        }
        forms.push(value.to_owned());
        forms.push(form_urlencoded::byte_serialize(value.as_bytes()).collect());
        forms.push(percent_encoded(value));
        let json = serde_json::Value::from(value).to_string();
        forms.push(json[1..json.len() - 1].to_owned());
    }
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    forms.dedup();
    forms.iter().fold(text.to_owned(), |text, form| {
        text.replace(form.as_str(), REDACTED)
    })
}

/// RFC 3986 percent-encoding: unreserved characters kept, every other byte `%XX` (uppercase).
fn percent_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

impl PartialEq for Secret {
    /// Constant-time in the contents, as a comparison of keys should be.
    fn eq(&self, other: &Self) -> bool {
        super::hash::constant_time_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value.into())
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    /// A plain string, as the schema says.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    /// Any string is a secret (for command-line flags).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(value))
    }
}

impl schemars::JsonSchema for Secret {
    /// A plain string in case and world files: the schema says nothing of how it is kept.
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_as_redacted_whatever_the_format() {
        let secret = Secret::new("CANARYkey");
        let printed = format!("{secret} {secret:?} {secret:#?} {:?}", Some(&secret));
        assert!(!printed.contains("CANARY"), "{printed}");
        assert_eq!(secret.expose(), "CANARYkey");
    }

    #[test]
    fn redact_all_replaces_every_encoding_of_every_secret() {
        let token = Secret::new("tok en/+=\"x");
        let key = Secret::new("key");
        let text =
            "a tok en/+=\"x b tok+en%2F%2B%3D%22x c tok%20en%2F%2B%3D%22x d tok en/+=\\\"x e keys";
        assert_eq!(
            redact_all(text, [&token, &key]),
            "a [REDACTED] b [REDACTED] c [REDACTED] d [REDACTED] e [REDACTED]s"
        );
    }
}
