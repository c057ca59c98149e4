//! Clients, request bodies and polling shared by the tests.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_eks::Client;
use aws_sdk_eks::config::retry::RetryConfig;
use aws_sdk_eks::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_eks::types::VpcConfigRequest;
use eks_testkit::FakeEks;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const CLUSTER_ROLE: &str = "arn:aws:iam::123456789012:role/eks-cluster-role";
pub const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/eks-node-role";
pub const POD_ROLE: &str = "arn:aws:iam::123456789012:role/eks-fargate-pod-role";

/// Longer than any test runs: a lifecycle step that never happens during the test.
pub const NEVER: Duration = Duration::from_secs(3600);

/// The real SDK client pointed at `fake`, with retries off so each call is one request.
pub fn client(fake: &FakeEks) -> Client {
    client_with_retry(fake, RetryConfig::disabled())
}

pub fn client_with_retry(fake: &FakeEks, retry: RetryConfig) -> Client {
    let config = aws_sdk_eks::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEKSTESTKIT",
            "eks-testkit-secret",
            None,
            None,
            "eks-testkit",
        ))
        .endpoint_url(fake.uri())
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

pub fn vpc_config() -> VpcConfigRequest {
    VpcConfigRequest::builder()
        .subnet_ids("subnet-0aaa0000000000001")
        .subnet_ids("subnet-0aaa0000000000002")
        .build()
}

/// Sends a typical CreateCluster for `name`.
pub async fn create_cluster(
    eks: &Client,
    name: &str,
) -> Result<
    aws_sdk_eks::operation::create_cluster::CreateClusterOutput,
    aws_sdk_eks::error::SdkError<aws_sdk_eks::operation::create_cluster::CreateClusterError>,
> {
    eks.create_cluster()
        .name(name)
        .role_arn(CLUSTER_ROLE)
        .resources_vpc_config(vpc_config())
        .send()
        .await
}

/// Polls `check` every 20 ms until it yields a value; fails the test after 10 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A response read off the wire, for what the SDK hides (headers, raw body).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close`, read to the end.
pub async fn raw_request(
    fake: &FakeEks,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> RawResponse {
    let address = fake.uri().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: serde_json::from_str(body).unwrap(),
    }
}
