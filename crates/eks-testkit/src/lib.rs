//! Fakes of the services eks-operators talks to, shared by tests and `cargo xtask` (dev-only,
//! never shipped). [`FakeEks`] is a stateful fake of the Amazon EKS API over real HTTP, so the
//! real `aws-sdk-eks` client and boto3 can be pointed at it with an endpoint URL; see
//! [`eks`] for the EKS behaviours it reproduces. [`authenticator`] checks EKS bearer tokens as
//! EKS does; [`FakeKube`] is a Kubernetes control plane over TLS that uses it, with a
//! simulated kubelet running pods; [`FakeSts`] answers `AssumeRole`; [`HttpsFront`] puts any of them behind TLS with a test CA.

pub mod authenticator;
pub mod eks;
pub mod https;
pub mod kube;
pub mod sts;

pub use eks::{FakeEks, FakeEksConfig, Fault, RecordedCall};
pub use https::HttpsFront;
pub use kube::{FakeKube, FakeKubeConfig, KubeCall, StaticTokens, TokenVerifier};
pub use sts::FakeSts;
