//! `eks-create-fargate-profile` and `eks-delete-fargate-profile`: Airflow's
//! EksCreateFargateProfileOperator and EksDeleteFargateProfileOperator.

use clap::Parser;
use eks_core::eks::fargate::{
    CreateFargateProfile, DeleteFargateProfile, create_fargate_profile, delete_fargate_profile,
};
use eks_core::eks::kwargs::{
    self, CreateFargateProfileRequest, FargateProfileSelector, fill_from_flag,
};
use eks_core::output::{CreateFargateProfileOutput, DeleteChildOutput, seconds};
use eks_core::{Failure, InputError, Interrupt, validate};

use crate::{
    AwsArgs, Cli, IfExistsArg, IfMissingArg, LogArgs, WaitArgs, check_selectors, flag_conflict,
    parse_string_map, required,
};

/// Create a Fargate profile in an existing EKS cluster. Prints one JSON line on stdout.
#[derive(Debug, Parser)]
#[command(name = "eks-create-fargate-profile", version)]
pub struct CreateArgs {
    /// Cluster to add the profile to
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    /// Name of the Fargate profile
    #[arg(long, env = "EKS_FARGATE_PROFILE_NAME")]
    pub fargate_profile_name: String,
    /// Pod execution role
    #[arg(
        long,
        visible_alias = "fargate-pod-execution-role-arn",
        env = "EKS_POD_EXECUTION_ROLE_ARN"
    )]
    pub pod_execution_role_arn: Option<String>,
    /// Selectors as JSON (or @file), e.g. [{"namespace":"jobs","labels":{"app":"etl"}}]
    #[arg(
        long,
        visible_alias = "fargate-selectors",
        env = "EKS_FARGATE_SELECTORS"
    )]
    pub selectors: Option<String>,
    /// Private subnets for the pods: a JSON list, a Python-style list, or comma-separated
    #[arg(long)]
    pub subnets: Option<String>,
    /// Tags: a JSON object or key=value,key=value
    #[arg(long)]
    pub tags: Option<String>,
    /// Other CreateFargateProfile fields as JSON (or @file), with the API's names
    #[arg(long, env = "EKS_CREATE_FARGATE_PROFILE_KWARGS")]
    pub create_fargate_profile_kwargs: Option<String>,
    /// If the profile exists: fail, or reuse it when it matches
    #[arg(long, value_enum, default_value = "fail", env = "EKS_IF_EXISTS")]
    pub if_exists: IfExistsArg,
    /// Delete the profile if it fails to become ACTIVE
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true",
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

/// Airflow's defaults for EksCreateFargateProfileOperator: 10 s between polls, 60 polls.
pub const CREATE_DEFAULTS: &[(&str, &str)] =
    &[("waiter_delay", "10"), ("waiter_max_attempts", "60")];

impl CreateArgs {
    pub fn plan(&self) -> Result<CreateFargateProfile, InputError> {
        const KW: &str = "--create-fargate-profile-kwargs";
        validate::cluster_name("--cluster-name", &self.cluster_name)?;
        validate::child_name("--fargate-profile-name", &self.fargate_profile_name)?;
        let mut request = match &self.create_fargate_profile_kwargs {
            Some(v) => kwargs::parse_create_fargate_profile(KW, &kwargs::read_json_arg(KW, v)?)?,
            None => CreateFargateProfileRequest::default(),
        };
        if request.cluster_name.is_some() {
            return Err(flag_conflict("clusterName", "--cluster-name", KW));
        }
        request.cluster_name = Some(self.cluster_name.clone());
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
            self.pod_execution_role_arn.clone(),
            "--pod-execution-role-arn",
            KW,
        )?;
        let selectors = match &self.selectors {
            Some(v) => Some(kwargs::parse_json::<Vec<FargateProfileSelector>>(
                "--selectors",
                &kwargs::read_json_arg("--selectors", v)?,
            )?),
            None => None,
        };
        fill_from_flag(
            &mut request.selectors,
            "selectors",
            selectors,
            "--selectors",
            KW,
        )?;
        let subnets = self
            .subnets
            .as_deref()
            .map(|v| kwargs::parse_string_list("--subnets", v))
            .transpose()?;
        fill_from_flag(&mut request.subnets, "subnets", subnets, "--subnets", KW)?;
        let tags = self
            .tags
            .as_deref()
            .map(|v| parse_string_map("--tags", v))
            .transpose()?;
        fill_from_flag(&mut request.tags, "tags", tags, "--tags", KW)?;

        let role = required(
            request.pod_execution_role_arn.as_deref(),
            "--pod-execution-role-arn",
            "the pods' execution role",
        )?;
        validate::role_arn("--pod-execution-role-arn", role)?;
        let selectors = request.selectors.as_deref().ok_or_else(|| {
            InputError::invalid(
                "--selectors",
                "required: which pods run on Fargate, e.g. [{\"namespace\":\"default\"}]",
            )
        })?;
        check_selectors(selectors, "--selectors")?;
        let retry = self.wait.waiter.options();
        Ok(CreateFargateProfile {
            request,
            if_exists: self.if_exists.into(),
            wait: self.wait.wait_options(),
            cleanup_on_failure: self.cleanup_on_failure,
            retry,
        })
    }
}

pub async fn create(
    args: CreateArgs,
    interrupt: Interrupt,
) -> Result<CreateFargateProfileOutput, Failure> {
    let started = std::time::Instant::now();
    let plan = args.plan()?;
    let client = args.aws.eks_client().await?;
    let made = create_fargate_profile(&client, plan, &interrupt).await?;
    Ok(CreateFargateProfileOutput {
        fargate_profile: made.fargate_profile,
        reused: made.reused,
        waited: made.waited,
        elapsed_seconds: seconds(started.elapsed()),
    })
}

pub fn create_main() -> std::process::ExitCode {
    crate::run::<CreateArgs, _, _, _>("create-fargate-profile", CREATE_DEFAULTS, create)
}

/// Delete a Fargate profile. Prints one JSON line on stdout.
#[derive(Debug, Parser)]
#[command(name = "eks-delete-fargate-profile", version)]
pub struct DeleteArgs {
    /// Cluster of the profile
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    /// Fargate profile to delete
    #[arg(long, env = "EKS_FARGATE_PROFILE_NAME")]
    pub fargate_profile_name: String,
    /// If the profile does not exist: fail, or succeed with existed=false
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

/// Airflow's defaults for EksDeleteFargateProfileOperator: 30 s between polls, 60 polls.
pub const DELETE_DEFAULTS: &[(&str, &str)] =
    &[("waiter_delay", "30"), ("waiter_max_attempts", "60")];

impl DeleteArgs {
    pub fn plan(&self) -> Result<DeleteFargateProfile, InputError> {
        validate::cluster_name("--cluster-name", &self.cluster_name)?;
        validate::child_name("--fargate-profile-name", &self.fargate_profile_name)?;
        Ok(DeleteFargateProfile {
            cluster_name: self.cluster_name.clone(),
            fargate_profile_name: self.fargate_profile_name.clone(),
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
    let deleted = delete_fargate_profile(&client, &plan, &interrupt).await?;
    Ok(DeleteChildOutput {
        cluster_name: plan.cluster_name,
        name: plan.fargate_profile_name,
        existed: deleted.existed,
        status: deleted.status,
        elapsed_seconds: seconds(started.elapsed()),
    })
}

pub fn delete_main() -> std::process::ExitCode {
    crate::run::<DeleteArgs, _, _, _>("delete-fargate-profile", DELETE_DEFAULTS, delete)
}
