//! The `pagebot` binary: the command line of [`pagebot::cli`] with the built-in handlers and
//! senders.

use std::process::ExitCode;

fn main() -> ExitCode {
    pagebot::cli::run(pagebot::Registry::builtin())
}
