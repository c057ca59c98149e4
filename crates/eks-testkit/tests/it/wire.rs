//! What the SDK hides: headers, raw bodies, unknown routes, malformed requests, recording.

use std::net::TcpListener;

use aws_sdk_eks::error::ProvideErrorMetadata;
use eks_testkit::{FakeEks, FakeEksConfig};
use serde_json::json;

use crate::support::{client, create_cluster, raw_request};

#[tokio::test]
async fn unknown_operation_is_a_plain_404() {
    let fake = FakeEks::start().await;
    fake.seed_cluster("c", "ACTIVE");

    let response = raw_request(&fake, "GET", "/clusters/c/addons", None).await;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.header("x-amzn-errortype"),
        Some("UnknownOperationException")
    );
    let message = response.body["message"].as_str().unwrap();
    assert!(message.contains("GET /clusters/c/addons"), "{message}");

    // Through the SDK, an operation the fake lacks shows up by its error code.
    let err = client(&fake)
        .list_addons()
        .cluster_name("c")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("UnknownOperationException"));
    assert_eq!(fake.requests().last().unwrap().operation, "Unknown");
}

#[tokio::test]
async fn malformed_json_body_is_invalid_parameter() {
    let fake = FakeEks::start().await;
    for body in ["{\"name\": ", "[1, 2]"] {
        let response = raw_request(&fake, "POST", "/clusters", Some(body)).await;
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(
            response.header("x-amzn-errortype"),
            Some("InvalidParameterException")
        );
    }
    assert!(
        fake.requests()
            .iter()
            .all(|c| c.body.is_none() || c.status == 400)
    );
}

#[tokio::test]
async fn errors_carry_the_rest_json_header_and_resource_fields() {
    let fake = FakeEks::start().await;
    fake.seed_cluster("c", "ACTIVE");

    let response = raw_request(&fake, "GET", "/clusters/c/node-groups/missing", None).await;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(
        response
            .header("x-amzn-requestid")
            .is_some_and(|id| id.len() == 36)
    );
    assert_eq!(
        response.body,
        json!({
            "clusterName": "c",
            "nodegroupName": "missing",
            "message": "No node group found for name: missing.",
        })
    );
}

#[tokio::test]
async fn timestamps_are_epoch_seconds_and_path_parameters_are_decoded() {
    let fake = FakeEks::start().await;
    fake.seed_cluster("my-cluster", "ACTIVE");

    let response = raw_request(&fake, "GET", "/clusters/my%2Dcluster", None).await;
    assert_eq!(response.status, 200);
    let cluster = &response.body["cluster"];
    assert_eq!(cluster["name"], "my-cluster");
    assert_eq!(cluster["status"], "ACTIVE");
    let created_at = cluster["createdAt"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - created_at).abs() < 60.0,
        "createdAt {created_at}, now {now}"
    );
    assert_eq!(
        cluster["certificateAuthority"]["data"]
            .as_str()
            .map(|d| d.len() > 100),
        Some(true)
    );
}

#[tokio::test]
async fn every_request_is_recorded_with_its_operation_and_body() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    create_cluster(&eks, "c").await.unwrap();
    eks.describe_cluster().name("c").send().await.unwrap();
    eks.list_clusters().max_results(5).send().await.unwrap();
    eks.describe_cluster()
        .name("ghost")
        .send()
        .await
        .unwrap_err();

    let calls = fake.requests();
    let seen: Vec<(&str, &str, u16)> = calls
        .iter()
        .map(|c| (c.method.as_str(), c.operation.as_str(), c.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "CreateCluster", 200),
            ("GET", "DescribeCluster", 200),
            ("GET", "ListClusters", 200),
            ("GET", "DescribeCluster", 404),
        ]
    );
    let create_body = calls[0].body.as_ref().unwrap();
    assert_eq!(create_body["name"], "c");
    assert!(create_body["resourcesVpcConfig"]["subnetIds"].is_array());
    assert_eq!(calls[1].path, "/clusters/c");
    assert_eq!(calls[2].query.as_deref(), Some("maxResults=5"));
    assert!(calls.windows(2).all(|w| w[0].at <= w[1].at));
}

#[tokio::test]
async fn start_on_serves_on_the_given_listener_with_the_given_region() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = FakeEks::start_on(
        listener,
        FakeEksConfig {
            region: "eu-west-1".to_owned(),
            account_id: "210987654321".to_owned(),
            ..FakeEksConfig::default()
        },
    )
    .await;
    assert_eq!(fake.uri(), format!("http://127.0.0.1:{port}"));
    assert_eq!(fake.config().region, "eu-west-1");
    fake.seed_cluster("c", "ACTIVE");
    let response = raw_request(&fake, "GET", "/clusters/c", None).await;
    assert_eq!(
        response.body["cluster"]["arn"],
        "arn:aws:eks:eu-west-1:210987654321:cluster/c"
    );
    let endpoint = response.body["cluster"]["endpoint"].as_str().unwrap();
    assert!(
        endpoint.ends_with(".gr7.eu-west-1.eks.amazonaws.com"),
        "{endpoint}"
    );
}
