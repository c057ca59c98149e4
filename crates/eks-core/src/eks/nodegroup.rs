//! Managed nodegroups: create (with reuse, wait and clean-up of a failed one) and delete.

use std::collections::BTreeSet;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{Nodegroup, NodegroupStatus};

use super::kwargs::CreateNodegroupRequest;
use super::{
    CreatedChild, Deleted, IfExists, IfMissing, NONEXISTENT, WaitOptions, child_state,
    delete_then_wait, describe_nodegroup, nodegroup_resource, settle_created, wait_for_nodegroup,
};
use crate::error::{Error, Failure};
use crate::interrupt::Interrupt;
use crate::output::NodegroupInfo;

/// Tag EKS and the cluster autoscaler use to find a cluster's resources; Airflow's hook adds it.
pub fn ownership_tag(cluster: &str) -> String {
    format!("kubernetes.io/cluster/{cluster}")
}

#[derive(Debug)]
pub struct CreateNodegroup {
    /// The full request; `cluster_name`, `nodegroup_name`, `subnets` and `node_role` set.
    pub request: CreateNodegroupRequest,
    pub if_exists: IfExists,
    /// Wait for ACTIVE with these options.
    pub wait: Option<WaitOptions>,
    /// Delete the nodegroup if it fails to become ACTIVE (Airflow's `delete_nodegroup_on_failure`).
    pub cleanup_on_failure: bool,
}

#[derive(Debug)]
pub struct NodegroupCreated {
    pub nodegroup: NodegroupInfo,
    pub reused: bool,
    pub waited: bool,
}

pub async fn create_nodegroup(
    client: &Client,
    mut op: CreateNodegroup,
    interrupt: &Interrupt,
) -> Result<NodegroupCreated, Failure> {
    let cluster = op.request.cluster_name.clone().unwrap_or_default();
    let name = op.request.nodegroup_name.clone().unwrap_or_default();
    let resource = nodegroup_resource(&cluster, &name);
    let tags = op.request.tags.get_or_insert_with(Default::default);
    tags.entry(ownership_tag(&cluster))
        .or_insert_with(|| "owned".to_owned());

    interrupt.check("creating the nodegroup")?;
    let expected = op.request.clone();
    let builder = op
        .request
        .apply(client.create_nodegroup())
        .map_err(Error::from)?;
    let (created, reused) = match builder.send().await {
        Ok(out) => (out.nodegroup, false),
        Err(e) => {
            let e = Error::from_sdk("CreateNodegroup", e);
            if !(e.is_in_use() && op.if_exists == IfExists::Reuse) {
                return Err(e.into());
            }
            let existing = describe_nodegroup(client, &cluster, &name)
                .await?
                .ok_or(e)?;
            check_reusable(&existing, &expected)?;
            tracing::info!("{resource} exists and matches; reusing it (--if-exists reuse)");
            (Some(existing), true)
        }
    };
    let status = created
        .as_ref()
        .and_then(|n| n.status())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| child_state::CREATING.to_owned());
    tracing::info!("{resource}: {status}");

    let fail_on = [
        child_state::CREATE_FAILED,
        child_state::DELETING,
        child_state::DELETE_FAILED,
        NONEXISTENT,
    ];
    let child = CreatedChild {
        resource: &resource,
        status: &status,
        reused,
        wait: op.wait,
        cleanup_on_failure: op.cleanup_on_failure,
        retry: op.wait.unwrap_or(CLEANUP_RETRY),
        delete_with: "eks-delete-nodegroup",
    };
    let waited = settle_created(
        child,
        interrupt,
        |wait| {
            wait_for_nodegroup(
                client,
                &cluster,
                &name,
                child_state::ACTIVE,
                &fail_on,
                wait,
                interrupt,
            )
        },
        || send_delete(client, &cluster, &name),
    )
    .await?;
    // Describe again for the final state; the create response is the fallback.
    let nodegroup = match describe_nodegroup(client, &cluster, &name).await {
        Ok(Some(n)) => NodegroupInfo::from(&n),
        _ => created
            .as_ref()
            .map(NodegroupInfo::from)
            .unwrap_or_else(|| NodegroupInfo::named(&cluster, &name, &status)),
    };
    Ok(NodegroupCreated {
        nodegroup,
        reused,
        waited,
    })
}

/// `--if-exists reuse`: the existing nodegroup must be what was asked for.
fn check_reusable(existing: &Nodegroup, asked: &CreateNodegroupRequest) -> Result<(), Error> {
    let mut diffs = Vec::new();
    if let Some(role) = &asked.node_role
        && existing.node_role() != Some(role.as_str())
    {
        diffs.push(format!(
            "nodeRole is {:?}, asked {role:?}",
            existing.node_role().unwrap_or_default()
        ));
    }
    if let Some(subnets) = &asked.subnets
        && !subnets.is_empty()
    {
        let have: BTreeSet<&str> = existing.subnets().iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = subnets.iter().map(String::as_str).collect();
        if have != want {
            diffs.push(format!("subnets are {have:?}, asked {want:?}"));
        }
    }
    if let Some(types) = &asked.instance_types
        && !types.is_empty()
        && existing.instance_types() != types.as_slice()
    {
        diffs.push(format!(
            "instanceTypes are {:?}, asked {types:?}",
            existing.instance_types()
        ));
    }
    let state = existing.status().map(|s| s.as_str()).unwrap_or_default();
    if ![
        child_state::ACTIVE,
        child_state::CREATING,
        child_state::UPDATING,
    ]
    .contains(&state)
    {
        diffs.push(format!("it is {state}"));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "nodegroup {} exists but cannot be reused (--if-exists reuse): {}",
            existing.nodegroup_name().unwrap_or_default(),
            diffs.join("; ")
        )))
    }
}

#[derive(Debug, Clone)]
pub struct DeleteNodegroup {
    pub cluster_name: String,
    pub nodegroup_name: String,
    pub if_missing: IfMissing,
    /// Wait until it is gone.
    pub wait: Option<WaitOptions>,
    /// Interval and budget for retrying while EKS says the nodegroup is busy.
    pub retry: WaitOptions,
}

pub async fn delete_nodegroup(
    client: &Client,
    op: &DeleteNodegroup,
    interrupt: &Interrupt,
) -> Result<Deleted, Failure> {
    let (cluster, name) = (op.cluster_name.as_str(), op.nodegroup_name.as_str());
    delete_then_wait(
        &nodegroup_resource(cluster, name),
        op.if_missing,
        op.wait,
        op.retry,
        interrupt,
        || send_delete(client, cluster, name),
        |wait| {
            wait_for_nodegroup(
                client,
                cluster,
                name,
                NONEXISTENT,
                &[child_state::DELETE_FAILED],
                wait,
                interrupt,
            )
        },
    )
    .await
}

/// DeleteNodegroup; a nodegroup already being deleted counts as sent.
async fn send_delete(client: &Client, cluster: &str, name: &str) -> Result<(), Error> {
    match client
        .delete_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = Error::from_sdk("DeleteNodegroup", e);
            let deleting = e.is_in_use()
                && describe_nodegroup(client, cluster, name)
                    .await?
                    .and_then(|n| n.status().cloned())
                    == Some(NodegroupStatus::Deleting);
            if deleting { Ok(()) } else { Err(e) }
        }
    }
}

/// Retries of a clean-up when the user asked for no wait: a minute, every 5 s.
const CLEANUP_RETRY: WaitOptions = WaitOptions {
    delay: std::time::Duration::from_secs(5),
    max_attempts: 12,
};
