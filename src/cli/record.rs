//! `terminus record`: the recording proxy (the book, docs/src/recorder.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use super::unusable;
use crate::record::{Log, Recorder, RecorderConfig};
use crate::signing::leak::Known;
use crate::tls::Trust;

/// The environment variables the official clients read credentials from (tccli, Terraform): when set, their values
/// are secrets of the session, redacted and searched for like the ones the requests show.
const SECRET_VARIABLES: [(&str, &str); 5] = [
    ("TENCENTCLOUD_SECRET_ID", "secret id"),
    ("TENCENTCLOUD_SECRET_KEY", "secret key"),
    ("TENCENTCLOUD_TOKEN", "session token"),
    ("TENCENTCLOUD_SECURITY_TOKEN", "session token"),
    ("TENCENTCLOUD_SESSION_TOKEN", "session token"),
];

/// Record a client's traffic to the providers through a forward proxy: plain HTTP (absolute form) is sent on over
/// HTTPS, CONNECT is intercepted with a CA generated for this run. Every exchange is redacted (the request
/// re-signed with the fixture key) and appended to the cassette DIR; one line per exchange says what was written
/// or refused, and SIGINT/SIGTERM ends it with the counts.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Address to listen on (loopback only: every request through the proxy carries a live credential).
    #[arg(long, default_value = "127.0.0.1:18443")]
    listen: SocketAddr,
    /// The cassette directory to create (refused if it already holds one).
    #[arg(long, required_unless_present = "to_case")]
    out: Option<PathBuf>,
    /// Instead of recording: print a case file skeleton for one recorded exchange, given as
    /// CASSETTE/NAME (`cassettes/run/0002-TerminateInstances`, or any of its files).
    #[arg(long, value_name = "EXCHANGE", conflicts_with_all = ["out", "upstream", "ca_cert", "ca_out", "redact"])]
    to_case: Option<PathBuf>,
    /// Send every request here instead of the host the client addressed (https://… or http://…).
    #[arg(long)]
    upstream: Option<String>,
    /// Trust only the CA certificates in this PEM file for the upstream's TLS [default: the public web roots].
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Write this run's CA certificate (PEM) here, for CONNECT clients to trust.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// How long a client may take to send a whole request, head and body, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_deadline: u64,
    /// A string to redact wherever it appears (repeatable), e.g. a project name; becomes [REDACTED-n].
    #[arg(long = "redact", value_name = "STRING")]
    redact: Vec<String>,
}

pub(super) fn run(args: Args) -> ExitCode {
    if let Some(exchange) = &args.to_case {
        return to_case(exchange);
    }
    let Some(out) = args.out.clone() else {
        return unusable("--out DIR is required to record");
    };
    if !args.listen.ip().is_loopback() {
        return unusable(format!(
            "--listen {}: the recorder listens on loopback only (an open port would relay its clients' credentials)",
            args.listen
        ));
    }
    let trust = match Trust::from_ca_file(args.ca_cert.as_deref()) {
        Ok(trust) => trust,
        Err(error) => return unusable(error),
    };
    let secrets: Vec<Known> = SECRET_VARIABLES
        .iter()
        .filter_map(|(name, kind)| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .map(|value| Known::new(kind, value))
        })
        .collect();
    let log = Log(Arc::new(|line: &str| out!("{line}")));
    let recorder = match Recorder::start(RecorderConfig {
        listen: args.listen,
        out: out.clone(),
        upstream: args.upstream.clone(),
        trust,
        redact: args.redact,
        secrets,
        log: Some(log),
        request_deadline: std::time::Duration::from_secs(args.request_deadline),
    }) {
        Ok(recorder) => recorder,
        Err(error) => return unusable(error),
    };
    if let Some(path) = &args.ca_out
        && let Err(error) = crate::file::write_new(path, recorder.ca_pem().as_bytes())
    {
        return unusable(error);
    }
    out!(
        "terminus record: proxy on {} -> {}, cassette {}",
        recorder.uri(),
        args.upstream
            .as_deref()
            .unwrap_or("the providers' hosts over HTTPS"),
        out.display()
    );
    if let Some(path) = &args.ca_out {
        out!(
            "CA certificate (trust it in CONNECT clients): {}",
            path.display()
        );
    }
    super::serve::until_told_to_stop();
    let counts = recorder.counts();
    drop(recorder);
    out!(
        "terminus record: {} written, {} refused ({} because a secret would have been written, {} that could not be written)",
        counts.written,
        counts.refused_secret + counts.refused_other,
        counts.refused_secret,
        counts.refused_other
    );
    ExitCode::SUCCESS
}

/// Prints the skeleton for `CASSETTE/NAME[.request|.response|@recorded.snap]`.
fn to_case(exchange: &std::path::Path) -> ExitCode {
    let Some(file) = exchange.file_name().and_then(|name| name.to_str()) else {
        return unusable(format!(
            "--to-case {}: expected CASSETTE/NAME",
            exchange.display()
        ));
    };
    let name = file
        .split_once('@')
        .map_or(file, |(name, _)| name)
        .trim_end_matches(".request")
        .trim_end_matches(".response");
    let dir = exchange.parent().unwrap_or(std::path::Path::new("."));
    match crate::record::to_case::skeleton(dir, name) {
        Ok((text, _)) => {
            out!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(error) => unusable(error),
    }
}
