//! Clusters: create (optionally with a nodegroup or a Fargate profile, as Airflow's
//! EksCreateClusterOperator does) and delete (optionally deleting all compute first).

use std::collections::BTreeSet;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::Cluster;
use tokio::task::JoinSet;

use super::fargate::{
    CreateFargateProfile, DeleteFargateProfile, create_fargate_profile, delete_fargate_profile,
};
use super::kwargs::{CreateClusterRequest, CreateFargateProfileRequest, CreateNodegroupRequest};
use super::nodegroup::{CreateNodegroup, DeleteNodegroup, create_nodegroup, delete_nodegroup};
use super::{
    IfExists, IfMissing, NONEXISTENT, WaitOptions, cluster_resource, cluster_state,
    describe_cluster, leaving, leftover, list_fargate_profiles, list_nodegroups,
    retry_while_in_use, wait_for_cluster,
};
use crate::error::{Error, Failure, Leftover};
use crate::interrupt::Interrupt;
use crate::output::{ClusterInfo, FargateProfileInfo, NodegroupInfo};

/// The compute to create with the cluster (Airflow's `compute`).
#[derive(Debug, Default)]
pub enum Compute {
    #[default]
    None,
    /// `subnets` may be left empty: the cluster's subnets are used, as Airflow does.
    Nodegroup(Box<CreateNodegroupRequest>),
    Fargate(Box<CreateFargateProfileRequest>),
}

#[derive(Debug)]
pub struct CreateCluster {
    /// The full request; `name`, `role_arn` and `resources_vpc_config` set.
    pub request: CreateClusterRequest,
    pub compute: Compute,
    pub if_exists: IfExists,
    /// Wait for the cluster (and its compute) to be ACTIVE. With compute, the cluster is
    /// always waited for before the compute is created.
    pub wait_for_completion: bool,
    pub waiter: WaitOptions,
    /// Delete what this run created when it fails to become ACTIVE.
    pub cleanup_on_failure: bool,
}

#[derive(Debug)]
pub struct ClusterCreated {
    pub cluster: ClusterInfo,
    pub reused: bool,
    pub nodegroup: Option<NodegroupInfo>,
    pub fargate_profile: Option<FargateProfileInfo>,
    pub waited: bool,
}

pub async fn create_cluster(
    client: &Client,
    op: CreateCluster,
    interrupt: &Interrupt,
) -> Result<ClusterCreated, Failure> {
    let name = op.request.name.clone().unwrap_or_default();
    let resource = cluster_resource(&name);
    interrupt.check("creating the cluster")?;

    let expected = op.request.clone();
    let (created, reused) = match op
        .request
        .apply(client.create_cluster())
        .map_err(Error::from)?
        .send()
        .await
    {
        Ok(out) => (out.cluster, false),
        Err(e) => {
            let e = Error::from_sdk("CreateCluster", e);
            if !(e.is_in_use() && op.if_exists == IfExists::Reuse) {
                return Err(e.into());
            }
            let existing = describe_cluster(client, &name).await?.ok_or(e)?;
            check_reusable(&existing, &expected)?;
            tracing::info!("{resource} exists and matches; reusing it (--if-exists reuse)");
            (Some(existing), true)
        }
    };
    let status = created
        .as_ref()
        .and_then(|c| c.status())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| cluster_state::CREATING.to_owned());
    tracing::info!("{resource}: {status}");
    let kept = |status: &str| -> Leftover {
        if reused {
            leftover(
                resource.clone(),
                status,
                "existed before this run; left as it was",
            )
        } else {
            leftover(
                resource.clone(),
                status,
                "created by this run and kept; delete it with eks-delete-cluster --force-delete-compute if unwanted",
            )
        }
    };

    let needs_active = op.wait_for_completion || !matches!(op.compute, Compute::None);
    if needs_active {
        if !matches!(op.compute, Compute::None) {
            tracing::info!("waiting for {resource} to be ACTIVE before creating its compute");
        }
        let fail_on = [cluster_state::FAILED, cluster_state::DELETING, NONEXISTENT];
        match wait_for_cluster(
            client,
            &name,
            cluster_state::ACTIVE,
            &fail_on,
            op.waiter,
            interrupt,
        )
        .await
        {
            Ok(_) => {}
            Err(e @ Error::ResourceFailed { .. }) if op.cleanup_on_failure && !reused => {
                return Err(tear_down_failed(client, &name, e, op.waiter, interrupt).await);
            }
            Err(e) => {
                let last = match &e {
                    Error::Timeout { last_state, .. } => last_state.clone(),
                    Error::ResourceFailed { state, .. } => state.clone(),
                    _ => status.clone(),
                };
                return Err(leaving(e, kept(&last)));
            }
        }
    }

    let existing_subnets = || -> Vec<String> {
        let asked = expected
            .resources_vpc_config
            .as_ref()
            .and_then(|v| v.subnet_ids.clone())
            .unwrap_or_default();
        if !asked.is_empty() {
            return asked;
        }
        created
            .as_ref()
            .and_then(|c| c.resources_vpc_config())
            .map(|v| v.subnet_ids().to_vec())
            .unwrap_or_default()
    };
    let wait = op.wait_for_completion.then_some(op.waiter);
    let (mut nodegroup, mut fargate_profile) = (None, None);
    match op.compute {
        Compute::None => {}
        Compute::Nodegroup(request) => {
            let mut request = *request;
            request.cluster_name = Some(name.clone());
            if request.subnets.as_ref().is_none_or(Vec::is_empty) {
                request.subnets = Some(existing_subnets());
            }
            let made = create_nodegroup(
                client,
                CreateNodegroup {
                    request,
                    if_exists: op.if_exists,
                    wait,
                    cleanup_on_failure: op.cleanup_on_failure,
                },
                interrupt,
            )
            .await
            .map_err(|f| f.leaving(kept(cluster_state::ACTIVE)))?;
            nodegroup = Some(made.nodegroup);
        }
        Compute::Fargate(request) => {
            let mut request = *request;
            request.cluster_name = Some(name.clone());
            let made = create_fargate_profile(
                client,
                CreateFargateProfile {
                    request,
                    if_exists: op.if_exists,
                    wait,
                    cleanup_on_failure: op.cleanup_on_failure,
                    retry: op.waiter,
                },
                interrupt,
            )
            .await
            .map_err(|f| f.leaving(kept(cluster_state::ACTIVE)))?;
            fargate_profile = Some(made.fargate_profile);
        }
    }

    let cluster = match describe_cluster(client, &name).await {
        Ok(Some(c)) => ClusterInfo::from(&c),
        _ => created
            .as_ref()
            .map(ClusterInfo::from)
            .unwrap_or_else(|| ClusterInfo::named(&name, &status)),
    };
    Ok(ClusterCreated {
        cluster,
        reused,
        nodegroup,
        fargate_profile,
        waited: op.wait_for_completion,
    })
}

/// Airflow's behaviour: a cluster that failed to start is deleted, and the deletion waited for.
async fn tear_down_failed(
    client: &Client,
    name: &str,
    error: Error,
    waiter: WaitOptions,
    interrupt: &Interrupt,
) -> Failure {
    let resource = cluster_resource(name);
    tracing::warn!("{resource} failed to start ({error}); deleting it");
    let deleted = async {
        retry_while_in_use("deleting the failed cluster", waiter, interrupt, || async {
            client
                .delete_cluster()
                .name(name)
                .send()
                .await
                .map_err(|e| Error::from_sdk("DeleteCluster", e))
        })
        .await?;
        wait_for_cluster(client, name, NONEXISTENT, &[], waiter, interrupt).await
    }
    .await;
    match deleted {
        Ok(_) => {
            tracing::info!("{resource} deleted after its failure");
            error.into()
        }
        Err(e) if e.is_not_found() => error.into(),
        Err(e) => leaving(
            error,
            leftover(
                resource,
                cluster_state::FAILED,
                format!("failed; deleting it did not complete ({e})"),
            ),
        ),
    }
}

fn check_reusable(existing: &Cluster, asked: &CreateClusterRequest) -> Result<(), Error> {
    let mut diffs = Vec::new();
    if let Some(role) = &asked.role_arn
        && existing.role_arn() != Some(role.as_str())
    {
        diffs.push(format!(
            "roleArn is {:?}, asked {role:?}",
            existing.role_arn().unwrap_or_default()
        ));
    }
    if let Some(version) = &asked.version
        && existing.version() != Some(version.as_str())
    {
        diffs.push(format!(
            "version is {:?}, asked {version:?}",
            existing.version().unwrap_or_default()
        ));
    }
    if let Some(subnets) = asked
        .resources_vpc_config
        .as_ref()
        .and_then(|v| v.subnet_ids.as_ref())
    {
        let have: BTreeSet<&str> = existing
            .resources_vpc_config()
            .map(|v| v.subnet_ids().iter().map(String::as_str).collect())
            .unwrap_or_default();
        let want: BTreeSet<&str> = subnets.iter().map(String::as_str).collect();
        if have != want {
            diffs.push(format!("subnetIds are {have:?}, asked {want:?}"));
        }
    }
    let state = existing.status().map(|s| s.as_str()).unwrap_or_default();
    if ![
        cluster_state::ACTIVE,
        cluster_state::CREATING,
        cluster_state::UPDATING,
    ]
    .contains(&state)
    {
        diffs.push(format!("it is {state}"));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "cluster {} exists but cannot be reused (--if-exists reuse): {}",
            existing.name().unwrap_or_default(),
            diffs.join("; ")
        )))
    }
}

#[derive(Debug, Clone)]
pub struct DeleteCluster {
    pub name: String,
    /// Delete every nodegroup (in parallel) and Fargate profile (one at a time) first.
    pub force_delete_compute: bool,
    pub if_missing: IfMissing,
    pub wait_for_completion: bool,
    pub waiter: WaitOptions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDeleted {
    pub existed: bool,
    pub status: String,
    pub deleted_nodegroups: Vec<String>,
    pub deleted_fargate_profiles: Vec<String>,
}

pub async fn delete_cluster(
    client: &Client,
    op: &DeleteCluster,
    interrupt: &Interrupt,
) -> Result<ClusterDeleted, Failure> {
    let name = op.name.as_str();
    let resource = cluster_resource(name);
    let mut done = ClusterDeleted {
        existed: true,
        status: cluster_state::DELETING.to_owned(),
        deleted_nodegroups: vec![],
        deleted_fargate_profiles: vec![],
    };
    if describe_cluster(client, name).await?.is_none() {
        return missing(op, &resource);
    }

    if op.force_delete_compute {
        let nodegroups = list_nodegroups(client, name).await?;
        if !nodegroups.is_empty() {
            tracing::info!(
                "{resource} has {} nodegroup(s); deleting them in parallel: {}",
                nodegroups.len(),
                nodegroups.join(", ")
            );
        }
        let mut tasks = JoinSet::new();
        for ng in nodegroups {
            let (client, interrupt) = (client.clone(), interrupt.clone());
            let delete = DeleteNodegroup {
                cluster_name: name.to_owned(),
                nodegroup_name: ng.clone(),
                if_missing: IfMissing::Ok,
                wait: Some(op.waiter),
                retry: op.waiter,
            };
            tasks.spawn(async move { (ng, delete_nodegroup(&client, &delete, &interrupt).await) });
        }
        let mut failures: Vec<Failure> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((ng, Ok(_))) => done.deleted_nodegroups.push(ng),
                Ok((_, Err(f))) => failures.push(f),
                Err(e) => failures
                    .push(Error::Internal(format!("a nodegroup deletion task failed: {e}")).into()),
            }
        }
        done.deleted_nodegroups.sort();
        if let Some(first) = failures.pop() {
            let mut failure = first;
            for other in failures {
                tracing::error!("{}", other.error);
                failure.left_behind.extend(other.left_behind);
            }
            return Err(failure.leaving(leftover(
                resource,
                cluster_state::ACTIVE,
                "not deleted: its nodegroups did not all delete",
            )));
        }

        let profiles = list_fargate_profiles(client, name).await?;
        if !profiles.is_empty() {
            tracing::info!(
                "{resource} has {} Fargate profile(s); deleting them one at a time: {}",
                profiles.len(),
                profiles.join(", ")
            );
        }
        for profile in profiles {
            let delete = DeleteFargateProfile {
                cluster_name: name.to_owned(),
                fargate_profile_name: profile.clone(),
                if_missing: IfMissing::Ok,
                wait: Some(op.waiter),
                retry: op.waiter,
            };
            delete_fargate_profile(client, &delete, interrupt)
                .await
                .map_err(|f| {
                    f.leaving(leftover(
                        resource.clone(),
                        cluster_state::ACTIVE,
                        "not deleted: its Fargate profiles did not all delete",
                    ))
                })?;
            done.deleted_fargate_profiles.push(profile);
        }
    }

    interrupt.check("deleting the cluster")?;
    let delete_call = || async {
        client
            .delete_cluster()
            .name(name)
            .send()
            .await
            .map_err(|e| Error::from_sdk("DeleteCluster", e))
    };
    let sent = if op.force_delete_compute {
        // Deleted compute can take a moment to let go of the cluster.
        retry_while_in_use(
            &format!("deleting {resource}"),
            op.waiter,
            interrupt,
            delete_call,
        )
        .await
    } else {
        delete_call().await.map_err(|e| match e {
            Error::Api { operation, code, message, transient, source } if code.as_deref() == Some("ResourceInUseException") => Error::Api {
                operation,
                code,
                message: format!("{message} (pass --force-delete-compute to delete its nodegroups and Fargate profiles first)"),
                transient,
                source,
            },
            other => other,
        })
    };
    match sent {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return missing(op, &resource),
        Err(e) => return Err(e.into()),
    }
    tracing::info!("{resource}: deletion requested");
    if op.wait_for_completion {
        wait_for_cluster(
            client,
            name,
            NONEXISTENT,
            &[cluster_state::FAILED],
            op.waiter,
            interrupt,
        )
        .await
        .map_err(|e| {
            leaving(
                e,
                leftover(
                    resource.clone(),
                    cluster_state::DELETING,
                    "deletion requested but not confirmed",
                ),
            )
        })?;
        done.status = NONEXISTENT.to_owned();
    }
    Ok(done)
}

fn missing(op: &DeleteCluster, resource: &str) -> Result<ClusterDeleted, Failure> {
    if op.if_missing == IfMissing::Ok {
        tracing::info!("{resource} does not exist; nothing to delete (--if-missing ok)");
        return Ok(ClusterDeleted {
            existed: false,
            status: NONEXISTENT.to_owned(),
            deleted_nodegroups: vec![],
            deleted_fargate_profiles: vec![],
        });
    }
    Err(Error::Api {
        operation: "DescribeCluster",
        code: Some("ResourceNotFoundException".to_owned()),
        message: format!(
            "No cluster found for name: {}. (pass --if-missing ok to treat this as success)",
            op.name
        ),
        transient: false,
        source: "cluster not found".into(),
    }
    .into())
}
