//! The `missionops` binary: see `missionops --help`.

fn main() -> std::process::ExitCode {
    missionops_cli::main()
}
