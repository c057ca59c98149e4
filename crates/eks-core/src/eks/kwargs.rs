//! The `*_kwargs` JSON objects that Airflow users pass through to CreateCluster,
//! CreateNodegroup and CreateFargateProfile: typed mirrors of the complete request shapes of
//! aws-sdk-eks, with the API's own camelCase field names, checked strictly (unknown fields,
//! wrong types and unknown enum values are errors naming the field path) and applied to the
//! SDK's fluent builders. Also the list and `@file` flag forms the binaries accept.

use std::collections::HashMap;
use std::path::PathBuf;

use aws_sdk_eks::error::BuildError;
use aws_sdk_eks::operation::create_cluster::builders::CreateClusterFluentBuilder;
use aws_sdk_eks::operation::create_fargate_profile::builders::CreateFargateProfileFluentBuilder;
use aws_sdk_eks::operation::create_nodegroup::builders::CreateNodegroupFluentBuilder;
use aws_sdk_eks::types;
use serde::de::{self, Deserialize, DeserializeOwned, Deserializer};
use serde_path_to_error::Segment;

/// Bad `*_kwargs` or list-flag input. Display is one line that names the flag (and the field
/// path inside the JSON), the value, and what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum KwargsError {
    /// `@PATH` named a file that could not be read.
    #[error("{flag}: cannot read {path:?}: {source}")]
    ReadFile {
        flag: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The value is not JSON at all.
    #[error("{flag}: not valid JSON: {source}{hint}")]
    InvalidJson {
        flag: String,
        /// Empty, or advice when the text looks like a Python dict rather than JSON.
        hint: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// Valid JSON whose top level is not an object.
    #[error("{flag}: expected a JSON object, found {found}")]
    NotAnObject { flag: String, found: &'static str },

    /// A field is unknown, mistyped, missing or has a value outside its allowed set.
    /// `path` is empty when the problem is at the top level.
    #[error("{flag}: {}{source}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
    Field {
        flag: String,
        path: String,
        #[source]
        source: serde_json::Error,
    },

    /// A list flag in none of the accepted forms.
    #[error(
        "{flag}: cannot read {value:?} as a list: {reason}; give a JSON list like [\"a\",\"b\"], \
         a Python list like ['a', 'b'] or a comma-separated list like a,b"
    )]
    InvalidList {
        flag: String,
        value: String,
        reason: String,
    },

    /// The same request field given by its own flag and inside the kwargs.
    #[error("`{field}` is set both by {flag} and in {kwargs_flag}; give it in one place")]
    Conflict {
        field: String,
        flag: String,
        kwargs_flag: String,
    },

    /// The SDK refused to build a nested structure (a member it requires is missing).
    #[error("{field}: {source}")]
    Build {
        field: &'static str,
        #[source]
        source: BuildError,
    },
}

/// The value of a JSON flag: `@PATH` reads the file at PATH, anything else is the JSON itself.
pub fn read_json_arg(flag: &str, value: &str) -> Result<String, KwargsError> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|source| KwargsError::ReadFile {
            flag: flag.to_owned(),
            path: PathBuf::from(path),
            source,
        }),
        None => Ok(value.to_owned()),
    }
}

/// A list flag (subnets, security groups, ...) given as a JSON list of strings, a Python list
/// literal as Airflow renders one (`['a', 'b']`), or comma-separated (`a,b`). Empty is `[]`.
pub fn parse_string_list(flag: &str, value: &str) -> Result<Vec<String>, KwargsError> {
    let text = value.trim();
    let parsed = if text.is_empty() {
        Ok(Vec::new())
    } else if text.starts_with('[') {
        serde_json::from_str::<Vec<String>>(text).or_else(|_| python_list(text))
    } else {
        comma_list(text)
    };
    parsed.map_err(|reason| KwargsError::InvalidList {
        flag: flag.to_owned(),
        value: value.to_owned(),
        reason,
    })
}

/// A Python list of string literals, e.g. `['a', "b",]`.
fn python_list(text: &str) -> Result<Vec<String>, String> {
    let mut rest = text
        .strip_prefix('[')
        .ok_or("expected `[`")?
        .chars()
        .peekable();
    let mut items = Vec::new();
    loop {
        skip_whitespace(&mut rest);
        match rest.next() {
            Some(']') => break,
            Some(quote @ ('\'' | '"')) => items.push(python_string(&mut rest, quote)?),
            Some(c) => return Err(format!("expected a quoted string, found `{c}`")),
            None => return Err("missing `]`".to_owned()),
        }
        skip_whitespace(&mut rest);
        match rest.next() {
            Some(',') => {}
            Some(']') => break,
            Some(c) => return Err(format!("expected `,` or `]`, found `{c}`")),
            None => return Err("missing `]`".to_owned()),
        }
    }
    match rest.find(|c| !c.is_whitespace()) {
        Some(c) => Err(format!("unexpected `{c}` after `]`")),
        None => Ok(items),
    }
}

fn skip_whitespace(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
}

/// The rest of a Python string literal opened by `quote`, with the common escapes undone.
fn python_string(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    quote: char,
) -> Result<String, String> {
    let mut out = String::new();
    loop {
        match chars.next() {
            Some(c) if c == quote => return Ok(out),
            Some('\\') => match chars.next() {
                Some(c @ ('\\' | '\'' | '"')) => out.push(c),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                // Python keeps unknown escapes as written.
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => return Err("unterminated string".to_owned()),
            },
            Some(c) => out.push(c),
            None => return Err("unterminated string".to_owned()),
        }
    }
}

/// `a,b,c`; an empty item, or one with quotes, brackets or inner spaces, is a mistake.
fn comma_list(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(str::trim)
        .enumerate()
        .map(|(i, item)| {
            if item.is_empty() {
                Err(format!("item {} is empty", i + 1))
            } else if let Some(c) = item
                .chars()
                .find(|c| c.is_whitespace() || "'\"[]{}".contains(*c))
            {
                Err(format!("unexpected {c:?} in `{item}`"))
            } else {
                Ok(item.to_owned())
            }
        })
        .collect()
}

/// Moves a flag's value into a kwargs field. Giving a field both ways is an error, as it is
/// for Airflow's operators (Python rejects a keyword argument given twice).
pub fn fill_from_flag<T>(
    field: &mut Option<T>,
    field_name: &str,
    value: Option<T>,
    flag: &str,
    kwargs_flag: &str,
) -> Result<(), KwargsError> {
    match (field.is_some(), value) {
        (true, Some(_)) => Err(KwargsError::Conflict {
            field: field_name.to_owned(),
            flag: flag.to_owned(),
            kwargs_flag: kwargs_flag.to_owned(),
        }),
        (false, Some(v)) => {
            *field = Some(v);
            Ok(())
        }
        (_, None) => Ok(()),
    }
}

/// `--create-cluster-kwargs`: the CreateCluster request body.
pub fn parse_create_cluster(flag: &str, json: &str) -> Result<CreateClusterRequest, KwargsError> {
    parse_object(flag, json)
}

/// `--create-nodegroup-kwargs`: the CreateNodegroup request.
pub fn parse_create_nodegroup(
    flag: &str,
    json: &str,
) -> Result<CreateNodegroupRequest, KwargsError> {
    parse_object(flag, json)
}

/// `--create-fargate-profile-kwargs`: the CreateFargateProfile request.
pub fn parse_create_fargate_profile(
    flag: &str,
    json: &str,
) -> Result<CreateFargateProfileRequest, KwargsError> {
    parse_object(flag, json)
}

/// Any JSON flag value of a known shape (`--resources-vpc-config`, `--fargate-selectors`,
/// `--taints`, a label map), checked as strictly as the kwargs objects, errors naming the path.
pub fn parse_json<T: DeserializeOwned>(flag: &str, json: &str) -> Result<T, KwargsError> {
    from_value(flag, parse_value(flag, json)?)
}

/// A `*_kwargs` value: like [`parse_json`], but the top level must be an object.
fn parse_object<T: DeserializeOwned>(flag: &str, json: &str) -> Result<T, KwargsError> {
    let value = parse_value(flag, json)?;
    let found = match &value {
        serde_json::Value::Object(_) => return from_value(flag, value),
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    };
    Err(KwargsError::NotAnObject {
        flag: flag.to_owned(),
        found,
    })
}

// Through `Value` so that messages carry the field path but no line/column noise.
fn parse_value(flag: &str, json: &str) -> Result<serde_json::Value, KwargsError> {
    serde_json::from_str(json).map_err(|source| KwargsError::InvalidJson {
        flag: flag.to_owned(),
        hint: if looks_like_python(json) {
            "; this looks like Python, not JSON: pass json.dumps(...) or Jinja's tojson filter"
        } else {
            ""
        },
        source,
    })
}

/// A dict or list whose first quote is `'`: what `str()` of a Python value renders.
fn looks_like_python(text: &str) -> bool {
    let single = text.find('\'');
    text.trim_start().starts_with(['{', '['])
        && single.is_some()
        && text.find('"').is_none_or(|double| single < Some(double))
}

fn from_value<T: DeserializeOwned>(flag: &str, value: serde_json::Value) -> Result<T, KwargsError> {
    serde_path_to_error::deserialize(value).map_err(|err| KwargsError::Field {
        flag: flag.to_owned(),
        path: field_path(&err),
        source: err.into_inner(),
    })
}

/// `a.b[2].c`; empty at the top level. For an unknown field it is the path of the object that
/// has it, since serde's message names the field itself.
fn field_path(err: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let mut segments: Vec<&Segment> = err.path().iter().collect();
    if err.inner().to_string().starts_with("unknown field `") {
        segments.pop();
    }
    let mut path = String::new();
    for segment in segments {
        if !path.is_empty() && !matches!(segment, Segment::Seq { .. }) {
            path.push('.');
        }
        path.push_str(&segment.to_string());
    }
    path
}

/// An SDK enum whose wire values the SDK lists, so that input can be checked against them
/// (the SDK itself would accept any string as `Unknown`).
trait SdkEnum: for<'a> From<&'a str> {
    fn allowed() -> &'static [&'static str];
}

macro_rules! sdk_enums {
    ($($name:ident),* $(,)?) => {
        $(impl SdkEnum for types::$name {
            fn allowed() -> &'static [&'static str] {
                types::$name::values()
            }
        })*
    };
}

sdk_enums!(
    AmiTypes,
    AuthenticationMode,
    CapacityTypes,
    ControlPlaneEgressModeType,
    IpFamily,
    LogType,
    NodegroupUpdateStrategies,
    ProvisionedControlPlaneTier,
    RepairAction,
    ScoringStrategyType,
    SpreadLevel,
    SupportType,
    TaintEffect,
    WarmPoolState,
);

/// A string that must be one of `T::allowed()`.
struct Checked<T>(T);

impl<'de, T: SdkEnum> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        if T::allowed().contains(&value.as_str()) {
            Ok(Checked(T::from(value.as_str())))
        } else {
            let allowed: Vec<String> = T::allowed().iter().map(|v| format!("`{v}`")).collect();
            Err(de::Error::custom(format_args!(
                "unknown value `{value}`, expected one of {}",
                allowed.join(", ")
            )))
        }
    }
}

/// `deserialize_with` helpers for optional SDK enums and lists of them.
mod checked {
    use super::{Checked, SdkEnum};
    use serde::{Deserialize, Deserializer};

    pub(super) fn option<'de, D: Deserializer<'de>, T: SdkEnum>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(Option::<Checked<T>>::deserialize(d)?.map(|c| c.0))
    }

    pub(super) fn option_list<'de, D: Deserializer<'de>, T: SdkEnum>(
        d: D,
    ) -> Result<Option<Vec<T>>, D::Error> {
        Ok(
            Option::<Vec<Checked<T>>>::deserialize(d)?
                .map(|v| v.into_iter().map(|c| c.0).collect()),
        )
    }
}

/// Calls the builder's `set_*` only for a value that is present, so that apply never clears
/// what the caller already set on the builder.
fn set_if<B, T>(builder: B, value: Option<T>, set: impl FnOnce(B, Option<T>) -> B) -> B {
    match value {
        Some(_) => set(builder, value),
        None => builder,
    }
}

fn sdk_list<A: Into<B>, B>(list: Option<Vec<A>>) -> Option<Vec<B>> {
    list.map(|items| items.into_iter().map(Into::into).collect())
}

// ---------------------------------------------------------------------------------------------
// CreateCluster

/// The body of CreateCluster. Every field is optional here; the binary fills `name` and
/// `roleArn` from its flags and checks what is required.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateClusterRequest {
    pub name: Option<String>,
    pub version: Option<String>,
    pub role_arn: Option<String>,
    pub resources_vpc_config: Option<VpcConfigRequest>,
    pub kubernetes_network_config: Option<KubernetesNetworkConfigRequest>,
    pub logging: Option<Logging>,
    pub client_request_token: Option<String>,
    pub tags: Option<HashMap<String, String>>,
    pub encryption_config: Option<Vec<EncryptionConfig>>,
    pub outpost_config: Option<OutpostConfigRequest>,
    pub access_config: Option<CreateAccessConfigRequest>,
    pub bootstrap_self_managed_addons: Option<bool>,
    pub upgrade_policy: Option<UpgradePolicyRequest>,
    pub zonal_shift_config: Option<ZonalShiftConfigRequest>,
    pub remote_network_config: Option<RemoteNetworkConfigRequest>,
    pub compute_config: Option<ComputeConfigRequest>,
    pub storage_config: Option<StorageConfigRequest>,
    pub deletion_protection: Option<bool>,
    pub control_plane_scaling_config: Option<ControlPlaneScalingConfig>,
    pub kube_api_server_config: Option<KubeApiServerConfigRequest>,
    pub kube_scheduler_config: Option<KubeSchedulerConfigRequest>,
    pub kube_controller_manager_config: Option<KubeControllerManagerConfigRequest>,
}

impl CreateClusterRequest {
    /// Sets every present field on `builder`; absent fields leave the builder as it was.
    pub fn apply(
        self,
        builder: CreateClusterFluentBuilder,
    ) -> Result<CreateClusterFluentBuilder, KwargsError> {
        let outpost_config = self
            .outpost_config
            .map(types::OutpostConfigRequest::try_from)
            .transpose()
            .map_err(|source| KwargsError::Build {
                field: "outpostConfig",
                source,
            })?;
        type B = CreateClusterFluentBuilder;
        let b = builder;
        let b = set_if(b, self.name, B::set_name);
        let b = set_if(b, self.version, B::set_version);
        let b = set_if(b, self.role_arn, B::set_role_arn);
        let b = set_if(
            b,
            self.resources_vpc_config.map(Into::into),
            B::set_resources_vpc_config,
        );
        let b = set_if(
            b,
            self.kubernetes_network_config.map(Into::into),
            B::set_kubernetes_network_config,
        );
        let b = set_if(b, self.logging.map(Into::into), B::set_logging);
        let b = set_if(b, self.client_request_token, B::set_client_request_token);
        let b = set_if(b, self.tags, B::set_tags);
        let b = set_if(
            b,
            sdk_list(self.encryption_config),
            B::set_encryption_config,
        );
        let b = set_if(b, outpost_config, B::set_outpost_config);
        let b = set_if(b, self.access_config.map(Into::into), B::set_access_config);
        let b = set_if(
            b,
            self.bootstrap_self_managed_addons,
            B::set_bootstrap_self_managed_addons,
        );
        let b = set_if(
            b,
            self.upgrade_policy.map(Into::into),
            B::set_upgrade_policy,
        );
        let b = set_if(
            b,
            self.zonal_shift_config.map(Into::into),
            B::set_zonal_shift_config,
        );
        let b = set_if(
            b,
            self.remote_network_config.map(Into::into),
            B::set_remote_network_config,
        );
        let b = set_if(
            b,
            self.compute_config.map(Into::into),
            B::set_compute_config,
        );
        let b = set_if(
            b,
            self.storage_config.map(Into::into),
            B::set_storage_config,
        );
        let b = set_if(b, self.deletion_protection, B::set_deletion_protection);
        let b = set_if(
            b,
            self.control_plane_scaling_config.map(Into::into),
            B::set_control_plane_scaling_config,
        );
        let b = set_if(
            b,
            self.kube_api_server_config.map(Into::into),
            B::set_kube_api_server_config,
        );
        let b = set_if(
            b,
            self.kube_scheduler_config.map(Into::into),
            B::set_kube_scheduler_config,
        );
        let b = set_if(
            b,
            self.kube_controller_manager_config.map(Into::into),
            B::set_kube_controller_manager_config,
        );
        Ok(b)
    }
}

/// `resourcesVpcConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VpcConfigRequest {
    pub subnet_ids: Option<Vec<String>>,
    pub security_group_ids: Option<Vec<String>>,
    pub endpoint_public_access: Option<bool>,
    pub endpoint_private_access: Option<bool>,
    pub public_access_cidrs: Option<Vec<String>>,
    #[serde(default, deserialize_with = "checked::option")]
    pub control_plane_egress_mode: Option<types::ControlPlaneEgressModeType>,
}

impl From<VpcConfigRequest> for types::VpcConfigRequest {
    fn from(v: VpcConfigRequest) -> Self {
        types::VpcConfigRequest::builder()
            .set_subnet_ids(v.subnet_ids)
            .set_security_group_ids(v.security_group_ids)
            .set_endpoint_public_access(v.endpoint_public_access)
            .set_endpoint_private_access(v.endpoint_private_access)
            .set_public_access_cidrs(v.public_access_cidrs)
            .set_control_plane_egress_mode(v.control_plane_egress_mode)
            .build()
    }
}

/// `kubernetesNetworkConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubernetesNetworkConfigRequest {
    pub service_ipv4_cidr: Option<String>,
    #[serde(default, deserialize_with = "checked::option")]
    pub ip_family: Option<types::IpFamily>,
    pub elastic_load_balancing: Option<ElasticLoadBalancing>,
}

impl From<KubernetesNetworkConfigRequest> for types::KubernetesNetworkConfigRequest {
    fn from(v: KubernetesNetworkConfigRequest) -> Self {
        types::KubernetesNetworkConfigRequest::builder()
            .set_service_ipv4_cidr(v.service_ipv4_cidr)
            .set_ip_family(v.ip_family)
            .set_elastic_load_balancing(v.elastic_load_balancing.map(Into::into))
            .build()
    }
}

/// `kubernetesNetworkConfig.elasticLoadBalancing` (EKS Auto Mode load balancing).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ElasticLoadBalancing {
    pub enabled: Option<bool>,
    pub gateway_api: Option<GatewayApiConfiguration>,
}

impl From<ElasticLoadBalancing> for types::ElasticLoadBalancing {
    fn from(v: ElasticLoadBalancing) -> Self {
        types::ElasticLoadBalancing::builder()
            .set_enabled(v.enabled)
            .set_gateway_api(v.gateway_api.map(Into::into))
            .build()
    }
}

/// `...elasticLoadBalancing.gatewayApi`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayApiConfiguration {
    pub crds: Option<CrdManagementConfiguration>,
}

impl From<GatewayApiConfiguration> for types::GatewayApiConfiguration {
    fn from(v: GatewayApiConfiguration) -> Self {
        types::GatewayApiConfiguration::builder()
            .set_crds(v.crds.map(Into::into))
            .build()
    }
}

/// `...gatewayApi.crds`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrdManagementConfiguration {
    pub managed: Option<bool>,
}

impl From<CrdManagementConfiguration> for types::CrdManagementConfiguration {
    fn from(v: CrdManagementConfiguration) -> Self {
        types::CrdManagementConfiguration::builder()
            .set_managed(v.managed)
            .build()
    }
}

/// `logging`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Logging {
    pub cluster_logging: Option<Vec<LogSetup>>,
}

impl From<Logging> for types::Logging {
    fn from(v: Logging) -> Self {
        types::Logging::builder()
            .set_cluster_logging(sdk_list(v.cluster_logging))
            .build()
    }
}

/// `logging.clusterLogging[]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogSetup {
    #[serde(default, deserialize_with = "checked::option_list")]
    pub types: Option<Vec<types::LogType>>,
    pub enabled: Option<bool>,
}

impl From<LogSetup> for types::LogSetup {
    fn from(v: LogSetup) -> Self {
        types::LogSetup::builder()
            .set_types(v.types)
            .set_enabled(v.enabled)
            .build()
    }
}

/// `encryptionConfig[]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EncryptionConfig {
    pub resources: Option<Vec<String>>,
    pub provider: Option<Provider>,
}

impl From<EncryptionConfig> for types::EncryptionConfig {
    // `resources` is deprecated (EKS now encrypts everything) but still part of the request.
    #[allow(deprecated)]
    fn from(v: EncryptionConfig) -> Self {
        types::EncryptionConfig::builder()
            .set_resources(v.resources)
            .set_provider(v.provider.map(Into::into))
            .build()
    }
}

/// `encryptionConfig[].provider`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Provider {
    pub key_arn: Option<String>,
}

impl From<Provider> for types::Provider {
    fn from(v: Provider) -> Self {
        types::Provider::builder().set_key_arn(v.key_arn).build()
    }
}

/// `outpostConfig`. The API requires `outpostArns` and `controlPlaneInstanceType` once
/// `outpostConfig` is given, so parsing already does.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutpostConfigRequest {
    pub outpost_arns: Vec<String>,
    pub control_plane_instance_type: String,
    pub control_plane_placement: Option<ControlPlanePlacementRequest>,
    pub etcd_instance_type: Option<String>,
    pub etcd_placement: Option<EtcdPlacementRequest>,
}

impl TryFrom<OutpostConfigRequest> for types::OutpostConfigRequest {
    type Error = BuildError;

    fn try_from(v: OutpostConfigRequest) -> Result<Self, BuildError> {
        types::OutpostConfigRequest::builder()
            .set_outpost_arns(Some(v.outpost_arns))
            .set_control_plane_instance_type(Some(v.control_plane_instance_type))
            .set_control_plane_placement(v.control_plane_placement.map(Into::into))
            .set_etcd_instance_type(v.etcd_instance_type)
            .set_etcd_placement(v.etcd_placement.map(Into::into))
            .build()
    }
}

/// `outpostConfig.controlPlanePlacement`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlPlanePlacementRequest {
    pub group_name: Option<String>,
    #[serde(default, deserialize_with = "checked::option")]
    pub spread_level: Option<types::SpreadLevel>,
}

impl From<ControlPlanePlacementRequest> for types::ControlPlanePlacementRequest {
    fn from(v: ControlPlanePlacementRequest) -> Self {
        types::ControlPlanePlacementRequest::builder()
            .set_group_name(v.group_name)
            .set_spread_level(v.spread_level)
            .build()
    }
}

/// `outpostConfig.etcdPlacement`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EtcdPlacementRequest {
    #[serde(default, deserialize_with = "checked::option")]
    pub spread_level: Option<types::SpreadLevel>,
}

impl From<EtcdPlacementRequest> for types::EtcdPlacementRequest {
    fn from(v: EtcdPlacementRequest) -> Self {
        types::EtcdPlacementRequest::builder()
            .set_spread_level(v.spread_level)
            .build()
    }
}

/// `accessConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAccessConfigRequest {
    pub bootstrap_cluster_creator_admin_permissions: Option<bool>,
    #[serde(default, deserialize_with = "checked::option")]
    pub authentication_mode: Option<types::AuthenticationMode>,
}

impl From<CreateAccessConfigRequest> for types::CreateAccessConfigRequest {
    fn from(v: CreateAccessConfigRequest) -> Self {
        types::CreateAccessConfigRequest::builder()
            .set_bootstrap_cluster_creator_admin_permissions(
                v.bootstrap_cluster_creator_admin_permissions,
            )
            .set_authentication_mode(v.authentication_mode)
            .build()
    }
}

/// `upgradePolicy`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpgradePolicyRequest {
    #[serde(default, deserialize_with = "checked::option")]
    pub support_type: Option<types::SupportType>,
}

impl From<UpgradePolicyRequest> for types::UpgradePolicyRequest {
    fn from(v: UpgradePolicyRequest) -> Self {
        types::UpgradePolicyRequest::builder()
            .set_support_type(v.support_type)
            .build()
    }
}

/// `zonalShiftConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ZonalShiftConfigRequest {
    pub enabled: Option<bool>,
}

impl From<ZonalShiftConfigRequest> for types::ZonalShiftConfigRequest {
    fn from(v: ZonalShiftConfigRequest) -> Self {
        types::ZonalShiftConfigRequest::builder()
            .set_enabled(v.enabled)
            .build()
    }
}

/// `remoteNetworkConfig` (EKS Hybrid Nodes).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoteNetworkConfigRequest {
    pub remote_node_networks: Option<Vec<RemoteNodeNetwork>>,
    pub remote_pod_networks: Option<Vec<RemotePodNetwork>>,
}

impl From<RemoteNetworkConfigRequest> for types::RemoteNetworkConfigRequest {
    fn from(v: RemoteNetworkConfigRequest) -> Self {
        types::RemoteNetworkConfigRequest::builder()
            .set_remote_node_networks(sdk_list(v.remote_node_networks))
            .set_remote_pod_networks(sdk_list(v.remote_pod_networks))
            .build()
    }
}

/// `remoteNetworkConfig.remoteNodeNetworks[]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoteNodeNetwork {
    pub cidrs: Option<Vec<String>>,
}

impl From<RemoteNodeNetwork> for types::RemoteNodeNetwork {
    fn from(v: RemoteNodeNetwork) -> Self {
        types::RemoteNodeNetwork::builder()
            .set_cidrs(v.cidrs)
            .build()
    }
}

/// `remoteNetworkConfig.remotePodNetworks[]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemotePodNetwork {
    pub cidrs: Option<Vec<String>>,
}

impl From<RemotePodNetwork> for types::RemotePodNetwork {
    fn from(v: RemotePodNetwork) -> Self {
        types::RemotePodNetwork::builder()
            .set_cidrs(v.cidrs)
            .build()
    }
}

/// `computeConfig` (EKS Auto Mode).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComputeConfigRequest {
    pub enabled: Option<bool>,
    pub node_pools: Option<Vec<String>>,
    pub node_role_arn: Option<String>,
}

impl From<ComputeConfigRequest> for types::ComputeConfigRequest {
    fn from(v: ComputeConfigRequest) -> Self {
        types::ComputeConfigRequest::builder()
            .set_enabled(v.enabled)
            .set_node_pools(v.node_pools)
            .set_node_role_arn(v.node_role_arn)
            .build()
    }
}

/// `storageConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageConfigRequest {
    pub block_storage: Option<BlockStorage>,
}

impl From<StorageConfigRequest> for types::StorageConfigRequest {
    fn from(v: StorageConfigRequest) -> Self {
        types::StorageConfigRequest::builder()
            .set_block_storage(v.block_storage.map(Into::into))
            .build()
    }
}

/// `storageConfig.blockStorage`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BlockStorage {
    pub enabled: Option<bool>,
}

impl From<BlockStorage> for types::BlockStorage {
    fn from(v: BlockStorage) -> Self {
        types::BlockStorage::builder()
            .set_enabled(v.enabled)
            .build()
    }
}

/// `controlPlaneScalingConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlPlaneScalingConfig {
    #[serde(default, deserialize_with = "checked::option")]
    pub tier: Option<types::ProvisionedControlPlaneTier>,
}

impl From<ControlPlaneScalingConfig> for types::ControlPlaneScalingConfig {
    fn from(v: ControlPlaneScalingConfig) -> Self {
        types::ControlPlaneScalingConfig::builder()
            .set_tier(v.tier)
            .build()
    }
}

/// `kubeApiServerConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeApiServerConfigRequest {
    pub event_ttl: Option<String>,
    pub service_node_port_range: Option<ServiceNodePortRange>,
}

impl From<KubeApiServerConfigRequest> for types::KubeApiServerConfigRequest {
    fn from(v: KubeApiServerConfigRequest) -> Self {
        types::KubeApiServerConfigRequest::builder()
            .set_event_ttl(v.event_ttl)
            .set_service_node_port_range(v.service_node_port_range.map(Into::into))
            .build()
    }
}

/// `kubeApiServerConfig.serviceNodePortRange`. The SDK sends a port of 0 as absent.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceNodePortRange {
    pub min_port: Option<i32>,
    pub max_port: Option<i32>,
}

impl From<ServiceNodePortRange> for types::ServiceNodePortRange {
    fn from(v: ServiceNodePortRange) -> Self {
        types::ServiceNodePortRange::builder()
            .set_min_port(v.min_port)
            .set_max_port(v.max_port)
            .build()
    }
}

/// `kubeSchedulerConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeSchedulerConfigRequest {
    pub node_resources_fit: Option<NodeResourcesFitConfig>,
}

impl From<KubeSchedulerConfigRequest> for types::KubeSchedulerConfigRequest {
    fn from(v: KubeSchedulerConfigRequest) -> Self {
        types::KubeSchedulerConfigRequest::builder()
            .set_node_resources_fit(v.node_resources_fit.map(Into::into))
            .build()
    }
}

/// `kubeSchedulerConfig.nodeResourcesFit`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeResourcesFitConfig {
    pub scoring_strategy: Option<ScoringStrategy>,
}

impl From<NodeResourcesFitConfig> for types::NodeResourcesFitConfig {
    fn from(v: NodeResourcesFitConfig) -> Self {
        types::NodeResourcesFitConfig::builder()
            .set_scoring_strategy(v.scoring_strategy.map(Into::into))
            .build()
    }
}

/// `...nodeResourcesFit.scoringStrategy`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScoringStrategy {
    #[serde(default, deserialize_with = "checked::option")]
    pub r#type: Option<types::ScoringStrategyType>,
    pub resources: Option<Vec<ResourceWeight>>,
}

impl From<ScoringStrategy> for types::ScoringStrategy {
    fn from(v: ScoringStrategy) -> Self {
        types::ScoringStrategy::builder()
            .set_type(v.r#type)
            .set_resources(sdk_list(v.resources))
            .build()
    }
}

/// `...scoringStrategy.resources[]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceWeight {
    pub name: Option<String>,
    pub weight: Option<i32>,
}

impl From<ResourceWeight> for types::ResourceWeight {
    fn from(v: ResourceWeight) -> Self {
        types::ResourceWeight::builder()
            .set_name(v.name)
            .set_weight(v.weight)
            .build()
    }
}

/// `kubeControllerManagerConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeControllerManagerConfigRequest {
    pub pod_gc_controller_config: Option<PodGcControllerConfigRequest>,
    pub horizontal_pod_autoscaler_controller_config:
        Option<HorizontalPodAutoscalerControllerConfigRequest>,
}

impl From<KubeControllerManagerConfigRequest> for types::KubeControllerManagerConfigRequest {
    fn from(v: KubeControllerManagerConfigRequest) -> Self {
        types::KubeControllerManagerConfigRequest::builder()
            .set_pod_gc_controller_config(v.pod_gc_controller_config.map(Into::into))
            .set_horizontal_pod_autoscaler_controller_config(
                v.horizontal_pod_autoscaler_controller_config
                    .map(Into::into),
            )
            .build()
    }
}

/// `kubeControllerManagerConfig.podGcControllerConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodGcControllerConfigRequest {
    pub terminated_pod_gc_threshold: Option<i32>,
}

impl From<PodGcControllerConfigRequest> for types::PodGcControllerConfigRequest {
    fn from(v: PodGcControllerConfigRequest) -> Self {
        types::PodGcControllerConfigRequest::builder()
            .set_terminated_pod_gc_threshold(v.terminated_pod_gc_threshold)
            .build()
    }
}

/// `kubeControllerManagerConfig.horizontalPodAutoscalerControllerConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerControllerConfigRequest {
    pub horizontal_pod_autoscaler_sync_period: Option<String>,
}

impl From<HorizontalPodAutoscalerControllerConfigRequest>
    for types::HorizontalPodAutoscalerControllerConfigRequest
{
    fn from(v: HorizontalPodAutoscalerControllerConfigRequest) -> Self {
        types::HorizontalPodAutoscalerControllerConfigRequest::builder()
            .set_horizontal_pod_autoscaler_sync_period(v.horizontal_pod_autoscaler_sync_period)
            .build()
    }
}

// ---------------------------------------------------------------------------------------------
// CreateNodegroup

/// The CreateNodegroup request. `clusterName` travels in the URL path, not the body, but is a
/// member of the request like the rest. Every field is optional here; the binary fills the
/// required ones from its flags.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateNodegroupRequest {
    pub cluster_name: Option<String>,
    pub nodegroup_name: Option<String>,
    pub scaling_config: Option<NodegroupScalingConfig>,
    pub disk_size: Option<i32>,
    pub subnets: Option<Vec<String>>,
    pub instance_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "checked::option")]
    pub ami_type: Option<types::AmiTypes>,
    pub remote_access: Option<RemoteAccessConfig>,
    pub node_role: Option<String>,
    pub labels: Option<HashMap<String, String>>,
    pub taints: Option<Vec<Taint>>,
    pub tags: Option<HashMap<String, String>>,
    pub client_request_token: Option<String>,
    pub launch_template: Option<LaunchTemplateSpecification>,
    pub update_config: Option<NodegroupUpdateConfig>,
    pub node_repair_config: Option<NodeRepairConfig>,
    #[serde(default, deserialize_with = "checked::option")]
    pub capacity_type: Option<types::CapacityTypes>,
    pub version: Option<String>,
    pub release_version: Option<String>,
    pub warm_pool_config: Option<WarmPoolConfig>,
}

impl CreateNodegroupRequest {
    /// Sets every present field on `builder`; absent fields leave the builder as it was.
    /// Nothing here can fail today; the `Result` keeps the three requests alike.
    pub fn apply(
        self,
        builder: CreateNodegroupFluentBuilder,
    ) -> Result<CreateNodegroupFluentBuilder, KwargsError> {
        type B = CreateNodegroupFluentBuilder;
        let b = builder;
        let b = set_if(b, self.cluster_name, B::set_cluster_name);
        let b = set_if(b, self.nodegroup_name, B::set_nodegroup_name);
        let b = set_if(
            b,
            self.scaling_config.map(Into::into),
            B::set_scaling_config,
        );
        let b = set_if(b, self.disk_size, B::set_disk_size);
        let b = set_if(b, self.subnets, B::set_subnets);
        let b = set_if(b, self.instance_types, B::set_instance_types);
        let b = set_if(b, self.ami_type, B::set_ami_type);
        let b = set_if(b, self.remote_access.map(Into::into), B::set_remote_access);
        let b = set_if(b, self.node_role, B::set_node_role);
        let b = set_if(b, self.labels, B::set_labels);
        let b = set_if(b, sdk_list(self.taints), B::set_taints);
        let b = set_if(b, self.tags, B::set_tags);
        let b = set_if(b, self.client_request_token, B::set_client_request_token);
        let b = set_if(
            b,
            self.launch_template.map(Into::into),
            B::set_launch_template,
        );
        let b = set_if(b, self.update_config.map(Into::into), B::set_update_config);
        let b = set_if(
            b,
            self.node_repair_config.map(Into::into),
            B::set_node_repair_config,
        );
        let b = set_if(b, self.capacity_type, B::set_capacity_type);
        let b = set_if(b, self.version, B::set_version);
        let b = set_if(b, self.release_version, B::set_release_version);
        Ok(set_if(
            b,
            self.warm_pool_config.map(Into::into),
            B::set_warm_pool_config,
        ))
    }
}

/// `scalingConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodegroupScalingConfig {
    pub min_size: Option<i32>,
    pub max_size: Option<i32>,
    pub desired_size: Option<i32>,
}

impl From<NodegroupScalingConfig> for types::NodegroupScalingConfig {
    fn from(v: NodegroupScalingConfig) -> Self {
        types::NodegroupScalingConfig::builder()
            .set_min_size(v.min_size)
            .set_max_size(v.max_size)
            .set_desired_size(v.desired_size)
            .build()
    }
}

/// `remoteAccess`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoteAccessConfig {
    pub ec2_ssh_key: Option<String>,
    pub source_security_groups: Option<Vec<String>>,
}

impl From<RemoteAccessConfig> for types::RemoteAccessConfig {
    fn from(v: RemoteAccessConfig) -> Self {
        types::RemoteAccessConfig::builder()
            .set_ec2_ssh_key(v.ec2_ssh_key)
            .set_source_security_groups(v.source_security_groups)
            .build()
    }
}

/// `taints[]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Taint {
    pub key: Option<String>,
    pub value: Option<String>,
    #[serde(default, deserialize_with = "checked::option")]
    pub effect: Option<types::TaintEffect>,
}

impl From<Taint> for types::Taint {
    fn from(v: Taint) -> Self {
        types::Taint::builder()
            .set_key(v.key)
            .set_value(v.value)
            .set_effect(v.effect)
            .build()
    }
}

/// `launchTemplate`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LaunchTemplateSpecification {
    pub name: Option<String>,
    pub version: Option<String>,
    pub id: Option<String>,
}

impl From<LaunchTemplateSpecification> for types::LaunchTemplateSpecification {
    fn from(v: LaunchTemplateSpecification) -> Self {
        types::LaunchTemplateSpecification::builder()
            .set_name(v.name)
            .set_version(v.version)
            .set_id(v.id)
            .build()
    }
}

/// `updateConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodegroupUpdateConfig {
    pub max_unavailable: Option<i32>,
    pub max_unavailable_percentage: Option<i32>,
    #[serde(default, deserialize_with = "checked::option")]
    pub update_strategy: Option<types::NodegroupUpdateStrategies>,
}

impl From<NodegroupUpdateConfig> for types::NodegroupUpdateConfig {
    fn from(v: NodegroupUpdateConfig) -> Self {
        types::NodegroupUpdateConfig::builder()
            .set_max_unavailable(v.max_unavailable)
            .set_max_unavailable_percentage(v.max_unavailable_percentage)
            .set_update_strategy(v.update_strategy)
            .build()
    }
}

/// `nodeRepairConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeRepairConfig {
    pub enabled: Option<bool>,
    pub max_unhealthy_node_threshold_count: Option<i32>,
    pub max_unhealthy_node_threshold_percentage: Option<i32>,
    pub max_parallel_nodes_repaired_count: Option<i32>,
    pub max_parallel_nodes_repaired_percentage: Option<i32>,
    pub node_repair_config_overrides: Option<Vec<NodeRepairConfigOverrides>>,
}

impl From<NodeRepairConfig> for types::NodeRepairConfig {
    fn from(v: NodeRepairConfig) -> Self {
        types::NodeRepairConfig::builder()
            .set_enabled(v.enabled)
            .set_max_unhealthy_node_threshold_count(v.max_unhealthy_node_threshold_count)
            .set_max_unhealthy_node_threshold_percentage(v.max_unhealthy_node_threshold_percentage)
            .set_max_parallel_nodes_repaired_count(v.max_parallel_nodes_repaired_count)
            .set_max_parallel_nodes_repaired_percentage(v.max_parallel_nodes_repaired_percentage)
            .set_node_repair_config_overrides(sdk_list(v.node_repair_config_overrides))
            .build()
    }
}

/// `nodeRepairConfig.nodeRepairConfigOverrides[]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeRepairConfigOverrides {
    pub node_monitoring_condition: Option<String>,
    pub node_unhealthy_reason: Option<String>,
    pub min_repair_wait_time_mins: Option<i32>,
    #[serde(default, deserialize_with = "checked::option")]
    pub repair_action: Option<types::RepairAction>,
}

impl From<NodeRepairConfigOverrides> for types::NodeRepairConfigOverrides {
    fn from(v: NodeRepairConfigOverrides) -> Self {
        types::NodeRepairConfigOverrides::builder()
            .set_node_monitoring_condition(v.node_monitoring_condition)
            .set_node_unhealthy_reason(v.node_unhealthy_reason)
            .set_min_repair_wait_time_mins(v.min_repair_wait_time_mins)
            .set_repair_action(v.repair_action)
            .build()
    }
}

/// `warmPoolConfig`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WarmPoolConfig {
    pub enabled: Option<bool>,
    pub min_size: Option<i32>,
    pub max_group_prepared_capacity: Option<i32>,
    #[serde(default, deserialize_with = "checked::option")]
    pub pool_state: Option<types::WarmPoolState>,
    pub reuse_on_scale_in: Option<bool>,
}

impl From<WarmPoolConfig> for types::WarmPoolConfig {
    fn from(v: WarmPoolConfig) -> Self {
        types::WarmPoolConfig::builder()
            .set_enabled(v.enabled)
            .set_min_size(v.min_size)
            .set_max_group_prepared_capacity(v.max_group_prepared_capacity)
            .set_pool_state(v.pool_state)
            .set_reuse_on_scale_in(v.reuse_on_scale_in)
            .build()
    }
}

// ---------------------------------------------------------------------------------------------
// CreateFargateProfile

/// The CreateFargateProfile request (`clusterName` travels in the URL path). Every field is
/// optional here; the binary fills the required ones from its flags.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateFargateProfileRequest {
    pub fargate_profile_name: Option<String>,
    pub cluster_name: Option<String>,
    pub pod_execution_role_arn: Option<String>,
    pub subnets: Option<Vec<String>>,
    pub selectors: Option<Vec<FargateProfileSelector>>,
    pub client_request_token: Option<String>,
    pub tags: Option<HashMap<String, String>>,
}

impl CreateFargateProfileRequest {
    /// Sets every present field on `builder`; absent fields leave the builder as it was.
    /// Nothing here can fail today; the `Result` keeps the three requests alike.
    pub fn apply(
        self,
        builder: CreateFargateProfileFluentBuilder,
    ) -> Result<CreateFargateProfileFluentBuilder, KwargsError> {
        type B = CreateFargateProfileFluentBuilder;
        let b = builder;
        let b = set_if(b, self.fargate_profile_name, B::set_fargate_profile_name);
        let b = set_if(b, self.cluster_name, B::set_cluster_name);
        let b = set_if(
            b,
            self.pod_execution_role_arn,
            B::set_pod_execution_role_arn,
        );
        let b = set_if(b, self.subnets, B::set_subnets);
        let b = set_if(b, sdk_list(self.selectors), B::set_selectors);
        let b = set_if(b, self.client_request_token, B::set_client_request_token);
        Ok(set_if(b, self.tags, B::set_tags))
    }
}

/// `selectors[]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FargateProfileSelector {
    pub namespace: Option<String>,
    pub labels: Option<HashMap<String, String>>,
}

impl From<FargateProfileSelector> for types::FargateProfileSelector {
    fn from(v: FargateProfileSelector) -> Self {
        types::FargateProfileSelector::builder()
            .set_namespace(v.namespace)
            .set_labels(v.labels)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_eks::Client;
    use aws_sdk_eks::config::interceptors::BeforeTransmitInterceptorContextRef;
    use aws_sdk_eks::config::{ConfigBag, Intercept, RuntimeComponents};
    use aws_sdk_eks::error::BoxError;
    use aws_sdk_eks::operation::create_cluster::CreateClusterOutput;
    use aws_sdk_eks::operation::create_fargate_profile::CreateFargateProfileOutput;
    use aws_sdk_eks::operation::create_nodegroup::CreateNodegroupOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::{Value, json};

    use super::*;

    const CLUSTER_FULL: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/kwargs/create-cluster-full.json"
    ));
    const NODEGROUP_FULL: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/kwargs/create-nodegroup-full.json"
    ));
    const FARGATE_FULL: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/kwargs/create-fargate-profile-full.json"
    ));

    const CLUSTER_FLAG: &str = "--create-cluster-kwargs";
    const NODEGROUP_FLAG: &str = "--create-nodegroup-kwargs";
    const FARGATE_FLAG: &str = "--create-fargate-profile-kwargs";

    /// The URI and body of the one request the SDK put on the wire.
    #[derive(Debug, Clone, Default)]
    struct CapturedRequest(Arc<Mutex<Option<WireRequest>>>);

    #[derive(Debug)]
    struct WireRequest {
        uri: String,
        body: Vec<u8>,
    }

    impl Intercept for CapturedRequest {
        fn name(&self) -> &'static str {
            "CapturedRequest"
        }

        fn read_before_transmit(
            &self,
            context: &BeforeTransmitInterceptorContextRef<'_>,
            _runtime_components: &RuntimeComponents,
            _cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let request = context.request();
            let body = request.body().bytes().ok_or("streaming body")?.to_vec();
            let uri = request.uri().to_owned();
            *self.0.lock().map_err(|_| "poisoned")? = Some(WireRequest { uri, body });
            Ok(())
        }
    }

    impl CapturedRequest {
        /// The path of the URI and the body as JSON.
        fn take(&self) -> (String, Value) {
            let WireRequest { uri, body } = self
                .0
                .lock()
                .expect("capture lock")
                .take()
                .expect("the SDK sent a request");
            let path = uri
                .split_once("amazonaws.com")
                .map_or(uri.clone(), |(_, p)| p.to_owned());
            let body = serde_json::from_slice(&body).expect("the body is JSON");
            (path, body)
        }
    }

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn message(err: KwargsError) -> String {
        let s = err.to_string();
        assert!(!s.contains('\n'), "one line: {s}");
        s
    }

    // --- every field of the full fixtures reaches the wire unchanged ---

    #[tokio::test]
    async fn full_create_cluster_body_is_the_input() {
        let capture = CapturedRequest::default();
        let rule =
            mock!(Client::create_cluster).then_output(|| CreateClusterOutput::builder().build());
        let client = mock_client!(aws_sdk_eks, RuleMode::Sequential, [&rule], |c| c
            .interceptor(capture.clone()));

        let request =
            parse_create_cluster(CLUSTER_FLAG, CLUSTER_FULL).expect("full fixture parses");
        let builder = request.apply(client.create_cluster()).expect("applies");
        builder.send().await.expect("mocked call succeeds");

        let (path, body) = capture.take();
        assert_eq!(path, "/clusters");
        assert_eq!(body, fixture(CLUSTER_FULL));
    }

    #[tokio::test]
    async fn full_create_nodegroup_body_is_the_input() {
        let capture = CapturedRequest::default();
        let rule = mock!(Client::create_nodegroup)
            .then_output(|| CreateNodegroupOutput::builder().build());
        let client = mock_client!(aws_sdk_eks, RuleMode::Sequential, [&rule], |c| c
            .interceptor(capture.clone()));

        let request =
            parse_create_nodegroup(NODEGROUP_FLAG, NODEGROUP_FULL).expect("full fixture parses");
        request
            .apply(client.create_nodegroup())
            .expect("applies")
            .send()
            .await
            .expect("mocked call succeeds");

        let (path, body) = capture.take();
        let mut expected = fixture(NODEGROUP_FULL);
        let cluster = expected
            .as_object_mut()
            .and_then(|o| o.remove("clusterName"));
        assert_eq!(cluster, Some(json!("demo")));
        assert_eq!(path, "/clusters/demo/node-groups");
        assert_eq!(body, expected);
    }

    #[tokio::test]
    async fn full_create_fargate_profile_body_is_the_input() {
        let capture = CapturedRequest::default();
        let rule = mock!(Client::create_fargate_profile)
            .then_output(|| CreateFargateProfileOutput::builder().build());
        let client = mock_client!(aws_sdk_eks, RuleMode::Sequential, [&rule], |c| c
            .interceptor(capture.clone()));

        let request =
            parse_create_fargate_profile(FARGATE_FLAG, FARGATE_FULL).expect("full fixture parses");
        request
            .apply(client.create_fargate_profile())
            .expect("applies")
            .send()
            .await
            .expect("mocked call succeeds");

        let (path, body) = capture.take();
        let mut expected = fixture(FARGATE_FULL);
        let cluster = expected
            .as_object_mut()
            .and_then(|o| o.remove("clusterName"));
        assert_eq!(cluster, Some(json!("demo")));
        assert_eq!(path, "/clusters/demo/fargate-profiles");
        assert_eq!(body, expected);
    }

    #[tokio::test]
    async fn sdk_generates_the_token_when_none_is_given() {
        let capture = CapturedRequest::default();
        let rule =
            mock!(Client::create_cluster).then_output(|| CreateClusterOutput::builder().build());
        let client = mock_client!(aws_sdk_eks, RuleMode::Sequential, [&rule], |c| c
            .interceptor(capture.clone()));

        let request =
            parse_create_cluster(CLUSTER_FLAG, r#"{"name": "demo", "tags": {}}"#).expect("parses");
        request
            .apply(client.create_cluster())
            .expect("applies")
            .send()
            .await
            .expect("sent");

        let (_, mut body) = capture.take();
        let token = body
            .as_object_mut()
            .and_then(|o| o.remove("clientRequestToken"));
        assert!(token.is_some_and(|t| t.as_str().is_some_and(|t| !t.is_empty())));
        assert_eq!(body, json!({"name": "demo", "tags": {}}));
    }

    // --- the full fixtures leave no member of the SDK's inputs unset ---

    /// The SDK input builders' Debug shows every member, nested ones included, so a `None`
    /// there is a field that the fixture (or our mapping) misses.
    fn assert_no_member_unset(debug: &str) {
        assert!(!debug.contains("None"), "a member is unset: {debug}");
    }

    #[test]
    fn full_create_cluster_sets_every_sdk_member() {
        let client = mock_client!(aws_sdk_eks, []);
        let request = parse_create_cluster(CLUSTER_FLAG, CLUSTER_FULL).expect("parses");
        let builder = request.apply(client.create_cluster()).expect("applies");
        assert_no_member_unset(&format!("{:?}", builder.as_input()));
    }

    #[test]
    fn full_create_nodegroup_sets_every_sdk_member() {
        let client = mock_client!(aws_sdk_eks, []);
        let request = parse_create_nodegroup(NODEGROUP_FLAG, NODEGROUP_FULL).expect("parses");
        let builder = request.apply(client.create_nodegroup()).expect("applies");
        assert_no_member_unset(&format!("{:?}", builder.as_input()));
    }

    #[test]
    fn full_create_fargate_profile_sets_every_sdk_member() {
        let client = mock_client!(aws_sdk_eks, []);
        let request = parse_create_fargate_profile(FARGATE_FLAG, FARGATE_FULL).expect("parses");
        let builder = request
            .apply(client.create_fargate_profile())
            .expect("applies");
        assert_no_member_unset(&format!("{:?}", builder.as_input()));
    }

    #[test]
    fn apply_keeps_what_the_builder_already_has() {
        let client = mock_client!(aws_sdk_eks, []);
        let request = parse_create_cluster(CLUSTER_FLAG, r#"{"version": "1.33"}"#).expect("parses");
        let builder = request
            .apply(client.create_cluster().name("from-flag"))
            .expect("applies");
        assert_eq!(builder.get_name().as_deref(), Some("from-flag"));
        assert_eq!(builder.get_version().as_deref(), Some("1.33"));
    }

    // --- strictness ---

    #[test]
    fn unknown_top_level_field_is_named() {
        let err = parse_create_cluster(CLUSTER_FLAG, r#"{"name": "x", "nmae": "y"}"#)
            .expect_err("unknown");
        let msg = message(err);
        assert!(
            msg.starts_with(
                "--create-cluster-kwargs: unknown field `nmae`, expected one of `name`, `version`"
            ),
            "{msg}"
        );
    }

    #[test]
    fn unknown_nested_field_is_named_with_its_path() {
        let err = parse_create_nodegroup(
            NODEGROUP_FLAG,
            r#"{"scalingConfig": {"minSize": 1, "maxsize": 3}}"#,
        )
        .expect_err("unknown");
        assert_eq!(
            message(err),
            "--create-nodegroup-kwargs: scalingConfig: unknown field `maxsize`, expected one of `minSize`, `maxSize`, `desiredSize`"
        );
        let err = parse_create_cluster(
            CLUSTER_FLAG,
            r#"{"kubeSchedulerConfig": {"nodeResourcesFit": {"scoringStrategy": {"resources": [{"name": "cpu", "wieght": 1}]}}}}"#,
        )
        .expect_err("unknown");
        assert_eq!(
            message(err),
            "--create-cluster-kwargs: kubeSchedulerConfig.nodeResourcesFit.scoringStrategy.resources[0]: unknown field `wieght`, expected `name` or `weight`"
        );
    }

    #[test]
    fn snake_case_names_are_unknown() {
        let err =
            parse_create_nodegroup(NODEGROUP_FLAG, r#"{"remoteAccess": {"ec2_ssh_key": "k"}}"#)
                .expect_err("snake_case");
        assert!(
            message(err)
                .contains("remoteAccess: unknown field `ec2_ssh_key`, expected `ec2SshKey` or")
        );
    }

    #[test]
    fn wrong_type_names_the_path() {
        let err = parse_create_cluster(
            CLUSTER_FLAG,
            r#"{"resourcesVpcConfig": {"subnetIds": ["subnet-1", 3]}}"#,
        )
        .expect_err("wrong type");
        assert_eq!(
            message(err),
            "--create-cluster-kwargs: resourcesVpcConfig.subnetIds[1]: invalid type: integer `3`, expected a string"
        );
        let err = parse_create_nodegroup(NODEGROUP_FLAG, r#"{"diskSize": "20"}"#)
            .expect_err("wrong type");
        assert_eq!(
            message(err),
            "--create-nodegroup-kwargs: diskSize: invalid type: string \"20\", expected i32"
        );
        let err = parse_create_nodegroup(NODEGROUP_FLAG, r#"{"diskSize": 3000000000}"#)
            .expect_err("overflow");
        assert!(
            message(err).contains("diskSize: invalid value: integer `3000000000`, expected i32")
        );
        let err = parse_create_fargate_profile(FARGATE_FLAG, r#"{"tags": {"team": 1}}"#)
            .expect_err("map value");
        assert!(
            message(err).starts_with(
                "--create-fargate-profile-kwargs: tags.team: invalid type: integer `1`"
            )
        );
    }

    #[test]
    fn bad_enum_value_lists_the_allowed_ones() {
        let err = parse_create_nodegroup(
            NODEGROUP_FLAG,
            r#"{"taints": [{"key": "k", "effect": "NoSchedule"}]}"#,
        )
        .expect_err("bad enum");
        assert_eq!(
            message(err),
            "--create-nodegroup-kwargs: taints[0].effect: unknown value `NoSchedule`, expected one of `NO_EXECUTE`, `NO_SCHEDULE`, `PREFER_NO_SCHEDULE`"
        );
        let err = parse_create_cluster(
            CLUSTER_FLAG,
            r#"{"logging": {"clusterLogging": [{"types": ["api", "controller-manager"]}]}}"#,
        )
        .expect_err("bad enum in a list");
        assert_eq!(
            message(err),
            "--create-cluster-kwargs: logging.clusterLogging[0].types[1]: unknown value `controller-manager`, expected one of `api`, `audit`, `authenticator`, `controllerManager`, `scheduler`"
        );
        let err =
            parse_create_nodegroup(NODEGROUP_FLAG, r#"{"amiType": 2023}"#).expect_err("enum type");
        assert_eq!(
            message(err),
            "--create-nodegroup-kwargs: amiType: invalid type: integer `2023`, expected a string"
        );
    }

    #[test]
    fn every_checked_enum_accepts_each_sdk_value() {
        fn all<T: SdkEnum + std::fmt::Debug>() {
            for value in T::allowed() {
                let parsed: Checked<T> =
                    serde_json::from_value(json!(value)).expect("allowed value");
                assert!(!format!("{:?}", parsed.0).starts_with("Unknown"), "{value}");
            }
        }
        all::<types::AmiTypes>();
        all::<types::LogType>();
        all::<types::ProvisionedControlPlaneTier>();
    }

    #[test]
    fn outpost_config_requires_what_the_api_requires() {
        let err = parse_create_cluster(
            CLUSTER_FLAG,
            r#"{"outpostConfig": {"outpostArns": ["arn:x"]}}"#,
        )
        .expect_err("missing member");
        assert_eq!(
            message(err),
            "--create-cluster-kwargs: outpostConfig: missing field `controlPlaneInstanceType`"
        );
    }

    #[test]
    fn top_level_must_be_an_object() {
        for (json, found) in [
            ("[]", "an array"),
            ("\"x\"", "a string"),
            ("3", "a number"),
            ("null", "null"),
        ] {
            let err = parse_create_cluster(CLUSTER_FLAG, json).expect_err("not an object");
            assert_eq!(
                message(err),
                format!("--create-cluster-kwargs: expected a JSON object, found {found}")
            );
        }
    }

    #[test]
    fn invalid_json_says_so() {
        let err =
            parse_create_nodegroup(NODEGROUP_FLAG, r#"{"diskSize": 20"#).expect_err("invalid");
        let msg = message(err);
        assert!(
            msg.starts_with("--create-nodegroup-kwargs: not valid JSON: EOF"),
            "{msg}"
        );
        let err =
            parse_create_nodegroup(NODEGROUP_FLAG, "{'diskSize': 20}").expect_err("python dict");
        assert!(message(err).contains("looks like Python, not JSON"));
        let err = parse_create_nodegroup(NODEGROUP_FLAG, "").expect_err("empty");
        assert!(message(err).starts_with("--create-nodegroup-kwargs: not valid JSON"));
    }

    #[test]
    fn parse_json_takes_any_shape_as_strictly() {
        let taints: Vec<Taint> =
            parse_json("--taints", r#"[{"key": "k", "effect": "NO_EXECUTE"}]"#).expect("parses");
        assert_eq!(taints[0].effect, Some(types::TaintEffect::NoExecute));
        let err =
            parse_json::<Vec<Taint>>("--taints", r#"[{"key": "k"}, {"efect": "NO_EXECUTE"}]"#)
                .expect_err("unknown field");
        assert!(message(err).starts_with("--taints: [1]: unknown field `efect`, expected one of"),);
        let err = parse_json::<Vec<Taint>>("--taints", "[{'key': 'k'}]").expect_err("python");
        assert!(message(err).contains("looks like Python, not JSON"));
    }

    #[test]
    fn empty_object_is_an_empty_request() {
        let request = parse_create_fargate_profile(FARGATE_FLAG, " {} ").expect("parses");
        assert_eq!(request, CreateFargateProfileRequest::default());
    }

    // --- flags ---

    #[test]
    fn fill_from_flag_fills_or_refuses() {
        let mut request = CreateClusterRequest::default();
        fill_from_flag(
            &mut request.name,
            "name",
            Some("a".to_owned()),
            "--cluster-name",
            CLUSTER_FLAG,
        )
        .expect("fills");
        assert_eq!(request.name.as_deref(), Some("a"));
        fill_from_flag(
            &mut request.name,
            "name",
            None,
            "--cluster-name",
            CLUSTER_FLAG,
        )
        .expect("nothing to do");
        let err = fill_from_flag(
            &mut request.name,
            "name",
            Some("b".to_owned()),
            "--cluster-name",
            CLUSTER_FLAG,
        )
        .expect_err("conflict");
        assert_eq!(
            message(err),
            "`name` is set both by --cluster-name and in --create-cluster-kwargs; give it in one place"
        );
        assert_eq!(request.name.as_deref(), Some("a"));
    }

    #[test]
    fn read_json_arg_reads_at_files() {
        assert_eq!(read_json_arg(CLUSTER_FLAG, "{}").expect("inline"), "{}");
        let path =
            std::env::temp_dir().join(format!("eks-core-kwargs-{}.json", std::process::id()));
        std::fs::write(&path, "{\"version\": \"1.33\"}").expect("write temp file");
        let read = read_json_arg(CLUSTER_FLAG, &format!("@{}", path.display()));
        std::fs::remove_file(&path).expect("remove temp file");
        assert_eq!(read.expect("reads the file"), "{\"version\": \"1.33\"}");
    }

    #[test]
    fn read_json_arg_names_flag_path_and_io_error() {
        let err = read_json_arg(CLUSTER_FLAG, "@missing-file.json").expect_err("missing");
        assert!(
            matches!(&err, KwargsError::ReadFile { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        let msg = message(err);
        assert!(
            msg.starts_with("--create-cluster-kwargs: cannot read \"missing-file.json\": "),
            "{msg}"
        );
    }

    #[test]
    fn string_list_forms() {
        let want = vec!["subnet-1".to_owned(), "subnet-2".to_owned()];
        for value in [
            r#"["subnet-1","subnet-2"]"#,
            r#" [ "subnet-1" , "subnet-2" ] "#,
            "['subnet-1', 'subnet-2']",
            "['subnet-1', \"subnet-2\",]",
            "subnet-1,subnet-2",
            " subnet-1 , subnet-2 ",
        ] {
            assert_eq!(
                parse_string_list("--subnets", value).expect(value),
                want,
                "{value}"
            );
        }
        assert_eq!(
            parse_string_list("--subnets", "subnet-1").expect("one"),
            vec!["subnet-1"]
        );
        assert!(
            parse_string_list("--subnets", "")
                .expect("empty")
                .is_empty()
        );
        assert!(
            parse_string_list("--subnets", "  ")
                .expect("blank")
                .is_empty()
        );
        assert!(
            parse_string_list("--subnets", "[]")
                .expect("empty JSON")
                .is_empty()
        );
        assert_eq!(
            parse_string_list("--subnets", r"['it\'s', 'a\\b']").expect("escapes"),
            vec!["it's", r"a\b"]
        );
    }

    #[test]
    fn string_list_bad_forms_name_the_flag() {
        for (value, reason) in [
            ("[1, 2]", "expected a quoted string, found `1`"),
            ("['a' 'b']", "expected `,` or `]`, found `'`"),
            ("['a'", "missing `]`"),
            ("['a", "unterminated string"),
            ("['a'] x", "unexpected `x` after `]`"),
            ("[,]", "expected a quoted string, found `,`"),
            ("a,,b", "item 2 is empty"),
            ("a,", "item 2 is empty"),
            ("'a','b'", "unexpected '\\'' in `'a'`"),
            ("subnet 1", "unexpected ' ' in `subnet 1`"),
        ] {
            let err = parse_string_list("--subnets", value).expect_err(value);
            let msg = message(err);
            assert!(
                msg.starts_with(&format!(
                    "--subnets: cannot read {value:?} as a list: {reason}; give a JSON list"
                )),
                "{value}: {msg}"
            );
        }
    }
}
