//! Cluster lifecycle, echo of the request, errors and pagination.

use std::time::{Duration, SystemTime};

use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::operation::create_cluster::CreateClusterError;
use aws_sdk_eks::operation::delete_cluster::DeleteClusterError;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;
use aws_sdk_eks::operation::list_clusters::ListClustersError;
use aws_sdk_eks::types::{
    ClusterStatus, EncryptionConfig, Provider, SupportType, UpgradePolicyRequest, VpcConfigRequest,
};
use eks_testkit::{FakeEks, FakeEksConfig};

use crate::support::{CLUSTER_ROLE, NEVER, client, create_cluster, eventually, vpc_config};

/// Base64 of "-----BEGIN CERTIFICATE-----\n", the start of any PEM certificate.
const PEM_CERTIFICATE_BASE64_PREFIX: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tC";

#[tokio::test]
async fn create_cluster_is_creating_then_active_and_echoes_the_request() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);

    let created = eks
        .create_cluster()
        .name("airflow-prod")
        .role_arn(CLUSTER_ROLE)
        .version("1.30")
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-1")
                .subnet_ids("subnet-2")
                .security_group_ids("sg-0123")
                .endpoint_private_access(true)
                .build(),
        )
        .tags("team", "data")
        .encryption_config(
            EncryptionConfig::builder()
                .provider(
                    Provider::builder()
                        .key_arn("arn:aws:kms:us-east-1:123456789012:key/k")
                        .build(),
                )
                .build(),
        )
        .upgrade_policy(
            UpgradePolicyRequest::builder()
                .support_type(SupportType::Standard)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let cluster = created.cluster().unwrap();
    assert_eq!(cluster.status(), Some(&ClusterStatus::Creating));
    assert_eq!(cluster.name(), Some("airflow-prod"));
    assert_eq!(
        cluster.arn(),
        Some("arn:aws:eks:us-east-1:123456789012:cluster/airflow-prod")
    );
    assert_eq!(cluster.version(), Some("1.30"));
    assert_eq!(cluster.role_arn(), Some(CLUSTER_ROLE));
    assert!(cluster.platform_version().unwrap().starts_with("eks."));
    assert_eq!(
        cluster.tags().unwrap().get("team").map(String::as_str),
        Some("data")
    );
    let created_at = SystemTime::try_from(*cluster.created_at().unwrap()).unwrap();
    let age = SystemTime::now()
        .duration_since(created_at)
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "createdAt is {age:?} old");
    let vpc = cluster.resources_vpc_config().unwrap();
    assert_eq!(vpc.subnet_ids(), ["subnet-1", "subnet-2"]);
    assert_eq!(vpc.security_group_ids(), ["sg-0123"]);
    assert!(vpc.endpoint_private_access());
    assert!(
        vpc.endpoint_public_access(),
        "EKS defaults public access on"
    );
    assert!(vpc.cluster_security_group_id().unwrap().starts_with("sg-"));
    assert!(vpc.vpc_id().unwrap().starts_with("vpc-"));
    assert_eq!(
        cluster.encryption_config()[0].provider().unwrap().key_arn(),
        Some("arn:aws:kms:us-east-1:123456789012:key/k")
    );
    assert_eq!(
        cluster.upgrade_policy().unwrap().support_type(),
        Some(&SupportType::Standard)
    );
    assert!(
        cluster
            .kubernetes_network_config()
            .unwrap()
            .service_ipv4_cidr()
            .is_some()
    );
    assert!(
        cluster
            .access_config()
            .unwrap()
            .authentication_mode()
            .is_some()
    );
    assert!(
        cluster
            .identity()
            .and_then(|i| i.oidc())
            .and_then(|o| o.issuer())
            .unwrap()
            .starts_with("https://oidc.eks.us-east-1.amazonaws.com/id/")
    );
    assert!(!cluster.logging().unwrap().cluster_logging().is_empty());
    assert_eq!(cluster.endpoint(), None, "no endpoint while CREATING");
    assert!(
        cluster.certificate_authority().is_none(),
        "no CA while CREATING"
    );

    let active = eventually("cluster ACTIVE", || async {
        let described = eks
            .describe_cluster()
            .name("airflow-prod")
            .send()
            .await
            .unwrap();
        let cluster = described.cluster().unwrap().clone();
        (cluster.status() == Some(&ClusterStatus::Active)).then_some(cluster)
    })
    .await;
    let endpoint = active.endpoint().unwrap();
    let host = endpoint
        .strip_prefix("https://")
        .and_then(|h| h.strip_suffix(".gr7.us-east-1.eks.amazonaws.com"))
        .unwrap_or_else(|| panic!("unexpected endpoint {endpoint}"));
    assert_eq!(host.len(), 32);
    assert!(
        host.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    let ca = active.certificate_authority().unwrap().data().unwrap();
    assert!(ca.starts_with(PEM_CERTIFICATE_BASE64_PREFIX), "{ca}");
    assert_eq!(active.created_at(), cluster.created_at());
    assert_eq!(
        fake.cluster_status("airflow-prod").as_deref(),
        Some("ACTIVE")
    );
}

#[tokio::test]
async fn endpoint_and_ca_appear_only_once_active_and_can_be_overridden() {
    let pem = "-----BEGIN CERTIFICATE-----\nZmFrZS1rdWJlLWNh\n-----END CERTIFICATE-----\n";
    let fake = FakeEks::start_with(FakeEksConfig {
        cluster_create_time: NEVER,
        cluster_endpoint: Some("https://127.0.0.1:6443".to_owned()),
        cluster_ca_pem: Some(pem.to_owned()),
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);
    create_cluster(&eks, "c").await.unwrap();

    for _ in 0..3 {
        let described = eks.describe_cluster().name("c").send().await.unwrap();
        let cluster = described.cluster().unwrap();
        assert_eq!(cluster.status(), Some(&ClusterStatus::Creating));
        assert_eq!(cluster.endpoint(), None);
        assert!(cluster.certificate_authority().is_none());
    }

    fake.seed_cluster("c", "ACTIVE");
    let described = eks.describe_cluster().name("c").send().await.unwrap();
    let cluster = described.cluster().unwrap();
    assert_eq!(cluster.endpoint(), Some("https://127.0.0.1:6443"));
    assert_eq!(
        cluster.certificate_authority().unwrap().data(),
        Some(
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClptRnJaUzFyZFdKbExXTmgKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
        )
    );
}

#[tokio::test]
async fn duplicate_cluster_is_resource_in_use() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    create_cluster(&eks, "dup").await.unwrap();

    let err = create_cluster(&eks, "dup")
        .await
        .unwrap_err()
        .into_service_error();
    let CreateClusterError::ResourceInUseException(in_use) = &err else {
        panic!("expected ResourceInUseException, got {err:?}");
    };
    assert_eq!(
        in_use.message(),
        Some("Cluster already exists with name: dup")
    );
    assert_eq!(in_use.cluster_name(), Some("dup"));
}

#[tokio::test]
async fn describe_missing_cluster_is_resource_not_found() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);

    let err = eks
        .describe_cluster()
        .name("ghost")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let DescribeClusterError::ResourceNotFoundException(not_found) = &err else {
        panic!("expected ResourceNotFoundException, got {err:?}");
    };
    assert_eq!(
        not_found.message(),
        Some("No cluster found for name: ghost.")
    );
    assert_eq!(not_found.cluster_name(), Some("ghost"));
}

#[tokio::test]
async fn marked_cluster_ends_failed_without_endpoint_and_can_be_deleted_and_recreated() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.fail_cluster("doomed");
    create_cluster(&eks, "doomed").await.unwrap();

    let failed = eventually("cluster FAILED", || async {
        let described = eks.describe_cluster().name("doomed").send().await.unwrap();
        let cluster = described.cluster().unwrap().clone();
        (cluster.status() == Some(&ClusterStatus::Failed)).then_some(cluster)
    })
    .await;
    assert_eq!(failed.endpoint(), None);
    assert!(failed.certificate_authority().is_none());
    assert!(!failed.health().unwrap().issues().is_empty());

    eks.delete_cluster().name("doomed").send().await.unwrap();
    eventually("failed cluster gone", || async {
        fake.cluster_status("doomed").is_none().then_some(())
    })
    .await;
    create_cluster(&eks, "doomed").await.unwrap();
    eventually("recreated cluster ACTIVE (the mark is used up)", || async {
        (fake.cluster_status("doomed").as_deref() == Some("ACTIVE")).then_some(())
    })
    .await;
}

#[tokio::test]
async fn deleting_cluster_disappears_after_the_delete_time() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("old", "ACTIVE");
    fake.seed_cluster("keep", "ACTIVE");

    let deleted = eks.delete_cluster().name("old").send().await.unwrap();
    assert_eq!(
        deleted.cluster().unwrap().status(),
        Some(&ClusterStatus::Deleting)
    );
    assert!(
        deleted.cluster().unwrap().endpoint().is_some(),
        "still has its endpoint"
    );

    eventually("cluster gone", || async {
        let result = eks.describe_cluster().name("old").send().await;
        match result.map_err(|e| e.into_service_error()) {
            Err(DescribeClusterError::ResourceNotFoundException(_)) => Some(()),
            Ok(out) => {
                assert_eq!(
                    out.cluster().unwrap().status(),
                    Some(&ClusterStatus::Deleting)
                );
                None
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    })
    .await;
    let listed = eks.list_clusters().send().await.unwrap();
    assert_eq!(listed.clusters(), ["keep"]);
    assert_eq!(fake.cluster_status("old"), None);
}

#[tokio::test]
async fn deleting_a_creating_or_deleting_cluster_is_resource_in_use() {
    let fake = FakeEks::start_with(FakeEksConfig {
        cluster_create_time: NEVER,
        cluster_delete_time: NEVER,
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);
    create_cluster(&eks, "new").await.unwrap();
    fake.seed_cluster("old", "ACTIVE");

    let err = eks
        .delete_cluster()
        .name("new")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, DeleteClusterError::ResourceInUseException(_)),
        "{err:?}"
    );
    eks.delete_cluster().name("old").send().await.unwrap();
    let err = eks
        .delete_cluster()
        .name("old")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, DeleteClusterError::ResourceInUseException(_)),
        "{err:?}"
    );
    let err = eks
        .delete_cluster()
        .name("none")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, DeleteClusterError::ResourceNotFoundException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn list_clusters_paginates_across_three_pages() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    for i in 0..7 {
        fake.seed_cluster(&format!("c{i}"), "ACTIVE");
    }

    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = eks
            .list_clusters()
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages.push(page.clusters().to_vec());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(
        pages,
        [vec!["c0", "c1", "c2"], vec!["c3", "c4", "c5"], vec!["c6"]]
    );

    let all = eks.list_clusters().send().await.unwrap();
    assert_eq!(all.clusters().len(), 7);
    assert_eq!(all.next_token(), None);
}

#[tokio::test]
async fn list_clusters_rejects_bad_max_results_and_next_token() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    for max_results in [0, 101] {
        let err = eks
            .list_clusters()
            .max_results(max_results)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(
            matches!(err, ListClustersError::InvalidParameterException(_)),
            "maxResults {max_results}: {err:?}"
        );
    }
    let err = eks
        .list_clusters()
        .next_token("not-a-token-from-this-fake")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, ListClustersError::InvalidParameterException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn create_cluster_rejects_missing_fields_and_bad_names() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);

    let no_role = eks
        .create_cluster()
        .name("c")
        .resources_vpc_config(vpc_config())
        .send()
        .await;
    let no_vpc = eks
        .create_cluster()
        .name("c")
        .role_arn(CLUSTER_ROLE)
        .send()
        .await;
    let no_name = eks
        .create_cluster()
        .role_arn(CLUSTER_ROLE)
        .resources_vpc_config(vpc_config())
        .send()
        .await;
    let bad_start = create_cluster(&eks, "-c").await;
    let bad_char = create_cluster(&eks, "c.1").await;
    let too_long = create_cluster(&eks, &"c".repeat(101)).await;
    for (case, result) in [
        ("no roleArn", no_role),
        ("no resourcesVpcConfig", no_vpc),
        ("no name", no_name),
        ("leading hyphen", bad_start),
        ("dot", bad_char),
        ("101 characters", too_long),
    ] {
        let err = result.unwrap_err().into_service_error();
        assert!(
            matches!(err, CreateClusterError::InvalidParameterException(_)),
            "{case}: {err:?}"
        );
        assert!(err.message().is_some_and(|m| !m.is_empty()), "{case}");
    }
    create_cluster(&eks, &"c".repeat(100)).await.unwrap();
    assert_eq!(
        eks.list_clusters().send().await.unwrap().clusters().len(),
        1
    );
}
