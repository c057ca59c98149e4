//! The fake's in-memory model of one EKS region: clusters with their nodegroups and Fargate
//! profiles, each with a lifecycle that advances lazily from timestamps whenever the state is
//! read, plus the test's failure marks, queued faults and the record of calls.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};

use super::wire::{IdSource, base64_encode, epoch_seconds};
use super::{FakeEksConfig, Fault, RecordedCall};

pub(super) const CREATING: &str = "CREATING";
pub(super) const ACTIVE: &str = "ACTIVE";
pub(super) const DELETING: &str = "DELETING";
pub(super) const FAILED: &str = "FAILED";
pub(super) const CREATE_FAILED: &str = "CREATE_FAILED";
pub(super) const DELETE_FAILED: &str = "DELETE_FAILED";

/// Kubernetes version a cluster gets when the request names none.
pub(super) const DEFAULT_KUBERNETES_VERSION: &str = "1.31";
const PLATFORM_VERSION: &str = "eks.12";
/// The CA EKS reports for a cluster unless the test overrides it: a real self-signed
/// `CN=kubernetes` RSA CA (its key was discarded), so clients can parse it.
const DEFAULT_CLUSTER_CA_PEM: &str = include_str!("fake_cluster_ca.pem");

/// One instant in both clocks: `instant` drives the lifecycle, `wall` is what clients see.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    pub(super) instant: Instant,
    pub(super) wall: SystemTime,
}

impl Clock {
    pub(super) fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

/// How long a kind of resource takes to create and delete, and how a failed create ends.
#[derive(Clone, Copy, Debug)]
struct Timing {
    create: Duration,
    delete: Duration,
    create_failed: &'static str,
}

/// Where a resource is in its lifecycle and since when.
#[derive(Debug)]
pub(super) struct Lifecycle {
    pub(super) status: String,
    since: Instant,
    since_wall: SystemTime,
    /// Set when the test marked this resource to fail creating; consumed by the transition.
    pub(super) fail_create: bool,
    /// Set when the test marked this resource to fail deleting; consumed by the transition.
    pub(super) fail_delete: bool,
    /// Whether it ever got its backing infrastructure (endpoint, Auto Scaling group, ...).
    pub(super) provisioned: bool,
}

impl Lifecycle {
    fn new(status: &str, clock: Clock) -> Self {
        Self {
            status: status.to_owned(),
            since: clock.instant,
            since_wall: clock.wall,
            fail_create: false,
            fail_delete: false,
            provisioned: ![CREATING, FAILED, CREATE_FAILED, "PENDING"].contains(&status),
        }
    }

    pub(super) fn is(&self, status: &str) -> bool {
        self.status == status
    }

    pub(super) fn start_deleting(&mut self, clock: Clock) {
        self.status = DELETING.to_owned();
        self.since = clock.instant;
        self.since_wall = clock.wall;
    }

    /// Applies the transition that is due by `now`; returns false once the resource is gone.
    fn advance(&mut self, timing: Timing, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.since);
        if self.is(CREATING) && elapsed >= timing.create {
            let outcome = if std::mem::take(&mut self.fail_create) {
                timing.create_failed
            } else {
                self.provisioned = true;
                ACTIVE
            };
            self.move_to(outcome, timing.create);
        } else if self.is(DELETING) && elapsed >= timing.delete {
            if !std::mem::take(&mut self.fail_delete) {
                return false;
            }
            self.move_to(DELETE_FAILED, timing.delete);
        }
        true
    }

    fn move_to(&mut self, status: &str, after: Duration) {
        self.status = status.to_owned();
        self.since += after;
        self.since_wall += after;
    }
}

#[derive(Debug)]
pub(super) struct Cluster {
    /// Everything EKS returns that does not depend on the lifecycle.
    document: Map<String, Value>,
    pub(super) life: Lifecycle,
    endpoint: String,
    pub(super) nodegroups: BTreeMap<String, Nodegroup>,
    pub(super) fargate_profiles: BTreeMap<String, FargateProfile>,
}

impl Cluster {
    fn render(&self, ca_data: &str) -> Value {
        let mut out = self.document.clone();
        out.insert("status".into(), json!(self.life.status));
        // Real EKS reports endpoint and CA only once the control plane exists.
        if self.life.provisioned {
            out.insert("endpoint".into(), json!(self.endpoint));
            out.insert("certificateAuthority".into(), json!({ "data": ca_data }));
        }
        let issues = if self.life.is(FAILED) {
            json!([{
                "code": "InternalFailure",
                "message": "Cluster creation failed (failure injected by eks-testkit).",
                "resourceIds": [self.document.get("name")],
            }])
        } else {
            json!([])
        };
        out.insert("health".into(), json!({ "issues": issues }));
        Value::Object(out)
    }

    pub(super) fn version(&self) -> String {
        self.document
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_KUBERNETES_VERSION)
            .to_owned()
    }

    pub(super) fn subnet_ids(&self) -> Value {
        self.document
            .get("resourcesVpcConfig")
            .and_then(|vpc| vpc.get("subnetIds"))
            .cloned()
            .unwrap_or_else(|| json!([]))
    }
}

#[derive(Debug)]
pub(super) struct Nodegroup {
    document: Map<String, Value>,
    pub(super) life: Lifecycle,
    auto_scaling_group: String,
    remote_access_security_group: String,
    instance_id: String,
}

impl Nodegroup {
    pub(super) fn render(&self) -> Value {
        let mut out = self.document.clone();
        out.insert("status".into(), json!(self.life.status));
        out.insert("modifiedAt".into(), epoch_seconds(self.life.since_wall));
        let issues = match self.life.status.as_str() {
            CREATE_FAILED => json!([{
                "code": "NodeCreationFailure",
                "message": "Instances failed to join the kubernetes cluster (failure injected by eks-testkit).",
                "resourceIds": [self.instance_id],
            }]),
            DELETE_FAILED => json!([{
                "code": "Ec2SecurityGroupDeletionFailure",
                "message": "DependencyViolation - resource has a dependent object (failure injected by eks-testkit).",
                "resourceIds": [self.remote_access_security_group],
            }]),
            _ => json!([]),
        };
        out.insert("health".into(), json!({ "issues": issues }));
        if self.life.provisioned {
            let mut resources =
                json!({ "autoScalingGroups": [{ "name": self.auto_scaling_group }] });
            if self.document.contains_key("remoteAccess") {
                resources["remoteAccessSecurityGroup"] = json!(self.remote_access_security_group);
            }
            out.insert("resources".into(), resources);
        }
        Value::Object(out)
    }
}

#[derive(Debug)]
pub(super) struct FargateProfile {
    document: Map<String, Value>,
    pub(super) life: Lifecycle,
}

impl FargateProfile {
    pub(super) fn render(&self) -> Value {
        let mut out = self.document.clone();
        out.insert("status".into(), json!(self.life.status));
        let issues = match self.life.status.as_str() {
            CREATE_FAILED | DELETE_FAILED => json!([{
                "code": "InternalFailure",
                "message": "Fargate profile operation failed (failure injected by eks-testkit).",
                "resourceIds": [self.document.get("fargateProfileName")],
            }]),
            _ => json!([]),
        };
        out.insert("health".into(), json!({ "issues": issues }));
        Value::Object(out)
    }
}

/// Names the test marked to fail before they exist; taken by the resource when created.
#[derive(Debug, Default)]
struct FailureMarks {
    cluster_create: HashSet<String>,
    nodegroup_create: HashSet<(String, String)>,
    nodegroup_delete: HashSet<(String, String)>,
    fargate_create: HashSet<(String, String)>,
    fargate_delete: HashSet<(String, String)>,
}

/// Which failure a test asks for; see the `FakeEks::fail_*` methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FailureMark {
    ClusterCreate,
    NodegroupCreate,
    NodegroupDelete,
    FargateCreate,
    FargateDelete,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) config: FakeEksConfig,
    pub(super) latency: Duration,
    pub(super) clusters: BTreeMap<String, Cluster>,
    faults: VecDeque<(Fault, usize)>,
    marks: FailureMarks,
    pub(super) calls: Vec<RecordedCall>,
    pub(super) ids: IdSource,
    ca_data: String,
}

impl State {
    pub(super) fn new(config: FakeEksConfig) -> Self {
        let ca_pem = config
            .cluster_ca_pem
            .as_deref()
            .unwrap_or(DEFAULT_CLUSTER_CA_PEM);
        Self {
            latency: config.latency,
            ca_data: base64_encode(ca_pem.as_bytes()),
            config,
            clusters: BTreeMap::new(),
            faults: VecDeque::new(),
            marks: FailureMarks::default(),
            calls: Vec::new(),
            ids: IdSource::new(),
        }
    }

    fn cluster_timing(&self) -> Timing {
        Timing {
            create: self.config.cluster_create_time,
            delete: self.config.cluster_delete_time,
            create_failed: FAILED,
        }
    }

    fn nodegroup_timing(&self) -> Timing {
        Timing {
            create: self.config.nodegroup_create_time,
            delete: self.config.nodegroup_delete_time,
            create_failed: CREATE_FAILED,
        }
    }

    fn fargate_timing(&self) -> Timing {
        Timing {
            create: self.config.fargate_create_time,
            delete: self.config.fargate_delete_time,
            create_failed: CREATE_FAILED,
        }
    }

    /// Applies every lifecycle transition due by `now` (there is no background task).
    pub(super) fn settle(&mut self, now: Instant) {
        let (cluster, nodegroup, fargate) = (
            self.cluster_timing(),
            self.nodegroup_timing(),
            self.fargate_timing(),
        );
        self.clusters.retain(|_, c| {
            c.nodegroups.retain(|_, ng| ng.life.advance(nodegroup, now));
            c.fargate_profiles
                .retain(|_, fp| fp.life.advance(fargate, now));
            c.life.advance(cluster, now)
        });
    }

    pub(super) fn push_fault(&mut self, fault: Fault, times: usize) {
        if times > 0 {
            self.faults.push_back((fault, times));
        }
    }

    pub(super) fn take_fault(&mut self) -> Option<Fault> {
        let (fault, remaining) = self.faults.front_mut()?;
        let fault = *fault;
        *remaining -= 1;
        if *remaining == 0 {
            self.faults.pop_front();
        }
        Some(fault)
    }

    /// Marks an existing resource, or remembers the name for when it is created.
    pub(super) fn mark_failure(&mut self, mark: FailureMark, cluster: &str, child: &str) {
        let key = (cluster.to_owned(), child.to_owned());
        let existing = self.clusters.get_mut(cluster);
        match mark {
            FailureMark::ClusterCreate => match existing {
                Some(c) if c.life.is(CREATING) => c.life.fail_create = true,
                _ => {
                    self.marks.cluster_create.insert(cluster.to_owned());
                }
            },
            FailureMark::NodegroupCreate => {
                match existing.and_then(|c| c.nodegroups.get_mut(child)) {
                    Some(ng) if ng.life.is(CREATING) => ng.life.fail_create = true,
                    _ => {
                        self.marks.nodegroup_create.insert(key);
                    }
                }
            }
            FailureMark::NodegroupDelete => {
                match existing.and_then(|c| c.nodegroups.get_mut(child)) {
                    Some(ng) => ng.life.fail_delete = true,
                    None => {
                        self.marks.nodegroup_delete.insert(key);
                    }
                }
            }
            FailureMark::FargateCreate => {
                match existing.and_then(|c| c.fargate_profiles.get_mut(child)) {
                    Some(fp) if fp.life.is(CREATING) => fp.life.fail_create = true,
                    _ => {
                        self.marks.fargate_create.insert(key);
                    }
                }
            }
            FailureMark::FargateDelete => {
                match existing.and_then(|c| c.fargate_profiles.get_mut(child)) {
                    Some(fp) => fp.life.fail_delete = true,
                    None => {
                        self.marks.fargate_delete.insert(key);
                    }
                }
            }
        }
    }

    pub(super) fn render_cluster(&self, cluster: &Cluster) -> Value {
        cluster.render(&self.ca_data)
    }

    /// Builds a cluster as EKS would from a (validated) CreateCluster body: defaults, then
    /// everything the request sent, then the fields EKS computes.
    pub(super) fn new_cluster(
        &mut self,
        name: &str,
        mut request: Map<String, Value>,
        status: &str,
        clock: Clock,
    ) -> Cluster {
        let region = self.config.region.clone();
        let account = &self.config.account_id;
        let ipv6 = request
            .get("kubernetesNetworkConfig")
            .and_then(|k| k.get("ipFamily"))
            .and_then(Value::as_str)
            == Some("ipv6");
        let service_cidr = if ipv6 {
            json!({ "serviceIpv6Cidr": "fd3e:1c52:8d1b::/108", "ipFamily": "ipv6" })
        } else {
            json!({ "serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4" })
        };
        let mut document = json!({
            "name": name,
            "arn": format!("arn:aws:eks:{region}:{account}:cluster/{name}"),
            "createdAt": epoch_seconds(clock.wall),
            "version": DEFAULT_KUBERNETES_VERSION,
            "resourcesVpcConfig": {
                "subnetIds": [],
                "securityGroupIds": [],
                "endpointPublicAccess": true,
                "endpointPrivateAccess": false,
                "publicAccessCidrs": ["0.0.0.0/0"],
            },
            "kubernetesNetworkConfig": service_cidr,
            "logging": {
                "clusterLogging": [{
                    "types": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
                    "enabled": false,
                }],
            },
            "tags": {},
            "accessConfig": {
                "bootstrapClusterCreatorAdminPermissions": true,
                // EKS's default when a cluster is created through the API rather than the console.
                "authenticationMode": "CONFIG_MAP",
            },
            "upgradePolicy": { "supportType": "EXTENDED" },
        });
        document["kubernetesNetworkConfig"]["elasticLoadBalancing"] = json!({ "enabled": false });
        let mut document = into_map(document);
        // Request-only or EKS-computed fields never come back as sent.
        for field in [
            "bootstrapSelfManagedAddons",
            "status",
            "endpoint",
            "certificateAuthority",
            "health",
            "id",
        ] {
            request.remove(field);
        }
        merge(&mut document, request);
        let oidc_id = self.ids.upper_hex32();
        document.insert("name".into(), json!(name));
        document.insert(
            "arn".into(),
            json!(format!("arn:aws:eks:{region}:{account}:cluster/{name}")),
        );
        document.insert("createdAt".into(), epoch_seconds(clock.wall));
        document.insert("platformVersion".into(), json!(PLATFORM_VERSION));
        document.insert(
            "identity".into(),
            json!({ "oidc": { "issuer": format!("https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}") } }),
        );
        let security_group = self.ids.ec2_id("sg");
        let vpc = self.ids.ec2_id("vpc");
        if let Some(Value::Object(vpc_config)) = document.get_mut("resourcesVpcConfig") {
            vpc_config.insert("clusterSecurityGroupId".into(), json!(security_group));
            vpc_config.insert("vpcId".into(), json!(vpc));
        }
        let endpoint = self.config.cluster_endpoint.clone().unwrap_or_else(|| {
            format!(
                "https://{}.gr7.{region}.eks.amazonaws.com",
                self.ids.upper_hex32()
            )
        });
        let mut life = Lifecycle::new(status, clock);
        life.fail_create = self.marks.cluster_create.remove(name);
        Cluster {
            document,
            life,
            endpoint,
            nodegroups: BTreeMap::new(),
            fargate_profiles: BTreeMap::new(),
        }
    }

    /// Builds a nodegroup as EKS would from a (validated) CreateNodegroup body.
    pub(super) fn new_nodegroup(
        &mut self,
        cluster_name: &str,
        cluster_version: &str,
        name: &str,
        mut request: Map<String, Value>,
        status: &str,
        clock: Clock,
    ) -> Nodegroup {
        let (region, account) = (&self.config.region, &self.config.account_id);
        let id = self.ids.uuid();
        let arn = format!("arn:aws:eks:{region}:{account}:nodegroup/{cluster_name}/{name}/{id}");
        let version = request
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or(cluster_version)
            .to_owned();
        let release_version = request
            .get("releaseVersion")
            .and_then(Value::as_str)
            .map_or_else(|| format!("{version}.7-20250610"), str::to_owned);
        let mut document = json!({
            "nodegroupName": name,
            "nodegroupArn": arn,
            "clusterName": cluster_name,
            "version": version,
            "releaseVersion": release_version,
            "createdAt": epoch_seconds(clock.wall),
            "capacityType": "ON_DEMAND",
            "scalingConfig": { "minSize": 1, "maxSize": 2, "desiredSize": 2 },
            "amiType": "AL2023_x86_64_STANDARD",
            "labels": {},
            "tags": {},
            "updateConfig": { "maxUnavailable": 1 },
        });
        // With a launch template, instance type and disk come from the template, not EKS.
        if !request.contains_key("launchTemplate") {
            document["instanceTypes"] = json!(["t3.medium"]);
            document["diskSize"] = json!(20);
        }
        let mut document = into_map(document);
        for field in [
            "clientRequestToken",
            "status",
            "modifiedAt",
            "health",
            "resources",
        ] {
            request.remove(field);
        }
        merge(&mut document, request);
        document.insert("nodegroupName".into(), json!(name));
        document.insert("nodegroupArn".into(), json!(arn));
        document.insert("clusterName".into(), json!(cluster_name));
        document.insert("version".into(), json!(version));
        document.insert("releaseVersion".into(), json!(release_version));
        document.insert("createdAt".into(), epoch_seconds(clock.wall));
        let key = (cluster_name.to_owned(), name.to_owned());
        let mut life = Lifecycle::new(status, clock);
        life.fail_create = self.marks.nodegroup_create.remove(&key);
        life.fail_delete = self.marks.nodegroup_delete.remove(&key);
        Nodegroup {
            document,
            life,
            auto_scaling_group: format!("eks-{name}-{id}"),
            remote_access_security_group: self.ids.ec2_id("sg"),
            instance_id: self.ids.ec2_id("i"),
        }
    }

    /// Builds a Fargate profile as EKS would from a (validated) CreateFargateProfile body;
    /// without `subnets` it takes the cluster's subnets, as EKS does.
    pub(super) fn new_fargate_profile(
        &mut self,
        cluster_name: &str,
        cluster_subnets: Value,
        name: &str,
        mut request: Map<String, Value>,
        status: &str,
        clock: Clock,
    ) -> FargateProfile {
        let (region, account) = (&self.config.region, &self.config.account_id);
        let id = self.ids.uuid();
        let arn =
            format!("arn:aws:eks:{region}:{account}:fargateprofile/{cluster_name}/{name}/{id}");
        let mut document = into_map(json!({
            "fargateProfileName": name,
            "fargateProfileArn": arn,
            "clusterName": cluster_name,
            "createdAt": epoch_seconds(clock.wall),
            "subnets": cluster_subnets,
            "selectors": [],
            "tags": {},
        }));
        for field in ["clientRequestToken", "status", "health"] {
            request.remove(field);
        }
        merge(&mut document, request);
        document.insert("fargateProfileName".into(), json!(name));
        document.insert("fargateProfileArn".into(), json!(arn));
        document.insert("clusterName".into(), json!(cluster_name));
        document.insert("createdAt".into(), epoch_seconds(clock.wall));
        let key = (cluster_name.to_owned(), name.to_owned());
        let mut life = Lifecycle::new(status, clock);
        life.fail_create = self.marks.fargate_create.remove(&key);
        life.fail_delete = self.marks.fargate_delete.remove(&key);
        FargateProfile { document, life }
    }

    /// Puts a cluster straight into `status`, with the body a typical CreateCluster sends.
    pub(super) fn seed_cluster(&mut self, name: &str, status: &str) {
        let clock = Clock::now();
        self.settle(clock.instant);
        if let Some(existing) = self.clusters.get_mut(name) {
            existing.life = Lifecycle::new(status, clock);
            return;
        }
        let account = &self.config.account_id;
        let request = into_map(json!({
            "roleArn": format!("arn:aws:iam::{account}:role/eks-cluster-role"),
            "resourcesVpcConfig": {
                "subnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
            },
        }));
        let cluster = self.new_cluster(name, request, status, clock);
        self.clusters.insert(name.to_owned(), cluster);
    }

    /// Puts a nodegroup straight into `status`; seeds its cluster as ACTIVE if missing.
    pub(super) fn seed_nodegroup(&mut self, cluster_name: &str, name: &str, status: &str) {
        if !self.clusters.contains_key(cluster_name) {
            self.seed_cluster(cluster_name, ACTIVE);
        }
        let clock = Clock::now();
        self.settle(clock.instant);
        let Some(cluster) = self.clusters.get(cluster_name) else {
            return;
        };
        let (version, subnets) = (cluster.version(), cluster.subnet_ids());
        let account = &self.config.account_id;
        let request = into_map(json!({
            "nodeRole": format!("arn:aws:iam::{account}:role/eks-node-role"),
            "subnets": subnets,
        }));
        let nodegroup = self.new_nodegroup(cluster_name, &version, name, request, status, clock);
        if let Some(cluster) = self.clusters.get_mut(cluster_name) {
            cluster.nodegroups.insert(name.to_owned(), nodegroup);
        }
    }

    /// Puts a Fargate profile straight into `status`; seeds its cluster as ACTIVE if missing.
    pub(super) fn seed_fargate_profile(&mut self, cluster_name: &str, name: &str, status: &str) {
        if !self.clusters.contains_key(cluster_name) {
            self.seed_cluster(cluster_name, ACTIVE);
        }
        let clock = Clock::now();
        self.settle(clock.instant);
        let Some(cluster) = self.clusters.get(cluster_name) else {
            return;
        };
        let subnets = cluster.subnet_ids();
        let account = &self.config.account_id;
        let request = into_map(json!({
            "podExecutionRoleArn": format!("arn:aws:iam::{account}:role/eks-fargate-pod-execution-role"),
            "selectors": [{ "namespace": "default" }],
        }));
        let profile = self.new_fargate_profile(cluster_name, subnets, name, request, status, clock);
        if let Some(cluster) = self.clusters.get_mut(cluster_name) {
            cluster.fargate_profiles.insert(name.to_owned(), profile);
        }
    }
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Deep-merges `from` into `into`: objects merge key by key, anything else replaces.
fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge(existing, incoming),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            create: Duration::from_millis(100),
            delete: Duration::from_millis(50),
            create_failed: CREATE_FAILED,
        }
    }

    #[test]
    fn creating_becomes_active_only_after_the_create_time() {
        let clock = Clock::now();
        let mut life = Lifecycle::new(CREATING, clock);
        assert!(life.advance(timing(), clock.instant + Duration::from_millis(99)));
        assert_eq!(life.status, CREATING);
        assert!(!life.provisioned);
        assert!(life.advance(timing(), clock.instant + Duration::from_millis(100)));
        assert_eq!(life.status, ACTIVE);
        assert!(life.provisioned);
        assert_eq!(life.since_wall, clock.wall + Duration::from_millis(100));
    }

    #[test]
    fn marked_create_fails_once_and_marked_delete_fails_once() {
        let clock = Clock::now();
        let mut life = Lifecycle::new(CREATING, clock);
        life.fail_create = true;
        life.fail_delete = true;
        let later = clock.instant + Duration::from_secs(1);
        assert!(life.advance(timing(), later));
        assert_eq!(life.status, CREATE_FAILED);
        assert!(!life.provisioned);
        life.start_deleting(Clock {
            instant: later,
            wall: clock.wall,
        });
        assert!(life.advance(timing(), later + Duration::from_millis(50)));
        assert_eq!(life.status, DELETE_FAILED);
        life.start_deleting(Clock {
            instant: later,
            wall: clock.wall,
        });
        assert!(!life.advance(timing(), later + Duration::from_millis(50)));
    }

    #[test]
    fn merge_is_deep_for_objects_and_replaces_everything_else() {
        let mut into = into_map(json!({ "a": { "x": 1, "y": 2 }, "b": [1], "c": "keep" }));
        merge(
            &mut into,
            into_map(json!({ "a": { "y": 3 }, "b": [2], "d": true })),
        );
        assert_eq!(
            Value::Object(into),
            json!({ "a": { "x": 1, "y": 3 }, "b": [2], "c": "keep", "d": true })
        );
    }

    #[test]
    fn faults_are_taken_in_fifo_order() {
        let mut state = State::new(FakeEksConfig::default());
        state.push_fault(Fault::Throttle, 2);
        state.push_fault(Fault::ServerError, 0);
        state.push_fault(Fault::Unavailable, 1);
        let taken: Vec<_> = std::iter::from_fn(|| state.take_fault()).collect();
        assert_eq!(
            taken,
            [Fault::Throttle, Fault::Throttle, Fault::Unavailable]
        );
    }
}
