//! The exit codes of every `pagebot` command, one meaning each, so that scripts and CI can
//! tell "look at this" from "it did not run":
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done: the command did what it was asked, or found nothing to report |
//! | 1 | a finding or a refused input: `check` found errors, `thread-settings plan` found drift, a transcript did not match, a command line, setting or policy was refused, Facebook refused a call |
//! | 2 | could not run: the database, the address, the Graph API or the runtime was not there |

/// Done, or nothing found.
pub const OK: u8 = 0;
/// A finding (errors, drift, a mismatch) or a refused input (arguments, settings, policy).
pub const FINDING: u8 = 1;
/// The command could not run: a database, an address, a network service or the runtime failed.
pub const COULD_NOT_RUN: u8 = 2;

/// The exit code for a failed start: what the user gave was refused (1), or what it needs was
/// not there (2).
pub(crate) fn for_start_error(error: &crate::startup::StartError) -> u8 {
    use crate::startup::StartError;
    match error {
        StartError::Registry(_) | StartError::Locales(_) | StartError::Policy(_) => FINDING,
        StartError::Store(
            crate::store::StoreError::Config(_) | crate::store::StoreError::MigrationClash(_),
        ) => FINDING,
        StartError::Store(_) | StartError::Graph(_) | StartError::Bind { .. } => COULD_NOT_RUN,
        StartError::Page { error, .. } => for_start_error(error),
        StartError::Reload(errors) => errors.iter().map(for_start_error).max().unwrap_or(OK),
    }
}
