//! `eks-create-nodegroup` and `eks-delete-nodegroup`: Airflow's EksCreateNodegroupOperator
//! and EksDeleteNodegroupOperator.

use std::collections::HashMap;

use clap::Parser;
use eks_core::eks::kwargs::{
    self, CreateNodegroupRequest, NodegroupScalingConfig, Taint, fill_from_flag,
};
use eks_core::eks::nodegroup::{
    CreateNodegroup, DeleteNodegroup, create_nodegroup, delete_nodegroup,
};
use eks_core::output::{CreateNodegroupOutput, DeleteChildOutput, seconds};
use eks_core::{Failure, InputError, Interrupt, validate};

use crate::{
    AwsArgs, Cli, IfExistsArg, IfMissingArg, LogArgs, WaitArgs, flag_conflict, parse_string_map,
    required,
};

/// Create a managed nodegroup in an existing EKS cluster. Prints one JSON line on stdout.
#[derive(Debug, Parser)]
#[command(name = "eks-create-nodegroup", version)]
pub struct CreateArgs {
    /// Cluster to add the nodegroup to
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    /// Name of the nodegroup
    #[arg(long, default_value = "nodegroup", env = "EKS_NODEGROUP_NAME")]
    pub nodegroup_name: String,
    /// Subnets: a JSON list, a Python-style list as Airflow accepts, or comma-separated
    #[arg(long, visible_alias = "subnets", env = "EKS_NODEGROUP_SUBNETS")]
    pub nodegroup_subnets: Option<String>,
    /// IAM role of the nodes
    #[arg(long, env = "EKS_NODEGROUP_ROLE_ARN")]
    pub nodegroup_role_arn: Option<String>,
    /// Instance types: a JSON list or comma-separated [default: EKS's, t3.medium]
    #[arg(long)]
    pub instance_types: Option<String>,
    /// Minimum number of nodes
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..))]
    pub min_size: Option<i32>,
    /// Maximum number of nodes
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    pub max_size: Option<i32>,
    /// Desired number of nodes
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..))]
    pub desired_size: Option<i32>,
    /// Kubernetes labels: a JSON object or key=value,key=value
    #[arg(long)]
    pub labels: Option<String>,
    /// Taints as JSON, e.g. [{"key":"k","value":"v","effect":"NO_SCHEDULE"}]
    #[arg(long)]
    pub taints: Option<String>,
    /// Tags: a JSON object or key=value,key=value (kubernetes.io/cluster/<cluster>=owned is added)
    #[arg(long)]
    pub tags: Option<String>,
    /// Other CreateNodegroup fields as JSON (or @file), with the API's names
    #[arg(long, env = "EKS_CREATE_NODEGROUP_KWARGS")]
    pub create_nodegroup_kwargs: Option<String>,
    /// If the nodegroup exists: fail, or reuse it when it matches
    #[arg(long, value_enum, default_value = "fail", env = "EKS_IF_EXISTS")]
    pub if_exists: IfExistsArg,
    /// Delete the nodegroup if it fails to become ACTIVE (Airflow's delete_nodegroup_on_failure)
    #[arg(long, visible_alias = "delete-nodegroup-on-failure", num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new(), env = "EKS_CLEANUP_ON_FAILURE")]
    pub cleanup_on_failure: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl Cli for CreateArgs {
    fn log(&self) -> &LogArgs {
        &self.log
    }
}

/// Airflow's defaults for EksCreateNodegroupOperator: 30 s between polls, 80 polls.
pub const CREATE_DEFAULTS: &[(&str, &str)] =
    &[("waiter_delay", "30"), ("waiter_max_attempts", "80")];

impl CreateArgs {
    pub fn plan(&self) -> Result<CreateNodegroup, InputError> {
        const KW: &str = "--create-nodegroup-kwargs";
        validate::cluster_name("--cluster-name", &self.cluster_name)?;
        validate::child_name("--nodegroup-name", &self.nodegroup_name)?;
        let mut request = match &self.create_nodegroup_kwargs {
            Some(v) => kwargs::parse_create_nodegroup(KW, &kwargs::read_json_arg(KW, v)?)?,
            None => CreateNodegroupRequest::default(),
        };
        if request.cluster_name.is_some() {
            return Err(flag_conflict("clusterName", "--cluster-name", KW));
        }
        request.cluster_name = Some(self.cluster_name.clone());
        fill_from_flag(
            &mut request.nodegroup_name,
            "nodegroupName",
            Some(self.nodegroup_name.clone()),
            "--nodegroup-name",
            KW,
        )?;
        let subnets = match &self.nodegroup_subnets {
            Some(v) => Some(kwargs::parse_string_list("--nodegroup-subnets", v)?),
            None => None,
        };
        fill_from_flag(
            &mut request.subnets,
            "subnets",
            subnets,
            "--nodegroup-subnets",
            KW,
        )?;
        fill_from_flag(
            &mut request.node_role,
            "nodeRole",
            self.nodegroup_role_arn.clone(),
            "--nodegroup-role-arn",
            KW,
        )?;
        let types = match &self.instance_types {
            Some(v) => Some(kwargs::parse_string_list("--instance-types", v)?),
            None => None,
        };
        fill_from_flag(
            &mut request.instance_types,
            "instanceTypes",
            types,
            "--instance-types",
            KW,
        )?;
        let labels = self
            .labels
            .as_deref()
            .map(|v| parse_string_map("--labels", v))
            .transpose()?;
        fill_from_flag(&mut request.labels, "labels", labels, "--labels", KW)?;
        let tags: Option<HashMap<String, String>> = self
            .tags
            .as_deref()
            .map(|v| parse_string_map("--tags", v))
            .transpose()?;
        fill_from_flag(&mut request.tags, "tags", tags, "--tags", KW)?;
        let taints = match &self.taints {
            Some(v) => Some(kwargs::parse_json::<Vec<Taint>>(
                "--taints",
                &kwargs::read_json_arg("--taints", v)?,
            )?),
            None => None,
        };
        fill_from_flag(&mut request.taints, "taints", taints, "--taints", KW)?;
        if self.min_size.is_some() || self.max_size.is_some() || self.desired_size.is_some() {
            let scaling = NodegroupScalingConfig {
                min_size: self.min_size,
                max_size: self.max_size,
                desired_size: self.desired_size,
            };
            fill_from_flag(
                &mut request.scaling_config,
                "scalingConfig",
                Some(scaling),
                "--min-size/--max-size/--desired-size",
                KW,
            )?;
        }
        check_nodegroup_request(&request)?;
        Ok(CreateNodegroup {
            request,
            if_exists: self.if_exists.into(),
            wait: self.wait.wait_options(),
            cleanup_on_failure: self.cleanup_on_failure,
        })
    }
}

/// What EKS would reject, found before the call.
pub(crate) fn check_nodegroup_request(request: &CreateNodegroupRequest) -> Result<(), InputError> {
    let role = required(
        request.node_role.as_deref(),
        "--nodegroup-role-arn",
        "the nodes' IAM role",
    )?;
    validate::role_arn("--nodegroup-role-arn", role)?;
    if request.subnets.as_ref().is_none_or(Vec::is_empty) {
        return Err(InputError::invalid(
            "--nodegroup-subnets",
            "required: at least one subnet for the nodes",
        ));
    }
    if let Some(s) = &request.scaling_config {
        let (min, max, desired) = (
            s.min_size.unwrap_or(1),
            s.max_size.unwrap_or(2),
            s.desired_size,
        );
        if min > max {
            return Err(InputError::invalid(
                "--min-size",
                format!("{min} is greater than the maximum size {max}"),
            ));
        }
        if let Some(d) = desired
            && (d < min || d > max)
        {
            return Err(InputError::invalid(
                "--desired-size",
                format!("{d} is outside the minimum..maximum range {min}..{max}"),
            ));
        }
    }
    Ok(())
}

pub async fn create(
    args: CreateArgs,
    interrupt: Interrupt,
) -> Result<CreateNodegroupOutput, Failure> {
    let started = std::time::Instant::now();
    let plan = args.plan()?;
    let client = args.aws.eks_client().await?;
    let made = create_nodegroup(&client, plan, &interrupt).await?;
    Ok(CreateNodegroupOutput {
        nodegroup: made.nodegroup,
        reused: made.reused,
        waited: made.waited,
        elapsed_seconds: seconds(started.elapsed()),
    })
}

pub fn create_main() -> std::process::ExitCode {
    crate::run::<CreateArgs, _, _, _>("create-nodegroup", CREATE_DEFAULTS, create)
}

/// Delete a managed nodegroup. Prints one JSON line on stdout.
#[derive(Debug, Parser)]
#[command(name = "eks-delete-nodegroup", version)]
pub struct DeleteArgs {
    /// Cluster of the nodegroup
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    /// Nodegroup to delete
    #[arg(long, env = "EKS_NODEGROUP_NAME")]
    pub nodegroup_name: String,
    /// If the nodegroup does not exist: fail, or succeed with existed=false
    #[arg(long, value_enum, default_value = "fail", env = "EKS_IF_MISSING")]
    pub if_missing: IfMissingArg,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl Cli for DeleteArgs {
    fn log(&self) -> &LogArgs {
        &self.log
    }
}

/// Airflow's defaults for EksDeleteNodegroupOperator: 30 s between polls, 40 polls.
pub const DELETE_DEFAULTS: &[(&str, &str)] =
    &[("waiter_delay", "30"), ("waiter_max_attempts", "40")];

impl DeleteArgs {
    pub fn plan(&self) -> Result<DeleteNodegroup, InputError> {
        validate::cluster_name("--cluster-name", &self.cluster_name)?;
        validate::child_name("--nodegroup-name", &self.nodegroup_name)?;
        Ok(DeleteNodegroup {
            cluster_name: self.cluster_name.clone(),
            nodegroup_name: self.nodegroup_name.clone(),
            if_missing: self.if_missing.into(),
            wait: self.wait.wait_options(),
            retry: self.wait.waiter.options(),
        })
    }
}

pub async fn delete(args: DeleteArgs, interrupt: Interrupt) -> Result<DeleteChildOutput, Failure> {
    let started = std::time::Instant::now();
    let plan = args.plan()?;
    let client = args.aws.eks_client().await?;
    let deleted = delete_nodegroup(&client, &plan, &interrupt).await?;
    Ok(DeleteChildOutput {
        cluster_name: plan.cluster_name,
        name: plan.nodegroup_name,
        existed: deleted.existed,
        status: deleted.status,
        elapsed_seconds: seconds(started.elapsed()),
    })
}

pub fn delete_main() -> std::process::ExitCode {
    crate::run::<DeleteArgs, _, _, _>("delete-nodegroup", DELETE_DEFAULTS, delete)
}
