//! `eks-pod` on the fake control plane: following a pod that prints a large log (throughput to
//! stderr and peak memory at two sizes), and many `eks-pod` processes at once.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use eks_testkit::kube::FakeKubeConfig;
use eks_testkit::{FakeEks, FakeEksConfig, FakeKube};

use super::Bench;
use super::measure::{self, Markers, Sample};
use crate::proc::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, env_for};

/// The cluster the pods run on.
const CLUSTER: &str = "bench-pods";

/// One log line the pod prints, 127 bytes and its newline: 2^23 of them make 1 GiB.
const LINE: &str = "eks-operators-benchmark-log-line-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789-abcdefghijklmnopqrst";
const LINE_BYTES: u64 = LINE.len() as u64 + 1;
const _: () = assert!(
    LINE_BYTES == 128,
    "sizes are chosen as multiples of 128 bytes"
);
/// The pod's last line, whose arrival on stderr ends the throughput window.
const END: &str = "end-of-log";

/// The fake EKS (one ACTIVE cluster) whose API server is a fake control plane.
pub struct Plane {
    pub eks: FakeEks,
    pub kube: FakeKube,
}

impl Plane {
    pub fn start(bench: &Bench) -> Result<Plane, String> {
        let authenticator = Authenticator::new(
            AuthenticatorConfig::new(CLUSTER, "us-east-1")
                .with_credential(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
        );
        let kube = bench
            .rt
            .block_on(FakeKube::start_with(
                Arc::new(authenticator),
                FakeKubeConfig { time_scale: 1.0 },
            ))
            .map_err(|e| format!("fake control plane: {e}"))?;
        let eks = bench.rt.block_on(FakeEks::start_with(FakeEksConfig {
            cluster_endpoint: Some(kube.endpoint()),
            cluster_ca_pem: Some(kube.ca_pem().to_owned()),
            ..FakeEksConfig::default()
        }));
        eks.seed_cluster(CLUSTER, "ACTIVE");
        Ok(Plane { eks, kube })
    }

    fn command(&self, bin: &Path, home: &Path, task: &str, script: &str) -> Command {
        let mut command = Command::new(bin);
        command
            .args([
                "--cluster-name",
                CLUSTER,
                "--image",
                "busybox:1.36",
                "--cmds",
                r#"["sh","-c"]"#,
                "--arguments",
                script,
                "--name",
                task,
                "--dag-id",
                "bench",
                "--task-id",
                task,
                "--run-id",
                "bench_run",
            ])
            .env_clear()
            .envs(env_for(&self.eks.uri(), home));
        command
    }
}

/// One run of the log benchmark.
#[derive(Debug, Clone)]
pub struct LogRun {
    pub sample: Sample,
    /// Payload over the time from the first log line on stderr to the last.
    pub stream_mb_s: f64,
    /// CPU the fakes (this process) used during the run.
    pub fake_cpu: Duration,
}

/// Follows a pod printing `payload` bytes (a multiple of [`LINE_BYTES`]) with `eks-pod`, its
/// stderr a pipe drained by a thread in 1 MiB reads.
pub fn log_run(
    bench: &Bench,
    plane: &Plane,
    bin: &Path,
    payload: u64,
    task: &str,
) -> Result<LogRun, String> {
    let lines = payload / LINE_BYTES;
    let script = format!("yes {LINE} | head -n {lines}; echo {END}");
    let command = plane.command(bin, &bench.home, task, &script);
    let cpu_before = measure::own_cpu();
    let sample = measure::run(
        &command,
        Markers {
            start: Some(b"[base] "),
            end: Some(b"[base] end-of-log"),
        },
    )?
    .ok()?;
    let fake_cpu = measure::own_cpu().saturating_sub(cpu_before);
    let result = sample.json()?;
    if result["phase"] != "Succeeded" || result["log_lines"] != lines + 1 {
        return Err(format!(
            "`{}`: expected a Succeeded pod and {} log lines, got {result}",
            sample.command,
            lines + 1
        ));
    }
    let (Some(start), Some(end)) = (sample.stderr.start_seen, sample.stderr.end_seen) else {
        return Err(format!(
            "`{}`: the log's first or last line never reached stderr",
            sample.command
        ));
    };
    let window = end.saturating_duration_since(start).as_secs_f64().max(1e-6);
    let payload = lines * LINE_BYTES;
    println!(
        "   {:.0} MB of log in {window:.2}s: {:.0} MB/s to stderr; fakes used {:.2}s CPU",
        measure::mb(payload),
        measure::mb(payload) / window,
        fake_cpu.as_secs_f64()
    );
    Ok(LogRun {
        stream_mb_s: measure::mb(payload) / window,
        sample,
        fake_cpu,
    })
}

/// The log benchmark: `runs` runs at each size, sizes interleaved.
pub fn logs(
    bench: &Bench,
    plane: &Plane,
    sizes: &[u64],
    runs: usize,
) -> Result<Vec<Vec<LogRun>>, String> {
    let bin = bench.bin("eks-pod");
    let mut by_size: Vec<Vec<LogRun>> = sizes.iter().map(|_| Vec::new()).collect();
    for i in 0..runs {
        for (s, size) in sizes.iter().enumerate() {
            by_size[s].push(log_run(
                bench,
                plane,
                &bin,
                *size,
                &format!("logs-{s}-{i}"),
            )?);
        }
    }
    Ok(by_size)
}

/// Many `eks-pod` processes at once.
#[derive(Debug, Clone)]
pub struct Many {
    pub samples: Vec<Sample>,
    /// From the first spawn to the last exit.
    pub wall: Duration,
    pub fake_cpu: Duration,
    /// Requests the fake control plane answered during the batch.
    pub kube_requests: usize,
}

/// `count` concurrent `eks-pod` processes, each following a pod that prints 10 lines over
/// about 2 s; every one must succeed with its 10 lines.
pub fn many(bench: &Bench, plane: &Plane, count: usize) -> Result<Many, String> {
    let bin = bench.bin("eks-pod");
    let script = r#"for i in $(seq 1 10); do echo "line $i"; sleep 0.2; done"#;
    let first = plane.command(&bin, &bench.home, "many-0", script);
    println!(
        "$ {}   (x{count} at once, task ids many-0..many-{})",
        crate::venv::show(&first),
        count - 1
    );
    let cpu_before = measure::own_cpu();
    let requests_before = plane.kube.requests().len();
    let started = std::time::Instant::now();
    let mut running = Vec::new();
    for i in 0..count {
        let command = plane.command(&bin, &bench.home, &format!("many-{i}"), script);
        let process = measure::spawn(&command, Markers::default())?;
        // Reaped each by its own thread, so that every wall time ends at its own exit.
        running.push(std::thread::spawn(move || process.finish()));
    }
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for handle in running {
        let sample = handle
            .join()
            .map_err(|_| "a thread reaping eks-pod panicked".to_owned())??;
        let checked = sample.clone().ok().and_then(|sample| {
            let result = sample.json()?;
            if result["phase"] == "Succeeded" && result["log_lines"] == 10 {
                Ok(())
            } else {
                Err(format!("`{}`: {result}", sample.command))
            }
        });
        if let Err(e) = checked {
            failures.push(e);
        }
        samples.push(sample);
    }
    let wall = started.elapsed();
    let fake_cpu = measure::own_cpu().saturating_sub(cpu_before);
    if !failures.is_empty() {
        return Err(format!(
            "{} of {count} concurrent eks-pod runs failed; the first:\n{}",
            failures.len(),
            failures[0]
        ));
    }
    println!(
        "   all {count} succeeded in {:.1}s; the fakes used {:.2}s CPU",
        wall.as_secs_f64(),
        fake_cpu.as_secs_f64()
    );
    Ok(Many {
        samples,
        wall,
        fake_cpu,
        kube_requests: plane.kube.requests().len() - requests_before,
    })
}
