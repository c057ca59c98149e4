//! The library behind the eks-* binaries: AWS configuration, EKS calls and waiters, input
//! validation and the typed results the binaries print. It never prints and never exits;
//! it takes its clients as arguments so that tests can hand it fakes.

pub mod config;
pub mod eks;
pub mod error;
pub mod interrupt;
pub mod output;
pub mod validate;

pub use config::AwsOptions;
pub use error::{Error, ErrorKind, Failure, InputError, Leftover, Signal};
pub use interrupt::{Interrupt, InterruptSender};

/// The SDK, re-exported so binaries and tests use the same version.
pub use aws_sdk_eks;
