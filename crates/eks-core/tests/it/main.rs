//! eks-core against the fake EKS: the operations end to end through the real SDK client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_eks;
mod kube_client;
mod mocked;
