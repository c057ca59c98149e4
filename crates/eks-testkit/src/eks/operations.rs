//! The EKS operations the fake implements: routing by method and path, request validation
//! with EKS's error types and messages, and the state change each operation makes.

use serde_json::{Map, Value, json};

use super::model::{ACTIVE, CREATING, Clock, DELETING, State};
use super::wire::{ApiError, decode_next_token, encode_next_token, percent_decode};

const MAX_CLUSTER_NAME: usize = 100;
const MAX_CHILD_NAME: usize = 63;
const MAX_FARGATE_SELECTORS: usize = 5;
const MAX_PAGE_SIZE: usize = 100;

/// One request, identified by method and (decoded) path parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Route {
    CreateCluster,
    ListClusters,
    DescribeCluster(String),
    DeleteCluster(String),
    CreateNodegroup(String),
    ListNodegroups(String),
    DescribeNodegroup(String, String),
    DeleteNodegroup(String, String),
    CreateFargateProfile(String),
    ListFargateProfiles(String),
    DescribeFargateProfile(String, String),
    DeleteFargateProfile(String, String),
    Unknown { method: String, path: String },
}

impl Route {
    pub(super) fn parse(method: &str, path: &str) -> Self {
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        if segments.iter().any(String::is_empty) {
            return Self::unknown(method, path);
        }
        let owned = |s: &str| s.to_owned();
        match (
            method,
            segments
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
        ) {
            ("POST", ["clusters"]) => Self::CreateCluster,
            ("GET", ["clusters"]) => Self::ListClusters,
            ("GET", ["clusters", c]) => Self::DescribeCluster(owned(c)),
            ("DELETE", ["clusters", c]) => Self::DeleteCluster(owned(c)),
            ("POST", ["clusters", c, "node-groups"]) => Self::CreateNodegroup(owned(c)),
            ("GET", ["clusters", c, "node-groups"]) => Self::ListNodegroups(owned(c)),
            ("GET", ["clusters", c, "node-groups", ng]) => {
                Self::DescribeNodegroup(owned(c), owned(ng))
            }
            ("DELETE", ["clusters", c, "node-groups", ng]) => {
                Self::DeleteNodegroup(owned(c), owned(ng))
            }
            ("POST", ["clusters", c, "fargate-profiles"]) => Self::CreateFargateProfile(owned(c)),
            ("GET", ["clusters", c, "fargate-profiles"]) => Self::ListFargateProfiles(owned(c)),
            ("GET", ["clusters", c, "fargate-profiles", fp]) => {
                Self::DescribeFargateProfile(owned(c), owned(fp))
            }
            ("DELETE", ["clusters", c, "fargate-profiles", fp]) => {
                Self::DeleteFargateProfile(owned(c), owned(fp))
            }
            _ => Self::unknown(method, path),
        }
    }

    fn unknown(method: &str, path: &str) -> Self {
        Self::Unknown {
            method: method.to_owned(),
            path: path.to_owned(),
        }
    }

    /// The EKS operation name, as in the API reference and CloudTrail.
    pub(super) fn operation(&self) -> &'static str {
        match self {
            Self::CreateCluster => "CreateCluster",
            Self::ListClusters => "ListClusters",
            Self::DescribeCluster(_) => "DescribeCluster",
            Self::DeleteCluster(_) => "DeleteCluster",
            Self::CreateNodegroup(_) => "CreateNodegroup",
            Self::ListNodegroups(_) => "ListNodegroups",
            Self::DescribeNodegroup(..) => "DescribeNodegroup",
            Self::DeleteNodegroup(..) => "DeleteNodegroup",
            Self::CreateFargateProfile(_) => "CreateFargateProfile",
            Self::ListFargateProfiles(_) => "ListFargateProfiles",
            Self::DescribeFargateProfile(..) => "DescribeFargateProfile",
            Self::DeleteFargateProfile(..) => "DeleteFargateProfile",
            Self::Unknown { .. } => "Unknown",
        }
    }
}

impl State {
    /// Runs one operation against already-settled state.
    pub(super) fn handle(
        &mut self,
        route: &Route,
        query: &[(String, String)],
        body: &[u8],
        clock: Clock,
    ) -> Result<Value, ApiError> {
        match route {
            Route::CreateCluster => self.create_cluster(parse_body(body)?, clock),
            Route::ListClusters => {
                let (names, next) = page(self.clusters.keys(), "clusters", query)?;
                Ok(list_response("clusters", names, next))
            }
            Route::DescribeCluster(name) => {
                let cluster = self
                    .clusters
                    .get(name)
                    .ok_or_else(|| cluster_not_found(name))?;
                Ok(json!({ "cluster": self.render_cluster(cluster) }))
            }
            Route::DeleteCluster(name) => self.delete_cluster(name, clock),
            Route::CreateNodegroup(cluster) => {
                let body = parse_body(body).map_err(|e| e.with("clusterName", cluster))?;
                self.create_nodegroup(cluster, body, clock)
            }
            Route::ListNodegroups(cluster) => {
                let found = self
                    .clusters
                    .get(cluster)
                    .ok_or_else(|| cluster_not_found(cluster))?;
                let list = format!("nodegroups/{cluster}");
                let (names, next) = page(found.nodegroups.keys(), &list, query)
                    .map_err(|e| e.with("clusterName", cluster))?;
                Ok(list_response("nodegroups", names, next))
            }
            Route::DescribeNodegroup(cluster, name) => {
                let found = self
                    .clusters
                    .get(cluster)
                    .ok_or_else(|| cluster_not_found(cluster))?;
                let nodegroup = found
                    .nodegroups
                    .get(name)
                    .ok_or_else(|| nodegroup_not_found(cluster, name))?;
                Ok(json!({ "nodegroup": nodegroup.render() }))
            }
            Route::DeleteNodegroup(cluster, name) => self.delete_nodegroup(cluster, name, clock),
            Route::CreateFargateProfile(cluster) => {
                let body = parse_body(body).map_err(|e| e.with("clusterName", cluster))?;
                self.create_fargate_profile(cluster, body, clock)
            }
            Route::ListFargateProfiles(cluster) => {
                let found = self
                    .clusters
                    .get(cluster)
                    .ok_or_else(|| cluster_not_found(cluster))?;
                let list = format!("fargate-profiles/{cluster}");
                let (names, next) = page(found.fargate_profiles.keys(), &list, query)
                    .map_err(|e| e.with("clusterName", cluster))?;
                Ok(list_response("fargateProfileNames", names, next))
            }
            Route::DescribeFargateProfile(cluster, name) => {
                let found = self
                    .clusters
                    .get(cluster)
                    .ok_or_else(|| cluster_not_found(cluster))?;
                let profile = found
                    .fargate_profiles
                    .get(name)
                    .ok_or_else(|| fargate_profile_not_found(cluster, name))?;
                Ok(json!({ "fargateProfile": profile.render() }))
            }
            Route::DeleteFargateProfile(cluster, name) => {
                self.delete_fargate_profile(cluster, name, clock)
            }
            Route::Unknown { method, path } => Err(ApiError::unknown_operation(method, path)),
        }
    }

    fn create_cluster(
        &mut self,
        body: Map<String, Value>,
        clock: Clock,
    ) -> Result<Value, ApiError> {
        let name = required_string(&body, "name")?;
        check_name("cluster", "name", &name, MAX_CLUSTER_NAME)
            .map_err(|e| e.with("clusterName", &name))?;
        let in_context = |e: ApiError| e.with("clusterName", &name);
        required_string(&body, "roleArn").map_err(in_context)?;
        let vpc = required_object(&body, "resourcesVpcConfig").map_err(in_context)?;
        optional_string_array(vpc, "resourcesVpcConfig.subnetIds", "subnetIds")
            .map_err(in_context)?;
        optional_string_array(
            vpc,
            "resourcesVpcConfig.securityGroupIds",
            "securityGroupIds",
        )
        .map_err(in_context)?;
        optional_string(&body, "version").map_err(in_context)?;
        optional_string_map(&body, "tags").map_err(in_context)?;
        if self.clusters.contains_key(&name) {
            return Err(
                ApiError::in_use(format!("Cluster already exists with name: {name}"))
                    .with("clusterName", &name),
            );
        }
        let cluster = self.new_cluster(&name, body, CREATING, clock);
        let rendered = self.render_cluster(&cluster);
        self.clusters.insert(name, cluster);
        Ok(json!({ "cluster": rendered }))
    }

    fn delete_cluster(&mut self, name: &str, clock: Clock) -> Result<Value, ApiError> {
        let cluster = self
            .clusters
            .get_mut(name)
            .ok_or_else(|| cluster_not_found(name))?;
        let in_use = |message: String| ApiError::in_use(message).with("clusterName", name);
        match cluster.life.status.as_str() {
            CREATING => {
                return Err(in_use(format!(
                    "Cluster {name} is currently in CREATING status; wait until it is ACTIVE or FAILED before deleting it."
                )));
            }
            DELETING => {
                return Err(in_use(format!("Cluster {name} is already being deleted.")));
            }
            _ => {}
        }
        if !cluster.nodegroups.is_empty() {
            return Err(in_use("Cluster has nodegroups attached".to_owned()));
        }
        if !cluster.fargate_profiles.is_empty() {
            return Err(in_use("Cluster has fargate profiles attached".to_owned()));
        }
        cluster.life.start_deleting(clock);
        let cluster = &self.clusters[name];
        Ok(json!({ "cluster": self.render_cluster(cluster) }))
    }

    fn create_nodegroup(
        &mut self,
        cluster_name: &str,
        body: Map<String, Value>,
        clock: Clock,
    ) -> Result<Value, ApiError> {
        let cluster_context = |e: ApiError| e.with("clusterName", cluster_name);
        let name = required_string(&body, "nodegroupName").map_err(cluster_context)?;
        let in_context = |e: ApiError| {
            e.with("clusterName", cluster_name)
                .with("nodegroupName", &name)
        };
        check_name("nodegroup", "nodegroupName", &name, MAX_CHILD_NAME).map_err(in_context)?;
        required_string_array(&body, "subnets").map_err(in_context)?;
        required_string(&body, "nodeRole").map_err(in_context)?;
        check_scaling_config(&body).map_err(in_context)?;
        optional_string_array(&body, "instanceTypes", "instanceTypes").map_err(in_context)?;
        optional_string(&body, "version").map_err(in_context)?;
        optional_string_map(&body, "labels").map_err(in_context)?;
        optional_string_map(&body, "tags").map_err(in_context)?;

        let cluster = self
            .clusters
            .get(cluster_name)
            .ok_or_else(|| cluster_not_found(cluster_name))?;
        if !cluster.life.is(ACTIVE) {
            return Err(not_active(cluster_name));
        }
        if cluster.nodegroups.contains_key(&name) {
            return Err(ApiError::in_use(format!(
                "NodeGroup already exists with name {name} and cluster name {cluster_name}"
            ))
            .with("clusterName", cluster_name)
            .with("nodegroupName", &name));
        }
        let version = cluster.version();
        let nodegroup = self.new_nodegroup(cluster_name, &version, &name, body, CREATING, clock);
        let rendered = nodegroup.render();
        if let Some(cluster) = self.clusters.get_mut(cluster_name) {
            cluster.nodegroups.insert(name, nodegroup);
        }
        Ok(json!({ "nodegroup": rendered }))
    }

    fn delete_nodegroup(
        &mut self,
        cluster_name: &str,
        name: &str,
        clock: Clock,
    ) -> Result<Value, ApiError> {
        let nodegroup = self
            .clusters
            .get_mut(cluster_name)
            .ok_or_else(|| cluster_not_found(cluster_name))?
            .nodegroups
            .get_mut(name)
            .ok_or_else(|| nodegroup_not_found(cluster_name, name))?;
        let in_use = |message: String| {
            ApiError::in_use(message)
                .with("clusterName", cluster_name)
                .with("nodegroupName", name)
        };
        match nodegroup.life.status.as_str() {
            CREATING => Err(in_use(format!(
                "Nodegroup {name} is currently in CREATING status; wait until it is ACTIVE or CREATE_FAILED before deleting it."
            ))),
            DELETING => Err(in_use(format!(
                "Nodegroup {name} is already being deleted."
            ))),
            _ => {
                nodegroup.life.start_deleting(clock);
                Ok(json!({ "nodegroup": nodegroup.render() }))
            }
        }
    }

    fn create_fargate_profile(
        &mut self,
        cluster_name: &str,
        body: Map<String, Value>,
        clock: Clock,
    ) -> Result<Value, ApiError> {
        let cluster_context = |e: ApiError| e.with("clusterName", cluster_name);
        let name = required_string(&body, "fargateProfileName").map_err(cluster_context)?;
        let in_context = |e: ApiError| {
            e.with("clusterName", cluster_name)
                .with("fargateProfileName", &name)
        };
        check_name(
            "Fargate profile",
            "fargateProfileName",
            &name,
            MAX_CHILD_NAME,
        )
        .map_err(in_context)?;
        required_string(&body, "podExecutionRoleArn").map_err(in_context)?;
        check_selectors(&body).map_err(in_context)?;
        optional_string_array(&body, "subnets", "subnets").map_err(in_context)?;
        optional_string_map(&body, "tags").map_err(in_context)?;

        let cluster = self
            .clusters
            .get(cluster_name)
            .ok_or_else(|| cluster_not_found(cluster_name))?;
        if !cluster.life.is(ACTIVE) {
            return Err(not_active(cluster_name));
        }
        if cluster.fargate_profiles.contains_key(&name) {
            return Err(ApiError::in_use(
                "A Fargate Profile already exists with this name in this cluster.",
            )
            .with("clusterName", cluster_name));
        }
        if let Some((busy, status)) = busy_fargate_profile(cluster) {
            return Err(ApiError::in_use(format!(
                "Cannot create Fargate Profile {name} because cluster {cluster_name} currently has Fargate profile {busy} in status {status}"
            ))
            .with("clusterName", cluster_name));
        }
        let subnets = cluster.subnet_ids();
        let profile = self.new_fargate_profile(cluster_name, subnets, &name, body, CREATING, clock);
        let rendered = profile.render();
        if let Some(cluster) = self.clusters.get_mut(cluster_name) {
            cluster.fargate_profiles.insert(name, profile);
        }
        Ok(json!({ "fargateProfile": rendered }))
    }

    fn delete_fargate_profile(
        &mut self,
        cluster_name: &str,
        name: &str,
        clock: Clock,
    ) -> Result<Value, ApiError> {
        let cluster = self
            .clusters
            .get_mut(cluster_name)
            .ok_or_else(|| cluster_not_found(cluster_name))?;
        if !cluster.fargate_profiles.contains_key(name) {
            return Err(fargate_profile_not_found(cluster_name, name));
        }
        // EKS works on one Fargate profile of a cluster at a time, including this one.
        if let Some((busy, status)) = busy_fargate_profile(cluster) {
            return Err(ApiError::in_use(format!(
                "Cannot delete Fargate Profile {name} because cluster {cluster_name} currently has Fargate profile {busy} in status {status}"
            ))
            .with("clusterName", cluster_name));
        }
        let profile = cluster
            .fargate_profiles
            .get_mut(name)
            .ok_or_else(|| fargate_profile_not_found(cluster_name, name))?;
        profile.life.start_deleting(clock);
        Ok(json!({ "fargateProfile": profile.render() }))
    }
}

/// The Fargate profile of `cluster` that is CREATING or DELETING, if any.
fn busy_fargate_profile(cluster: &super::model::Cluster) -> Option<(String, String)> {
    cluster
        .fargate_profiles
        .iter()
        .find(|(_, fp)| fp.life.is(CREATING) || fp.life.is(DELETING))
        .map(|(name, fp)| (name.clone(), fp.life.status.clone()))
}

fn cluster_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("No cluster found for name: {name}.")).with("clusterName", name)
}

fn nodegroup_not_found(cluster: &str, name: &str) -> ApiError {
    ApiError::not_found(format!("No node group found for name: {name}."))
        .with("clusterName", cluster)
        .with("nodegroupName", name)
}

fn fargate_profile_not_found(cluster: &str, name: &str) -> ApiError {
    ApiError::not_found(format!("No Fargate Profile found with name: {name}."))
        .with("clusterName", cluster)
        .with("fargateProfileName", name)
}

fn not_active(cluster: &str) -> ApiError {
    ApiError::invalid_request(format!("Cluster '{cluster}' is not in ACTIVE status"))
        .with("clusterName", cluster)
}

fn list_response(field: &str, names: Vec<String>, next_token: Option<String>) -> Value {
    let mut out = Map::new();
    out.insert(field.to_owned(), json!(names));
    if let Some(token) = next_token {
        out.insert("nextToken".to_owned(), json!(token));
    }
    Value::Object(out)
}

/// One page of `names` (sorted) after the position in `nextToken`, at most `maxResults` long.
fn page<'a>(
    names: impl Iterator<Item = &'a String>,
    list: &str,
    query: &[(String, String)],
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let param = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let max_results = match param("maxResults") {
        None => MAX_PAGE_SIZE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "Invalid maxResults {raw:?}: it must be an integer from 1 to {MAX_PAGE_SIZE}."
                ))
            })?,
    };
    let after = match param("nextToken") {
        // EKS reads an empty token as the first page; Airflow's EksHook starts its lists so.
        None | Some("") => None,
        Some(token) => Some(decode_next_token(list, token).ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "The nextToken {token:?} is invalid: pass back exactly the nextToken of a previous response of this list."
            ))
        })?),
    };
    let mut remaining =
        names.filter(|name| after.as_deref().is_none_or(|last| name.as_str() > last));
    let names: Vec<String> = remaining.by_ref().take(max_results).cloned().collect();
    let next = match (remaining.next(), names.last()) {
        (Some(_), Some(last)) => Some(encode_next_token(list, last)),
        _ => None,
    };
    Ok((names, next))
}

/// Parses a request body; an empty body counts as `{}` as the REST-JSON protocol allows.
fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid_parameter(format!(
            "The request body must be a JSON object, got {}.",
            json_kind(&other)
        ))),
        Err(error) => Err(ApiError::invalid_parameter(format!(
            "The request body is not valid JSON: {error}."
        ))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required_string(body: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match body.get(field) {
        Some(Value::String(value)) if !value.is_empty() => Ok(value.clone()),
        None | Some(Value::Null) => Err(ApiError::invalid_parameter(format!(
            "Missing required parameter {field}: it must be a non-empty string."
        ))),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "Invalid {field} {other}: it must be a non-empty string."
        ))),
    }
}

fn optional_string(body: &Map<String, Value>, field: &str) -> Result<(), ApiError> {
    match body.get(field) {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "Invalid {field} {other}: it must be a string."
        ))),
    }
}

fn required_object<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a Map<String, Value>, ApiError> {
    match body.get(field) {
        Some(Value::Object(object)) => Ok(object),
        None | Some(Value::Null) => Err(ApiError::invalid_parameter(format!(
            "Missing required parameter {field}: it must be an object."
        ))),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "Invalid {field} {other}: it must be an object."
        ))),
    }
}

fn is_string_array(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(Value::is_string))
}

fn required_string_array(body: &Map<String, Value>, field: &str) -> Result<(), ApiError> {
    match body.get(field) {
        Some(value)
            if is_string_array(value) && value.as_array().is_some_and(|a| !a.is_empty()) =>
        {
            Ok(())
        }
        None | Some(Value::Null) => Err(ApiError::invalid_parameter(format!(
            "Missing required parameter {field}: it must be a non-empty list of strings."
        ))),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "Invalid {field} {other}: it must be a non-empty list of strings."
        ))),
    }
}

/// `label` is how the error names the field (e.g. `resourcesVpcConfig.subnetIds`).
fn optional_string_array(
    body: &Map<String, Value>,
    label: &str,
    field: &str,
) -> Result<(), ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(value) if is_string_array(value) => Ok(()),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "Invalid {label} {other}: it must be a list of strings."
        ))),
    }
}

fn optional_string_map(body: &Map<String, Value>, field: &str) -> Result<(), ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(map)) if map.values().all(Value::is_string) => Ok(()),
        Some(other) => Err(ApiError::invalid_parameter(format!(
            "Invalid {field} {other}: it must be an object whose values are strings."
        ))),
    }
}

/// EKS's naming rule: a letter or digit, then letters, digits, `-` and `_`.
fn check_name(kind: &str, field: &str, name: &str, max_len: usize) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let valid = name.len() <= max_len
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "Invalid {kind} name {name:?} in {field}: it must be 1 to {max_len} characters, start with a letter or digit, and contain only letters, digits, hyphens (-) and underscores (_)."
        )))
    }
}

/// EKS requires minSize <= desiredSize <= maxSize with maxSize >= 1 (omitted sizes default).
fn check_scaling_config(body: &Map<String, Value>) -> Result<(), ApiError> {
    let scaling = match body.get("scalingConfig") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(scaling)) => scaling,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid scalingConfig {other}: it must be an object with minSize, maxSize and desiredSize."
            )));
        }
    };
    let size = |field: &str, default: i64| match scaling.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "Invalid scalingConfig.{field} {value}: it must be a non-negative integer."
            ))
        }),
    };
    let (min, max, desired) = (
        size("minSize", 1)?,
        size("maxSize", 2)?,
        size("desiredSize", 2)?,
    );
    if max >= 1 && min <= desired && desired <= max {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "Invalid scalingConfig minSize={min} desiredSize={desired} maxSize={max}: it must satisfy minSize <= desiredSize <= maxSize and maxSize >= 1."
        )))
    }
}

/// EKS requires 1 to 5 selectors, each with a non-empty namespace.
fn check_selectors(body: &Map<String, Value>) -> Result<(), ApiError> {
    let selectors = match body.get("selectors") {
        Some(Value::Array(selectors)) if !selectors.is_empty() => selectors,
        None | Some(Value::Null) => {
            return Err(ApiError::invalid_parameter(
                "Missing required parameter selectors: a Fargate Profile requires at least one selector.",
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid selectors {other}: it must be a list of 1 to {MAX_FARGATE_SELECTORS} selectors."
            )));
        }
    };
    if selectors.len() > MAX_FARGATE_SELECTORS {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid selectors: {} given, a Fargate Profile allows at most {MAX_FARGATE_SELECTORS}.",
            selectors.len()
        )));
    }
    for selector in selectors {
        let namespace = selector.get("namespace").and_then(Value::as_str);
        if namespace.is_none_or(str::is_empty) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid selector {selector}: every Fargate Profile selector needs a non-empty namespace."
            )));
        }
        if selector.get("labels").is_some_and(|labels| {
            !labels.is_null()
                && !labels
                    .as_object()
                    .is_some_and(|l| l.values().all(Value::is_string))
        }) {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid selector {selector}: labels must be an object whose values are strings."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_decode_path_parameters() {
        assert_eq!(
            Route::parse("GET", "/clusters/my%2Dcluster/node-groups/ng%5F1"),
            Route::DescribeNodegroup("my-cluster".into(), "ng_1".into())
        );
        assert_eq!(Route::parse("POST", "/clusters"), Route::CreateCluster);
        assert_eq!(
            Route::parse("DELETE", "/clusters/c/fargate-profiles/fp").operation(),
            "DeleteFargateProfile"
        );
    }

    #[test]
    fn unknown_routes_include_wrong_methods_and_empty_segments() {
        for (method, path) in [
            ("PUT", "/clusters"),
            ("GET", "/clusters/"),
            ("POST", "/clusters/c/updates"),
            ("GET", "/addons"),
        ] {
            assert_eq!(
                Route::parse(method, path).operation(),
                "Unknown",
                "{method} {path}"
            );
        }
    }

    #[test]
    fn names_follow_eks_rules() {
        assert!(check_name("cluster", "name", "a", 100).is_ok());
        assert!(check_name("cluster", "name", "0-a_B", 100).is_ok());
        assert!(check_name("cluster", "name", &"a".repeat(100), 100).is_ok());
        for bad in ["", "-a", "_a", "a.b", "a b", "ä"] {
            assert!(check_name("cluster", "name", bad, 100).is_err(), "{bad:?}");
        }
        assert!(check_name("cluster", "name", &"a".repeat(101), 100).is_err());
        assert!(check_name("nodegroup", "nodegroupName", &"a".repeat(64), 63).is_err());
    }

    #[test]
    fn pages_follow_tokens_and_reject_bad_parameters() {
        let names: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let (first, token) =
            page(names.iter(), "clusters", &query(&[("maxResults", "2")])).expect("first page");
        assert_eq!(first, ["a", "b"]);
        let token = token.expect("a token after the first page");
        let (second, _) = page(
            names.iter(),
            "clusters",
            &query(&[("maxResults", "3"), ("nextToken", &token)]),
        )
        .expect("second page");
        assert_eq!(second, ["c", "d", "e"]);
        let (all, none) = page(names.iter(), "clusters", &[]).expect("default page");
        assert_eq!((all.len(), none), (5, None));
        let (from_empty, _) = page(names.iter(), "clusters", &query(&[("nextToken", "")]))
            .expect("an empty nextToken is the first page");
        assert_eq!(from_empty, all);
        for bad in ["0", "101", "-1", "ten"] {
            let err =
                page(names.iter(), "clusters", &query(&[("maxResults", bad)])).expect_err(bad);
            assert_eq!(err.code, "InvalidParameterException");
        }
        let err = page(
            names.iter(),
            "nodegroups/x",
            &query(&[("nextToken", &token)]),
        )
        .expect_err("token of another list");
        assert_eq!(err.code, "InvalidParameterException");
    }

    #[test]
    fn scaling_config_must_be_ordered() {
        let body = |scaling: Value| {
            let mut map = Map::new();
            map.insert("scalingConfig".into(), scaling);
            map
        };
        assert!(check_scaling_config(&Map::new()).is_ok());
        assert!(
            check_scaling_config(&body(json!({"minSize": 0, "maxSize": 3, "desiredSize": 0})))
                .is_ok()
        );
        assert!(check_scaling_config(&body(json!({"desiredSize": 5}))).is_err());
        assert!(
            check_scaling_config(&body(json!({"minSize": 0, "maxSize": 0, "desiredSize": 0})))
                .is_err()
        );
        assert!(check_scaling_config(&body(json!({"minSize": -1}))).is_err());
    }
}
