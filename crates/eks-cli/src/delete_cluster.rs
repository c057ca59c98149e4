//! `eks-delete-cluster`: Airflow's EksDeleteClusterOperator.

use clap::Parser;
use eks_core::eks::cluster::{DeleteCluster, delete_cluster};
use eks_core::output::{DeleteClusterOutput, seconds};
use eks_core::{Failure, InputError, Interrupt, validate};

use crate::{AwsArgs, Cli, IfMissingArg, LogArgs, WaitArgs};

/// Delete an EKS cluster; with --force-delete-compute, first every nodegroup (in parallel)
/// and every Fargate profile (one at a time). Prints one JSON line on stdout.
#[derive(Debug, Parser)]
#[command(name = "eks-delete-cluster", version)]
pub struct Args {
    /// Cluster to delete
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    /// Delete all nodegroups and Fargate profiles first, waiting for each to be gone
    #[arg(long, visible_alias = "force", num_args = 0..=1, require_equals = true, default_value = "false",
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new(),
          env = "EKS_FORCE_DELETE_COMPUTE")]
    pub force_delete_compute: bool,
    /// If the cluster does not exist: fail, or succeed with existed=false
    #[arg(long, value_enum, default_value = "fail", env = "EKS_IF_MISSING")]
    pub if_missing: IfMissingArg,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl Cli for Args {
    fn log(&self) -> &LogArgs {
        &self.log
    }
}

/// Airflow's defaults for EksDeleteClusterOperator: 30 s between polls, 40 polls.
pub const DEFAULTS: &[(&str, &str)] = &[("waiter_delay", "30"), ("waiter_max_attempts", "40")];

impl Args {
    pub fn plan(&self) -> Result<DeleteCluster, InputError> {
        validate::cluster_name("--cluster-name", &self.cluster_name)?;
        Ok(DeleteCluster {
            name: self.cluster_name.clone(),
            force_delete_compute: self.force_delete_compute,
            if_missing: self.if_missing.into(),
            wait_for_completion: self.wait.wait_for_completion,
            waiter: self.wait.waiter.options(),
        })
    }
}

pub async fn run(args: Args, interrupt: Interrupt) -> Result<DeleteClusterOutput, Failure> {
    let started = std::time::Instant::now();
    let plan = args.plan()?;
    let client = args.aws.eks_client().await?;
    let deleted = delete_cluster(&client, &plan, &interrupt).await?;
    Ok(DeleteClusterOutput {
        cluster_name: plan.name,
        existed: deleted.existed,
        status: deleted.status,
        deleted_nodegroups: deleted.deleted_nodegroups,
        deleted_fargate_profiles: deleted.deleted_fargate_profiles,
        elapsed_seconds: seconds(started.elapsed()),
    })
}

pub fn main() -> std::process::ExitCode {
    crate::run::<Args, _, _, _>("delete-cluster", DEFAULTS, run)
}
