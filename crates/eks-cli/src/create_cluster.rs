//! `eks-create-cluster`: Airflow's EksCreateClusterOperator.

use clap::{Parser, ValueEnum};
use eks_core::eks::cluster::{Compute, CreateCluster, create_cluster};
use eks_core::eks::kwargs::{
    self, CreateClusterRequest, CreateFargateProfileRequest, CreateNodegroupRequest,
    FargateProfileSelector, VpcConfigRequest, fill_from_flag,
};
use eks_core::output::{CreateClusterOutput, seconds};
use eks_core::{Failure, InputError, Interrupt, validate};

use crate::{AwsArgs, Cli, IfExistsArg, LogArgs, WaitArgs, flag_conflict, required};

/// Create an EKS cluster, optionally with a managed nodegroup or a Fargate profile.
///
/// With compute, the cluster is waited for until ACTIVE before the compute is created; a
/// cluster that fails is deleted, and compute that fails is deleted (unless
/// --cleanup-on-failure=false). Prints one JSON line on stdout.
#[derive(Debug, Parser)]
#[command(name = "eks-create-cluster", version)]
pub struct Args {
    /// Name of the cluster
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    /// IAM role of the control plane (or `roleArn` in --create-cluster-kwargs)
    #[arg(long, env = "EKS_CLUSTER_ROLE_ARN")]
    pub cluster_role_arn: Option<String>,
    /// VPC config as JSON (or @file), e.g. {"subnetIds":["subnet-1","subnet-2"]}
    #[arg(long, env = "EKS_RESOURCES_VPC_CONFIG")]
    pub resources_vpc_config: Option<String>,
    /// Kubernetes version, e.g. 1.31 [default: EKS's default]
    #[arg(long)]
    pub kubernetes_version: Option<String>,
    /// Any other CreateCluster fields as JSON (or @file), with the API's names
    #[arg(long, env = "EKS_CREATE_CLUSTER_KWARGS")]
    pub create_cluster_kwargs: Option<String>,

    /// Compute to create with the cluster
    #[arg(long, value_enum, default_value = "nodegroup", env = "EKS_COMPUTE")]
    pub compute: ComputeArg,
    /// Name of the nodegroup (--compute nodegroup)
    #[arg(long, default_value = "nodegroup", env = "EKS_NODEGROUP_NAME")]
    pub nodegroup_name: String,
    /// IAM role of the nodes (required with --compute nodegroup)
    #[arg(long, env = "EKS_NODEGROUP_ROLE_ARN")]
    pub nodegroup_role_arn: Option<String>,
    /// Other CreateNodegroup fields as JSON (or @file)
    #[arg(long, env = "EKS_CREATE_NODEGROUP_KWARGS")]
    pub create_nodegroup_kwargs: Option<String>,
    /// Name of the Fargate profile (--compute fargate)
    #[arg(long, default_value = "profile", env = "EKS_FARGATE_PROFILE_NAME")]
    pub fargate_profile_name: String,
    /// Pod execution role (required with --compute fargate)
    #[arg(long, env = "EKS_FARGATE_POD_EXECUTION_ROLE_ARN")]
    pub fargate_pod_execution_role_arn: Option<String>,
    /// Fargate selectors as JSON (or @file) [default: [{"namespace":"default"}]]
    #[arg(long, env = "EKS_FARGATE_SELECTORS")]
    pub fargate_selectors: Option<String>,
    /// Other CreateFargateProfile fields as JSON (or @file)
    #[arg(long, env = "EKS_CREATE_FARGATE_PROFILE_KWARGS")]
    pub create_fargate_profile_kwargs: Option<String>,

    /// If the cluster exists: fail, or reuse it when it matches what is asked
    #[arg(long, value_enum, default_value = "fail", env = "EKS_IF_EXISTS")]
    pub if_exists: IfExistsArg,
    /// Delete what this run created if it fails to become ACTIVE
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ComputeArg {
    Nodegroup,
    Fargate,
    None,
}

impl Cli for Args {
    fn log(&self) -> &LogArgs {
        &self.log
    }
}

/// Airflow's defaults for this operator: 30 s between polls, 40 polls.
pub const DEFAULTS: &[(&str, &str)] = &[("waiter_delay", "30"), ("waiter_max_attempts", "40")];

impl Args {
    /// Everything checked and assembled before any API call.
    pub fn plan(&self) -> Result<CreateCluster, InputError> {
        validate::cluster_name("--cluster-name", &self.cluster_name)?;
        let mut request: CreateClusterRequest = match &self.create_cluster_kwargs {
            Some(v) => kwargs::parse_create_cluster(
                "--create-cluster-kwargs",
                &kwargs::read_json_arg("--create-cluster-kwargs", v)?,
            )?,
            None => CreateClusterRequest::default(),
        };
        const KW: &str = "--create-cluster-kwargs";
        fill_from_flag(
            &mut request.name,
            "name",
            Some(self.cluster_name.clone()),
            "--cluster-name",
            KW,
        )?;
        fill_from_flag(
            &mut request.role_arn,
            "roleArn",
            self.cluster_role_arn.clone(),
            "--cluster-role-arn",
            KW,
        )?;
        fill_from_flag(
            &mut request.version,
            "version",
            self.kubernetes_version.clone(),
            "--kubernetes-version",
            KW,
        )?;
        let vpc = match &self.resources_vpc_config {
            Some(v) => Some(kwargs::parse_json::<VpcConfigRequest>(
                "--resources-vpc-config",
                &kwargs::read_json_arg("--resources-vpc-config", v)?,
            )?),
            None => None,
        };
        fill_from_flag(
            &mut request.resources_vpc_config,
            "resourcesVpcConfig",
            vpc,
            "--resources-vpc-config",
            KW,
        )?;
        let role = required(
            request.role_arn.as_deref(),
            "--cluster-role-arn",
            "the control plane's IAM role",
        )?;
        validate::role_arn("--cluster-role-arn", role)?;
        let vpc = request.resources_vpc_config.as_ref().ok_or_else(|| {
            InputError::invalid(
                "--resources-vpc-config",
                "required: the cluster's subnets, e.g. {\"subnetIds\":[\"subnet-1\",\"subnet-2\"]}",
            )
        })?;
        let subnets = vpc.subnet_ids.as_deref().unwrap_or_default();
        if subnets.len() < 2 {
            return Err(InputError::invalid(
                "--resources-vpc-config",
                format!(
                    "subnetIds has {} subnet(s); EKS requires at least two, in different Availability Zones",
                    subnets.len()
                ),
            ));
        }
        if let Some(version) = &request.version {
            validate::kubernetes_version("--kubernetes-version", version)?;
        }

        let compute = match self.compute {
            ComputeArg::None => {
                self.reject_compute_flags(&["nodegroup", "fargate"])?;
                Compute::None
            }
            ComputeArg::Nodegroup => {
                self.reject_compute_flags(&["fargate"])?;
                Compute::Nodegroup(Box::new(self.nodegroup_request()?))
            }
            ComputeArg::Fargate => {
                self.reject_compute_flags(&["nodegroup"])?;
                Compute::Fargate(Box::new(self.fargate_request()?))
            }
        };
        Ok(CreateCluster {
            request,
            compute,
            if_exists: self.if_exists.into(),
            wait_for_completion: self.wait.wait_for_completion,
            waiter: self.wait.waiter.options(),
            cleanup_on_failure: self.cleanup_on_failure,
        })
    }

    fn nodegroup_request(&self) -> Result<CreateNodegroupRequest, InputError> {
        const KW: &str = "--create-nodegroup-kwargs";
        let mut request = match &self.create_nodegroup_kwargs {
            Some(v) => kwargs::parse_create_nodegroup(KW, &kwargs::read_json_arg(KW, v)?)?,
            None => CreateNodegroupRequest::default(),
        };
        validate::child_name("--nodegroup-name", &self.nodegroup_name)?;
        fill_from_flag(
            &mut request.nodegroup_name,
            "nodegroupName",
            Some(self.nodegroup_name.clone()),
            "--nodegroup-name",
            KW,
        )?;
        fill_from_flag(
            &mut request.node_role,
            "nodeRole",
            self.nodegroup_role_arn.clone(),
            "--nodegroup-role-arn",
            KW,
        )?;
        if request.cluster_name.is_some() {
            return Err(flag_conflict("clusterName", "--cluster-name", KW));
        }
        let role = request.node_role.as_deref().ok_or_else(|| {
            InputError::invalid(
                "--nodegroup-role-arn",
                "required with --compute nodegroup (the default); pass --compute none to create only the control plane",
            )
        })?;
        validate::role_arn("--nodegroup-role-arn", role)?;
        Ok(request)
    }

    fn fargate_request(&self) -> Result<CreateFargateProfileRequest, InputError> {
        const KW: &str = "--create-fargate-profile-kwargs";
        let mut request = match &self.create_fargate_profile_kwargs {
            Some(v) => kwargs::parse_create_fargate_profile(KW, &kwargs::read_json_arg(KW, v)?)?,
            None => CreateFargateProfileRequest::default(),
        };
        validate::child_name("--fargate-profile-name", &self.fargate_profile_name)?;
        fill_from_flag(
            &mut request.fargate_profile_name,
            "fargateProfileName",
            Some(self.fargate_profile_name.clone()),
            "--fargate-profile-name",
            KW,
        )?;
        fill_from_flag(
            &mut request.pod_execution_role_arn,
            "podExecutionRoleArn",
            self.fargate_pod_execution_role_arn.clone(),
            "--fargate-pod-execution-role-arn",
            KW,
        )?;
        let selectors = match &self.fargate_selectors {
            Some(v) => Some(kwargs::parse_json::<Vec<FargateProfileSelector>>(
                "--fargate-selectors",
                &kwargs::read_json_arg("--fargate-selectors", v)?,
            )?),
            None => None,
        };
        fill_from_flag(
            &mut request.selectors,
            "selectors",
            selectors,
            "--fargate-selectors",
            KW,
        )?;
        if request.cluster_name.is_some() {
            return Err(flag_conflict("clusterName", "--cluster-name", KW));
        }
        crate::check_selectors(
            request
                .selectors
                .get_or_insert_with(crate::default_selectors),
            "--fargate-selectors",
        )?;
        let role = request.pod_execution_role_arn.as_deref().ok_or_else(|| {
            InputError::invalid(
                "--fargate-pod-execution-role-arn",
                "required with --compute fargate",
            )
        })?;
        validate::role_arn("--fargate-pod-execution-role-arn", role)?;
        Ok(request)
    }

    /// Flags of the other compute kinds are a mistake worth stopping for.
    fn reject_compute_flags(&self, kinds: &[&str]) -> Result<(), InputError> {
        let given: [(&str, &str, bool); 5] = [
            (
                "nodegroup",
                "--nodegroup-role-arn",
                self.nodegroup_role_arn.is_some(),
            ),
            (
                "nodegroup",
                "--create-nodegroup-kwargs",
                self.create_nodegroup_kwargs.is_some(),
            ),
            (
                "fargate",
                "--fargate-pod-execution-role-arn",
                self.fargate_pod_execution_role_arn.is_some(),
            ),
            (
                "fargate",
                "--fargate-selectors",
                self.fargate_selectors.is_some(),
            ),
            (
                "fargate",
                "--create-fargate-profile-kwargs",
                self.create_fargate_profile_kwargs.is_some(),
            ),
        ];
        for (kind, flag, is_given) in given {
            if is_given && kinds.contains(&kind) {
                return Err(InputError::invalid(
                    flag,
                    format!(
                        "given with --compute {}; it applies only to --compute {kind}",
                        self.compute_name()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn compute_name(&self) -> &'static str {
        match self.compute {
            ComputeArg::Nodegroup => "nodegroup",
            ComputeArg::Fargate => "fargate",
            ComputeArg::None => "none",
        }
    }
}

pub async fn run(args: Args, interrupt: Interrupt) -> Result<CreateClusterOutput, Failure> {
    let started = std::time::Instant::now();
    let plan = args.plan()?;
    let client = args.aws.eks_client().await?;
    let made = create_cluster(&client, plan, &interrupt).await?;
    Ok(CreateClusterOutput {
        cluster: made.cluster,
        reused: made.reused,
        nodegroup: made.nodegroup,
        fargate_profile: made.fargate_profile,
        waited: made.waited,
        elapsed_seconds: seconds(started.elapsed()),
    })
}

pub fn main() -> std::process::ExitCode {
    crate::run::<Args, _, _, _>("create-cluster", DEFAULTS, run)
}
