//! `cargo xtask bench [--quick] [--opt-levels] [--only A,B]`: our binaries against the tools
//! users would otherwise run, on the built-in fakes, written up as `BENCHMARKS.md`.
//!
//! Every figure is measured here, on this machine, in this run: wall time and, from
//! `wait4(2)`, peak memory and CPU of each process; pairs run interleaved (A B A B …, after
//! one uncounted warm-up pair) and are quoted as medians with their spread and the ratio of
//! medians. The binaries measured are the static release binaries of the image
//! (`image::build`), the peers are installed on demand into venvs under `target/`. `--quick`
//! runs a few of each (for `cargo xtask ci`, to prove the harness works, not to judge) and
//! writes `target/bench/BENCHMARKS-quick.md` instead of `BENCHMARKS.md`.

mod measure;
mod micro;
mod peers;
mod pods;
mod report;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eks_testkit::{FakeEks, FakeEksConfig};

use measure::Sample;
pub use measure::{HELPER, helper as measure_helper};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub opt_levels: bool,
    /// Sections to run (all when empty); a partial run never writes `BENCHMARKS.md`.
    pub only: Vec<String>,
}

/// The sections, in the order they run.
const SECTIONS: [&str; 7] = ["sizes", "token", "create", "wait", "logs", "many", "micro"];

const USAGE: &str = "usage: cargo xtask bench [--quick] [--opt-levels] [--only sizes,token,create,wait,logs,many,micro]";

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            opt_levels: false,
            only: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--opt-levels" => options.opt_levels = true,
                "--only" => {
                    let list = args.next().ok_or("bench: --only needs a list")?;
                    for section in list.split(',') {
                        if !SECTIONS.contains(&section) {
                            return Err(format!(
                                "bench: --only: unknown section {section:?}; {USAGE}"
                            ));
                        }
                        options.only.push(section.to_owned());
                    }
                }
                other => return Err(format!("bench: unknown option {other:?}; {USAGE}")),
            }
        }
        Ok(options)
    }

    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }

    /// Runs of each side of a pair.
    fn runs(&self) -> usize {
        if self.quick { 3 } else { 15 }
    }
}

/// What every section needs: where the binaries are, a hermetic home, a runtime for the fakes.
pub struct Bench {
    pub root: PathBuf,
    pub bin_dir: PathBuf,
    /// `target/bench`: the DAG, scratch files, the quick report.
    pub work: PathBuf,
    /// HOME of every measured process, with empty AWS config files.
    pub home: PathBuf,
    pub rt: tokio::runtime::Runtime,
}

impl Bench {
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
}

/// Everything measured, for the report.
#[derive(Default)]
pub struct Results {
    /// Peak RSS the harness reports for `/bin/true`: the floor of what it can measure.
    pub floor: u64,
    pub sizes: Option<crate::image::Image>,
    pub token: Option<Pair>,
    pub create: Option<Pair>,
    pub wait: Option<peers::WaitPair>,
    pub logs: Option<Logs>,
    pub many: Option<pods::Many>,
    pub opt_levels: Option<OptLevels>,
    pub micro: Option<Vec<micro::Estimate>>,
}

/// Both sides of a pair, run i of each side measured back to back.
#[derive(Debug, Clone)]
pub struct Pair {
    pub ours: Vec<Sample>,
    pub peer: Vec<Sample>,
}

/// The log benchmark at each size.
pub struct Logs {
    pub sizes: Vec<u64>,
    pub runs: Vec<Vec<pods::LogRun>>,
}

/// opt-level "s" (release) against 3 (release-o3), for eks-token and eks-pod.
pub struct OptLevels {
    /// (profile, binary, bytes).
    pub sizes: Vec<(String, String, u64)>,
    pub token: Pair,
    pub payload: u64,
    /// Log runs with release (s), then with release-o3.
    pub logs_s: Vec<pods::LogRun>,
    pub logs_o3: Vec<pods::LogRun>,
}

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let started = Instant::now();
    let load_before = report::load_average();
    let image = crate::image::build(root)?;
    let work = crate::proc::target_dir(root).join("bench");
    let home = work.join("home");
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    for file in ["aws-config", "aws-credentials"] {
        std::fs::write(home.join(file), "").map_err(|e| format!("{file}: {e}"))?;
    }
    let bench = Bench {
        root: root.to_path_buf(),
        bin_dir: image.bin_dir.clone(),
        work,
        home,
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?,
    };
    let runs = options.runs();
    let mut results = Results::default();
    let mut true_command = std::process::Command::new("/bin/true");
    true_command.env_clear();
    results.floor = measure::run(&true_command, measure::Markers::default())?
        .ok()?
        .max_rss;
    let needs_aws = options.wants("token");
    let needs_airflow = options.wants("create") || options.wants("wait");
    let aws = if needs_aws {
        Some(crate::venv::awscli(root)?)
    } else {
        None
    };
    let airflow = if needs_airflow {
        Some(peers::AirflowSide::new(
            &bench,
            crate::venv::airflow(root)?,
        )?)
    } else {
        None
    };
    if options.wants("sizes") {
        results.sizes = Some(image);
    }
    if let Some(aws) = &aws {
        section("a token, whole process: eks-token --no-cache vs aws eks get-token");
        results.token = Some(peers::token(&bench, aws, runs)?);
    }
    // One fake EKS for both Airflow pairs: clusters turn ACTIVE after a few seconds.
    let becomes_active = Duration::from_secs(if options.quick { 6 } else { 10 });
    let interval = Duration::from_secs(2);
    if let Some(airflow) = &airflow {
        let fake = bench.rt.block_on(FakeEks::start_with(FakeEksConfig {
            cluster_create_time: becomes_active,
            ..FakeEksConfig::default()
        }));
        if options.wants("create") {
            section("one EKS call as a task: eks-create-cluster vs EksCreateClusterOperator");
            results.create = Some(peers::create(&bench, &fake, airflow, runs)?);
        }
        if options.wants("wait") {
            section("a wait: eks-wait cluster vs EksClusterStateSensor");
            let wait_runs = if options.quick { 1 } else { 5 };
            results.wait = Some(peers::wait(&bench, &fake, airflow, wait_runs, interval)?);
        }
    }
    if options.wants("logs") || options.wants("many") || options.opt_levels {
        let plane = pods::Plane::start(&bench)?;
        if options.wants("logs") {
            section("pod logs: eks-pod following a pod that prints a large log");
            let sizes: Vec<u64> = if options.quick {
                vec![64 << 20, 8 << 20]
            } else {
                vec![1 << 30, 128 << 20]
            };
            let log_runs = if options.quick { 1 } else { 3 };
            results.logs = Some(Logs {
                runs: pods::logs(&bench, &plane, &sizes, log_runs)?,
                sizes,
            });
        }
        if options.wants("many") {
            section("many tasks: 50 concurrent eks-pod processes");
            results.many = Some(pods::many(&bench, &plane, 50)?);
        }
        if options.opt_levels {
            section("opt-level \"s\" (release) vs 3 (release-o3): eks-token and eks-pod");
            results.opt_levels = Some(opt_levels(&bench, &plane, runs)?);
        }
    }
    if options.wants("micro") {
        section("micro-benchmarks (criterion): token signing, JSON output, log lines");
        results.micro = Some(micro::run(root, options.quick)?);
    }
    let load_after = report::load_average();
    let text = report::render(
        &bench,
        &options,
        &results,
        aws.as_deref(),
        airflow.as_ref().map(peers::AirflowSide::python),
        started.elapsed(),
        (load_before, load_after),
    );
    let path = if options.quick || !options.only.is_empty() {
        bench.work.join("BENCHMARKS-quick.md")
    } else {
        root.join("BENCHMARKS.md")
    };
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "\nbench: wrote {} in {:.0}s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn section(title: &str) {
    println!("\n== {title}");
}

/// Builds eks-token and eks-pod with `release-o3` and compares them with the release build.
fn opt_levels(bench: &Bench, plane: &pods::Plane, runs: usize) -> Result<OptLevels, String> {
    let target = crate::image::musl_target();
    crate::cmd(
        &bench.root,
        "cargo",
        &[
            "build",
            "--profile",
            "release-o3",
            "--locked",
            "--target",
            &target,
            "-p",
            "eks-token",
            "-p",
            "eks-pod",
        ],
    )?;
    let o3 = crate::proc::target_dir(&bench.root)
        .join(&target)
        .join("release-o3");
    let mut sizes = Vec::new();
    for (profile, dir) in [("release (s)", &bench.bin_dir), ("release-o3 (3)", &o3)] {
        for name in ["eks-token", "eks-pod"] {
            let path = dir.join(name);
            let bytes = std::fs::metadata(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .len();
            sizes.push((profile.to_owned(), name.to_owned(), bytes));
        }
    }
    let env = crate::proc::env_for("", &bench.home);
    let token = |dir: &Path| -> Result<Sample, String> {
        let command = peers::eks_token_command(&dir.join("eks-token"), &env);
        measure::run(&command, measure::Markers::default())?.ok()
    };
    token(&bench.bin_dir)?;
    token(&o3)?;
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(token(&bench.bin_dir)?);
        peer.push(token(&o3)?);
    }
    let payload = 256 << 20;
    let (mut logs_s, mut logs_o3) = (Vec::new(), Vec::new());
    for i in 0..3 {
        logs_s.push(pods::log_run(
            bench,
            plane,
            &bench.bin("eks-pod"),
            payload,
            &format!("opt-s-{i}"),
        )?);
        logs_o3.push(pods::log_run(
            bench,
            plane,
            &o3.join("eks-pod"),
            payload,
            &format!("opt-3-{i}"),
        )?);
    }
    Ok(OptLevels {
        sizes,
        token: Pair { ours, peer },
        payload,
        logs_s,
        logs_o3,
    })
}
