//! EKS API calls and waiters: describe and list helpers, the operations each binary runs
//! (create and delete of clusters, nodegroups and Fargate profiles) and the state waits.

pub mod cluster;
pub mod fargate;
pub mod kwargs;
pub mod nodegroup;
pub mod wait;

use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{Cluster, FargateProfile, Nodegroup};

use crate::error::{Error, Failure, Leftover};
use crate::interrupt::Interrupt;
pub use wait::{NONEXISTENT, Observed, WaitGoal, WaitOptions, Waited};

/// What to do when the resource to create already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    /// Fail with a conflict (exit 6), as EKS and Airflow do.
    #[default]
    Fail,
    /// Return the existing resource if it matches what was asked, as GKE's create does.
    Reuse,
}

/// What to do when the resource to delete does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfMissing {
    #[default]
    Fail,
    /// Succeed with `existed: false`: idempotent teardown tasks.
    Ok,
}

/// Cluster states, as EKS reports them.
pub mod cluster_state {
    pub const ACTIVE: &str = "ACTIVE";
    pub const CREATING: &str = "CREATING";
    pub const DELETING: &str = "DELETING";
    pub const FAILED: &str = "FAILED";
    pub const UPDATING: &str = "UPDATING";
    pub const PENDING: &str = "PENDING";
    pub const ALL: &[&str] = &[
        ACTIVE,
        CREATING,
        DELETING,
        FAILED,
        UPDATING,
        PENDING,
        super::NONEXISTENT,
    ];
    /// Airflow's EksClusterStateSensor stops at any of these.
    pub const TERMINAL: &[&str] = &[ACTIVE, FAILED, super::NONEXISTENT];
}

/// Nodegroup and Fargate profile states, as EKS reports them.
pub mod child_state {
    pub const ACTIVE: &str = "ACTIVE";
    pub const CREATING: &str = "CREATING";
    pub const DELETING: &str = "DELETING";
    pub const UPDATING: &str = "UPDATING";
    pub const DEGRADED: &str = "DEGRADED";
    pub const CREATE_FAILED: &str = "CREATE_FAILED";
    pub const DELETE_FAILED: &str = "DELETE_FAILED";
    pub const NODEGROUP_ALL: &[&str] = &[
        ACTIVE,
        CREATING,
        DELETING,
        UPDATING,
        DEGRADED,
        CREATE_FAILED,
        DELETE_FAILED,
        super::NONEXISTENT,
    ];
    pub const FARGATE_ALL: &[&str] = &[
        ACTIVE,
        CREATING,
        DELETING,
        CREATE_FAILED,
        DELETE_FAILED,
        super::NONEXISTENT,
    ];
    /// Airflow's nodegroup and Fargate profile sensors stop at any of these.
    pub const TERMINAL: &[&str] = &[ACTIVE, CREATE_FAILED, DELETE_FAILED, super::NONEXISTENT];
}

pub(crate) fn cluster_resource(name: &str) -> String {
    format!("cluster/{name}")
}

pub(crate) fn nodegroup_resource(cluster: &str, name: &str) -> String {
    format!("nodegroup/{cluster}/{name}")
}

pub(crate) fn fargate_resource(cluster: &str, name: &str) -> String {
    format!("fargate-profile/{cluster}/{name}")
}

/// DescribeCluster; `None` when EKS says it does not exist.
pub async fn describe_cluster(client: &Client, name: &str) -> Result<Option<Cluster>, Error> {
    match client.describe_cluster().name(name).send().await {
        Ok(out) => Ok(out.cluster),
        Err(e) => not_found_as_none(Error::from_sdk("DescribeCluster", e)),
    }
}

/// DescribeNodegroup; `None` when the nodegroup (or its cluster) does not exist.
pub async fn describe_nodegroup(
    client: &Client,
    cluster: &str,
    name: &str,
) -> Result<Option<Nodegroup>, Error> {
    match client
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.nodegroup),
        Err(e) => not_found_as_none(Error::from_sdk("DescribeNodegroup", e)),
    }
}

/// DescribeFargateProfile; `None` when the profile (or its cluster) does not exist.
pub async fn describe_fargate_profile(
    client: &Client,
    cluster: &str,
    name: &str,
) -> Result<Option<FargateProfile>, Error> {
    match client
        .describe_fargate_profile()
        .cluster_name(cluster)
        .fargate_profile_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.fargate_profile),
        Err(e) => not_found_as_none(Error::from_sdk("DescribeFargateProfile", e)),
    }
}

fn not_found_as_none<T>(e: Error) -> Result<Option<T>, Error> {
    if e.is_not_found() { Ok(None) } else { Err(e) }
}

/// Every nodegroup of a cluster, across pages.
pub async fn list_nodegroups(client: &Client, cluster: &str) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_nodegroups()
            .cluster_name(cluster)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::from_sdk("ListNodegroups", e))?;
        names.extend(page.nodegroups.unwrap_or_default());
        token = page.next_token;
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// Every Fargate profile of a cluster, across pages.
pub async fn list_fargate_profiles(client: &Client, cluster: &str) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_fargate_profiles()
            .cluster_name(cluster)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::from_sdk("ListFargateProfiles", e))?;
        names.extend(page.fargate_profile_names.unwrap_or_default());
        token = page.next_token;
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// What a poll saw: the status when the resource exists, with its health issues as the reason.
fn observed(found: Option<(String, Vec<String>)>) -> Observed {
    match found {
        None => Observed {
            state: NONEXISTENT.into(),
            reason: None,
        },
        Some((state, issues)) => Observed {
            state,
            reason: Some(issues.join("; ")).filter(|r| !r.is_empty()),
        },
    }
}

/// Poll a cluster until `target`.
pub async fn wait_for_cluster(
    client: &Client,
    name: &str,
    target: &str,
    fail_on: &[&str],
    options: WaitOptions,
    interrupt: &Interrupt,
) -> Result<Waited, Error> {
    let resource = cluster_resource(name);
    let goal = WaitGoal {
        resource: &resource,
        target,
        fail_on,
    };
    wait::wait_for(&goal, options, interrupt, || async {
        let found = describe_cluster(client, name).await?.map(|c| {
            let issues = c.health().map(|h| h.issues()).unwrap_or_default();
            let status = c
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            (
                status,
                crate::output::issue_lines(
                    issues
                        .iter()
                        .map(|i| (i.code().map(|c| c.as_str()), i.message())),
                ),
            )
        });
        Ok(observed(found))
    })
    .await
}

/// Poll a nodegroup until `target`.
pub async fn wait_for_nodegroup(
    client: &Client,
    cluster: &str,
    name: &str,
    target: &str,
    fail_on: &[&str],
    options: WaitOptions,
    interrupt: &Interrupt,
) -> Result<Waited, Error> {
    let resource = nodegroup_resource(cluster, name);
    let goal = WaitGoal {
        resource: &resource,
        target,
        fail_on,
    };
    wait::wait_for(&goal, options, interrupt, || async {
        let found = describe_nodegroup(client, cluster, name).await?.map(|n| {
            let status = n
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            (status, crate::output::nodegroup_issues(&n))
        });
        Ok(observed(found))
    })
    .await
}

/// Poll a Fargate profile until `target`.
pub async fn wait_for_fargate_profile(
    client: &Client,
    cluster: &str,
    name: &str,
    target: &str,
    fail_on: &[&str],
    options: WaitOptions,
    interrupt: &Interrupt,
) -> Result<Waited, Error> {
    let resource = fargate_resource(cluster, name);
    let goal = WaitGoal {
        resource: &resource,
        target,
        fail_on,
    };
    wait::wait_for(&goal, options, interrupt, || async {
        let found = describe_fargate_profile(client, cluster, name)
            .await?
            .map(|p| {
                let status = p
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                (status, crate::output::fargate_issues(&p))
            });
        Ok(observed(found))
    })
    .await
}

/// Retry `call` while EKS answers ResourceInUseException (compute still draining, another
/// Fargate profile being deleted), at the waiter's interval and within its budget.
pub(crate) async fn retry_while_in_use<T, F, Fut>(
    what: &str,
    options: WaitOptions,
    interrupt: &Interrupt,
    mut call: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let delay = options
        .delay
        .clamp(Duration::from_millis(10), Duration::from_secs(30));
    let attempts = (options.budget().as_secs_f64() / delay.as_secs_f64())
        .ceil()
        .max(1.0) as u32;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_in_use() && attempt < attempts => {
                tracing::info!(
                    "{what}: {e}; retrying in {}s (attempt {attempt}/{attempts})",
                    delay.as_secs_f64()
                );
                interrupt.sleep(delay, what).await?;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Helper to report a resource left behind.
pub(crate) fn leftover(resource: String, status: &str, note: impl Into<String>) -> Leftover {
    Leftover {
        resource,
        status: status.to_owned(),
        note: note.into(),
    }
}

/// Attach a leftover to any error.
pub(crate) fn leaving(e: impl Into<Failure>, left: Leftover) -> Failure {
    e.into().leaving(left)
}

/// The state an error last saw, for reporting what is left.
fn last_state(error: &Error, fallback: &str) -> String {
    match error {
        Error::Timeout { last_state, .. } => last_state.clone(),
        Error::ResourceFailed { state, .. } => state.clone(),
        _ => fallback.to_owned(),
    }
}

/// How a nodegroup or Fargate profile create ends: the parts that differ by kind.
pub(crate) struct CreatedChild<'a> {
    pub resource: &'a str,
    /// Status the create call returned.
    pub status: &'a str,
    pub reused: bool,
    pub wait: Option<WaitOptions>,
    pub cleanup_on_failure: bool,
    /// Interval and budget for the clean-up's retries.
    pub retry: WaitOptions,
    /// The binary that deletes this kind, for the note on what is left.
    pub delete_with: &'a str,
}

/// After a create: wait for ACTIVE when asked; when the resource fails, delete what this run
/// made; either way say what is left. Returns whether it waited.
pub(crate) async fn settle_created<W, WFut, D, DFut>(
    child: CreatedChild<'_>,
    interrupt: &Interrupt,
    wait_active: W,
    delete: D,
) -> Result<bool, Failure>
where
    W: FnOnce(WaitOptions) -> WFut,
    WFut: std::future::Future<Output = Result<Waited, Error>>,
    D: FnMut() -> DFut,
    DFut: std::future::Future<Output = Result<(), Error>>,
{
    let Some(options) = child.wait else {
        return Ok(false);
    };
    let resource = child.resource.to_owned();
    match wait_active(options).await {
        Ok(_) => Ok(true),
        Err(error @ Error::ResourceFailed { .. }) if child.cleanup_on_failure && !child.reused => {
            tracing::warn!("{resource} failed to become ACTIVE ({error}); deleting it");
            let left = match retry_while_in_use(
                &format!("deleting the failed {resource}"),
                child.retry,
                interrupt,
                delete,
            )
            .await
            {
                Ok(()) => leftover(
                    resource,
                    child_state::DELETING,
                    "failed; deletion requested by this run",
                ),
                Err(e) if e.is_not_found() => return Err(error.into()),
                Err(e) => leftover(
                    resource,
                    child_state::CREATE_FAILED,
                    format!("failed, and deleting it failed too ({e}); delete it by hand"),
                ),
            };
            Err(leaving(error, left))
        }
        Err(error) => {
            let note = if child.reused {
                "existed before this run; left as it was".to_owned()
            } else {
                format!(
                    "created by this run and not deleted; delete it with {} if unwanted",
                    child.delete_with
                )
            };
            let last = last_state(&error, child.status);
            Err(leaving(error, leftover(resource, &last, note)))
        }
    }
}

/// The end of a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub existed: bool,
    /// `DELETING`, or `NONEXISTENT` when waited for.
    pub status: String,
}

/// Send a delete (retrying while EKS says the resource is busy), then wait until it is gone
/// when asked. `send` treats "already deleting" as sent.
pub(crate) async fn delete_then_wait<S, SFut, W, WFut>(
    resource: &str,
    if_missing: IfMissing,
    wait: Option<WaitOptions>,
    retry: WaitOptions,
    interrupt: &Interrupt,
    send: S,
    wait_gone: W,
) -> Result<Deleted, Failure>
where
    S: FnMut() -> SFut,
    SFut: std::future::Future<Output = Result<(), Error>>,
    W: FnOnce(WaitOptions) -> WFut,
    WFut: std::future::Future<Output = Result<Waited, Error>>,
{
    interrupt.check(&format!("deleting {resource}"))?;
    match retry_while_in_use(&format!("deleting {resource}"), retry, interrupt, send).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() && if_missing == IfMissing::Ok => {
            tracing::info!("{resource} does not exist; nothing to delete (--if-missing ok)");
            return Ok(Deleted {
                existed: false,
                status: NONEXISTENT.to_owned(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!("{resource}: deletion requested");
    let Some(options) = wait else {
        return Ok(Deleted {
            existed: true,
            status: child_state::DELETING.to_owned(),
        });
    };
    match wait_gone(options).await {
        Ok(_) => Ok(Deleted {
            existed: true,
            status: NONEXISTENT.to_owned(),
        }),
        Err(e) => {
            let state = last_state(&e, child_state::DELETING);
            Err(leaving(
                e,
                leftover(
                    resource.to_owned(),
                    &state,
                    "deletion requested but not confirmed",
                ),
            ))
        }
    }
}
