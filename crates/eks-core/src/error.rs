//! One error type for the library, its classification into the documented exit codes,
//! and `Failure`: an error together with whatever the operation left behind.

use std::time::Duration;

use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use serde::Serialize;

use crate::eks::kwargs::KwargsError;

/// Bad input, found before any API call. Display is one line naming the flag or field,
/// the value given, and what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{flag}: {message}")]
    Invalid { flag: String, message: String },
    #[error(transparent)]
    Kwargs(#[from] KwargsError),
}

impl InputError {
    pub fn invalid(flag: impl Into<String>, message: impl Into<String>) -> Self {
        InputError::Invalid {
            flag: flag.into(),
            message: message.into(),
        }
    }
}

/// Why an operation failed. Every variant maps to one exit code (see [`ErrorKind`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] InputError),

    /// No usable AWS configuration (no region, unreadable profile, ...).
    #[error("AWS configuration: {0}")]
    Config(String),

    /// An AWS API call failed after the SDK's retries.
    #[error("{operation}: {message}")]
    Api {
        operation: &'static str,
        code: Option<String>,
        message: String,
        /// Throttling, a server fault or a network failure: worth another poll later.
        transient: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A resource reached a state from which the requested outcome cannot happen.
    #[error("{resource} reached {state}{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    ResourceFailed {
        resource: String,
        state: String,
        reason: Option<String>,
    },

    /// The waiter used all its attempts.
    #[error(
        "timed out waiting for {resource} to be {target}: still {last_state} after {attempts} polls ({:.0}s); raise --waiter-max-attempts or --waiter-delay",
        elapsed.as_secs_f64()
    )]
    Timeout {
        resource: String,
        target: String,
        last_state: String,
        attempts: u32,
        elapsed: Duration,
    },

    /// SIGINT or SIGTERM arrived.
    #[error("interrupted by {signal} while {during}")]
    Interrupted { signal: Signal, during: String },

    /// A precondition the user asked for does not hold (e.g. `--if-exists reuse` on a
    /// resource that differs from the one asked for).
    #[error("{0}")]
    Conflict(String),

    /// The pod's base container exited with a code the user mapped to Airflow's skip
    /// (`--skip-on-exit-code`).
    #[error(
        "the pod's container exited with {exit_code}, which --skip-on-exit-code maps to a skip"
    )]
    Skipped { exit_code: i32 },

    /// A bug or an environment fault (no runtime, a task that panicked).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The signal that interrupted an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Signal {
    Sigint,
    Sigterm,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signal::Sigint => "SIGINT",
            Signal::Sigterm => "SIGTERM",
        })
    }
}

/// The classes of failure of the exit-code table (README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Internal,
    BadInput,
    AwsApi,
    ResourceFailed,
    Timeout,
    Interrupted,
    Conflict,
    Skipped,
}

impl ErrorKind {
    /// The process exit code for this kind; interruptions use 128 + the signal number.
    pub fn exit_code(self, signal: Option<Signal>) -> u8 {
        match self {
            ErrorKind::Internal => 1,
            ErrorKind::BadInput => 2,
            ErrorKind::AwsApi => 3,
            ErrorKind::ResourceFailed => 4,
            ErrorKind::Timeout => 5,
            ErrorKind::Conflict => 6,
            ErrorKind::Skipped => 99,
            ErrorKind::Interrupted => match signal {
                Some(Signal::Sigterm) => 143,
                _ => 130,
            },
        }
    }
}

impl From<KwargsError> for Error {
    fn from(e: KwargsError) -> Self {
        Error::Input(InputError::Kwargs(e))
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Input(_) => ErrorKind::BadInput,
            Error::Config(_) => ErrorKind::BadInput,
            Error::Api { .. } => ErrorKind::AwsApi,
            Error::ResourceFailed { .. } => ErrorKind::ResourceFailed,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Interrupted { .. } => ErrorKind::Interrupted,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Skipped { .. } => ErrorKind::Skipped,
        }
    }

    /// The message for people: the cause chain on one line. An API error's message already
    /// holds what its SDK cause says, so the chain is not repeated.
    pub fn describe(&self) -> String {
        match self {
            Error::Api { .. } => self.to_string(),
            _ => chain(self),
        }
    }

    /// The AWS error code (`ResourceNotFoundException`, ...) when the API said one.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    pub fn signal(&self) -> Option<Signal> {
        match self {
            Error::Interrupted { signal, .. } => Some(*signal),
            _ => None,
        }
    }

    pub fn is_code(&self, wanted: &str) -> bool {
        self.aws_code() == Some(wanted)
    }

    pub fn is_not_found(&self) -> bool {
        self.is_code("ResourceNotFoundException")
    }

    pub fn is_in_use(&self) -> bool {
        self.is_code("ResourceInUseException")
    }

    /// Worth another poll: throttling, a server fault or a network failure that outlived
    /// the SDK's own retries.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Api {
                transient: true,
                ..
            }
        )
    }

    /// Map an SDK error, keeping the service's code and message.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (code, message, transient) = match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().map(str::to_owned);
                let status = service.raw().status().as_u16();
                let transient = status >= 500
                    || status == 429
                    || code.as_deref().is_some_and(|c| {
                        c.contains("Throttl")
                            || c == "TooManyRequestsException"
                            || c == "ServerException"
                    });
                let message = e
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.to_string());
                (code, message, transient)
            }
            SdkError::TimeoutError(_) => (None, "the request timed out".to_owned(), true),
            SdkError::DispatchFailure(d) => {
                let what = if d.is_io() {
                    "network error"
                } else if d.is_timeout() {
                    "connection timed out"
                } else {
                    "could not send the request"
                };
                (None, format!("{what}: {}", chain(&err)), true)
            }
            SdkError::ResponseError(_) => {
                (None, format!("unreadable response: {}", chain(&err)), true)
            }
            SdkError::ConstructionFailure(_) => (
                None,
                format!("could not build the request: {}", chain(&err)),
                false,
            ),
            _ => (None, chain(&err), false),
        };
        Error::Api {
            operation,
            code,
            message,
            transient,
            source: Box::new(err),
        }
    }
}

/// An error's whole cause chain on one line, deduplicating causes that repeat their source.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() && !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

/// Something an operation created or changed and did not undo, reported so nothing is
/// left half-done without saying so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    /// `cluster/NAME`, `nodegroup/CLUSTER/NAME` or `fargate-profile/CLUSTER/NAME`.
    pub resource: String,
    /// Last known status, e.g. `ACTIVE`, `CREATING`, `DELETING`.
    pub status: String,
    /// What the user may want to do about it.
    pub note: String,
}

/// A failed operation: the error, what it left behind, and what it got done (a finished
/// pod's outcome, for the result line).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Failure {
    #[source]
    pub error: Error,
    pub left_behind: Vec<Leftover>,
    pub result: Option<Box<serde_json::Value>>,
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            error: error.into(),
            left_behind: Vec::new(),
            result: None,
        }
    }
}

impl Failure {
    pub fn leaving(mut self, leftover: Leftover) -> Self {
        self.left_behind.push(leftover);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct() {
        let kinds = [
            ErrorKind::Internal,
            ErrorKind::BadInput,
            ErrorKind::AwsApi,
            ErrorKind::ResourceFailed,
            ErrorKind::Timeout,
            ErrorKind::Conflict,
            ErrorKind::Skipped,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.exit_code(None)).collect();
        codes.push(ErrorKind::Interrupted.exit_code(Some(Signal::Sigint)));
        codes.push(ErrorKind::Interrupted.exit_code(Some(Signal::Sigterm)));
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len(), "{codes:?}");
        assert_eq!(ErrorKind::Interrupted.exit_code(Some(Signal::Sigterm)), 143);
        assert_eq!(ErrorKind::BadInput.exit_code(None), 2);
    }

    #[test]
    fn timeout_message_says_what_to_do() {
        let e = Error::Timeout {
            resource: "cluster/demo".into(),
            target: "ACTIVE".into(),
            last_state: "CREATING".into(),
            attempts: 3,
            elapsed: Duration::from_secs(90),
        };
        let s = e.to_string();
        assert!(s.contains("still CREATING after 3 polls (90s)"), "{s}");
        assert!(s.contains("--waiter-max-attempts"), "{s}");
    }
}
