//! Runs pods on the fake Kubernetes control plane as a pod operator would: create, follow
//! status, logs and events, watch, delete, over the same HTTPS client as `kube.rs`, with the
//! fake's clock sped up so that `sleep 30` takes a fraction of a second.

use std::time::Duration;

use eks_testkit::FakeKube;
use eks_testkit::kube::FakeKubeConfig;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::kube::{GOOD_TOKEN, address, connector, tokens};
use crate::support::eventually;

/// Simulated time runs 100 times faster than real time.
const FAST: FakeKubeConfig = FakeKubeConfig { time_scale: 0.01 };

async fn start() -> FakeKube {
    FakeKube::start_with(tokens(), FAST).await.unwrap()
}

/// Sends one request on a fresh connection and returns the response with its body unread.
pub(crate) async fn send(
    fake: &FakeKube,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> hyper::Response<Incoming> {
    let tcp = TcpStream::connect(address(fake)).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector(fake.ca_pem()).connect(name, tcp).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {GOOD_TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    sender.send_request(request).await.unwrap()
}

/// One JSON request: status and body.
async fn call(fake: &FakeKube, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let response = send(fake, method, path, body).await;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// A text response read to its end: status, text, and whether it ended cleanly (the
/// terminating chunk arrived) rather than being cut.
async fn read_text(fake: &FakeKube, path: &str) -> (u16, String, bool) {
    let response = send(fake, "GET", path, None).await;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut text = Vec::new();
    loop {
        match body.frame().await {
            None => return (status, String::from_utf8(text).unwrap(), true),
            Some(Ok(frame)) => text.extend_from_slice(frame.data_ref().unwrap_or(&Bytes::new())),
            Some(Err(_)) => return (status, String::from_utf8(text).unwrap(), false),
        }
    }
}

fn sh_pod(name: &str, script: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "kpo"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "base", "image": "busybox:1.36",
                            "command": ["sh", "-c", script]}],
        },
    })
}

async fn create(fake: &FakeKube, pod: Value) -> Value {
    let (status, created) = call(fake, "POST", "/api/v1/namespaces/default/pods", Some(pod)).await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn get_pod(fake: &FakeKube, name: &str) -> Option<Value> {
    let (status, pod) = call(
        fake,
        "GET",
        &format!("/api/v1/namespaces/default/pods/{name}"),
        None,
    )
    .await;
    (status == 200).then_some(pod)
}

/// Waits until the pod's phase is `phase`; the pod then.
async fn wait_for_phase(fake: &FakeKube, name: &str, phase: &str) -> Value {
    eventually(&format!("pod {name} to be {phase}"), || async {
        get_pod(fake, name)
            .await
            .filter(|pod| pod["status"]["phase"] == phase)
    })
    .await
}

fn terminated(pod: &Value, index: usize) -> &Value {
    &pod["status"]["containerStatuses"][index]["state"]["terminated"]
}

async fn log(fake: &FakeKube, name: &str, query: &str) -> String {
    let (status, text, clean) = read_text(
        fake,
        &format!("/api/v1/namespaces/default/pods/{name}/log?{query}"),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(clean);
    text
}

/// `(timestamp, text)` of each line of a `timestamps=true` log.
fn stamped(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|line| {
            let (stamp, rest) = line.split_once(' ').unwrap();
            (stamp.to_owned(), rest.to_owned())
        })
        .collect()
}

/// Nanoseconds since the epoch of an RFC 3339 timestamp (Z, up to 9 fractional digits).
fn nanos(stamp: &str) -> u128 {
    let (whole, fraction) = stamp
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((stamp.trim_end_matches('Z'), ""));
    let fraction: u128 = format!("{fraction:0<9}").parse().unwrap();
    let (date, time) = whole.split_once('T').unwrap();
    let date: Vec<i64> = date.split('-').map(|part| part.parse().unwrap()).collect();
    let time: Vec<i64> = time.split(':').map(|part| part.parse().unwrap()).collect();
    // Days since the epoch, valid for this century: enough to order timestamps in a test.
    let (year, month, day) = (date[0], date[1], date[2]);
    let month_days = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = i64::from(year % 4 == 0 && month > 2);
    let days =
        (year - 1970) * 365 + (year - 1969) / 4 + month_days[(month - 1) as usize] + leap + day - 1;
    let seconds = days * 86_400 + time[0] * 3600 + time[1] * 60 + time[2];
    u128::try_from(seconds).unwrap() * 1_000_000_000 + fraction
}

async fn event_reasons(fake: &FakeKube, name: &str) -> Vec<String> {
    let (status, events) = call(
        fake,
        "GET",
        &format!("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D{name}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            assert_eq!(event["involvedObject"]["name"], name);
            event["reason"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn created_pod_runs_to_succeeded_with_exact_log_lines_and_increasing_timestamps() {
    let fake = start().await;
    let created = create(
        &fake,
        sh_pod(
            "run-1",
            "echo start; for i in $(seq 1 3); do echo \"line $i\"; done; printf '%s=%d\\n' n 7; sleep 30; echo end",
        ),
    )
    .await;
    assert_eq!(created["metadata"]["name"], "run-1");
    assert_eq!(created["status"]["phase"], "Pending");
    assert!(created["metadata"]["uid"].is_string());
    assert!(created["metadata"]["creationTimestamp"].is_string());
    let created_version: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let running = wait_for_phase(&fake, "run-1", "Running").await;
    assert!(running["status"]["containerStatuses"][0]["state"]["running"]["startedAt"].is_string());
    assert_eq!(running["spec"]["nodeName"], "ip-10-0-1-23.ec2.internal");
    let image_id = running["status"]["containerStatuses"][0]["imageID"]
        .as_str()
        .unwrap();
    assert!(
        image_id.starts_with("busybox@sha256:") && image_id.len() == 15 + 64,
        "{image_id}"
    );

    let done = wait_for_phase(&fake, "run-1", "Succeeded").await;
    let state = terminated(&done, 0);
    assert_eq!(state["exitCode"], 0);
    assert_eq!(state["reason"], "Completed");
    assert!(state["finishedAt"].is_string() && state["startedAt"].is_string());
    let done_version: u64 = done["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(done_version > created_version);

    assert_eq!(
        log(&fake, "run-1", "").await,
        "start\nline 1\nline 2\nline 3\nn=7\nend\n"
    );
    let lines = stamped(&log(&fake, "run-1", "timestamps=true").await);
    let texts: Vec<&str> = lines.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(texts, ["start", "line 1", "line 2", "line 3", "n=7", "end"]);
    let times: Vec<u128> = lines.iter().map(|(stamp, _)| nanos(stamp)).collect();
    assert!(times.windows(2).all(|pair| pair[0] < pair[1]), "{lines:?}");
    // `sleep 30` took 0.3 s of real time at this scale.
    assert!(times[5] - times[4] >= 250_000_000, "{lines:?}");
    assert_eq!(log(&fake, "run-1", "tailLines=2").await, "n=7\nend\n");
    assert_eq!(log(&fake, "run-1", "limitBytes=8").await, "start\nli");

    let reasons = event_reasons(&fake, "run-1").await;
    assert_eq!(
        reasons,
        ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    );

    let (status, list) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/default/pods?labelSelector=app%3Dkpo",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(
        list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= done_version
    );
}

#[tokio::test]
async fn generate_name_gets_a_suffix() {
    let fake = start().await;
    let mut pod = sh_pod("", "exit 0");
    pod["metadata"] = json!({"generateName": "airflow-task-"});
    let created = create(&fake, pod).await;
    let name = created["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("airflow-task-") && name.len() == "airflow-task-".len() + 5,
        "{name}"
    );
    wait_for_phase(&fake, name, "Succeeded").await;
}

#[tokio::test]
async fn failing_container_reports_exit_code_and_termination_message() {
    let fake = start().await;
    create(
        &fake,
        sh_pod(
            "fails",
            "echo working; echo 'disk full' > /dev/termination-log; exit 3",
        ),
    )
    .await;
    let failed = wait_for_phase(&fake, "fails", "Failed").await;
    let state = terminated(&failed, 0);
    assert_eq!(state["exitCode"], 3);
    assert_eq!(state["reason"], "Error");
    assert_eq!(state["message"], "disk full\n");
    assert_eq!(log(&fake, "fails", "").await, "working\n");
}

#[tokio::test]
async fn unsupported_script_exits_127_with_a_message() {
    let fake = start().await;
    create(&fake, sh_pod("curl", "curl http://example.com")).await;
    let failed = wait_for_phase(&fake, "curl", "Failed").await;
    assert_eq!(terminated(&failed, 0)["exitCode"], 127);
    assert!(
        log(&fake, "curl", "")
            .await
            .contains("unsupported statement")
    );
}

#[tokio::test]
async fn missing_image_fails_to_pull_with_events_and_logs_are_refused() {
    let fake = start().await;
    let mut pod = sh_pod("no-image", "echo hi");
    pod["spec"]["containers"][0]["image"] = json!("registry.example/does-not-exist:1");
    create(&fake, pod).await;
    let pod = eventually("ImagePullBackOff", || async {
        get_pod(&fake, "no-image").await.filter(|pod| {
            pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                == "ImagePullBackOff"
        })
    })
    .await;
    assert_eq!(pod["status"]["phase"], "Pending");
    let reasons = event_reasons(&fake, "no-image").await;
    assert_eq!(
        reasons,
        [
            "Scheduled",
            "Pulling",
            "Failed",
            "Failed",
            "BackOff",
            "Failed"
        ]
    );

    let (status, text, _) = read_text(&fake, "/api/v1/namespaces/default/pods/no-image/log").await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        error["message"],
        "container \"base\" in pod \"no-image\" is waiting to start: ImagePullBackOff"
    );
    // Nothing runs, so a delete does not wait out the grace period (36 s at this scale).
    let (status, deleting) = call(
        &fake,
        "DELETE",
        "/api/v1/namespaces/default/pods/no-image?gracePeriodSeconds=3600",
        None,
    )
    .await;
    assert_eq!(status, 200, "{deleting}");
    eventually("the pod to be gone", || async {
        get_pod(&fake, "no-image").await.is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn unschedulable_pod_stays_pending_with_failed_scheduling() {
    let fake = start().await;
    let mut pod = sh_pod("stuck", "echo hi");
    pod["spec"]["nodeSelector"] = json!({"eks-fake/unschedulable": "true"});
    create(&fake, pod).await;
    let pod = eventually("PodScheduled=False", || async {
        get_pod(&fake, "stuck")
            .await
            .filter(|pod| pod["status"]["conditions"][0]["reason"] == "Unschedulable")
    })
    .await;
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(pod["status"]["conditions"][0]["type"], "PodScheduled");
    assert_eq!(pod["status"]["conditions"][0]["status"], "False");
    assert_eq!(event_reasons(&fake, "stuck").await, ["FailedScheduling"]);
    // Never scheduled: a delete removes it at once whatever the grace period.
    let (status, _) = call(
        &fake,
        "DELETE",
        "/api/v1/namespaces/default/pods/stuck",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(get_pod(&fake, "stuck").await.is_none());
}

#[tokio::test]
async fn create_answers_409_422_and_404_statuses() {
    let fake = start().await;
    create(&fake, sh_pod("dup", "sleep 1000")).await;
    let (status, conflict) = call(
        &fake,
        "POST",
        "/api/v1/namespaces/default/pods",
        Some(sh_pod("dup", "exit 0")),
    )
    .await;
    assert_eq!(
        (status, conflict["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    assert_eq!(conflict["message"], "pods \"dup\" already exists");

    let invalid_pods = [
        (
            json!({"metadata": {"name": "a"}, "spec": {"containers": []}}),
            "spec.containers",
        ),
        (
            json!({"metadata": {"name": "a"}, "spec": {"containers": [{"image": "busybox"}]}}),
            "spec.containers[0].name",
        ),
        (
            json!({"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c"}]}}),
            "spec.containers[0].image",
        ),
        (sh_pod("Not_A_Name", "exit 0"), "metadata.name"),
        (
            json!({"metadata": {"name": "a"}, "spec": {"containers": [
                {"name": "c", "image": "busybox"}, {"name": "c", "image": "busybox"}]}}),
            "spec.containers[1].name",
        ),
    ];
    for (pod, field) in invalid_pods {
        let (status, invalid) =
            call(&fake, "POST", "/api/v1/namespaces/default/pods", Some(pod)).await;
        assert_eq!(
            (status, invalid["reason"].as_str()),
            (422, Some("Invalid")),
            "{invalid}"
        );
        assert_eq!(invalid["details"]["causes"][0]["field"], field, "{invalid}");
        assert_eq!(invalid["kind"], "Status");
    }

    let (status, missing) = call(
        &fake,
        "POST",
        "/api/v1/namespaces/nowhere/pods",
        Some(sh_pod("x", "exit 0")),
    )
    .await;
    assert_eq!(
        (status, missing["reason"].as_str()),
        (404, Some("NotFound"))
    );
    assert_eq!(missing["message"], "namespaces \"nowhere\" not found");

    let (status, gone) = call(
        &fake,
        "DELETE",
        "/api/v1/namespaces/default/pods/ghost",
        None,
    )
    .await;
    assert_eq!((status, gone["reason"].as_str()), (404, Some("NotFound")));
}

#[tokio::test]
async fn delete_with_grace_period_kills_a_running_pod() {
    let fake = start().await;
    create(&fake, sh_pod("long", "echo up; sleep 3600")).await;
    wait_for_phase(&fake, "long", "Running").await;
    let (status, deleting) = call(
        &fake,
        "DELETE",
        "/api/v1/namespaces/default/pods/long",
        Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 100})),
    )
    .await;
    assert_eq!(status, 200, "{deleting}");
    assert_eq!(deleting["kind"], "Pod");
    assert_eq!(deleting["metadata"]["deletionGracePeriodSeconds"], 100);
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    // Within the grace period the container still runs.
    let still = get_pod(&fake, "long").await.unwrap();
    assert!(still["status"]["containerStatuses"][0]["state"]["running"].is_object());

    let mut watch = send(
        &fake,
        "GET",
        &format!(
            "/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3Dlong&resourceVersion={}",
            deleting["metadata"]["resourceVersion"].as_str().unwrap()
        ),
        None,
    )
    .await
    .into_body();
    let events = read_events(&mut watch, 2).await;
    assert_eq!(events[0]["type"], "MODIFIED");
    let killed = terminated(&events[0]["object"], 0);
    assert_eq!(
        (killed["exitCode"].as_i64(), killed["reason"].as_str()),
        (Some(137), Some("Error"))
    );
    assert_eq!(events[1]["type"], "DELETED");
    assert!(get_pod(&fake, "long").await.is_none());
    assert!(
        event_reasons(&fake, "long")
            .await
            .contains(&"Killing".to_owned())
    );
}

#[tokio::test]
async fn delete_with_zero_grace_removes_at_once() {
    let fake = start().await;
    create(&fake, sh_pod("now", "sleep 3600")).await;
    wait_for_phase(&fake, "now", "Running").await;
    let (status, deleted) = call(
        &fake,
        "DELETE",
        "/api/v1/namespaces/default/pods/now?gracePeriodSeconds=0",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["metadata"]["name"], "now");
    assert!(get_pod(&fake, "now").await.is_none());
}

/// Reads `n` watch events from a streaming body.
async fn read_events(body: &mut Incoming, n: usize) -> Vec<Value> {
    let mut buffer = Vec::new();
    let mut events = Vec::new();
    while events.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("a watch event within 10 s")
            .expect("the watch to stay open")
            .unwrap();
        buffer.extend_from_slice(frame.data_ref().unwrap());
        while let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            events.push(serde_json::from_slice(&line).unwrap());
        }
    }
    events
}

#[tokio::test]
async fn followed_logs_stream_until_the_container_ends_including_the_final_lines() {
    let fake = start().await;
    create(
        &fake,
        sh_pod(
            "follow",
            "for i in $(seq 1 5); do echo \"line $i\"; sleep 5; done; echo last",
        ),
    )
    .await;
    wait_for_phase(&fake, "follow", "Running").await;
    let (status, text, clean) = read_text(
        &fake,
        "/api/v1/namespaces/default/pods/follow/log?follow=true",
    )
    .await;
    assert_eq!(status, 200);
    assert!(clean);
    assert_eq!(text, "line 1\nline 2\nline 3\nline 4\nline 5\nlast\n");
    let pod = get_pod(&fake, "follow").await.unwrap();
    assert!(terminated(&pod, 0).is_object());
}

#[tokio::test]
async fn since_time_resume_after_a_cut_stream_yields_every_line_once() {
    let fake = start().await;
    create(
        &fake,
        sh_pod(
            "resume",
            "for i in $(seq 1 8); do echo \"line $i\"; sleep 2; done",
        ),
    )
    .await;
    wait_for_phase(&fake, "resume", "Running").await;
    fake.drop_log_streams_after(3, 1);
    let path = "/api/v1/namespaces/default/pods/resume/log?follow=true&timestamps=true";
    let (status, first, clean) = read_text(&fake, path).await;
    assert_eq!(status, 200);
    assert!(!clean, "the first stream is cut");
    let first = stamped(&first);
    assert_eq!(first.len(), 3);
    // Resume just after the last line seen: Kubernetes returns lines at or after sinceTime.
    let last = nanos(&first[2].0) + 1;
    let since = format!("{}.{:09}Z", &first[2].0[..19], last % 1_000_000_000);
    let (status, rest, clean) = read_text(&fake, &format!("{path}&sinceTime={since}")).await;
    assert_eq!(status, 200);
    assert!(clean);
    let texts: Vec<String> = first
        .into_iter()
        .chain(stamped(&rest))
        .map(|(_, text)| text)
        .collect();
    let expected: Vec<String> = (1..=8).map(|i| format!("line {i}")).collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn xcom_file_written_by_one_container_is_read_by_another_whose_log_needs_a_name() {
    let fake = start().await;
    let pod = json!({
        "metadata": {"name": "xcom"},
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "base", "image": "busybox", "command": ["sh", "-c",
             "sleep 1; echo '{\"rows\": 42}' > /airflow/xcom/return.json; touch /airflow/xcom/.done"]},
            {"name": "airflow-xcom-sidecar", "image": "alpine", "command": ["sh", "-c",
             "until [ -f /airflow/xcom/.done ]; do sleep 1; done; cat /airflow/xcom/return.json"]},
        ]},
    });
    create(&fake, pod).await;
    wait_for_phase(&fake, "xcom", "Succeeded").await;
    let (status, text, _) = read_text(&fake, "/api/v1/namespaces/default/pods/xcom/log").await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        error["message"],
        "a container name must be specified for pod xcom, choose one of: [base airflow-xcom-sidecar]"
    );
    assert_eq!(
        log(&fake, "xcom", "container=airflow-xcom-sidecar").await,
        "{\"rows\": 42}\n"
    );
    assert_eq!(log(&fake, "xcom", "container=base").await, "");
    let (status, _, _) = read_text(
        &fake,
        "/api/v1/namespaces/default/pods/xcom/log?container=base&previous=true",
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn active_deadline_fails_the_pod() {
    let fake = start().await;
    let mut pod = sh_pod("slow", "sleep 3600");
    pod["spec"]["activeDeadlineSeconds"] = json!(5);
    create(&fake, pod).await;
    let failed = wait_for_phase(&fake, "slow", "Failed").await;
    assert_eq!(failed["status"]["reason"], "DeadlineExceeded");
    assert_eq!(terminated(&failed, 0)["exitCode"], 137);
}

#[tokio::test]
async fn watch_sees_added_modified_and_deleted_in_order() {
    let fake = start().await;
    let from = fake.resource_version();
    let mut watch = send(
        &fake,
        "GET",
        &format!("/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dkpo&resourceVersion={from}&allowWatchBookmarks=true"),
        None,
    )
    .await
    .into_body();
    create(&fake, sh_pod("watched", "echo hi")).await;
    wait_for_phase(&fake, "watched", "Succeeded").await;
    call(
        &fake,
        "DELETE",
        "/api/v1/namespaces/default/pods/watched",
        None,
    )
    .await;

    let mut seen = Vec::new();
    while seen.last().map(|event: &Value| event["type"].as_str()) != Some(Some("DELETED")) {
        seen.extend(read_events(&mut watch, 1).await);
    }
    assert_eq!(seen[0]["type"], "ADDED");
    assert!(
        seen[1..seen.len() - 1]
            .iter()
            .all(|event| event["type"] == "MODIFIED")
    );
    let phases: Vec<&str> = seen
        .iter()
        .map(|event| event["object"]["status"]["phase"].as_str().unwrap())
        .collect();
    assert!(
        phases.contains(&"Running") && phases.contains(&"Succeeded"),
        "{phases:?}"
    );
    let versions: Vec<u64> = seen
        .iter()
        .map(|event| {
            event["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "{versions:?}"
    );
}

#[tokio::test]
async fn watch_from_a_compacted_resource_version_is_expired() {
    let fake = start().await;
    create(&fake, sh_pod("old", "exit 0")).await;
    let old = fake.resource_version();
    wait_for_phase(&fake, "old", "Succeeded").await;
    fake.compact_history();
    let (status, text, clean) = read_text(
        &fake,
        &format!("/api/v1/namespaces/default/pods?watch=1&resourceVersion={old}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(clean);
    let event: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
}

#[tokio::test]
async fn dropped_watch_is_cut_and_server_errors_and_latency_are_injected() {
    let fake = start().await;
    create(&fake, sh_pod("w", "exit 0")).await;
    fake.drop_watch_streams(1);
    let (status, text, clean) =
        read_text(&fake, "/api/v1/namespaces/default/pods?watch=true").await;
    assert_eq!(status, 200);
    assert!(!clean);
    assert!(text.contains("\"ADDED\""), "{text}");

    fake.inject_server_errors(2);
    let (first, _) = call(&fake, "GET", "/api/v1/namespaces/default/pods", None).await;
    let (second, unavailable) = call(&fake, "GET", "/api/v1/namespaces/default/pods", None).await;
    let (third, _) = call(&fake, "GET", "/api/v1/namespaces/default/pods", None).await;
    assert_eq!((first, second, third), (500, 503, 200));
    assert_eq!(unavailable["reason"], "ServiceUnavailable");

    fake.set_latency(Duration::from_millis(200));
    let started = std::time::Instant::now();
    call(&fake, "GET", "/version", None).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn logs_are_chunked_plain_text_and_objects_have_a_content_length() {
    let fake = start().await;
    create(&fake, sh_pod("short", "echo one")).await;
    wait_for_phase(&fake, "short", "Succeeded").await;
    let logs = send(
        &fake,
        "GET",
        "/api/v1/namespaces/default/pods/short/log",
        None,
    )
    .await;
    assert_eq!(logs.headers()["content-type"], "text/plain");
    assert_eq!(logs.headers()["transfer-encoding"], "chunked");
    let pod = send(&fake, "GET", "/api/v1/namespaces/default/pods/short", None).await;
    assert_eq!(pod.headers()["content-type"], "application/json");
    assert!(pod.headers().contains_key("content-length"));
    assert!(!pod.headers().contains_key("transfer-encoding"));
}
