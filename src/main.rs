use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    one_malloc_arena_per_core();
    terminus::cli::Cli::parse().run()
}

/// glibc gives each new thread a malloc arena of its own, up to eight per core, and each reserves 64 MiB of address
/// space. Under a memory limit (`ulimit -v`) those reservations run out before the threads do, and a thread that got
/// no arena aborts the whole process inside glibc ("failed to register TLS destructor: out of memory") while start-up
/// is failing with its reason and exit status 2 (`careless::threads_the_os_refuses_end_the_process_with_the_reason`
/// failed so about once in 25 runs). With one arena per core a new thread shares an arena that exists. Measured under
/// wrk (`../shared/bench/ceiling.sh`-style A/B, CPU per request): no difference, even with a single arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena_per_core() {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    // SAFETY: mallopt only sets an allocator parameter, and no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, i32::try_from(cores).unwrap_or(i32::MAX));
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena_per_core() {}
