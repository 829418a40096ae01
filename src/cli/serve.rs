//! `terminus serve`: the stateful mock as a server, for SDKs and CLIs to point at.
//!
//! Its first line of output is, and stays, `listening on http://ADDRESS:PORT` and nothing else, so that a script
//! that started it on port 0 learns the port the system chose; `--ready-file` writes the same URL to a file once the
//! server accepts connections, for scripts that would rather wait for a file than read a pipe.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::batched_stderr::{BatchedStderr, Flusher};
use super::plain_log::PlainLog;
use super::{MAX_THREADS, count_in, read_world, starting, unusable};
use crate::mock::{ControlToken, Limits, MockServer};
use crate::provider::is_provider_host;
use crate::record::Playback;
use crate::tls::Authority;
use crate::world::WorldSpec;

/// Serve the stateful mock on loopback (API 3.0 on `/`, control API on `/__terminus/`; limits and the control
/// API's access rules: README, "Limits" and "Control API").
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Address to listen on; port 0 lets the system choose a free port (the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: SocketAddr,
    /// Once listening, write the server's URL (`http://127.0.0.1:PORT`, one line) to this file; it appears whole
    /// (written beside it, then renamed).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// World file (TOML) to start with [default: the built-in world described in the README].
    #[arg(long)]
    world: Option<PathBuf>,
    /// Worker threads (1 to 256).
    #[arg(long, default_value_t = 2, value_parser = count_in(1, MAX_THREADS))]
    workers: usize,
    /// Connections served at once (1 to 1048576); one more is answered 503 and closed.
    #[arg(long, default_value_t = Limits::default().connections as u64,
          value_parser = clap::value_parser!(u64).range(1..=Limits::MOST_CONNECTIONS as u64))]
    max_connections: u64,
    /// Bytes of request bodies read at once, at least 16777216 (the largest body, a world file); a request that
    /// finds no room is answered 503.
    #[arg(long, default_value_t = Limits::default().body_bytes_in_flight as u64,
          value_parser = clap::value_parser!(u64).range(Limits::LARGEST_BODY as u64..=1 << 40))]
    max_body_bytes_in_flight: u64,
    /// The token control calls must carry as X-Terminus-Token [default: none on loopback; generated and printed
    /// once on any other address]. Prefer the environment variable: a flag's value shows in `ps`.
    #[arg(long, env = "TERMINUS_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,
    /// Log more: -v adds the server's debug lines, -vv everything. One line per request is logged by default (to
    /// stderr); RUST_LOG, when set, decides instead (e.g. RUST_LOG=terminus::request=warn).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Log only what went wrong: rejected signatures (with their diagnosis) and errors.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// How log lines are written: text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Serve HTTPS: a certificate authority is generated for this run (its key stays in memory) and issues a
    /// leaf for localhost/127.0.0.1/::1, and for the providers' host names clients ask for by SNI.
    #[arg(long)]
    tls: bool,
    /// With --tls: write the generated CA's certificate (PEM) here, for clients to trust.
    #[arg(long, requires = "tls")]
    ca_out: Option<PathBuf>,
    /// The cloud-like profile, the stand-in `terminus run --live` is proven against: no control API, the
    /// machine's clock, random request ids (README, "Live mode").
    #[arg(long)]
    cloud: bool,
    /// Append one JSON line per provider request to this file: its action, answer, and the existing instances
    /// it named.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Play this cassette (`terminus record --out`) back instead of running the mock: requests are matched on
    /// provider, action, version, region and parameters, repeats answered in recorded order.
    #[arg(long, conflicts_with_all = ["world", "tls"])]
    cassette: Option<PathBuf>,
}

/// The shape of log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (fields: timestamp, level, target, fields).
    Json,
}

/// Sends `tracing` events to stderr: RUST_LOG when set, else the level the flags ask for. Lines are written in
/// batches by a thread of their own ([`BatchedStderr`]), so a request's log line costs its formatting, not a write
/// or a wake-up; none is ever dropped. The flusher writes what is left when `run` returns.
fn start_logging(args: &Args) -> Option<Flusher> {
    use tracing_subscriber::EnvFilter;
    let level = match (args.quiet, args.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let (writer, flusher) = BatchedStderr::start();
    // Colours only on a terminal: a CI log file gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    // A second subscriber (a test that runs `serve` in-process twice) keeps the first.
    let installed = match args.log_format {
        LogFormat::Text => builder.event_format(PlainLog::default()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.ok().map(|()| flusher)
}

pub(super) fn run(args: Args) -> ExitCode {
    let _logging = start_logging(&args);
    if let Some(dir) = &args.cassette {
        return match Playback::start(dir, args.listen) {
            Ok(playback) => {
                out!(
                    "terminus serve: playing {} back on http://{}",
                    dir.display(),
                    playback.address()
                );
                until_told_to_stop();
                drop(playback);
                ExitCode::SUCCESS
            }
            Err(error) => unusable(error),
        };
    }
    let world = match &args.world {
        Some(path) => match read_world(path) {
            Ok(world) => world,
            Err(error) => return unusable(error),
        },
        None => WorldSpec::default_world(),
    };
    let summary = format!(
        "{} accounts, {} instances, clock {:?}",
        world.accounts.len(),
        world.instances.len(),
        world.clock
    );
    let given = match args.control_token.as_deref().map(ControlToken::new) {
        None => None,
        Some(Some(token)) => Some(token),
        Some(None) => return unusable("--control-token (or TERMINUS_CONTROL_TOKEN) is empty"),
    };
    let token_given = given.is_some();
    let limits = Limits {
        connections: usize::try_from(args.max_connections).unwrap_or(Limits::MOST_CONNECTIONS),
        body_bytes_in_flight: usize::try_from(args.max_body_bytes_in_flight).unwrap_or(usize::MAX),
        ..Limits::default()
    };
    let mut authority = None;
    if args.tls {
        let generated = match Authority::generate() {
            Ok(generated) => generated,
            Err(error) => return unusable(error),
        };
        if let Some(path) = &args.ca_out
            && let Err(error) = generated.write_certificate(path)
        {
            return unusable(format!("cannot write {}: {error}", path.display()));
        }
        authority = Some(generated);
    }
    let server = match starting("the mock", || {
        let builder = MockServer::builder()
            .listen(args.listen)
            .world(world)
            .workers(args.workers)
            .limits(limits)
            .control_token(given)
            .cloud(args.cloud)
            .log(args.log.clone());
        match &authority {
            Some(authority) => builder
                .tls(authority.server_config(Arc::new(is_provider_host)))
                .start(),
            None => builder.start(),
        }
    }) {
        Ok(server) => server,
        Err(error) => return unusable(format!("cannot start the mock: {error}")),
    };
    // The ready file before the first line: whoever has read the line finds the file.
    if let Some(path) = &args.ready_file
        && let Err(error) = write_whole(path, &format!("{}\n", server.uri()))
    {
        return unusable(format!("cannot write {}: {error}", path.display()));
    }
    // The first line, in a form scripts may rely on: `listening on <URL>`, nothing more.
    out!("listening on {}", server.uri());
    out!("terminus serve: {summary}");
    if args.cloud {
        out!("cloud profile: no control API, real clock, random request ids");
    } else {
        out!("control API: {}/__terminus/world", server.uri());
    }
    if let Some(path) = &args.ca_out {
        out!("CA certificate (trust it in clients): {}", path.display());
    }
    match server.control_token() {
        // Printed this once, here only: it exists nowhere else.
        Some(token) if !token_given => out!(
            "control token (send it as X-Terminus-Token; the address is not loopback): {}",
            token.reveal()
        ),
        Some(_) => out!("control token: as given (send it as X-Terminus-Token)"),
        None => {}
    }
    if !server.address().ip().is_loopback() {
        out!(
            "warning: {} is not loopback: its provider endpoints answer anyone who can reach it, with the world's keys",
            server.address()
        );
    }
    until_told_to_stop();
    drop(server);
    ExitCode::SUCCESS
}

/// Waits for SIGINT or SIGTERM (Ctrl-C, `kill`), so that `run` returns and the log lines still gathered are written
/// before the process ends. Without signal handling (the OS refused it), waits forever, as a server does.
fn until_told_to_stop() {
    let waited = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .and_then(|runtime| {
            runtime.block_on(async {
                let mut terminate =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                tokio::select! {
                    interrupted = tokio::signal::ctrl_c() => interrupted,
                    _ = terminate.recv() => Ok(()),
                }
            })
        });
    if waited.is_err() {
        loop {
            std::thread::park();
        }
    }
}

/// Writes a file so that a reader sees nothing or all of it: into a temporary file beside it, then renamed.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}
