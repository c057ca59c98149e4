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
        Ok(match describe_cluster(client, name).await? {
            None => Observed {
                state: NONEXISTENT.into(),
                reason: None,
            },
            Some(c) => Observed {
                state: c
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: c
                    .health()
                    .map(|h| {
                        h.issues()
                            .iter()
                            .map(|i| {
                                format!(
                                    "{}: {}",
                                    i.code().map(|c| c.as_str()).unwrap_or("Unknown"),
                                    i.message().unwrap_or_default()
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .filter(|s| !s.is_empty()),
            },
        })
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
        Ok(match describe_nodegroup(client, cluster, name).await? {
            None => Observed {
                state: NONEXISTENT.into(),
                reason: None,
            },
            Some(n) => Observed {
                state: n
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: Some(crate::output::nodegroup_issues(&n).join("; "))
                    .filter(|s| !s.is_empty()),
            },
        })
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
        Ok(
            match describe_fargate_profile(client, cluster, name).await? {
                None => Observed {
                    state: NONEXISTENT.into(),
                    reason: None,
                },
                Some(p) => Observed {
                    state: p
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    reason: Some(crate::output::fargate_issues(&p).join("; "))
                        .filter(|s| !s.is_empty()),
                },
            },
        )
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
