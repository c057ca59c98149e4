//! The library behind the eks-* binaries: AWS configuration, EKS calls and waiters, input
//! validation and the typed results the binaries print. It never prints and never exits;
//! it takes its clients as arguments so that tests can hand it fakes.

pub mod config;
pub mod eks;
pub mod error;
pub mod interrupt;
pub mod kube;
pub mod kubeconfig;
pub mod output;
pub mod pod;
pub mod token;
pub mod validate;

pub use config::AwsOptions;
pub use error::{Error, ErrorKind, Failure, InputError, Leftover, Signal};
pub use interrupt::{Interrupt, InterruptSender};

/// The SDKs, re-exported so binaries and tests use the same versions.
pub use {aws_config, aws_sdk_eks};
