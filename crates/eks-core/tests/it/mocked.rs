//! The SDK's own mocks (aws-smithy-mocks) for sequences that are awkward to stage on the fake.

use std::time::Duration;

use aws_sdk_eks::Client;
use aws_sdk_eks::error::ErrorMetadata;
use aws_sdk_eks::operation::describe_cluster::{DescribeClusterError, DescribeClusterOutput};
use aws_sdk_eks::operation::list_nodegroups::ListNodegroupsOutput;
use aws_sdk_eks::types::error::ResourceNotFoundException;
use aws_sdk_eks::types::{Cluster, ClusterStatus};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use eks_core::Interrupt;
use eks_core::eks::{WaitOptions, describe_cluster, list_nodegroups, wait_for_cluster};

fn status(s: ClusterStatus) -> DescribeClusterOutput {
    DescribeClusterOutput::builder()
        .cluster(Cluster::builder().name("m").status(s).build())
        .build()
}

#[tokio::test]
async fn not_found_is_none_not_an_error() {
    let rule = mock!(Client::describe_cluster).then_error(|| {
        // As the SDK parses it from the wire: the error code travels in the metadata.
        let meta = ErrorMetadata::builder()
            .code("ResourceNotFoundException")
            .build();
        DescribeClusterError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("No cluster found for name: m.")
                .meta(meta)
                .build(),
        )
    });
    let eks = mock_client!(aws_sdk_eks, [&rule]);
    assert!(describe_cluster(&eks, "m").await.unwrap().is_none());
}

#[tokio::test]
async fn list_nodegroups_follows_every_page() {
    let page1 = mock!(Client::list_nodegroups)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            ListNodegroupsOutput::builder()
                .nodegroups("a")
                .nodegroups("b")
                .next_token("t1")
                .build()
        });
    let page2 = mock!(Client::list_nodegroups)
        .match_requests(|r| r.next_token() == Some("t1"))
        .then_output(|| ListNodegroupsOutput::builder().nodegroups("c").build());
    let eks = mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&page1, &page2]);
    assert_eq!(
        list_nodegroups(&eks, "m").await.unwrap(),
        vec!["a", "b", "c"]
    );
    assert_eq!(page2.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn wait_polls_exactly_until_active() {
    let rule = mock!(Client::describe_cluster)
        .sequence()
        .output(|| status(ClusterStatus::Creating))
        .times(3)
        .output(|| status(ClusterStatus::Active))
        .build();
    let eks = mock_client!(aws_sdk_eks, [&rule]);
    let options = WaitOptions {
        delay: Duration::from_secs(30),
        max_attempts: 10,
    };
    let waited = wait_for_cluster(
        &eks,
        "m",
        "ACTIVE",
        &["FAILED"],
        options,
        &Interrupt::never(),
    )
    .await
    .unwrap();
    assert_eq!(waited.attempts, 4);
    assert_eq!(
        rule.num_calls(),
        4,
        "no poll beyond the one that saw ACTIVE"
    );
}
