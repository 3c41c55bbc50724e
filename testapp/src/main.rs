//! The testapp binary: pagebot's whole command line (`serve`, `check`, `simulate`, `inbox`)
//! with this bot's handlers and senders.

use std::process::ExitCode;

fn main() -> ExitCode {
    pagebot::cli::run(testapp::registry())
}
