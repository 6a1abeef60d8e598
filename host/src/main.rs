//! The `wasmon` command.

fn main() -> std::process::ExitCode {
    wasmon::cli::main()
}
