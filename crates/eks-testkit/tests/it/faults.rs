//! Injected throttling, server errors and latency.

use std::time::{Duration, Instant};

use aws_sdk_eks::config::retry::RetryConfig;
use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::operation::list_clusters::ListClustersError;
use eks_testkit::{FakeEks, FakeEksConfig, Fault};

use crate::support::{client, client_with_retry};

#[tokio::test]
async fn throttle_fault_surfaces_as_429_throttling_exception() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    fake.inject(Fault::Throttle, 1);

    let err = eks.describe_cluster().name("c").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(429));
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(err.message(), Some("Rate exceeded"));

    eks.describe_cluster().name("c").send().await.unwrap();
    let calls = fake.requests();
    let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert!(calls.iter().all(|c| c.operation == "DescribeCluster"));
}

#[tokio::test]
async fn faults_are_consumed_in_fifo_order_before_normal_handling() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.inject(Fault::Throttle, 1);
    fake.inject(Fault::ServerError, 1);
    fake.inject(Fault::Unavailable, 2);

    let mut outcomes = Vec::new();
    for _ in 0..5 {
        outcomes.push(match eks.list_clusters().send().await {
            Ok(_) => "ok".to_owned(),
            Err(err) => match err.into_service_error() {
                ListClustersError::ServerException(_) => "ServerException".to_owned(),
                ListClustersError::ServiceUnavailableException(_) => {
                    "ServiceUnavailableException".to_owned()
                }
                other => other.code().unwrap_or("no code").to_owned(),
            },
        });
    }
    assert_eq!(
        outcomes,
        [
            "ThrottlingException",
            "ServerException",
            "ServiceUnavailableException",
            "ServiceUnavailableException",
            "ok"
        ]
    );
    let statuses: Vec<u16> = fake.requests().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 500, 503, 503, 200]);
}

#[tokio::test]
async fn sdk_standard_retries_ride_out_transient_faults() {
    let fake = FakeEks::start().await;
    let eks = client_with_retry(
        &fake,
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    fake.inject(Fault::Unavailable, 1);
    fake.inject(Fault::Throttle, 1);

    eks.list_clusters().send().await.unwrap();
    let statuses: Vec<u16> = fake.requests().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [503, 429, 200]);
}

#[tokio::test]
async fn latency_delays_every_response() {
    let latency = Duration::from_millis(300);
    let fake = FakeEks::start_with(FakeEksConfig {
        latency,
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);

    let started = Instant::now();
    eks.list_clusters().send().await.unwrap();
    assert!(started.elapsed() >= latency, "{:?}", started.elapsed());

    fake.set_latency(Duration::from_millis(400));
    fake.inject(Fault::Throttle, 1);
    let started = Instant::now();
    eks.list_clusters().send().await.unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "faulted responses are delayed too: {:?}",
        started.elapsed()
    );
}
