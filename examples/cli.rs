//! The `missionops` command-line program, run through the facade: the same program as the
//! `missionops` binary of `missionops-cli`.
//!
//! Run with `cargo run --example cli --features cli -- --help`, for instance
//! `cargo run --example cli --features cli -- seed-demo-data --dry-run`.

fn main() -> std::process::ExitCode {
    missionops::cli::main()
}
