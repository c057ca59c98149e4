//! Fargate profiles: create (with reuse, wait and clean-up of a failed one) and delete.
//! EKS changes one profile of a cluster at a time, so both retry while another is in flight.

use std::collections::BTreeSet;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{FargateProfile, FargateProfileStatus};

use super::kwargs::CreateFargateProfileRequest;
use super::{
    CreatedChild, Deleted, IfExists, IfMissing, NONEXISTENT, WaitOptions, child_state,
    delete_then_wait, describe_fargate_profile, fargate_resource, retry_while_in_use,
    settle_created, wait_for_fargate_profile,
};
use crate::error::{Error, Failure};
use crate::interrupt::Interrupt;
use crate::output::FargateProfileInfo;

#[derive(Debug)]
pub struct CreateFargateProfile {
    /// The full request; `cluster_name`, `fargate_profile_name`, `pod_execution_role_arn`
    /// and `selectors` set.
    pub request: CreateFargateProfileRequest,
    pub if_exists: IfExists,
    pub wait: Option<WaitOptions>,
    /// Delete the profile if it fails to become ACTIVE.
    pub cleanup_on_failure: bool,
    /// Interval and budget for retrying while another profile of the cluster is changing.
    pub retry: WaitOptions,
}

#[derive(Debug)]
pub struct FargateProfileCreated {
    pub fargate_profile: FargateProfileInfo,
    pub reused: bool,
    pub waited: bool,
}

pub async fn create_fargate_profile(
    client: &Client,
    op: CreateFargateProfile,
    interrupt: &Interrupt,
) -> Result<FargateProfileCreated, Failure> {
    let cluster = op.request.cluster_name.clone().unwrap_or_default();
    let name = op.request.fargate_profile_name.clone().unwrap_or_default();
    let resource = fargate_resource(&cluster, &name);
    interrupt.check("creating the Fargate profile")?;

    let expected = op.request.clone();
    let created = retry_while_in_use(
        &format!("creating {resource}"),
        op.retry,
        interrupt,
        || async {
            let builder = expected.clone().apply(client.create_fargate_profile())?;
            match builder.send().await {
                Ok(out) => Ok((out.fargate_profile, false)),
                Err(e) => {
                    let e = Error::from_sdk("CreateFargateProfile", e);
                    if !e.is_in_use() {
                        return Err(e);
                    }
                    // In use means either this name exists, or another profile is changing.
                    match describe_fargate_profile(client, &cluster, &name).await? {
                        Some(existing) if op.if_exists == IfExists::Reuse => {
                            check_reusable(&existing, &expected)?;
                            tracing::info!(
                                "{resource} exists and matches; reusing it (--if-exists reuse)"
                            );
                            Ok((Some(existing), true))
                        }
                        Some(_) => Err(Error::Conflict(format!(
                            "{resource} already exists (pass --if-exists reuse to reuse it)"
                        ))),
                        None => Err(e),
                    }
                }
            }
        },
    )
    .await;
    let (created, reused) = created?;
    let status = created
        .as_ref()
        .and_then(|p| p.status())
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
        retry: op.retry,
        delete_with: "eks-delete-fargate-profile",
    };
    let waited = settle_created(
        child,
        interrupt,
        |wait| {
            wait_for_fargate_profile(
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
    let fargate_profile = match describe_fargate_profile(client, &cluster, &name).await {
        Ok(Some(p)) => FargateProfileInfo::from(&p),
        _ => created
            .as_ref()
            .map(FargateProfileInfo::from)
            .unwrap_or_else(|| FargateProfileInfo::named(&cluster, &name, &status)),
    };
    Ok(FargateProfileCreated {
        fargate_profile,
        reused,
        waited,
    })
}

fn check_reusable(
    existing: &FargateProfile,
    asked: &CreateFargateProfileRequest,
) -> Result<(), Error> {
    let mut diffs = Vec::new();
    if let Some(role) = &asked.pod_execution_role_arn
        && existing.pod_execution_role_arn() != Some(role.as_str())
    {
        diffs.push(format!(
            "podExecutionRoleArn is {:?}, asked {role:?}",
            existing.pod_execution_role_arn().unwrap_or_default()
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
    if let Some(selectors) = &asked.selectors {
        let have: BTreeSet<String> = existing
            .selectors()
            .iter()
            .map(|s| s.namespace().unwrap_or_default().to_owned())
            .collect();
        let want: BTreeSet<String> = selectors
            .iter()
            .map(|s| s.namespace.clone().unwrap_or_default())
            .collect();
        if have != want {
            diffs.push(format!("selector namespaces are {have:?}, asked {want:?}"));
        }
    }
    let state = existing.status().map(|s| s.as_str()).unwrap_or_default();
    if ![child_state::ACTIVE, child_state::CREATING].contains(&state) {
        diffs.push(format!("it is {state}"));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "Fargate profile {} exists but cannot be reused (--if-exists reuse): {}",
            existing.fargate_profile_name().unwrap_or_default(),
            diffs.join("; ")
        )))
    }
}

#[derive(Debug, Clone)]
pub struct DeleteFargateProfile {
    pub cluster_name: String,
    pub fargate_profile_name: String,
    pub if_missing: IfMissing,
    pub wait: Option<WaitOptions>,
    /// Interval and budget for retrying while another profile is changing.
    pub retry: WaitOptions,
}

pub async fn delete_fargate_profile(
    client: &Client,
    op: &DeleteFargateProfile,
    interrupt: &Interrupt,
) -> Result<Deleted, Failure> {
    let (cluster, name) = (op.cluster_name.as_str(), op.fargate_profile_name.as_str());
    delete_then_wait(
        &fargate_resource(cluster, name),
        op.if_missing,
        op.wait,
        op.retry,
        interrupt,
        || send_delete(client, cluster, name),
        |wait| {
            wait_for_fargate_profile(
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

/// DeleteFargateProfile; a profile already being deleted counts as sent.
async fn send_delete(client: &Client, cluster: &str, name: &str) -> Result<(), Error> {
    match client
        .delete_fargate_profile()
        .cluster_name(cluster)
        .fargate_profile_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = Error::from_sdk("DeleteFargateProfile", e);
            let deleting = e.is_in_use()
                && describe_fargate_profile(client, cluster, name)
                    .await?
                    .and_then(|p| p.status().cloned())
                    == Some(FargateProfileStatus::Deleting);
            if deleting { Ok(()) } else { Err(e) }
        }
    }
}
