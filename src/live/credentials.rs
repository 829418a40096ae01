//! Credentials for live mode, from each provider's usual environment variables and nowhere else: a flag's value
//! shows in `ps` and in shell history.
//!
//! - Tencent Cloud (API 3.0 and the legacy gateway): `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY`,
//!   optionally `TENCENTCLOUD_TOKEN` (temporary credentials) and `TENCENTCLOUD_REGION`, the names the official
//!   SDKs' environment provider and tccli read.
//! - Zenlayer Cloud: `ZENLAYERCLOUD_SECRET_KEY_ID` and `ZENLAYERCLOUD_SECRET_KEY_PASSWORD`, the names the
//!   zenlayercloud-sdk-go examples read (`bmc.NewClientWithSecretKey(os.Getenv(…))`).

use std::fmt;

use crate::provider::ProviderId;
use crate::signing::Secret;

/// One identity to sign live requests with. `Debug` never shows the key or the token.
#[derive(Clone)]
pub struct LiveCredentials {
    /// The key id (`AKID…`); not a secret, it appears in every signed request.
    pub secret_id: String,
    secret_key: Secret,
    token: Option<Secret>,
    /// The region requests go to (Tencent); `None` for Zenlayer, whose API has none.
    pub region: Option<String>,
}

impl fmt::Debug for LiveCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveCredentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &self.secret_key)
            .field("token", &self.token)
            .field("region", &self.region)
            .finish()
    }
}

impl LiveCredentials {
    /// Built from explicit values (tests, and [`LiveCredentials::from_env`]).
    pub fn new(
        secret_id: impl Into<String>,
        secret_key: impl Into<String>,
        token: Option<String>,
        region: Option<String>,
    ) -> Self {
        Self {
            secret_id: secret_id.into(),
            secret_key: Secret::new(secret_key),
            token: token.map(Secret::new),
            region,
        }
    }

    /// Reads the provider's variables through `var` (the process environment in use: `std::env::var`), and says
    /// which are missing by name.
    pub fn from_env(
        provider: ProviderId,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let names = Self::variables(provider);
        let get = |name: &str| var(name).filter(|value| !value.is_empty());
        let missing: Vec<&str> = names
            .required
            .iter()
            .copied()
            .filter(|name| get(name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "live mode reads its credentials from the environment: set {}",
                missing.join(" and ")
            ));
        }
        Ok(Self {
            secret_id: get(names.required[0]).unwrap_or_default(),
            secret_key: Secret::new(get(names.required[1]).unwrap_or_default()),
            token: names.token.and_then(get).map(Secret::new),
            region: names.region.and_then(get),
        })
    }

    /// The variables a provider's credentials come from.
    pub fn variables(provider: ProviderId) -> Variables {
        match provider {
            zenlayer if zenlayer == ProviderId::ZenlayerBmc => Variables {
                required: [
                    "ZENLAYERCLOUD_SECRET_KEY_ID",
                    "ZENLAYERCLOUD_SECRET_KEY_PASSWORD",
                ],
                token: None,
                region: None,
            },
            _ => Variables {
                required: ["TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"],
                token: Some("TENCENTCLOUD_TOKEN"),
                region: Some("TENCENTCLOUD_REGION"),
            },
        }
    }

    /// The key, for signing only.
    pub(crate) fn secret_key(&self) -> &Secret {
        &self.secret_key
    }

    /// The session token of temporary credentials, for the request header only.
    pub(crate) fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// Every secret, for scrubbing text that was built from requests (a failure message).
    pub(crate) fn secrets(&self) -> Vec<&Secret> {
        std::iter::once(&self.secret_key)
            .chain(self.token.as_ref())
            .filter(|secret| !secret.is_empty())
            .collect()
    }
}

/// The environment variables of one provider.
#[derive(Clone, Copy, Debug)]
pub struct Variables {
    /// The key id and the key.
    pub required: [&'static str; 2],
    /// The session token, where the provider has one.
    pub token: Option<&'static str>,
    /// The region, where the provider has one.
    pub region: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_are_named_and_the_key_never_shows_in_debug() {
        let error = LiveCredentials::from_env(ProviderId::Tencent, |name| {
            (name == "TENCENTCLOUD_SECRET_ID").then(|| "AKIDlive".to_owned())
        })
        .unwrap_err();
        assert!(error.contains("TENCENTCLOUD_SECRET_KEY"), "{error}");
        let credentials = LiveCredentials::from_env(ProviderId::Tencent, |name| match name {
            "TENCENTCLOUD_SECRET_ID" => Some("AKIDlive".into()),
            "TENCENTCLOUD_SECRET_KEY" => Some("canary-key-0123".into()),
            "TENCENTCLOUD_TOKEN" => Some("canary-token-4567".into()),
            _ => None,
        })
        .unwrap();
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("canary"), "{shown}");
        let secrets: Vec<&str> = credentials.secrets().iter().map(|s| s.expose()).collect();
        assert_eq!(secrets, ["canary-key-0123", "canary-token-4567"]);
        let zenlayer = LiveCredentials::from_env(ProviderId::ZenlayerBmc, |name| match name {
            "ZENLAYERCLOUD_SECRET_KEY_ID" => Some("zid".into()),
            "ZENLAYERCLOUD_SECRET_KEY_PASSWORD" => Some("zkey".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(zenlayer.secret_id, "zid");
    }
}
