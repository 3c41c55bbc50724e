//! What can be wrong with a routing policy, located by file and line.
//!
//! Every problem is a [`PolicyError`] that displays the way compilers and ripgrep do:
//! `routing.yaml:14: unknown handler "thumbs_up" (known: thumb_up, user_profile)`: the file as
//! given, the line when known, then a lowercase sentence without a final period. Loading and
//! compiling report every problem they find at once, as [`PolicyErrors`].
//!
//! This module depends on nothing else in pagebot.

use std::fmt;
use std::path::PathBuf;

/// How serious a [`PolicyError`] is.
///
/// Today every problem is an [`Error`](Severity::Error): the policy is refused. `Warning` is
/// reserved for problems a policy can live with (a no-op flag, say); nothing produces it yet,
/// and a [`PolicyErrors`] that holds only warnings still means "refused" until callers learn to
/// tell them apart (see [`PolicyErrors::has_errors`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Severity {
    /// The policy cannot be used.
    #[default]
    Error,
    /// The policy works, but probably not as its author meant (not produced yet).
    Warning,
}

/// One problem in a routing policy, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{}: {message}", .file.display(), LineSuffix(.line), SeveritySuffix(.severity))]
pub struct PolicyError {
    /// The policy file, as it was given to the loader.
    pub file: PathBuf,
    /// The 1-based line of the problem, when known (not for I/O errors, say).
    pub line: Option<u32>,
    /// What is wrong: lowercase, no final period, naming the offending input.
    pub message: String,
    /// Whether the policy is refused because of it.
    pub severity: Severity,
}

impl PolicyError {
    /// An [error](Severity::Error) at `line` of `file`.
    pub fn at(file: impl Into<PathBuf>, line: u32, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// An [error](Severity::Error) about `file` as a whole (no line).
    pub fn whole_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            message: message.into(),
            severity: Severity::Error,
        }
    }
}

/// `:14` for a known line, nothing otherwise.
struct LineSuffix<'a>(&'a Option<u32>);

impl fmt::Display for LineSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.0 {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}

/// `: warning` for a warning, nothing for an error.
struct SeveritySuffix<'a>(&'a Severity);

impl fmt::Display for SeveritySuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.0 {
            Severity::Error => Ok(()),
            Severity::Warning => f.write_str(": warning"),
        }
    }
}

/// Every problem found in one policy, in file order where the checks allow it.
///
/// Displays one problem per line.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("{}", OnePerLine(.0))]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl PolicyErrors {
    /// Whether any problem refuses the policy (anything but a warning).
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|e| e.severity == Severity::Error)
    }

    /// The problems, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, PolicyError> {
        self.0.iter()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<PolicyError> for PolicyErrors {
    fn from(error: PolicyError) -> Self {
        Self(vec![error])
    }
}

impl From<Vec<PolicyError>> for PolicyErrors {
    fn from(errors: Vec<PolicyError>) -> Self {
        Self(errors)
    }
}

impl IntoIterator for PolicyErrors {
    type Item = PolicyError;
    type IntoIter = std::vec::IntoIter<PolicyError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a PolicyErrors {
    type Item = &'a PolicyError;
    type IntoIter = std::slice::Iter<'a, PolicyError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Each error on its own line, without a trailing newline.
struct OnePerLine<'a>(&'a [PolicyError]);

impl fmt::Display for OnePerLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_and_message() {
        let e = PolicyError::at(
            "routing.yaml",
            14,
            "unknown handler \"thumbs_up\" (known: thumb_up, user_profile)",
        );
        assert_eq!(
            e.to_string(),
            "routing.yaml:14: unknown handler \"thumbs_up\" (known: thumb_up, user_profile)"
        );
    }

    #[test]
    fn leaves_out_an_unknown_line() {
        let e = PolicyError::whole_file("conf/routing.yaml", "cannot read: no such file");
        assert_eq!(
            e.to_string(),
            "conf/routing.yaml: cannot read: no such file"
        );
    }

    #[test]
    fn marks_warnings() {
        let e = PolicyError {
            severity: Severity::Warning,
            ..PolicyError::at("routing.yaml", 3, "something odd")
        };
        assert_eq!(e.to_string(), "routing.yaml:3: warning: something odd");
        assert!(!PolicyErrors(vec![e]).has_errors());
    }

    #[test]
    fn lists_one_error_per_line() {
        let errors = PolicyErrors(vec![
            PolicyError::at("routing.yaml", 2, "first"),
            PolicyError::at("routing.yaml", 9, "second"),
        ]);
        assert_eq!(
            errors.to_string(),
            "routing.yaml:2: first\nrouting.yaml:9: second"
        );
        assert!(errors.has_errors());
    }
}
