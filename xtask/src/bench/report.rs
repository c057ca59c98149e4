//! `BENCHMARKS.md`: the machine, the versions, the method, and a table per benchmark with
//! medians, spread, ratios and whether each target was met, all from the run just made.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::measure::{Sample, Stats, mb};
use super::{Bench, Options, Pair, Results};

/// `/proc/loadavg`'s first three fields.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn seconds(value: f64) -> String {
    if value < 1.0 {
        format!("{:.1} ms", value * 1000.0)
    } else {
        format!("{value:.2} s")
    }
}

fn megabytes(value: f64) -> String {
    format!("{value:.1} MB")
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

/// A command's first line of output, or why there is none.
fn first_line(program: &Path, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => {
            let text = if out.stdout.is_empty() {
                out.stderr
            } else {
                out.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        }
        Ok(out) => format!("unknown ({} failed: {})", program.display(), out.status),
        Err(e) => format!("unknown ({}: {e})", program.display()),
    }
}

/// Versions of Python packages in the venv of `python`.
fn python_versions(python: &Path, packages: &[&str]) -> String {
    let script = format!(
        "import importlib.metadata as m, platform; print('Python ' + platform.python_version() + ', ' + ', '.join(p + ' ' + m.version(p) for p in {packages:?}))"
    );
    first_line(python, &["-c", &script])
}

fn machine(bench: &Bench, loads: &(String, String)) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GB", kib as f64 * 1024.0 / 1e9),
        );
    let _ = bench;
    format!(
        "| cores | CPU | kernel | memory | load average (1, 5, 15 min) at start / end |\n|---|---|---|---|---|\n| {cores} | {model} | Linux {kernel} | {memory} | {} / {} |\n",
        loads.0, loads.1
    )
}

fn versions(bench: &Bench, aws: Option<&Path>, airflow_python: Option<PathBuf>) -> String {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(&bench.root)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(&bench.root)
        .output()
        .is_ok_and(|out| !out.stdout.is_empty());
    let mut text = String::from("| what | version |\n|---|---|\n");
    let _ = writeln!(
        text,
        "| eks-operators | {} (commit {commit}{}) |",
        env!("CARGO_PKG_VERSION"),
        if dirty {
            ", with uncommitted changes"
        } else {
            ""
        }
    );
    let _ = writeln!(
        text,
        "| rustc | {} |",
        first_line(Path::new("rustc"), &["-V"])
    );
    if let Some(aws) = aws {
        let _ = writeln!(text, "| aws CLI | {} |", first_line(aws, &["--version"]));
        // awscli 1.x vendors botocore (awscli/botocore): its version is in `aws --version`.
        let python = aws.with_file_name("python");
        let _ = writeln!(
            text,
            "| aws CLI venv | {} (botocore vendored, as above) |",
            python_versions(&python, &["awscli"])
        );
    }
    if let Some(python) = airflow_python {
        let _ = writeln!(
            text,
            "| Airflow venv | {} |",
            python_versions(
                &python,
                &[
                    "apache-airflow",
                    "apache-airflow-providers-amazon",
                    "boto3",
                    "botocore"
                ]
            )
        );
    }
    text
}

fn stats(samples: &[Sample], value: impl Fn(&Sample) -> f64) -> Stats {
    Stats::of(&samples.iter().map(value).collect::<Vec<_>>())
}

fn wall(sample: &Sample) -> f64 {
    sample.wall.as_secs_f64()
}

fn rss(sample: &Sample) -> f64 {
    mb(sample.max_rss)
}

fn cpu(sample: &Sample) -> f64 {
    sample.cpu().as_secs_f64()
}

/// A table of both sides of a pair and the ratio of their medians.
fn pair_table(pair: &Pair, ours: &str, peer: &str) -> (String, f64, f64, f64) {
    let mut text = String::from(
        "| | runs | wall median | wall IQR | wall min–max | peak RSS median | peak RSS min–max | CPU (user+sys) median |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (name, samples) in [(ours, &pair.ours), (peer, &pair.peer)] {
        let (w, r, c) = (
            stats(samples, wall),
            stats(samples, rss),
            stats(samples, cpu),
        );
        let _ = writeln!(
            text,
            "| {name} | {} | {} | {}–{} | {}–{} | {} | {}–{} | {} |",
            w.n,
            seconds(w.median),
            seconds(w.q1),
            seconds(w.q3),
            seconds(w.min),
            seconds(w.max),
            megabytes(r.median),
            megabytes(r.min),
            megabytes(r.max),
            seconds(c.median)
        );
    }
    let ratio = |value: fn(&Sample) -> f64| {
        stats(&pair.peer, value).median / stats(&pair.ours, value).median
    };
    let (w, r, c) = (ratio(wall), ratio(rss), ratio(cpu));
    let _ = writeln!(
        text,
        "| **ratio of medians** (peer / ours) | | **{w:.0}×** | | | **{r:.1}×** | | **{c:.0}×** |"
    );
    (text, w, r, stats(&pair.ours, rss).median)
}

#[allow(clippy::too_many_lines)]
pub fn render(
    bench: &Bench,
    options: &Options,
    results: &Results,
    aws: Option<&Path>,
    airflow_python: Option<PathBuf>,
    took: Duration,
    loads: (String, String),
) -> String {
    let mut md = String::new();
    let mode = if options.quick {
        "`cargo xtask bench --quick` (a few runs each: proves the harness works, not for judging figures)"
    } else {
        "`cargo xtask bench`"
    };
    let _ = writeln!(
        md,
        "# Benchmarks\n\nWritten by {mode}{} in {:.0} s on the machine below; every figure comes from that one run. Re-run it to update this file; do not edit it by hand.\n",
        if options.opt_levels {
            " with `--opt-levels`"
        } else {
            ""
        },
        took.as_secs_f64()
    );
    let mut summary: Vec<(String, String, bool)> = Vec::new();

    let _ = writeln!(md, "## Machine\n\n{}", machine(bench, &loads));
    let _ = writeln!(
        md,
        "## Versions\n\n{}",
        versions(bench, aws, airflow_python)
    );
    let runs = options.runs();
    let _ = writeln!(
        md,
        "## Method\n\n\
         - Our side is the static musl release binaries that go into the image (`cargo xtask image`: opt-level \"s\", fat LTO, one codegen unit, stripped), run from `{}`.\n\
         - Everything runs against the built-in fakes (crates/eks-testkit), served by the bench process itself on 127.0.0.1: the fake EKS (HTTP) and the fake Kubernetes control plane (HTTPS with its own CA, EKS tokens checked as EKS checks them, a simulated kubelet). No request leaves the machine. The fakes share the machine's cores with what is measured, as a real API would not.\n\
         - Pairs run interleaved, ours then the peer's, {runs} times each after one uncounted warm-up pair, so that drift of this shared, noisy machine hits both sides alike. Figures are the median with the interquartile range (IQR) and the range; ratios are of medians. A single run is never quoted.\n\
         - Wall time is from spawn to reaping. Peak memory and CPU come from `wait4(2)`'s `rusage` for each process: `ru_maxrss` is the peak resident set of the **largest single process** among the child and the descendants it reaped (for `airflow tasks test`, which runs the task in its own process, that is the Airflow process), and CPU is user + system time of the child and its reaped descendants. Each process is started and reaped by a small helper (`xtask __measure`, with a plain fork) so that the bench process's own size does not leak into the child's `ru_maxrss` (Linux counts the memory a process had before `exec`); the floor, what the harness reports for `/bin/true`, is {:.1} MB.\n\
         - Every run is checked, not just timed: exit 0, our JSON result line, the token's shape, the cluster present in the fake, the pod's phase and line count.\n\
         - MB is 10^6 bytes, MB/s 10^6 bytes per second.\n",
        bench.bin_dir.display(),
        mb(results.floor)
    );

    if let Some(image) = &results.sizes {
        let _ = writeln!(
            md,
            "## Sizes\n\n| binary | bytes | MB | target ≤ 10 MB |\n|---|---|---|---|"
        );
        let mut all_met = true;
        for (name, bytes) in &image.binaries {
            let met = *bytes <= 10_000_000;
            all_met &= met;
            let _ = writeln!(
                md,
                "| `{name}` | {bytes} | {:.2} | {} |",
                mb(*bytes),
                verdict(met)
            );
        }
        let image_met = image.size_bytes <= 100_000_000;
        let _ = writeln!(
            md,
            "| image `{}` (FROM scratch, uncompressed, `docker image inspect`) | {} | {:.1} | ≤ 100 MB: {} |\n",
            image.tag,
            image.size_bytes,
            mb(image.size_bytes),
            verdict(image_met)
        );
        let largest = image.binaries.iter().map(|(_, b)| *b).max().unwrap_or(0);
        summary.push((
            "size: each binary ≤ 10 MB, the image ≤ 100 MB".to_owned(),
            format!(
                "largest binary {:.2} MB, image {:.1} MB",
                mb(largest),
                mb(image.size_bytes)
            ),
            all_met && image_met,
        ));
    }

    if let Some(pair) = &results.token {
        let (table, w, _, ours_rss) =
            pair_table(pair, "`eks-token --no-cache`", "`aws eks get-token`");
        let met = w >= 30.0 && ours_rss <= 10.0;
        let _ = writeln!(
            md,
            "## A token, whole process\n\n`eks-token --cluster-name bench --region us-east-1 --no-cache` against `aws eks get-token --cluster-name bench --region us-east-1`, the same static credentials in the environment; neither needs the network (a token is a presigned URL).\n\n{table}\nTarget ≥ 30× faster and ≤ 10 MB peak: {} ({w:.0}× faster, {ours_rss:.1} MB).\n",
            verdict(met)
        );
        summary.push((
            "a token: ≥ 30× faster than `aws eks get-token`, ≤ 10 MB peak".to_owned(),
            format!("{w:.0}× faster, {ours_rss:.1} MB"),
            met,
        ));
    }

    if let Some(pair) = &results.create {
        let (table, w, r, _) = pair_table(
            pair,
            "`eks-create-cluster --compute none`",
            "`airflow tasks test` of `EksCreateClusterOperator(compute=None)`",
        );
        let met = w >= 100.0 && r >= 15.0;
        let _ = writeln!(
            md,
            "## One EKS call as a task\n\nCreate a cluster without waiting (one CreateCluster call), a fresh cluster name each run, against the same fake EKS: ours with `AWS_ENDPOINT_URL_EKS`, Airflow's operator (in a DAG generated under `target/bench/dags`) through an `aws` connection whose `endpoint_url` extra is the fake, run with `airflow tasks test` on the SequentialExecutor and sqlite, as a task's whole process. Each run is checked to have created its cluster.\n\n{table}\nTarget ≥ 100× faster and ≥ 15× less memory: {} ({w:.0}× faster, {r:.1}× less memory).\n",
            verdict(met)
        );
        summary.push((
            "one EKS call as a task: ≥ 100× faster, ≥ 15× less memory than the Airflow operator"
                .to_owned(),
            format!("{w:.0}× faster, {r:.1}× less memory"),
            met,
        ));
    }

    if let Some(wait) = &results.wait {
        let interval = wait.interval.as_secs_f64();
        let _ = writeln!(
            md,
            "## A wait\n\nA cluster is seeded `CREATING` in the fake, which turns it `ACTIVE` {:.0} s later; at once `eks-wait cluster --waiter-delay {interval}` (or `airflow tasks test` of `EksClusterStateSensor(poke_interval={interval})`) starts. DescribeCluster calls are counted from the fake's request log; *polls needed* is what an ideal poller at the same interval, starting at the process's first poll, needs to see `ACTIVE`; *detection* is the time from the change to `ACTIVE` to the process's exit.\n\n| | run | DescribeCluster calls | polls needed | start to first poll | detection | wall | peak RSS |\n|---|---|---|---|---|---|---|---|",
            wait.becomes_active_after.as_secs_f64()
        );
        let mut met = true;
        for (name, runs) in [
            ("`eks-wait cluster`", &wait.ours),
            ("`EksClusterStateSensor`", &wait.peer),
        ] {
            for (i, run) in runs.iter().enumerate() {
                let _ = writeln!(
                    md,
                    "| {name} | {} | {} | {} | {} | {} | {} | {} |",
                    i + 1,
                    run.calls,
                    run.polls_needed,
                    seconds(run.first_poll.as_secs_f64()),
                    seconds(run.detection),
                    seconds(run.sample.wall.as_secs_f64()),
                    megabytes(mb(run.sample.max_rss))
                );
            }
        }
        for run in &wait.ours {
            met &= run.calls <= run.polls_needed && run.detection <= interval;
        }
        let detection = Stats::of(&wait.ours.iter().map(|r| r.detection).collect::<Vec<_>>());
        let peer_detection = Stats::of(&wait.peer.iter().map(|r| r.detection).collect::<Vec<_>>());
        let _ = writeln!(
            md,
            "\nMedian detection: ours {}, Airflow's sensor {}. Target (ours): API calls = polls needed, no more, and the change detected within one interval ({interval} s): {}.\n",
            seconds(detection.median),
            seconds(peer_detection.median),
            verdict(met)
        );
        summary.push((
            "a wait: calls = polls needed; detected within one interval".to_owned(),
            format!(
                "calls {} vs needed {}; detection median {}",
                wait.ours
                    .iter()
                    .map(|r| r.calls.to_string())
                    .collect::<Vec<_>>()
                    .join("/"),
                wait.ours
                    .iter()
                    .map(|r| r.polls_needed.to_string())
                    .collect::<Vec<_>>()
                    .join("/"),
                seconds(detection.median)
            ),
            met,
        ));
    }

    if let Some(logs) = &results.logs {
        let _ = writeln!(
            md,
            "## Pod logs\n\n`eks-pod` follows a pod on the fake control plane that runs `yes LINE | head -n N; echo end-of-log` (127-byte lines plus newline; the fake keeps the `yes` output as one run of lines a nanosecond apart and renders it as it sends it, so the fake is not what is measured). eks-pod's stderr is a pipe drained by a thread of the bench in 1 MiB reads. *Throughput* is the pod's output (N × 128 bytes) over the time from the first `[base] ` line to the `end-of-log` line arriving on that pipe; *wall* is the whole process (create, schedule, stream, delete). *Fakes' CPU* is what the bench process (the fake control plane: TLS, chunked HTTP, rendering) used meanwhile. Where the machine is shared (see the load average above), the throughput is bounded by the CPU time each side gets; *MB per CPU-second* (the log size over each side's CPU time) is what each side could stream with a core to itself.\n\n| log size | runs | throughput median | throughput min–max | wall median | eks-pod peak RSS median | peak RSS max | eks-pod CPU median (user / sys) | eks-pod MB per CPU-second | fakes' CPU median | fakes' MB per CPU-second |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        let mut largest_mb_s = 0.0;
        let mut peak_max: f64 = 0.0;
        for (size, runs) in logs.sizes.iter().zip(&logs.runs) {
            let throughput = Stats::of(&runs.iter().map(|r| r.stream_mb_s).collect::<Vec<_>>());
            let samples: Vec<Sample> = runs.iter().map(|r| r.sample.clone()).collect();
            let (w, r) = (stats(&samples, wall), stats(&samples, rss));
            let user = stats(&samples, |s| s.user.as_secs_f64());
            let sys = stats(&samples, |s| s.sys.as_secs_f64());
            let fake = Stats::of(
                &runs
                    .iter()
                    .map(|r| r.fake_cpu.as_secs_f64())
                    .collect::<Vec<_>>(),
            );
            // What each side could stream with a core to itself: the ceiling on an idle machine.
            let per_cpu = |cpu: f64| mb(*size) / cpu;
            if Some(size) == logs.sizes.iter().max() {
                largest_mb_s = throughput.median;
            }
            peak_max = peak_max.max(r.max);
            let _ = writeln!(
                md,
                "| {} MiB ({:.0} MB) | {} | **{:.0} MB/s** | {:.0}–{:.0} MB/s | {} | {} | {} | {} / {} | {:.0} | {} | {:.0} |",
                size >> 20,
                mb(*size),
                throughput.n,
                throughput.median,
                throughput.min,
                throughput.max,
                seconds(w.median),
                megabytes(r.median),
                megabytes(r.max),
                seconds(user.median),
                seconds(sys.median),
                per_cpu(stats(&samples, cpu).median),
                seconds(fake.median),
                per_cpu(fake.median)
            );
        }
        let met = largest_mb_s >= 200.0 && peak_max <= 32.0;
        let _ = writeln!(
            md,
            "\nTarget ≥ 200 MB/s through to stderr and peak memory flat, ≤ 32 MB, whatever the size: {} ({largest_mb_s:.0} MB/s at the largest size; highest peak {peak_max:.1} MB).\n",
            verdict(met)
        );
        summary.push((
            "pod logs: ≥ 200 MB/s to stderr, peak ≤ 32 MB at any size".to_owned(),
            format!("{largest_mb_s:.0} MB/s, peak {peak_max:.1} MB"),
            met,
        ));
    }

    if let Some(many) = &results.many {
        let (r, c, w) = (
            stats(&many.samples, rss),
            stats(&many.samples, cpu),
            stats(&many.samples, wall),
        );
        let total_rss: f64 = many.samples.iter().map(rss).sum();
        let total_cpu: f64 = many.samples.iter().map(cpu).sum();
        let _ = writeln!(
            md,
            "## Many tasks\n\n{} `eks-pod` processes started at once against the fake control plane, each following a pod that prints 10 lines over about 2 s (`for i in $(seq 1 10); do echo \"line $i\"; sleep 0.2; done`); every one must exit 0 with its 10 lines.\n\n| processes | all succeeded | batch wall | per-process wall median (max) | per-process peak RSS median (max) | sum of peak RSS | per-process CPU median (max) | total CPU of the processes | fakes' CPU |\n|---|---|---|---|---|---|---|---|---|\n| {} | yes | {} | {} ({}) | {} ({}) | {} | {} ({}) | {} | {} |\n\nThe sum of peak RSS is an upper bound of the memory the {} processes held at once. The fake control plane answered {} requests during the batch.\n",
            many.samples.len(),
            many.samples.len(),
            seconds(many.wall.as_secs_f64()),
            seconds(w.median),
            seconds(w.max),
            megabytes(r.median),
            megabytes(r.max),
            megabytes(total_rss),
            seconds(c.median),
            seconds(c.max),
            seconds(total_cpu),
            seconds(many.fake_cpu.as_secs_f64()),
            many.samples.len(),
            many.kube_requests,
        );
        summary.push((
            format!(
                "many tasks: {} concurrent eks-pod, no failures",
                many.samples.len()
            ),
            format!(
                "all succeeded; {:.1} MB and {} CPU per pod (medians)",
                r.median,
                seconds(c.median)
            ),
            true,
        ));
    }

    match &results.opt_levels {
        Some(opt) => {
            let _ = writeln!(
                md,
                "## opt-level \"s\" against 3\n\n`[profile.release]` (opt-level \"s\") against `[profile.release-o3]` (the same with opt-level 3), eks-token and eks-pod for the musl target.\n\n| profile | binary | bytes | MB |\n|---|---|---|---|"
            );
            for (profile, name, bytes) in &opt.sizes {
                let _ = writeln!(md, "| {profile} | `{name}` | {bytes} | {:.2} |", mb(*bytes));
            }
            let (table, w, r, _) = pair_table(
                &opt.token,
                "`eks-token`, release (s)",
                "`eks-token`, release-o3 (3)",
            );
            let _ = writeln!(
                md,
                "\n`eks-token --no-cache`, interleaved (here the \"peer\" is the opt-level 3 build):\n\n{table}"
            );
            let s = Stats::of(&opt.logs_s.iter().map(|r| r.stream_mb_s).collect::<Vec<_>>());
            let o3 = Stats::of(
                &opt.logs_o3
                    .iter()
                    .map(|r| r.stream_mb_s)
                    .collect::<Vec<_>>(),
            );
            let _ = writeln!(
                md,
                "`eks-pod` log throughput, {} MiB, interleaved: release (s) median {:.0} MB/s ({:.0}–{:.0}), release-o3 median {:.0} MB/s ({:.0}–{:.0}).\n\nWall-time ratio of eks-token medians (s / 3): {:.2}; peak memory ratio {:.2}.\n",
                opt.payload >> 20,
                s.median,
                s.min,
                s.max,
                o3.median,
                o3.min,
                o3.max,
                1.0 / w,
                1.0 / r
            );
        }
        None => {
            let _ = writeln!(
                md,
                "## opt-level \"s\" against 3\n\nNot run this time: `cargo xtask bench --opt-levels` builds eks-token and eks-pod with `[profile.release-o3]` and compares size, eks-token wall time and eks-pod log throughput.\n"
            );
        }
    }

    if let Some(micro) = &results.micro {
        let profile = if options.quick {
            "profile `dev` with criterion's `--quick`: these figures only show that the benchmarks run"
        } else {
            "profile `bench`, which inherits `release`"
        };
        let _ = writeln!(
            md,
            "## Micro-benchmarks (criterion)\n\n`cargo bench -p eks-core --bench hot_paths` (crates/eks-core/benches/hot_paths.rs; {profile}). Median time per iteration with its 95% confidence interval.\n\n| benchmark | median | 95% CI | throughput |\n|---|---|---|---|"
        );
        for estimate in micro {
            let throughput = match &estimate.throughput {
                Some((kind, amount)) if kind == "Bytes" => {
                    format!("{:.0} MB/s", amount / estimate.median_ns * 1e3)
                }
                Some((kind, amount)) => {
                    format!(
                        "{:.2} M {}/s",
                        amount / estimate.median_ns * 1e3,
                        kind.to_lowercase()
                    )
                }
                None => String::new(),
            };
            let _ = writeln!(
                md,
                "| `{}` | {} | {}–{} | {throughput} |",
                estimate.id,
                nanos(estimate.median_ns),
                nanos(estimate.low_ns),
                nanos(estimate.high_ns)
            );
        }
        md.push('\n');
    }

    let mut head = String::from("## Targets\n\n| target | measured | |\n|---|---|---|\n");
    for (target, measured, met) in &summary {
        let _ = writeln!(head, "| {target} | {measured} | {} |", verdict(*met));
    }
    head.push('\n');
    // The targets go right after the title paragraph.
    match md.find("## Machine") {
        Some(at) => md.insert_str(at, &head),
        None => md.push_str(&head),
    }
    md
}

fn nanos(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} ms", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.2} µs", value / 1e3)
    } else {
        format!("{value:.1} ns")
    }
}
