//! `terminus serve`: the stateful mock as a server, for SDKs and CLIs to point at.
//!
//! Its first line of output is, and stays, `listening on http://ADDRESS:PORT` and nothing else, so that a script
//! that started it on port 0 learns the port the system chose; `--ready-file` writes the same URL to a file once the
//! server accepts connections, for scripts that would rather wait for a file than read a pipe.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::batched_stderr::{BatchedStderr, Flusher};
use super::plain_log::PlainLog;
use super::{MAX_THREADS, count_in, read_world, starting, unusable};
use crate::mock::{ControlToken, Limits, MockServer};
use crate::provider::is_provider_host;
use crate::record::{Playback, playback};
use crate::tls::Authority;
use crate::world::WorldSpec;

/// Serve the stateful mock on loopback (API 3.0 on `/`, control API on `/__terminus/`; limits and the control
/// API's access rules: the book, docs/src/limits.md and docs/src/mock.md).
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Address to listen on; port 0 lets the system choose a free port (the first line printed names it).
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: SocketAddr,
    /// Once listening, write the server's URL (`http://127.0.0.1:PORT`, one line) to this file; it appears whole
    /// (written beside it, then renamed).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// World file (TOML) to start with [default: the built-in world described in docs/src/mock.md].
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
    /// Bytes the request journal (GET /__terminus/requests) holds at most, at least 1048576; the oldest entries go
    /// to make room.
    #[arg(long, default_value_t = Limits::default().journal_bytes as u64,
          value_parser = clap::value_parser!(u64).range(1 << 20..=1 << 40))]
    journal_bytes: u64,
    /// CVM instances the world holds at most (1 to 100000000); a RunInstances past it is
    /// LimitExceeded.InstanceQuota. Destroyed instances leave the world once their listing window has passed.
    #[arg(long, default_value_t = Limits::default().instances as u64,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    max_instances: u64,
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
    /// machine's clock, random request ids (docs/src/live.md).
    #[arg(long)]
    cloud: bool,
    /// With --cloud: a request that could change state (any action but a Describe/Get/Inquiry) and names an
    /// instance that exists is answered with the error FailedOperation.TerminusTripwire instead of being
    /// served, logged with "tripped": true (--log) and warned about on stderr. For proving live mode's guard.
    #[arg(long, requires = "cloud")]
    tripwire: bool,
    /// Append one JSON line per provider request to this file: its action, answer, and the existing instances
    /// it named.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Play this cassette (`terminus record --out`) back instead of running the mock: requests are matched on
    /// method, host, action, version, region and parameters (never signature, timestamp or nonce); an unmatched
    /// one is answered 501 naming the nearest exchange and the fields that differ (docs/src/recorder.md).
    #[arg(long, conflicts_with_all = ["world", "tls", "cloud"])]
    cassette: Option<PathBuf>,
    /// The seed of request ids and created instance ids [default: the world file's `seed` when it names one,
    /// else one drawn at start and printed, so that two runs do not answer the same ids].
    #[arg(long)]
    seed: Option<u64>,
    /// With --cassette: `once` (each recorded answer once, repeats in recorded order), `repeat` (then the last
    /// answer again), `strict-order` (each request must be the next recorded one).
    #[arg(long, value_enum, default_value_t = PlaybackMode::Once, requires = "cassette")]
    playback: PlaybackMode,
}

/// `--playback`: how recorded answers are handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum PlaybackMode {
    /// Each recorded answer once.
    Once,
    /// Each recorded answer once, then the last one again.
    Repeat,
    /// Each request must be the next recorded one.
    StrictOrder,
}

impl From<PlaybackMode> for playback::Mode {
    fn from(mode: PlaybackMode) -> Self {
        match mode {
            PlaybackMode::Once => Self::Once,
            PlaybackMode::Repeat => Self::Repeat,
            PlaybackMode::StrictOrder => Self::StrictOrder,
        }
    }
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
        return serve_cassette(&args, dir);
    }
    let mut world = match &args.world {
        Some(path) => match read_world(path) {
            Ok(world) => world,
            Err(error) => return unusable(error),
        },
        None => WorldSpec::default_world(),
    };
    world.seed = match (args.seed, args.world.as_deref().map(names_seed)) {
        (Some(seed), _) => seed,
        (None, Some(Ok(true))) => world.seed,
        (None, Some(Err(error))) => return unusable(error),
        (None, _) => match fresh_seed() {
            Ok(seed) => seed,
            Err(error) => return unusable(error),
        },
    };
    let summary = format!(
        "{} accounts, {} instances, clock {:?}, seed {} (--seed {0} answers the same ids again)",
        world.accounts.len(),
        world.instances.len(),
        world.clock,
        world.seed
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
        journal_bytes: usize::try_from(args.journal_bytes).unwrap_or(usize::MAX),
        instances: usize::try_from(args.max_instances).unwrap_or(usize::MAX),
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
            return unusable(error);
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
            .tripwire(args.tripwire)
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
        && let Err(error) = crate::file::write_new(path, format!("{}\n", server.uri()).as_bytes())
    {
        return unusable(error);
    }
    // The first line, in a form scripts may rely on: `listening on <URL>`, nothing more.
    out!("listening on {}", server.uri());
    out!("terminus serve: {summary}");
    if args.cloud {
        out!("cloud profile: no control API, real clock, random request ids");
        if args.tripwire {
            out!(
                "tripwire: a state-changing request naming an existing instance is refused and logged"
            );
        }
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

/// Whether the world file names its `seed` (then its ids are the file's choice, reproducible).
fn names_seed(path: &std::path::Path) -> Result<bool, String> {
    let text = crate::file::read_text(path, 16 * 1024 * 1024).map_err(|error| error.to_string())?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|error| format!("{}: not TOML: {error}", path.display()))?;
    Ok(table.contains_key("seed"))
}

/// A seed from the operating system's randomness: each `serve` without a named seed answers its own ids (issue
/// 24: a client caching by request id across runs saw the same ids from every fresh mock).
fn fresh_seed() -> Result<u64, String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| format!("no randomness for a seed: {error}"))?;
    Ok(u64::from_le_bytes(bytes))
}

/// `serve --cassette`: the same contract as the mock's (first line, ready file, health), a cassette's answers.
fn serve_cassette(args: &Args, dir: &std::path::Path) -> ExitCode {
    let mode = playback::Mode::from(args.playback);
    let playback = match Playback::start(dir, args.listen, mode, args.log.as_deref()) {
        Ok(playback) => playback,
        Err(error) => return unusable(error),
    };
    if let Some(path) = &args.ready_file
        && let Err(error) = crate::file::write_new(path, format!("{}\n", playback.uri()).as_bytes())
    {
        return unusable(error);
    }
    out!("listening on {}", playback.uri());
    out!(
        "terminus serve: playing {} back ({} exchanges, --playback {})",
        dir.display(),
        playback.exchanges(),
        mode.name()
    );
    until_told_to_stop();
    drop(playback);
    ExitCode::SUCCESS
}

/// Waits for SIGINT or SIGTERM (Ctrl-C, `kill`), so that `run` returns and the log lines still gathered are written
/// before the process ends. Without signal handling (the OS refused it), waits forever, as a server does.
pub(super) fn until_told_to_stop() {
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
