//! `usercom-forwarder`: parses the command line, starts logging, runs the library.

use std::process::ExitCode;

use clap::Parser;
use usercom_forwarder::cli::{self, Cli};

/// mimalloc instead of glibc malloc: under `serve`/`send` load the forwarder allocates per
/// request (JSON values, HTTP buffers), and glibc's malloc/free costs a large share of its CPU
/// there (figures in bench/README.md). Declared by the binary only: the library leaves the
/// allocator to whoever embeds it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_tracing(cli.log_format, cli.command.default_log_filter());
    let runtime = match cli::runtime(cli.threads) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
