//! `terminus sign`: sign a raw HTTP request and print it, with every intermediate step on request.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::{Format, read_request, trace_json, trace_text, unusable, write_stdout};
use crate::signing::{self, Credentials, Scheme, Secret, SignOptions};

/// Sign a raw HTTP/1.1 request that carries everything but its signature.
///
/// Prints the request plus its Authorization header (TC3, ZC2, Bearer) or plus its URL-encoded Signature
/// parameter (HmacSHA1, HmacSHA256). A signature already present is replaced.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// SecretId (Zenlayer: AccessKeyId).
    #[arg(long)]
    secret_id: String,
    /// SecretKey (Zenlayer: AccessKeyPassword; Bearer: the token).
    #[arg(long, env = "TERMINUS_SECRET_KEY", hide_env_values = true)]
    secret_key: Secret,
    /// tc3, hmac-sha1, hmac-sha256, zc2 or bearer; inferred from the request when absent.
    #[arg(long, value_parser = parse_scheme)]
    scheme: Option<Scheme>,
    /// TC3/ZC2: the headers to sign, `;`-separated [default: content-type;host].
    #[arg(long)]
    signed_headers: Option<String>,
    /// TC3: the credential-scope service [default: the first label of the host].
    #[arg(long)]
    service: Option<String>,
    /// Print every intermediate step before the signed request. The derived keys (`k-date`, `k-service`,
    /// `k-signing`) and a Bearer token's step are secret material: printed only with --trace (JSON output holds the
    /// other steps without it).
    #[arg(long)]
    trace: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The request file, or `-` for standard input.
    file: PathBuf,
}

pub(super) fn parse_scheme(name: &str) -> Result<Scheme, String> {
    Scheme::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Scheme::ALL
            .iter()
            .map(|scheme| scheme.short_name())
            .collect();
        format!(
            "unknown scheme {name:?}; expected one of {}",
            known.join(", ")
        )
    })
}

pub(super) fn run(args: Args) -> ExitCode {
    let request = match read_request(&args.file) {
        Ok(request) => request,
        Err(message) => return unusable(message),
    };
    let Some(scheme) = args.scheme.or_else(|| signing::infer_scheme(&request)) else {
        return unusable(
            "cannot tell the signing scheme from the request (no X-TC-* or X-ZC-* header, no SecretId \
             parameter); pass --scheme",
        );
    };
    let credentials = Credentials::new(args.secret_id, args.secret_key);
    let options = SignOptions {
        signed_headers: args.signed_headers,
        service: args.service,
    };
    let signed = match signing::sign(&request, &credentials, scheme, &options) {
        Ok(signed) => signed,
        Err(error) => return unusable(format!("{}: {error}", args.file.display())),
    };
    let bytes = signed.request.to_bytes();
    match args.format {
        Format::Json => {
            let document = json!({
                "scheme": scheme.name(),
                "trace": trace_json(&signed.trace, args.trace),
                "request": String::from_utf8_lossy(&bytes),
            });
            write_stdout(format!("{document:#}\n").as_bytes());
        }
        Format::Text if args.trace => {
            write_stdout(format!("{}== signed-request\n", trace_text(&signed.trace)).as_bytes());
            write_stdout(&bytes);
        }
        Format::Text => write_stdout(&bytes),
    }
    ExitCode::SUCCESS
}
