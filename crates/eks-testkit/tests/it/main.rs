//! Drives the fake EKS API with the real `aws-sdk-eks` client (and, where the SDK cannot
//! send what a test needs, with raw HTTP) to check that it behaves and looks like EKS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authenticator;
mod clusters;
mod fargate;
mod faults;
mod kube;
mod kube_exec;
mod kube_pods;
mod nodegroups;
mod support;
mod wire;
