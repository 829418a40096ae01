//! `terminus serve`: the stateful mock as a server, for SDKs and CLIs to point at.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{MAX_THREADS, count_in, starting, unusable};
use crate::mock::MockServer;
use crate::world::WorldSpec;

/// Serve the stateful mock on loopback (API 3.0 on `/`, control API on `/__terminus/`).
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: SocketAddr,
    /// World file (TOML) to start with [default: the built-in world described in the README].
    #[arg(long)]
    world: Option<PathBuf>,
    /// Worker threads (1 to 256).
    #[arg(long, default_value_t = 2, value_parser = count_in(1, MAX_THREADS))]
    workers: usize,
}

pub(super) fn run(args: Args) -> ExitCode {
    let world = match &args.world {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match WorldSpec::from_toml(&text, &path.display().to_string()) {
                Ok(world) => world,
                Err(error) => return unusable(error),
            },
            Err(error) => return unusable(format!("cannot read {}: {error}", path.display())),
        },
        None => WorldSpec::default_world(),
    };
    let summary = format!(
        "{} accounts, {} instances, clock {:?}",
        world.accounts.len(),
        world.instances.len(),
        world.clock
    );
    let server = match starting("the mock", || {
        MockServer::builder()
            .listen(args.listen)
            .world(world)
            .workers(args.workers)
            .start()
    }) {
        Ok(server) => server,
        Err(error) => return unusable(format!("cannot listen on {}: {error}", args.listen)),
    };
    out!("terminus serve: listening on {} ({summary})", server.uri());
    out!("control API: {}/__terminus/world", server.uri());
    server.wait();
    ExitCode::SUCCESS
}
