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

/// A secret key or token. Prints as `[REDACTED]`; read it with [`Secret::expose`].
#[derive(Clone, Default, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

/// What a secret prints as.
pub const REDACTED: &str = "[REDACTED]";

impl Secret {
    /// Wraps a key or token.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
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
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
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
}
