//! The `missionops` binary: see `missionops --help`.

/// mimalloc rather than glibc's allocator: pages of a long range read are parsed on blocking
/// threads and freed on the runtime's, which glibc serves with an arena per thread (memory kept
/// per thread, frees across threads slow). Embedders choose their own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    missionops_cli::main()
}
