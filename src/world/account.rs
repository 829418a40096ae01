//! Accounts: a credential per provider scheme and what the provider knows about its owner.

use serde::{Deserialize, Serialize};

use super::is_false;
use crate::signing::Secret;

/// An account: a credential and what the provider knows about its owner.
// One flat shape for every provider, as the world file's `[[accounts]]` entries are: `secret_id`, `secret_key`,
// `owner` and `disabled` are every provider's (Tencent Cloud's SecretId and SecretKey, Zenlayer's AccessKeyId and
// AccessKeyPassword); `token`, `app_id`, `token_revoked`, `unpaid_orders`, `mfa`, `return_quota` and
// `operation_quota` are Tencent Cloud's (API 3.0 and the legacy gateway); `bearer_token` is Zenlayer's. A field of
// another provider is ignored. Not split into per-provider structs: serde's `flatten`, which would keep the file
// flat, cannot be combined with `deny_unknown_fields` (docs/src/adding-a-provider.md).
// Its key and tokens are `Secret`s, so the derived `Debug` masks them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Account {
    /// `SecretId` (`AKID…`).
    pub secret_id: String,
    /// `SecretKey`. Never written back by the control API, never logged.
    #[serde(skip_serializing)]
    pub secret_key: Secret,
    /// A temporary credential's session token: requests must carry it (`X-TC-Token` / `Token`).
    #[serde(default, skip_serializing)]
    pub token: Option<Secret>,
    /// The owner account (uin). Instances of another owner are not this account's to terminate.
    #[serde(default = "default_owner")]
    pub owner: String,
    /// The account's AppId; a value that is not all digits stands for a broken one.
    #[serde(default = "default_app_id")]
    pub app_id: String,
    /// A disabled key: `AuthFailure.SecretIdNotFound`, as for a deleted one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// The session token has been revoked: `UnauthorizedOperation.InvalidToken`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub token_revoked: bool,
    /// The account has unpaid orders: `InvalidAccount.UnpaidOrder`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unpaid_orders: bool,
    /// Multi-factor authentication state.
    #[serde(default, skip_serializing_if = "Mfa::is_ok")]
    pub mfa: Mfa,
    /// Prepaid instances the account may still return; `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_quota: Option<u32>,
    /// Quota of limited operations (each termination uses one); `None` is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_quota: Option<u32>,
    /// Zenlayer: a personal access token that authenticates this account's `Authorization: Bearer` requests.
    /// Never written back by the control API.
    #[serde(default, skip_serializing)]
    pub bearer_token: Option<Secret>,
}

/// Why an authenticated key may still not act: the rules after the signature, shared by every provider that has
/// session tokens and MFA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionRefusal {
    /// The session token is missing, not this key's, or given for a permanent key.
    Token,
    /// The MFA check fails.
    Mfa,
}

impl Account {
    /// Checks the session token presented (an empty one counts as none), then MFA.
    pub fn check_session(&self, presented_token: Option<&str>) -> Result<(), SessionRefusal> {
        // `Secret`'s equality is constant-time.
        let presented = presented_token
            .filter(|token| !token.is_empty())
            .map(Secret::from);
        if self.token != presented {
            return Err(SessionRefusal::Token);
        }
        if self.mfa == Mfa::Failure {
            return Err(SessionRefusal::Mfa);
        }
        Ok(())
    }

    /// An account with every default and empty credentials, to fill in.
    pub fn new_default() -> Self {
        Self {
            secret_id: String::new(),
            secret_key: Secret::default(),
            token: None,
            owner: default_owner(),
            app_id: default_app_id(),
            disabled: false,
            token_revoked: false,
            unpaid_orders: false,
            mfa: Mfa::Ok,
            return_quota: None,
            operation_quota: None,
            bearer_token: None,
        }
    }
}

fn default_owner() -> String {
    "100000000001".to_owned()
}

fn default_app_id() -> String {
    "1250000000".to_owned()
}

/// The multi-factor authentication state of an account.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mfa {
    /// Not required, or passed.
    #[default]
    Ok,
    /// The MFA check fails at authentication: `AuthFailure.MFAFailure`.
    Failure,
    /// MFA is required but the account has none: `UnauthorizedOperation.MFANotFound`.
    NotFound,
    /// The MFA session expired: `UnauthorizedOperation.MFAExpired`.
    Expired,
}

impl Mfa {
    fn is_ok(&self) -> bool {
        *self == Mfa::Ok
    }
}
