//! Micro-benchmarks of the hot paths, run by `cargo xtask bench` (or `cargo bench -p eks-core`):
//! signing an EKS token, writing a result line as JSON, and judging followed log lines
//! (timestamp parsing and the resume cursor) as `eks-pod` does for every line it prints.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eks_core::output::{ClusterInfo, CreateClusterOutput, Envelope, NodegroupInfo};
use eks_core::pod::logs::{LineVerdict, LogCursor, newline_positions};
use eks_core::token::{TokenRequest, presign};

fn token_signing(c: &mut Criterion) {
    let credentials = Credentials::new(
        "AKIDEXAMPLE0000000000",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("FwoGZXIvYXdzEXAMPLESESSIONTOKEN".repeat(10)),
        None,
        "bench",
    );
    let request = TokenRequest {
        cluster_name: "production-cluster",
        region: "us-east-1",
        sts_endpoint: None,
    };
    let at = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    c.bench_function("token/presign", |b| {
        b.iter(|| presign(black_box(&credentials), black_box(&request), at))
    });
}

fn json_output(c: &mut Criterion) {
    let mut cluster = ClusterInfo::named("production-cluster", "ACTIVE");
    cluster.arn = Some("arn:aws:eks:us-east-1:123456789012:cluster/production-cluster".into());
    cluster.endpoint =
        Some("https://B19A6F0C3D5E7A9B1C2D3E4F5A6B7C8D.gr7.us-east-1.eks.amazonaws.com".into());
    // A CA certificate's PEM, base64: the longest field of a real result.
    cluster.certificate_authority_data = Some("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".repeat(40));
    cluster.version = Some("1.31".into());
    cluster.platform_version = Some("eks.12".into());
    cluster.role_arn = Some("arn:aws:iam::123456789012:role/eks-cluster".into());
    cluster.created_at = Some("2026-01-01T00:00:00Z".into());
    cluster.vpc_id = Some("vpc-0a1b2c3d4e5f60001".into());
    cluster.subnet_ids = vec![
        "subnet-0a1b2c3d4e5f60001".into(),
        "subnet-0a1b2c3d4e5f60002".into(),
    ];
    cluster.tags = BTreeMap::from([
        ("team".into(), "data".into()),
        ("env".into(), "prod".into()),
    ]);
    let result = Envelope::new(
        "create-cluster",
        CreateClusterOutput {
            cluster,
            reused: false,
            nodegroup: Some(NodegroupInfo::named(
                "production-cluster",
                "workers",
                "ACTIVE",
            )),
            fargate_profile: None,
            waited: true,
            elapsed_seconds: 612.25,
        },
    );
    c.bench_function("json/create_cluster_result_line", |b| {
        b.iter(|| serde_json::to_string(black_box(&result)))
    });
}

/// 1 MiB of `timestamps=true` log text as the API server sends it: 128-byte lines a
/// nanosecond apart (as the fake control plane writes a `yes | head` log).
fn stamped_log() -> Vec<u8> {
    let text = "x".repeat(127);
    let mut log = Vec::with_capacity(1 << 20);
    let mut nanos = 123_456_789u32;
    while log.len() < (1 << 20) - 200 {
        log.extend_from_slice(format!("2026-12-04T10:00:00.{nanos:09}Z {text}\n").as_bytes());
        nanos += 1;
    }
    log
}

fn log_lines(c: &mut Criterion) {
    let log = stamped_log();
    let mut group = c.benchmark_group("log_lines");
    group.throughput(Throughput::Bytes(log.len() as u64));
    // What `follow` does with every chunk read, short of writing the lines out.
    group.bench_function("split_and_judge_1MiB", |b| {
        b.iter(|| {
            let log = black_box(&log);
            let mut resumed = LogCursor::default().resume();
            let (mut start, mut delivered) = (0, 0usize);
            for end in newline_positions(log) {
                let raw = String::from_utf8_lossy(&log[start..end]);
                if let LineVerdict::Deliver(text) = resumed.judge(&raw) {
                    delivered += text.len() + 1;
                }
                start = end + 1;
            }
            delivered
        })
    });
    // Its parts: finding the newlines, and what parsing every stamp in full would cost.
    group.bench_function("newline_positions_1MiB", |b| {
        b.iter(|| newline_positions(black_box(&log)).count())
    });
    group.bench_function("jiff_parse_every_stamp_1MiB", |b| {
        b.iter(|| {
            black_box(&log)
                .split(|byte| *byte == b'\n')
                .filter_map(|raw| std::str::from_utf8(raw).ok()?.split_once(' '))
                .filter(|(stamp, _)| stamp.parse::<jiff::Timestamp>().is_ok())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, token_signing, json_output, log_lines);
criterion_main!(benches);
