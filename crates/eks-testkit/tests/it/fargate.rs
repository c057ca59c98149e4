//! Fargate profile lifecycle and EKS's one-profile-at-a-time rule.

use aws_sdk_eks::Client;
use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eks::operation::create_fargate_profile::{
    CreateFargateProfileError, CreateFargateProfileOutput,
};
use aws_sdk_eks::operation::delete_cluster::DeleteClusterError;
use aws_sdk_eks::operation::delete_fargate_profile::{
    DeleteFargateProfileError, DeleteFargateProfileOutput,
};
use aws_sdk_eks::operation::describe_fargate_profile::DescribeFargateProfileError;
use aws_sdk_eks::types::{FargateProfileSelector, FargateProfileStatus};
use eks_testkit::{FakeEks, FakeEksConfig};

use crate::support::{NEVER, POD_ROLE, client, create_cluster, eventually};

fn selector(namespace: &str) -> FargateProfileSelector {
    FargateProfileSelector::builder()
        .namespace(namespace)
        .build()
}

async fn create_profile(
    eks: &Client,
    cluster: &str,
    name: &str,
) -> Result<CreateFargateProfileOutput, SdkError<CreateFargateProfileError>> {
    eks.create_fargate_profile()
        .cluster_name(cluster)
        .fargate_profile_name(name)
        .pod_execution_role_arn(POD_ROLE)
        .selectors(selector("airflow"))
        .send()
        .await
}

async fn delete_profile(
    eks: &Client,
    cluster: &str,
    name: &str,
) -> Result<DeleteFargateProfileOutput, SdkError<DeleteFargateProfileError>> {
    eks.delete_fargate_profile()
        .cluster_name(cluster)
        .fargate_profile_name(name)
        .send()
        .await
}

#[tokio::test]
async fn fargate_profile_is_creating_then_active_then_deleting_then_gone() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");

    let created = eks
        .create_fargate_profile()
        .cluster_name("c")
        .fargate_profile_name("airflow-pods")
        .pod_execution_role_arn(POD_ROLE)
        .selectors(
            FargateProfileSelector::builder()
                .namespace("airflow")
                .labels("fargate", "yes")
                .build(),
        )
        .tags("team", "data")
        .send()
        .await
        .unwrap();
    let profile = created.fargate_profile().unwrap();
    assert_eq!(profile.status(), Some(&FargateProfileStatus::Creating));
    assert_eq!(profile.fargate_profile_name(), Some("airflow-pods"));
    assert_eq!(profile.cluster_name(), Some("c"));
    assert!(
        profile
            .fargate_profile_arn()
            .unwrap()
            .starts_with("arn:aws:eks:us-east-1:123456789012:fargateprofile/c/airflow-pods/")
    );
    assert_eq!(profile.pod_execution_role_arn(), Some(POD_ROLE));
    assert_eq!(profile.selectors()[0].namespace(), Some("airflow"));
    assert_eq!(
        profile.selectors()[0]
            .labels()
            .unwrap()
            .get("fargate")
            .map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        profile.tags().unwrap().get("team").map(String::as_str),
        Some("data")
    );
    assert!(profile.created_at().is_some());
    assert_eq!(
        profile.subnets().len(),
        2,
        "without subnets EKS uses the cluster's"
    );

    eventually("profile ACTIVE", || async {
        let described = eks
            .describe_fargate_profile()
            .cluster_name("c")
            .fargate_profile_name("airflow-pods")
            .send()
            .await
            .unwrap();
        (described.fargate_profile().unwrap().status() == Some(&FargateProfileStatus::Active))
            .then_some(())
    })
    .await;
    let listed = eks
        .list_fargate_profiles()
        .cluster_name("c")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.fargate_profile_names(), ["airflow-pods"]);

    let deleted = delete_profile(&eks, "c", "airflow-pods").await.unwrap();
    assert_eq!(
        deleted.fargate_profile().unwrap().status(),
        Some(&FargateProfileStatus::Deleting)
    );
    eventually("profile gone", || async {
        let result = eks
            .describe_fargate_profile()
            .cluster_name("c")
            .fargate_profile_name("airflow-pods")
            .send()
            .await;
        match result.map_err(|e| e.into_service_error()) {
            Err(DescribeFargateProfileError::ResourceNotFoundException(e)) => {
                assert_eq!(
                    e.message(),
                    Some("No Fargate Profile found with name: airflow-pods.")
                );
                assert_eq!(e.fargate_profile_name(), Some("airflow-pods"));
                Some(())
            }
            Ok(_) => None,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn only_one_fargate_profile_of_a_cluster_may_be_creating() {
    let fake = FakeEks::start_with(FakeEksConfig {
        fargate_create_time: NEVER,
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    create_profile(&eks, "c", "fp1").await.unwrap();

    // The SDK model omits ResourceInUseException here, so it arrives as an unmodeled code.
    let err = create_profile(&eks, "c", "fp2")
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ResourceInUseException"));
    assert_eq!(
        err.message(),
        Some(
            "Cannot create Fargate Profile fp2 because cluster c currently has Fargate profile fp1 in status CREATING"
        )
    );
    let err = delete_profile(&eks, "c", "fp1")
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.code(),
        Some("ResourceInUseException"),
        "fp1 is CREATING"
    );

    fake.seed_fargate_profile("c", "fp1", "ACTIVE");
    create_profile(&eks, "c", "fp2").await.unwrap();
    assert_eq!(
        fake.fargate_profile_status("c", "fp2").as_deref(),
        Some("CREATING")
    );
}

#[tokio::test]
async fn no_fargate_profile_may_be_created_or_deleted_while_another_is_deleting() {
    let fake = FakeEks::start_with(FakeEksConfig {
        fargate_delete_time: NEVER,
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);
    fake.seed_fargate_profile("c", "fp1", "ACTIVE");
    fake.seed_fargate_profile("c", "fp2", "ACTIVE");
    delete_profile(&eks, "c", "fp1").await.unwrap();

    let err = delete_profile(&eks, "c", "fp2")
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ResourceInUseException"));
    assert_eq!(
        err.message(),
        Some(
            "Cannot delete Fargate Profile fp2 because cluster c currently has Fargate profile fp1 in status DELETING"
        )
    );
    let err = delete_profile(&eks, "c", "fp1")
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.code(),
        Some("ResourceInUseException"),
        "fp1 already DELETING"
    );
    let err = create_profile(&eks, "c", "fp3")
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ResourceInUseException"));

    // Another cluster is unaffected.
    fake.seed_cluster("other", "ACTIVE");
    create_profile(&eks, "other", "fp3").await.unwrap();
}

#[tokio::test]
async fn marked_fargate_profile_ends_create_failed() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    fake.fail_fargate_profile("c", "bad");
    create_profile(&eks, "c", "bad").await.unwrap();
    eventually("profile CREATE_FAILED", || async {
        (fake.fargate_profile_status("c", "bad").as_deref() == Some("CREATE_FAILED")).then_some(())
    })
    .await;
    let described = eks
        .describe_fargate_profile()
        .cluster_name("c")
        .fargate_profile_name("bad")
        .send()
        .await
        .unwrap();
    let profile = described.fargate_profile().unwrap();
    assert_eq!(profile.status(), Some(&FargateProfileStatus::CreateFailed));
    assert!(!profile.health().unwrap().issues().is_empty());
}

#[tokio::test]
async fn deleting_a_cluster_with_fargate_profiles_is_resource_in_use() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_fargate_profile("c", "fp", "ACTIVE");
    let err = eks
        .delete_cluster()
        .name("c")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, DeleteClusterError::ResourceInUseException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn fargate_profile_on_a_cluster_that_is_not_active_is_invalid_request() {
    let fake = FakeEks::start_with(FakeEksConfig {
        cluster_create_time: NEVER,
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);
    create_cluster(&eks, "c").await.unwrap();
    let err = create_profile(&eks, "c", "fp")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, CreateFargateProfileError::InvalidRequestException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn create_fargate_profile_rejects_missing_selectors_role_and_bad_names() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    let base = || {
        eks.create_fargate_profile()
            .cluster_name("c")
            .fargate_profile_name("fp")
    };
    let cases = [
        (
            "no selectors",
            base().pod_execution_role_arn(POD_ROLE).send().await,
        ),
        (
            "selector without namespace",
            base()
                .pod_execution_role_arn(POD_ROLE)
                .selectors(FargateProfileSelector::builder().labels("a", "b").build())
                .send()
                .await,
        ),
        (
            "no podExecutionRoleArn",
            base().selectors(selector("airflow")).send().await,
        ),
        (
            "64-character name",
            create_profile(&eks, "c", &"f".repeat(64)).await,
        ),
    ];
    for (case, result) in cases {
        let err = result.unwrap_err().into_service_error();
        assert!(
            matches!(err, CreateFargateProfileError::InvalidParameterException(_)),
            "{case}: {err:?}"
        );
    }
    let duplicate = {
        create_profile(&eks, "c", "fp").await.unwrap();
        fake.seed_fargate_profile("c", "fp", "ACTIVE");
        create_profile(&eks, "c", "fp")
            .await
            .unwrap_err()
            .into_service_error()
    };
    assert_eq!(duplicate.code(), Some("ResourceInUseException"));
    assert_eq!(
        duplicate.message(),
        Some("A Fargate Profile already exists with this name in this cluster.")
    );
}
