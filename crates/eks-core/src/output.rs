//! The JSON results the binaries print: one typed, versioned schema in one place.
//! Field names are snake_case; a change here changes the snapshot tests on purpose.

use std::collections::BTreeMap;

use aws_sdk_eks::types::{Cluster, FargateProfile, Nodegroup};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::Serialize;

use crate::error::{Error, ErrorKind, Failure, Leftover};

/// Bumped when a field is removed or changes meaning; adding a field does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// What every result line carries, success or not.
#[derive(Debug, Serialize)]
pub struct Envelope<T> {
    pub schema_version: u32,
    /// The binary's operation, e.g. `create-cluster`.
    pub operation: &'static str,
    #[serde(flatten)]
    pub body: T,
}

impl<T> Envelope<T> {
    pub fn new(operation: &'static str, body: T) -> Self {
        Envelope {
            schema_version: SCHEMA_VERSION,
            operation,
            body,
        }
    }
}

/// `{"error": {...}}`: the failure line.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub kind: ErrorKind,
    /// The whole cause chain on one line.
    pub message: String,
    /// The AWS error code, when an API call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_error_code: Option<String>,
    pub exit_code: u8,
    /// Resources created or changed and not undone: never silently half-done.
    pub left_behind: Vec<Leftover>,
    /// What the operation got done before it failed (a finished pod's outcome).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

impl From<&Failure> for ErrorBody {
    fn from(failure: &Failure) -> Self {
        let error: &Error = &failure.error;
        ErrorBody {
            error: ErrorDetail {
                kind: error.kind(),
                message: error.describe(),
                aws_error_code: error.aws_code().map(str::to_owned),
                exit_code: error.kind().exit_code(error.signal()),
                left_behind: failure.left_behind.clone(),
                result: failure.result.as_deref().cloned(),
            },
        }
    }
}

fn rfc3339(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(Format::DateTime).ok())
}

fn sorted(map: Option<&std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A cluster as a downstream task needs it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterInfo {
    pub name: String,
    pub arn: Option<String>,
    pub status: String,
    /// The API server URL; absent until the cluster is ACTIVE.
    pub endpoint: Option<String>,
    /// Base64 PEM of the cluster CA, as in a kubeconfig's `certificate-authority-data`.
    pub certificate_authority_data: Option<String>,
    pub version: Option<String>,
    pub platform_version: Option<String>,
    pub role_arn: Option<String>,
    pub created_at: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub cluster_security_group_id: Option<String>,
    pub oidc_issuer: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl From<&Cluster> for ClusterInfo {
    fn from(c: &Cluster) -> Self {
        let vpc = c.resources_vpc_config();
        ClusterInfo {
            name: c.name().unwrap_or_default().to_owned(),
            arn: c.arn().map(str::to_owned),
            status: c
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "UNKNOWN".to_owned()),
            endpoint: c.endpoint().map(str::to_owned),
            certificate_authority_data: c
                .certificate_authority()
                .and_then(|ca| ca.data())
                .map(str::to_owned),
            version: c.version().map(str::to_owned),
            platform_version: c.platform_version().map(str::to_owned),
            role_arn: c.role_arn().map(str::to_owned),
            created_at: rfc3339(c.created_at()),
            vpc_id: vpc.and_then(|v| v.vpc_id()).map(str::to_owned),
            subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
            security_group_ids: vpc
                .map(|v| v.security_group_ids().to_vec())
                .unwrap_or_default(),
            cluster_security_group_id: vpc
                .and_then(|v| v.cluster_security_group_id())
                .map(str::to_owned),
            oidc_issuer: c
                .identity()
                .and_then(|i| i.oidc())
                .and_then(|o| o.issuer())
                .map(str::to_owned),
            tags: sorted(c.tags()),
        }
    }
}

impl ClusterInfo {
    /// Only what is known without a describe.
    pub fn named(name: &str, status: &str) -> Self {
        ClusterInfo {
            name: name.to_owned(),
            arn: None,
            status: status.to_owned(),
            endpoint: None,
            certificate_authority_data: None,
            version: None,
            platform_version: None,
            role_arn: None,
            created_at: None,
            vpc_id: None,
            subnet_ids: vec![],
            security_group_ids: vec![],
            cluster_security_group_id: None,
            oidc_issuer: None,
            tags: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScalingInfo {
    pub min_size: Option<i32>,
    pub max_size: Option<i32>,
    pub desired_size: Option<i32>,
}

/// A managed nodegroup.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodegroupInfo {
    pub cluster_name: String,
    pub name: String,
    pub arn: Option<String>,
    pub status: String,
    pub version: Option<String>,
    pub release_version: Option<String>,
    pub capacity_type: Option<String>,
    pub ami_type: Option<String>,
    pub instance_types: Vec<String>,
    pub scaling: Option<ScalingInfo>,
    pub subnets: Vec<String>,
    pub node_role: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub created_at: Option<String>,
    /// EKS's health issues (`code: message`), which explain a CREATE_FAILED or DEGRADED.
    pub health_issues: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl From<&Nodegroup> for NodegroupInfo {
    fn from(n: &Nodegroup) -> Self {
        NodegroupInfo {
            cluster_name: n.cluster_name().unwrap_or_default().to_owned(),
            name: n.nodegroup_name().unwrap_or_default().to_owned(),
            arn: n.nodegroup_arn().map(str::to_owned),
            status: n
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "UNKNOWN".to_owned()),
            version: n.version().map(str::to_owned),
            release_version: n.release_version().map(str::to_owned),
            capacity_type: n.capacity_type().map(|c| c.as_str().to_owned()),
            ami_type: n.ami_type().map(|a| a.as_str().to_owned()),
            instance_types: n.instance_types().to_vec(),
            scaling: n.scaling_config().map(|s| ScalingInfo {
                min_size: s.min_size(),
                max_size: s.max_size(),
                desired_size: s.desired_size(),
            }),
            subnets: n.subnets().to_vec(),
            node_role: n.node_role().map(str::to_owned),
            labels: sorted(n.labels()),
            created_at: rfc3339(n.created_at()),
            health_issues: nodegroup_issues(n),
            tags: sorted(n.tags()),
        }
    }
}

impl NodegroupInfo {
    /// Only what is known without a describe.
    pub fn named(cluster: &str, name: &str, status: &str) -> Self {
        NodegroupInfo {
            cluster_name: cluster.to_owned(),
            name: name.to_owned(),
            arn: None,
            status: status.to_owned(),
            version: None,
            release_version: None,
            capacity_type: None,
            ami_type: None,
            instance_types: vec![],
            scaling: None,
            subnets: vec![],
            node_role: None,
            labels: BTreeMap::new(),
            created_at: None,
            health_issues: vec![],
            tags: BTreeMap::new(),
        }
    }
}

/// EKS health issues as `code: message` lines: they explain a FAILED or DEGRADED state.
pub(crate) fn issue_lines<'a>(
    issues: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Vec<String> {
    issues
        .into_iter()
        .map(|(code, message)| {
            format!(
                "{}: {}",
                code.unwrap_or("Unknown"),
                message.unwrap_or_default()
            )
        })
        .collect()
}

pub(crate) fn nodegroup_issues(n: &Nodegroup) -> Vec<String> {
    let issues = n.health().map(|h| h.issues()).unwrap_or_default();
    issue_lines(
        issues
            .iter()
            .map(|i| (i.code().map(|c| c.as_str()), i.message())),
    )
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SelectorInfo {
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// A Fargate profile.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FargateProfileInfo {
    pub cluster_name: String,
    pub name: String,
    pub arn: Option<String>,
    pub status: String,
    pub pod_execution_role_arn: Option<String>,
    pub selectors: Vec<SelectorInfo>,
    pub subnets: Vec<String>,
    pub created_at: Option<String>,
    pub health_issues: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl From<&FargateProfile> for FargateProfileInfo {
    fn from(p: &FargateProfile) -> Self {
        FargateProfileInfo {
            cluster_name: p.cluster_name().unwrap_or_default().to_owned(),
            name: p.fargate_profile_name().unwrap_or_default().to_owned(),
            arn: p.fargate_profile_arn().map(str::to_owned),
            status: p
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "UNKNOWN".to_owned()),
            pod_execution_role_arn: p.pod_execution_role_arn().map(str::to_owned),
            selectors: p
                .selectors()
                .iter()
                .map(|s| SelectorInfo {
                    namespace: s.namespace().map(str::to_owned),
                    labels: sorted(s.labels()),
                })
                .collect(),
            subnets: p.subnets().to_vec(),
            created_at: rfc3339(p.created_at()),
            health_issues: fargate_issues(p),
            tags: sorted(p.tags()),
        }
    }
}

impl FargateProfileInfo {
    /// Only what is known without a describe.
    pub fn named(cluster: &str, name: &str, status: &str) -> Self {
        FargateProfileInfo {
            cluster_name: cluster.to_owned(),
            name: name.to_owned(),
            arn: None,
            status: status.to_owned(),
            pod_execution_role_arn: None,
            selectors: vec![],
            subnets: vec![],
            created_at: None,
            health_issues: vec![],
            tags: BTreeMap::new(),
        }
    }
}

pub(crate) fn fargate_issues(p: &FargateProfile) -> Vec<String> {
    let issues = p.health().map(|h| h.issues()).unwrap_or_default();
    issue_lines(
        issues
            .iter()
            .map(|i| (i.code().map(|c| c.as_str()), i.message())),
    )
}

/// `eks-create-cluster`.
#[derive(Debug, Serialize)]
pub struct CreateClusterOutput {
    pub cluster: ClusterInfo,
    /// True when `--if-exists reuse` found a matching cluster instead of creating one.
    pub reused: bool,
    pub nodegroup: Option<NodegroupInfo>,
    pub fargate_profile: Option<FargateProfileInfo>,
    /// Whether the operation waited for everything it created to be ACTIVE.
    pub waited: bool,
    pub elapsed_seconds: f64,
}

/// `eks-delete-cluster`.
#[derive(Debug, Serialize)]
pub struct DeleteClusterOutput {
    pub cluster_name: String,
    /// False when the cluster did not exist (`--if-missing ok`).
    pub existed: bool,
    /// `DELETING` when not waited for, `NONEXISTENT` when gone.
    pub status: String,
    pub deleted_nodegroups: Vec<String>,
    pub deleted_fargate_profiles: Vec<String>,
    pub elapsed_seconds: f64,
}

/// `eks-create-nodegroup`.
#[derive(Debug, Serialize)]
pub struct CreateNodegroupOutput {
    pub nodegroup: NodegroupInfo,
    pub reused: bool,
    pub waited: bool,
    pub elapsed_seconds: f64,
}

/// `eks-create-fargate-profile`.
#[derive(Debug, Serialize)]
pub struct CreateFargateProfileOutput {
    pub fargate_profile: FargateProfileInfo,
    pub reused: bool,
    pub waited: bool,
    pub elapsed_seconds: f64,
}

/// `eks-delete-nodegroup` and `eks-delete-fargate-profile`.
#[derive(Debug, Serialize)]
pub struct DeleteChildOutput {
    pub cluster_name: String,
    /// The nodegroup or Fargate profile name.
    pub name: String,
    pub existed: bool,
    pub status: String,
    pub elapsed_seconds: f64,
}

/// `eks-wait`.
#[derive(Debug, Serialize)]
pub struct WaitOutput {
    /// `cluster`, `nodegroup` or `fargate-profile`.
    pub resource: &'static str,
    pub cluster_name: String,
    /// The nodegroup or profile name; absent for a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub target_state: String,
    pub state: String,
    pub attempts: u32,
    pub elapsed_seconds: f64,
}

/// Seconds, rounded to milliseconds so the JSON stays readable.
pub fn seconds(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// The schema is a contract with DAGs and scripts: these snapshots fail when it changes by
/// accident. Review a change with `cargo insta review` and bump SCHEMA_VERSION if a field
/// is removed or changes meaning.
#[cfg(test)]
mod tests {
    use aws_sdk_eks::types::{
        CapacityTypes, Certificate, ClusterStatus, FargateProfileSelector, FargateProfileStatus,
        Identity, NodegroupScalingConfig, NodegroupStatus, Oidc, VpcConfigResponse,
    };

    use super::*;
    use crate::error::{InputError, Signal};

    fn cluster() -> Cluster {
        Cluster::builder()
            .name("demo")
            .arn("arn:aws:eks:us-east-1:123456789012:cluster/demo")
            .created_at(DateTime::from_secs(1_764_806_400))
            .version("1.31")
            .endpoint("https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com")
            .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
            .resources_vpc_config(
                VpcConfigResponse::builder()
                    .subnet_ids("subnet-0a1")
                    .subnet_ids("subnet-0b2")
                    .security_group_ids("sg-1")
                    .cluster_security_group_id("sg-cluster")
                    .vpc_id("vpc-1")
                    .build(),
            )
            .identity(
                Identity::builder()
                    .oidc(
                        Oidc::builder()
                            .issuer("https://oidc.eks.us-east-1.amazonaws.com/id/0123")
                            .build(),
                    )
                    .build(),
            )
            .status(ClusterStatus::Active)
            .certificate_authority(Certificate::builder().data("LS0tLS1CRUdJTi...").build())
            .platform_version("eks.12")
            .tags("team", "data")
            .build()
    }

    fn nodegroup() -> Nodegroup {
        Nodegroup::builder()
            .nodegroup_name("workers")
            .nodegroup_arn("arn:aws:eks:us-east-1:123456789012:nodegroup/demo/workers/0a1b")
            .cluster_name("demo")
            .version("1.31")
            .release_version("1.31.7-20250610")
            .created_at(DateTime::from_secs(1_764_806_700))
            .status(NodegroupStatus::Active)
            .capacity_type(CapacityTypes::OnDemand)
            .scaling_config(
                NodegroupScalingConfig::builder()
                    .min_size(1)
                    .max_size(3)
                    .desired_size(2)
                    .build(),
            )
            .instance_types("m5.large")
            .subnets("subnet-0a1")
            .node_role("arn:aws:iam::123456789012:role/eks-nodes")
            .labels("tier", "batch")
            .tags("kubernetes.io/cluster/demo", "owned")
            .build()
    }

    fn profile() -> FargateProfile {
        FargateProfile::builder()
            .fargate_profile_name("profile")
            .fargate_profile_arn(
                "arn:aws:eks:us-east-1:123456789012:fargateprofile/demo/profile/0c1d",
            )
            .cluster_name("demo")
            .created_at(DateTime::from_secs(1_764_806_800))
            .pod_execution_role_arn("arn:aws:iam::123456789012:role/pods")
            .subnets("subnet-0a1")
            .selectors(
                FargateProfileSelector::builder()
                    .namespace("default")
                    .build(),
            )
            .status(FargateProfileStatus::Active)
            .build()
    }

    #[test]
    fn create_cluster_output() {
        let out = Envelope::new(
            "create-cluster",
            CreateClusterOutput {
                cluster: ClusterInfo::from(&cluster()),
                reused: false,
                nodegroup: Some(NodegroupInfo::from(&nodegroup())),
                fargate_profile: None,
                waited: true,
                elapsed_seconds: 612.5,
            },
        );
        insta::assert_json_snapshot!(out);
    }

    #[test]
    fn create_fargate_profile_output() {
        let out = Envelope::new(
            "create-fargate-profile",
            CreateFargateProfileOutput {
                fargate_profile: FargateProfileInfo::from(&profile()),
                reused: true,
                waited: false,
                elapsed_seconds: 0.4,
            },
        );
        insta::assert_json_snapshot!(out);
    }

    #[test]
    fn delete_outputs() {
        insta::assert_json_snapshot!(Envelope::new(
            "delete-cluster",
            DeleteClusterOutput {
                cluster_name: "demo".into(),
                existed: true,
                status: "NONEXISTENT".into(),
                deleted_nodegroups: vec!["workers".into()],
                deleted_fargate_profiles: vec!["profile".into()],
                elapsed_seconds: 905.0,
            }
        ));
        insta::assert_json_snapshot!(Envelope::new(
            "delete-nodegroup",
            DeleteChildOutput {
                cluster_name: "demo".into(),
                name: "workers".into(),
                existed: false,
                status: "NONEXISTENT".into(),
                elapsed_seconds: 0.2,
            }
        ));
    }

    #[test]
    fn wait_output() {
        insta::assert_json_snapshot!(Envelope::new(
            "wait",
            WaitOutput {
                resource: "nodegroup",
                cluster_name: "demo".into(),
                name: Some("workers".into()),
                target_state: "ACTIVE".into(),
                state: "ACTIVE".into(),
                attempts: 7,
                elapsed_seconds: 180.0,
            }
        ));
    }

    #[test]
    fn error_outputs() {
        let failure = Failure::from(Error::Timeout {
            resource: "cluster/demo".into(),
            target: "ACTIVE".into(),
            last_state: "CREATING".into(),
            attempts: 40,
            elapsed: std::time::Duration::from_secs(1200),
        })
        .leaving(Leftover {
            resource: "cluster/demo".into(),
            status: "CREATING".into(),
            note: "created by this run and kept".into(),
        });
        insta::assert_json_snapshot!(Envelope::new("create-cluster", ErrorBody::from(&failure)));
        let bad = Failure::from(InputError::invalid("--cluster-name", "invalid name \"-x\""));
        insta::assert_json_snapshot!(Envelope::new("create-cluster", ErrorBody::from(&bad)));
        let api = Failure::from(Error::Api {
            operation: "CreateCluster",
            code: Some("ResourceInUseException".into()),
            message: "Cluster already exists with name: demo".into(),
            transient: false,
            source: "service error".into(),
        });
        insta::assert_json_snapshot!(Envelope::new("create-cluster", ErrorBody::from(&api)));
        let interrupted = Failure::from(Error::Interrupted {
            signal: Signal::Sigterm,
            during: "waiting".into(),
        });
        insta::assert_json_snapshot!(Envelope::new("wait", ErrorBody::from(&interrupted)));
    }
}
