//! `eks-kubeconfig`: write or merge a kubeconfig for an EKS cluster, as
//! `aws eks update-kubeconfig` does, with `eks-token` as the credential plugin.

use std::path::PathBuf;

use clap::Parser;
use eks_core::kubeconfig::{self, ClusterEntry, KubeconfigError};
use eks_core::{Error, Failure, InputError, Interrupt, validate};
use serde::Serialize;

use crate::{AwsArgs, Cli, LogArgs};

/// Write or merge a kubeconfig entry for an EKS cluster; kubectl then authenticates with
/// `eks-token`. Prints one JSON line saying what was written where.
#[derive(Debug, Parser)]
#[command(name = "eks-kubeconfig", version)]
pub struct Args {
    /// Cluster to write an entry for
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    /// File to write [default: the first path in KUBECONFIG, else ~/.kube/config]
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Context name [default: the cluster ARN]
    #[arg(long)]
    pub alias: Option<String>,
    /// User name [default: the cluster ARN]
    #[arg(long)]
    pub user_alias: Option<String>,
    /// Namespace of the context
    #[arg(long)]
    pub namespace: Option<String>,
    /// Leave current-context as it is
    #[arg(long)]
    pub no_set_context: bool,
    /// Print the YAML (on stderr) instead of writing it
    #[arg(long)]
    pub dry_run: bool,
    /// Command kubectl runs for a token
    #[arg(long, default_value = "eks-token", env = "EKS_TOKEN_COMMAND")]
    pub token_command: String,
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

#[derive(Debug, Serialize)]
pub struct KubeconfigOutput {
    pub cluster_name: String,
    pub cluster_arn: String,
    pub endpoint: String,
    /// The file written, or that would be written with --dry-run.
    pub kubeconfig: String,
    pub context: String,
    pub user: String,
    pub current_context_set: bool,
    /// True when an entry of the same name was replaced rather than added.
    pub replaced: bool,
    pub written: bool,
    /// With --dry-run: the file as it would be written (also on stderr).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yaml: Option<String>,
}

fn file_error(e: KubeconfigError) -> Error {
    match e {
        // The user's file is the problem: bad input, found before anything changed.
        KubeconfigError::Parse(..) | KubeconfigError::Shape(..) | KubeconfigError::Read(..) => {
            Error::Input(InputError::invalid("--kubeconfig", e.to_string()))
        }
        KubeconfigError::Write(..) => Error::Input(InputError::invalid(
            "--kubeconfig",
            eks_core::error::chain(&e),
        )),
        KubeconfigError::Render(_) => Error::Internal(e.to_string()),
    }
}

pub async fn run(args: Args, _interrupt: Interrupt) -> Result<KubeconfigOutput, Failure> {
    validate::cluster_name("--cluster-name", &args.cluster_name)?;
    for (flag, value) in [
        ("--alias", &args.alias),
        ("--user-alias", &args.user_alias),
        ("--namespace", &args.namespace),
    ] {
        if let Some(v) = value {
            validate::non_empty(flag, v)?;
        }
    }
    validate::non_empty("--token-command", &args.token_command)?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let kubeconfig_env = std::env::var("KUBECONFIG").ok();
    let path = kubeconfig::target_path(
        args.kubeconfig.as_deref(),
        kubeconfig_env.as_deref(),
        home.as_deref(),
    )
    .ok_or_else(|| {
        InputError::invalid(
            "--kubeconfig",
            "no path: pass --kubeconfig, or set KUBECONFIG or HOME",
        )
    })?;
    // Read (and parse) the existing file before any API call: a corrupt file stops us early.
    let existing = kubeconfig::read_existing(&path).map_err(file_error)?;
    let document = kubeconfig::parse(&path, existing.as_deref()).map_err(file_error)?;

    let config = args.aws.sdk_config().await?;
    let region = config
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    let eks = args.aws.options().eks_client(&config);
    let cluster = eks_core::eks::describe_cluster(&eks, &args.cluster_name)
        .await?
        .ok_or_else(|| Error::Api {
            operation: "DescribeCluster",
            code: Some("ResourceNotFoundException".to_owned()),
            message: format!("No cluster found for name: {}.", args.cluster_name),
            transient: false,
            source: "cluster not found".into(),
        })?;
    let (Some(endpoint), Some(ca), Some(arn)) = (
        cluster.endpoint(),
        cluster.certificate_authority().and_then(|c| c.data()),
        cluster.arn(),
    ) else {
        return Err(Error::ResourceFailed {
            resource: format!("cluster/{}", args.cluster_name),
            state: cluster
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            reason: Some(
                "it has no endpoint yet; wait until it is ACTIVE (eks-wait cluster)".to_owned(),
            ),
        }
        .into());
    };

    // The plugin gets what it needs to sign for the same identity.
    let mut exec_args = vec![
        "--cluster-name".to_owned(),
        args.cluster_name.clone(),
        "--region".to_owned(),
        region,
    ];
    for (flag, value) in [
        ("--role-arn", &args.aws.role_arn),
        ("--role-session-name", &args.aws.role_session_name),
        ("--external-id", &args.aws.external_id),
    ] {
        if let Some(v) = value {
            exec_args.extend([flag.to_owned(), v.clone()]);
        }
    }
    let env: Vec<(String, String)> = args
        .aws
        .profile
        .iter()
        .map(|p| ("AWS_PROFILE".to_owned(), p.clone()))
        .collect();
    let entry = ClusterEntry {
        cluster_name: args.cluster_name.clone(),
        cluster_arn: arn.to_owned(),
        endpoint: endpoint.to_owned(),
        certificate_authority_data: ca.to_owned(),
        alias: args.alias.clone(),
        user_alias: args.user_alias.clone(),
        namespace: args.namespace.clone(),
        command: args.token_command.clone(),
        args: exec_args,
        env,
        set_current_context: !args.no_set_context,
    };
    let merged = kubeconfig::merge_into(&path, document, &entry).map_err(file_error)?;
    if args.dry_run {
        // stdout holds only the result line, so the YAML goes to stderr.
        let mut stderr = crate::stderr().lock();
        let _ = std::io::Write::write_all(&mut stderr, merged.yaml.as_bytes());
    } else {
        kubeconfig::write_atomic(&path, &merged.yaml).map_err(file_error)?;
        tracing::info!("wrote context {} to {}", merged.context, path.display());
    }
    Ok(KubeconfigOutput {
        cluster_name: args.cluster_name,
        cluster_arn: arn.to_owned(),
        endpoint: endpoint.to_owned(),
        kubeconfig: path.display().to_string(),
        context: merged.context,
        user: merged.user,
        current_context_set: !args.no_set_context,
        replaced: merged.replaced,
        written: !args.dry_run,
        yaml: args.dry_run.then_some(merged.yaml),
    })
}

pub fn main() -> std::process::ExitCode {
    crate::run::<Args, _, _, _>("kubeconfig", &[], run)
}
