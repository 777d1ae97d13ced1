//! The `catwalk` binary: everything lives in the library so that tests can drive it.

fn main() -> std::process::ExitCode {
    catwalk_cli::main(std::env::args_os()).into()
}
