use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the mock's request path allocates and frees small blocks on two worker threads (and the journal frees
/// on one what the other allocated), where it costs a fraction of glibc's malloc (`README.md`, "Speed").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    terminus::cli::Cli::parse().run()
}
