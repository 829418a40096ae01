//! `terminus verify`: check the signature of a raw HTTP request.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::{Format, read_request, read_trace, trace_json, trace_text, unusable, write_stdout};
use crate::signing::{self, Policy, Secret, tc3};

/// Verify the signature of a raw HTTP/1.1 request.
///
/// Exit status: 0 and `signature ok (SCHEME)` when it verifies; 1 naming the first step that differs when it
/// does not; 2 with the reason when the input is unusable (not HTTP, no Host, unknown scheme, malformed
/// Authorization…).
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// SecretKey (Zenlayer: AccessKeyPassword; Bearer: the expected token).
    #[arg(long, env = "TERMINUS_SECRET_KEY", hide_env_values = true)]
    secret_key: Secret,
    /// Server time in Unix seconds; the timestamp must lie within --max-skew of it. Without it expiry is not checked.
    #[arg(long, allow_negative_numbers = true)]
    now: Option<i64>,
    /// The accepted distance between the request's timestamp and --now, in seconds.
    #[arg(long, default_value_t = Policy::default().max_skew)]
    max_skew: u64,
    /// TC3: the credential-scope service to require [default: the first label of a *.tencentcloudapi.com host].
    #[arg(long)]
    service: Option<String>,
    /// The signer's trace (`sign --format json` output, or an object of step names to values): a mismatch is
    /// then explained by the first step at which the two differ.
    #[arg(long, value_name = "TRACE")]
    expect: Option<PathBuf>,
    /// Print the recomputed steps after the verdict, on a rejection too (with the TC3 scope the server expects).
    /// The derived keys (`k-date`, `k-service`, `k-signing`) and a Bearer token's step are secret material:
    /// printed only with --trace (JSON output holds the other steps without it).
    #[arg(long)]
    trace: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The request file, or `-` for standard input.
    file: PathBuf,
}

pub(super) fn run(args: Args) -> ExitCode {
    let request = match read_request(&args.file) {
        Ok(request) => request,
        Err(message) => return unusable(message),
    };
    let claim = match signing::inspect(&request) {
        Ok(claim) => claim,
        Err(error) => return unusable(format!("{}: {error}", args.file.display())),
    };
    let reference = match &args.expect {
        Some(path) => match read_trace(path, claim.scheme) {
            Ok(trace) => Some(trace),
            Err(message) => return unusable(message),
        },
        None => None,
    };
    let service = args.service.or_else(|| {
        request
            .host()
            .and_then(tc3::service_of_endpoint)
            .map(str::to_owned)
    });
    let policy = Policy {
        max_skew: args.max_skew,
        service: service.map(Into::into),
        derived_keys: true,
    };
    let scheme = claim.scheme.name();
    let outcome = claim.verify(
        &request,
        &args.secret_key,
        args.now,
        &policy,
        reference.as_ref(),
    );
    // On a rejection: the steps the key gives, and the common client mistake that explains it, if one does.
    let (recomputed, diagnosis) = match &outcome {
        Ok(_) => (None, None),
        Err(_) => (
            claim.recompute(&request, &args.secret_key, &policy).ok(),
            Some(claim.diagnose(&request, &args.secret_key, &policy))
                .filter(|diagnosis| diagnosis.mistake.is_some()),
        ),
    };
    let output = match (&outcome, args.format) {
        (Ok(trace), Format::Json) => format!(
            "{:#}\n",
            json!({"ok": true, "scheme": scheme, "trace": trace_json(trace, args.trace)})
        ),
        (Err(rejection), Format::Json) => {
            let mut document = json!({"ok": false, "scheme": scheme, "step": rejection.step(), "reason": rejection.to_string()});
            if let Some(diagnosis) = &diagnosis {
                document["mistake"] = diagnosis.mistake.into();
                document["cause"] = diagnosis.cause.clone().into();
            }
            if let Some(trace) = recomputed.as_ref().filter(|_| args.trace) {
                document["trace"] = trace_json(trace, true);
            }
            format!("{document:#}\n")
        }
        (Ok(trace), Format::Text) if args.trace => {
            format!("signature ok ({scheme})\n{}", trace_text(trace))
        }
        (Ok(_), Format::Text) => format!("signature ok ({scheme})\n"),
        (Err(rejection), Format::Text) => {
            let mut text = format!(
                "signature rejected ({scheme}) at {}: {rejection}\n",
                rejection.step()
            );
            if let Some(diagnosis) = &diagnosis {
                text.push_str(&format!(
                    "likely cause ({}): {}\n",
                    diagnosis.mistake.unwrap_or_default(),
                    diagnosis.cause
                ));
            }
            if let Some(trace) = recomputed.as_ref().filter(|_| args.trace) {
                text.push_str("recomputed with the given key:\n");
                text.push_str(&trace_text(trace));
            }
            text
        }
    };
    write_stdout(output.as_bytes());
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
