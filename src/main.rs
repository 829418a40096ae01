use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    terminus::cli::Cli::parse().run()
}
