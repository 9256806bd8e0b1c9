//! # missionops-cli
//!
//! The `missionops` command-line program: the same application services as the HTTP API
//! ([`missionops_core::MissionOps`]), over the same storage ([`missionops_store::open`]), for
//! operators who script MissionOps from a terminal. Each command parses its arguments into
//! domain values, calls one use case and renders the answer: a table for people, `--json` for
//! scripts.
//!
//! The program is where the crates meet: `serve` runs the HTTP service
//! ([`missionops_http::serve`]) and, when a sink is configured, event delivery from the same
//! store's outbox beside it ([`missionops_delivery::Dispatcher`]).
//!
//! The binary's `main` is [`main`]; embed the program in another binary (as the facade's
//! `examples/cli.rs` does) with:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     missionops_cli::main()
//! }
//! ```
//!
//! or run it on arguments of your own with [`run`]:
//!
//! ```no_run
//! let status = missionops_cli::run(["missionops", "--database-url", "memory:", "status"]);
//! # let _ = status;
//! ```
//!
//! Exit status: 0 success, 1 failure (storage, network, file), 2 invalid input, 3 not found,
//! 4 conflict; every failure prints one `error: …` line on stderr.
//!
//! # Layout
//! - `args`: the command line (clap derive), with every help text and example.
//! - `commands`: one module per area; each command parses, calls one service, renders.
//! - `transfer`: NDJSON and CSV telemetry files: reading, writing, content-derived ids.
//! - `output`: tables, JSON, colour. `progress`: progress bars. `exit`: exit statuses.

#![deny(missing_docs)]

mod args;
mod commands;
mod exit;
mod output;
mod progress;
mod transfer;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Runs the program on the process's arguments: what the `missionops` binary does.
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Runs the program on `args` (the first is the program name) and returns its exit status.
///
/// Reads `.env` from the working directory when present (variables already set win; parent
/// directories are not searched), parses the arguments (printing usage and returning 2 on a
/// mistake, as clap does), and runs the command on a Tokio runtime. Every failure prints one
/// `error: …` line on stderr.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // A missing .env is the normal case; a malformed one is reported, as its settings would be
    // silently ignored otherwise.
    if let Err(error) = dotenvy::from_path(".env") {
        if !error.not_found() {
            eprintln!("error: cannot read .env: {error}");
            return ExitCode::from(exit::INVALID);
        }
    }
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version are printed on stdout with status 0; mistakes on stderr with 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(exit::INVALID));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(error) => exit::report(&error),
    }
}
