//! Exec into pods of the fake Kubernetes control plane as KubernetesPodOperator does to read
//! its XCom result through the sidecar and then stop it, with a minimal WebSocket client
//! written here (the upgrade sent by hand over the same rustls connector as `kube.rs`), so
//! that every byte of the handshake and framing is checked.

use std::time::Duration;

use eks_testkit::FakeKube;
use eks_testkit::kube::FakeKubeConfig;
use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::kube::{GOOD_TOKEN, address, connector, tokens};
use crate::support::eventually;

const FAST: FakeKubeConfig = FakeKubeConfig { time_scale: 0.01 };
const SIDECAR: &str = "airflow-xcom-sidecar";
/// The key of RFC 6455's example handshake, and the accept value the RFC gives for it.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// What kube-rs offers, preferred first.
const KUBE_RS_PROTOCOLS: &str = "v5.channel.k8s.io, v4.channel.k8s.io";

async fn start() -> FakeKube {
    FakeKube::start_with(tokens(), FAST).await.unwrap()
}

/// One JSON request with the good token: status and body.
async fn call(fake: &FakeKube, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let response = super::kube_pods::send(fake, method, path, body).await;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// A pod as KubernetesPodOperator builds it with `do_xcom_push=True`: the task writes its
/// result to the shared `xcom` volume; the sidecar idles until it gets SIGINT.
fn kpo_pod(name: &str, base_script: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "xcom", "emptyDir": {}}],
            "containers": [
                {"name": "base", "image": "busybox:1.36", "command": ["sh", "-c", base_script],
                 "volumeMounts": [{"name": "xcom", "mountPath": "/airflow/xcom"}]},
                {"name": SIDECAR, "image": "alpine:3.20",
                 "command": ["sh", "-c", "trap \"exit 0\" INT; while true; do sleep 1; done;"],
                 "volumeMounts": [{"name": "xcom", "mountPath": "/airflow/xcom"}],
                 "resources": {"requests": {"cpu": "1m", "memory": "10Mi"}}},
            ],
        },
    })
}

async fn create(fake: &FakeKube, pod: Value) {
    let (status, created) = call(fake, "POST", "/api/v1/namespaces/default/pods", Some(pod)).await;
    assert_eq!(status, 201, "{created}");
}

/// Waits until `ready` holds for the pod; the pod then.
async fn wait_for(
    fake: &FakeKube,
    name: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    eventually(&format!("pod {name}: {what}"), || async {
        let (status, pod) = call(
            fake,
            "GET",
            &format!("/api/v1/namespaces/default/pods/{name}"),
            None,
        )
        .await;
        (status == 200 && ready(&pod)).then_some(pod)
    })
    .await
}

fn container_state<'a>(pod: &'a Value, container: &str) -> &'a Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|status| status["name"] == container)
        .map(|status| &status["state"])
        .unwrap()
}

/// What an exec answered: the HTTP status and headers, and for a 101 what came on each
/// channel, in order, until the close frame.
#[derive(Debug, Default)]
struct ExecReply {
    status: u16,
    headers: Vec<(String, String)>,
    /// The JSON body of a refused request.
    body: Option<Value>,
    stdout: String,
    stderr: String,
    /// Channel 3, as sent.
    error_channel: Vec<u8>,
    /// Channels that got the empty "ready" message before anything else.
    opened: Vec<u8>,
    close_code: Option<u16>,
}

impl ExecReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn status_object(&self) -> Value {
        serde_json::from_slice(&self.error_channel).unwrap()
    }
}

struct ExecRequest<'a> {
    pod: &'a str,
    container: Option<&'a str>,
    command: &'a [&'a str],
    token: Option<&'a str>,
    protocols: &'a str,
    /// Send a close frame right after the upgrade, as kube-rs does on v4 when stdin is off.
    close_first: bool,
}

impl<'a> ExecRequest<'a> {
    fn new(pod: &'a str, container: &'a str, command: &'a [&'a str]) -> Self {
        Self {
            pod,
            container: Some(container),
            command,
            token: Some(GOOD_TOKEN),
            protocols: KUBE_RS_PROTOCOLS,
            close_first: false,
        }
    }
}

fn percent_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Sends the upgrade by hand and reads the answer: frames until the close frame.
async fn exec(fake: &FakeKube, request: ExecRequest<'_>) -> ExecReply {
    let tcp = TcpStream::connect(address(fake)).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut stream = connector(fake.ca_pem()).connect(name, tcp).await.unwrap();
    let mut query: Vec<String> = request
        .command
        .iter()
        .map(|word| format!("command={}", percent_encode(word)))
        .collect();
    if let Some(container) = request.container {
        query.push(format!("container={container}"));
    }
    query.extend(["stdout=true", "stderr=true", "stdin=false", "tty=false"].map(str::to_owned));
    let mut head = format!(
        "GET /api/v1/namespaces/default/pods/{}/exec?{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Protocol: {}\r\n",
        request.pod,
        query.join("&"),
        request.protocols,
    );
    if let Some(token) = request.token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();

    let mut buffer = Vec::new();
    let end = loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed in the response head");
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8(buffer[..end].to_vec()).unwrap();
    let mut rest = buffer[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut reply = ExecReply {
        status: status_line.split(' ').nth(1).unwrap().parse().unwrap(),
        headers: lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_owned(), value.trim().to_owned())
            })
            .collect(),
        ..ExecReply::default()
    };
    if reply.status != 101 {
        let length: usize = reply.header("content-length").unwrap().parse().unwrap();
        while rest.len() < length {
            let mut chunk = [0; 4096];
            let read = stream.read(&mut chunk).await.unwrap();
            rest.extend_from_slice(&chunk[..read]);
        }
        reply.body = Some(serde_json::from_slice(&rest[..length]).unwrap());
        return reply;
    }
    if request.close_first {
        // A client frame is masked: FIN + close, MASK + length 2, the key, code 1000 masked.
        let mask = [0x11, 0x22, 0x33, 0x44];
        let code = 1000u16.to_be_bytes();
        let frame = [
            0x88,
            0x80 | 2,
            mask[0],
            mask[1],
            mask[2],
            mask[3],
            code[0] ^ mask[0],
            code[1] ^ mask[1],
        ];
        stream.write_all(&frame).await.unwrap();
    }
    let mut reader = Prefixed { rest, stream };
    loop {
        let (opcode, payload) = tokio::time::timeout(Duration::from_secs(10), reader.frame())
            .await
            .expect("a frame within 10 s");
        match opcode {
            0x2 => {
                let (channel, data) = payload.split_first().unwrap();
                match (*channel, data.is_empty()) {
                    (channel, true) => reply.opened.push(channel),
                    (1, false) => reply.stdout.push_str(std::str::from_utf8(data).unwrap()),
                    (2, false) => reply.stderr.push_str(std::str::from_utf8(data).unwrap()),
                    (3, false) => reply.error_channel.extend_from_slice(data),
                    (other, _) => panic!("frame on channel {other}"),
                }
            }
            0x8 => {
                reply.close_code = Some(u16::from_be_bytes([payload[0], payload[1]]));
                break;
            }
            other => panic!("unexpected opcode {other:#x}"),
        }
    }
    // The server closes the connection after its close frame.
    let mut trailing = Vec::new();
    reader.stream.read_to_end(&mut trailing).await.ok();
    assert!(trailing.is_empty(), "{trailing:?}");
    reply
}

/// The upgraded stream, with what was read past the response head first.
struct Prefixed<S> {
    rest: Vec<u8>,
    stream: S,
}

impl<S: AsyncRead + Unpin> Prefixed<S> {
    async fn exact(&mut self, n: usize) -> Vec<u8> {
        while self.rest.len() < n {
            let mut chunk = [0; 4096];
            let read = self.stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "connection closed mid-frame");
            self.rest.extend_from_slice(&chunk[..read]);
        }
        self.rest.drain(..n).collect()
    }

    /// One server frame: it must be final and unmasked.
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        let head = self.exact(2).await;
        assert_eq!(
            head[0] & 0xf0,
            0x80,
            "FIN and no reserved bits: {:#x}",
            head[0]
        );
        assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
        let length = match head[1] & 0x7f {
            126 => u16::from_be_bytes(self.exact(2).await.try_into().unwrap()) as usize,
            127 => u64::from_be_bytes(self.exact(8).await.try_into().unwrap()) as usize,
            short => usize::from(short),
        };
        (head[0] & 0x0f, self.exact(length).await)
    }
}

#[tokio::test]
async fn kpo_reads_the_xcom_through_the_sidecar_and_sigint_ends_the_pod_succeeded() {
    let fake = start().await;
    create(
        &fake,
        kpo_pod("kpo", "echo '{\"rows\": 3}' > /airflow/xcom/return.json"),
    )
    .await;
    // The task is done but the sidecar idles: the pod stays Running.
    let pod = wait_for(&fake, "kpo", "base terminated", |pod| {
        pod["status"]["containerStatuses"][0]["state"]["terminated"].is_object()
    })
    .await;
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(container_state(&pod, "base")["terminated"]["exitCode"], 0);
    assert!(container_state(&pod, SIDECAR)["running"].is_object());

    let mut cat = ExecRequest::new("kpo", SIDECAR, &["cat", "/airflow/xcom/return.json"]);
    cat.close_first = true;
    let reply = exec(&fake, cat).await;
    assert_eq!(reply.status, 101, "{reply:?}");
    assert_eq!(reply.header("upgrade"), Some("websocket"));
    assert_eq!(reply.header("connection"), Some("Upgrade"));
    assert_eq!(reply.header("sec-websocket-accept"), Some(ACCEPT));
    assert_eq!(
        reply.header("sec-websocket-protocol"),
        Some("v4.channel.k8s.io")
    );
    assert_eq!(reply.opened, [1, 2, 3]);
    assert_eq!(reply.stdout, "{\"rows\": 3}\n");
    assert_eq!(reply.stderr, "");
    assert_eq!(
        reply.status_object(),
        json!({"metadata": {}, "status": "Success"})
    );
    assert_eq!(reply.close_code, Some(1000));

    let missing = exec(
        &fake,
        ExecRequest::new("kpo", SIDECAR, &["cat", "/airflow/xcom/nope.json"]),
    )
    .await;
    assert_eq!(missing.stdout, "");
    assert_eq!(
        missing.stderr,
        "cat: can't open '/airflow/xcom/nope.json': No such file or directory\n"
    );
    let status = missing.status_object();
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "ExitCode", "message": "1"}])
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("command terminated with non-zero exit code: "),
        "{status}"
    );

    let kill = exec(
        &fake,
        ExecRequest::new("kpo", SIDECAR, &["kill", "-s", "SIGINT", "1"]),
    )
    .await;
    assert_eq!(kill.status_object()["status"], "Success", "{kill:?}");
    let done = wait_for(&fake, "kpo", "Succeeded", |pod| {
        pod["status"]["phase"] == "Succeeded"
    })
    .await;
    let sidecar = &container_state(&done, SIDECAR)["terminated"];
    assert_eq!(sidecar["exitCode"], 0);
    assert_eq!(sidecar["reason"], "Completed");

    let completed = exec(
        &fake,
        ExecRequest::new("kpo", SIDECAR, &["cat", "/airflow/xcom/return.json"]),
    )
    .await;
    assert_eq!(completed.status, 400);
    let body = completed.body.unwrap();
    assert_eq!(body["reason"], "BadRequest");
    assert_eq!(
        body["message"],
        "cannot exec into a container in a completed pod; current phase is Succeeded"
    );

    let exec_calls: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|call| call.path.ends_with("/exec"))
        .map(|call| call.status)
        .collect();
    assert_eq!(exec_calls, [101, 101, 101, 400]);
}

#[tokio::test]
async fn exec_is_refused_before_the_upgrade_with_statuses() {
    let fake = start().await;
    create(&fake, kpo_pod("refuse", "exit 0")).await;
    wait_for(&fake, "refuse", "base terminated", |pod| {
        pod["status"]["containerStatuses"][0]["state"]["terminated"].is_object()
    })
    .await;

    let mut anonymous = ExecRequest::new("refuse", SIDECAR, &["cat", "/etc/hostname"]);
    anonymous.token = None;
    let reply = exec(&fake, anonymous).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body.as_ref().unwrap()["reason"], "Unauthorized");
    assert!(reply.header("sec-websocket-accept").is_none());

    let reply = exec(&fake, ExecRequest::new("refuse", "nope", &["true"])).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body.unwrap()["reason"], "NotFound");
    let reply = exec(&fake, ExecRequest::new("ghost", SIDECAR, &["true"])).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body.unwrap()["message"], "pods \"ghost\" not found");

    // The base container has exited while the pod runs on.
    let reply = exec(&fake, ExecRequest::new("refuse", "base", &["true"])).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body.unwrap()["message"],
        "container not found (\"base\")"
    );

    let mut no_protocol = ExecRequest::new("refuse", SIDECAR, &["true"]);
    no_protocol.protocols = "v5.channel.k8s.io";
    let reply = exec(&fake, no_protocol).await;
    assert_eq!(reply.status, 400);

    let statuses: Vec<(bool, u16)> = fake
        .requests()
        .iter()
        .filter(|call| call.path.ends_with("/exec"))
        .map(|call| (call.authenticated, call.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (false, 401),
            (true, 404),
            (true, 404),
            (true, 400),
            (true, 400)
        ]
    );
}

#[tokio::test]
async fn exec_runs_sh_c_and_test_and_unknown_commands_are_127() {
    let fake = start().await;
    create(
        &fake,
        kpo_pod("tools", "echo 7 > /airflow/xcom/return.json"),
    )
    .await;
    wait_for(&fake, "tools", "base terminated", |pod| {
        pod["status"]["containerStatuses"][0]["state"]["terminated"].is_object()
    })
    .await;

    let script = exec(
        &fake,
        ExecRequest::new(
            "tools",
            SIDECAR,
            &[
                "sh",
                "-c",
                "echo out; cat /airflow/xcom/return.json; cat /x; exit 3",
            ],
        ),
    )
    .await;
    assert_eq!(script.stdout, "out\n7\n");
    assert_eq!(
        script.stderr,
        "cat: can't open '/x': No such file or directory\n"
    );
    assert_eq!(
        script.status_object()["details"]["causes"][0]["message"],
        "3"
    );

    let present = exec(
        &fake,
        ExecRequest::new(
            "tools",
            SIDECAR,
            &["test", "-f", "/airflow/xcom/return.json"],
        ),
    )
    .await;
    assert_eq!(present.status_object()["status"], "Success");
    let absent = exec(
        &fake,
        ExecRequest::new("tools", SIDECAR, &["test", "-f", "/airflow/xcom/other"]),
    )
    .await;
    assert_eq!(
        absent.status_object()["details"]["causes"][0]["message"],
        "1"
    );

    let unknown = exec(
        &fake,
        ExecRequest::new("tools", SIDECAR, &["ls", "/airflow"]),
    )
    .await;
    assert_eq!(unknown.stderr, "sh: ls: not found\n");
    assert_eq!(
        unknown.status_object()["details"]["causes"][0]["message"],
        "127"
    );

    // The original protocol: channel 3 carries text, and nothing on success.
    let mut v1 = ExecRequest::new("tools", SIDECAR, &["true"]);
    v1.protocols = "channel.k8s.io";
    let v1 = exec(&fake, v1).await;
    assert_eq!(v1.header("sec-websocket-protocol"), Some("channel.k8s.io"));
    assert!(v1.error_channel.is_empty());
    assert_eq!(v1.close_code, Some(1000));

    // Output larger than a 16-bit frame length: `cat` writes the file in one frame.
    let large = exec(
        &fake,
        ExecRequest::new(
            "tools",
            SIDECAR,
            &[
                "sh",
                "-c",
                "for i in $(seq 1 7000); do printf 0123456789 >> /big; done; cat /big",
            ],
        ),
    )
    .await;
    assert_eq!(large.stdout, "0123456789".repeat(7000));

    // SIGINT without a trap: the shell's default, 128 + 2.
    let mut pod = kpo_pod("untrapped", "exit 0");
    pod["spec"]["containers"][1]["command"] = json!(["sh", "-c", "while true; do sleep 1; done"]);
    create(&fake, pod).await;
    wait_for(&fake, "untrapped", "sidecar running", |pod| {
        pod["status"]["phase"] == "Running"
    })
    .await;
    exec(
        &fake,
        ExecRequest::new("untrapped", SIDECAR, &["kill", "-2", "1"]),
    )
    .await;
    let failed = wait_for(&fake, "untrapped", "Failed", |pod| {
        pod["status"]["phase"] == "Failed"
    })
    .await;
    assert_eq!(
        container_state(&failed, SIDECAR)["terminated"]["exitCode"],
        130
    );
}

#[tokio::test]
async fn an_endless_exec_ends_when_its_pod_is_deleted() {
    let fake = std::sync::Arc::new(start().await);
    create(&fake, kpo_pod("endless", "exit 0")).await;
    wait_for(&fake, "endless", "Running", |pod| {
        pod["status"]["phase"] == "Running"
    })
    .await;
    let session = tokio::spawn({
        let fake = std::sync::Arc::clone(&fake);
        async move {
            let command = ["sh", "-c", "echo idling; while true; do sleep 1; done"];
            exec(&fake, ExecRequest::new("endless", SIDECAR, &command)).await
        }
    });
    eventually("the exec to be upgraded", || async {
        fake.requests()
            .iter()
            .any(|call| call.path.ends_with("/exec") && call.status == 101)
            .then_some(())
    })
    .await;
    let (status, _) = call(
        &fake,
        "DELETE",
        "/api/v1/namespaces/default/pods/endless?gracePeriodSeconds=0",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let reply = tokio::time::timeout(Duration::from_secs(10), session)
        .await
        .expect("the exec to end with its pod")
        .unwrap();
    assert_eq!(reply.stdout, "idling\n");
    assert_eq!(
        reply.status_object()["details"]["causes"][0]["message"],
        "137"
    );
}
