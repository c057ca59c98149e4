//! `eks-wait`: Airflow's EksClusterStateSensor, EksNodegroupStateSensor and
//! EksFargateProfileStateSensor.

use clap::{Parser, Subcommand};
use eks_core::eks::{
    child_state, cluster_state, wait_for_cluster, wait_for_fargate_profile, wait_for_nodegroup,
};
use eks_core::output::{WaitOutput, seconds};
use eks_core::{Failure, InputError, Interrupt, validate};

use crate::{AwsArgs, Cli, LogArgs, WaiterArgs};

/// Wait for a cluster, nodegroup or Fargate profile to reach a state. Fails fast when it
/// reaches another terminal state (as Airflow's sensors do). Prints one JSON line on stdout.
#[derive(Debug, Parser)]
#[command(name = "eks-wait", version)]
pub struct Args {
    #[command(subcommand)]
    pub resource: Resource,
    /// State to wait for (ACTIVE, NONEXISTENT, ...)
    #[arg(
        long,
        default_value = "ACTIVE",
        env = "EKS_TARGET_STATE",
        global = true
    )]
    pub target_state: String,
    #[command(flatten)]
    pub waiter: WaiterArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Subcommand)]
pub enum Resource {
    /// A cluster: terminal states ACTIVE, FAILED, NONEXISTENT
    Cluster {
        #[arg(long, env = "EKS_CLUSTER_NAME")]
        cluster_name: String,
    },
    /// A nodegroup: terminal states ACTIVE, CREATE_FAILED, DELETE_FAILED, NONEXISTENT
    Nodegroup {
        #[arg(long, env = "EKS_CLUSTER_NAME")]
        cluster_name: String,
        #[arg(long, env = "EKS_NODEGROUP_NAME")]
        nodegroup_name: String,
    },
    /// A Fargate profile: terminal states ACTIVE, CREATE_FAILED, DELETE_FAILED, NONEXISTENT
    FargateProfile {
        #[arg(long, env = "EKS_CLUSTER_NAME")]
        cluster_name: String,
        #[arg(long, env = "EKS_FARGATE_PROFILE_NAME")]
        fargate_profile_name: String,
    },
}

impl Cli for Args {
    fn log(&self) -> &LogArgs {
        &self.log
    }
}

/// 30 s between polls, 60 polls: half an hour, enough for a cluster or a nodegroup.
pub const DEFAULTS: &[(&str, &str)] = &[("waiter_delay", "30"), ("waiter_max_attempts", "60")];

impl Args {
    /// The target state, normalised, checked against the resource's states; and the
    /// terminal states other than the target, which fail the wait.
    pub fn goal(&self) -> Result<(String, Vec<&'static str>), InputError> {
        let (all, terminal) = match &self.resource {
            Resource::Cluster { cluster_name } => {
                validate::cluster_name("--cluster-name", cluster_name)?;
                (cluster_state::ALL, cluster_state::TERMINAL)
            }
            Resource::Nodegroup {
                cluster_name,
                nodegroup_name,
            } => {
                validate::cluster_name("--cluster-name", cluster_name)?;
                validate::child_name("--nodegroup-name", nodegroup_name)?;
                (child_state::NODEGROUP_ALL, child_state::TERMINAL)
            }
            Resource::FargateProfile {
                cluster_name,
                fargate_profile_name,
            } => {
                validate::cluster_name("--cluster-name", cluster_name)?;
                validate::child_name("--fargate-profile-name", fargate_profile_name)?;
                (child_state::FARGATE_ALL, child_state::TERMINAL)
            }
        };
        let target = self.target_state.trim().to_ascii_uppercase();
        if !all.contains(&target.as_str()) {
            return Err(InputError::invalid(
                "--target-state",
                format!(
                    "{:?} is not a state of a {}; allowed: {}",
                    self.target_state,
                    self.resource_name(),
                    all.join(", ")
                ),
            ));
        }
        let fail_on = terminal.iter().copied().filter(|s| *s != target).collect();
        Ok((target, fail_on))
    }

    fn resource_name(&self) -> &'static str {
        match self.resource {
            Resource::Cluster { .. } => "cluster",
            Resource::Nodegroup { .. } => "nodegroup",
            Resource::FargateProfile { .. } => "fargate-profile",
        }
    }
}

pub async fn run(args: Args, interrupt: Interrupt) -> Result<WaitOutput, Failure> {
    let (target, fail_on) = args.goal()?;
    let options = args.waiter.options();
    let client = args.aws.eks_client().await?;
    let (cluster_name, name, waited) = match &args.resource {
        Resource::Cluster { cluster_name } => (
            cluster_name,
            None,
            wait_for_cluster(
                &client,
                cluster_name,
                &target,
                &fail_on,
                options,
                &interrupt,
            )
            .await?,
        ),
        Resource::Nodegroup {
            cluster_name,
            nodegroup_name,
        } => (
            cluster_name,
            Some(nodegroup_name),
            wait_for_nodegroup(
                &client,
                cluster_name,
                nodegroup_name,
                &target,
                &fail_on,
                options,
                &interrupt,
            )
            .await?,
        ),
        Resource::FargateProfile {
            cluster_name,
            fargate_profile_name,
        } => (
            cluster_name,
            Some(fargate_profile_name),
            wait_for_fargate_profile(
                &client,
                cluster_name,
                fargate_profile_name,
                &target,
                &fail_on,
                options,
                &interrupt,
            )
            .await?,
        ),
    };
    Ok(WaitOutput {
        resource: args.resource_name(),
        cluster_name: cluster_name.clone(),
        name: name.cloned(),
        target_state: target,
        state: waited.state,
        attempts: waited.attempts,
        elapsed_seconds: seconds(waited.elapsed),
    })
}

pub fn main() -> std::process::ExitCode {
    crate::run::<Args, _, _, _>("wait", DEFAULTS, run)
}
