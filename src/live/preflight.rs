//! The one read call made before any case of a live run: with a wrong endpoint, certificate, key, region or
//! clock every case would run into the same wall one by one, so the run stops before the first with the reason.
//!
//! It is a `DescribeInstances` of one instance (Tencent: in the run's region; Zenlayer: account-wide), the read
//! every proof makes anyway: an answer at all proves the endpoint and TLS; a success proves the credentials and
//! the region; the answer's `Date` header, against this machine's clock, proves the signature window holds.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::provider::{Call, ProviderId};
use crate::signing::Credentials;

use super::credentials::LiveCredentials;
use super::guard::Transport;

/// The most clock skew tolerated: both APIs refuse a signature more than 300 s from their clock, and a request
/// takes time to arrive; a minute of margin.
pub const MAX_SKEW: i64 = 240;

/// Makes the call; `Err` names what is wrong.
pub async fn check(
    transport: &impl Transport,
    provider: ProviderId,
    credentials: &LiveCredentials,
    endpoint: &str,
    timeout: Duration,
) -> Result<(), String> {
    let describer = if provider == ProviderId::ZenlayerBmc {
        ProviderId::ZenlayerBmc
    } else {
        ProviderId::Tencent
    };
    let mut params = Map::new();
    if describer == ProviderId::ZenlayerBmc {
        params.insert("pageSize".into(), Value::from(1));
    } else {
        params.insert("Limit".into(), Value::from(1));
    }
    let signing = Credentials::new(
        credentials.secret_id.clone(),
        credentials.secret_key().clone(),
    );
    let now = super::cloud::unix_now();
    let call = Call {
        action: "DescribeInstances",
        params: &params,
        region: credentials.region.as_deref(),
        version: None,
        credentials: &signing,
        token: credentials.token().map(|token| token.expose()),
        timestamp: now,
        nonce: now.unsigned_abs(),
        sign: describer.default_sign(),
        method: "POST",
        headers: &[],
    };
    let (request, _) = describer
        .build_request(&call)
        .map_err(|error| format!("cannot build the preflight call: {error}"))?;
    let response = transport.send(&request, timeout).await.map_err(|error| {
        format!("{endpoint} did not answer (endpoint, network or TLS): {error}")
    })?;
    if let Some(date) = response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("date"))
        .map(|(_, value)| value.trim())
    {
        let theirs = http_date(date).ok_or_else(|| {
            format!("{endpoint} answered a Date header that is no HTTP date: {date:?}")
        })?;
        let skew = super::cloud::unix_now() - theirs;
        if skew.abs() > MAX_SKEW {
            return Err(format!(
                "this machine's clock is {skew} s off the endpoint's (its Date: {date}); both APIs refuse a \
                 signature more than 300 s away: set the clock right"
            ));
        }
    }
    match describer.read_answer(&response.body) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(code)) => Err(format!(
            "{endpoint} refused the preflight DescribeInstances in {}: {code} (check the credentials, their \
             permissions and the region)",
            credentials.region.as_deref().unwrap_or("the account")
        )),
        Err(why) => Err(format!(
            "{endpoint} answered HTTP {} that is not the provider's envelope ({why}): is it the right endpoint?",
            response.status
        )),
    }
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's preferred form) in Unix seconds.
fn http_date(text: &str) -> Option<i64> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text, FORMAT)
        .ok()
        .map(|at| at.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_date_reads_as_unix_seconds() {
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date("yesterday"), None);
    }
}
