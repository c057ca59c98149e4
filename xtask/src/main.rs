//! Project automation, run from the workspace root as `cargo xtask <command>`:
//!
//! - `ci`: format check, clippy (warnings are errors), every test, then `e2e`.
//! - `e2e`: the real binaries as processes against the fake EKS.
//! - `demo`: the main job on the built-in fake, step by step, for a new user.
//! - `fake`: serve the fake EKS on localhost until interrupted.
//! - `image`: the DockerOperator image, built from docker/Dockerfile's final stage.
//! - `bench`: our binaries against the aws CLI and Airflow on the fakes; writes BENCHMARKS.md.
//!
//! It prints every command it runs.

// xtask talks to a person on a terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod airflow;
mod auth;
mod bad_input;
mod bench;
mod cluster;
mod demo;
mod docker;
mod e2e;
mod fake;
mod image;
mod pod;
mod proc;
mod venv;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "usage: cargo xtask <ci | e2e [--cluster | --docker | --airflow] | image | bench [--quick] [--opt-levels] | demo | fake [--port N]>

  ci     cargo fmt --check, cargo clippy -D warnings, cargo test, then e2e
  e2e    run every binary as a process against the fake EKS and the fake control plane
         --cluster: eks-pod against a real Kubernetes (k3s in Docker); fails plainly where it cannot run
         --docker: the same scenarios with every binary inside the image, plus the image's own
         --airflow: the example DAGs (fixtures/dags) in Apache Airflow 2.10 (venv in target/), run
                    with `airflow dags test` against the image and the fakes; needs Docker
  demo   create a cluster with a nodegroup, wait, show it, delete it with --force (on the fake)
  fake   serve the fake EKS on 127.0.0.1 (default port 4566) until Ctrl-C
  image  build the static binaries and the DockerOperator image eks-operators:dev (FROM scratch)
         --profile P: build the binaries with cargo profile P (default release; ci uses ci-image)
  bench  the image's binaries against `aws eks get-token` and Airflow's EKS operators on the fakes,
         pod log throughput, 50 concurrent pods, sizes, criterion micro-benchmarks; writes BENCHMARKS.md
         --quick: 3 runs each, into target/bench/BENCHMARKS-quick.md (run by ci; figures not judged)
         --opt-levels: also build eks-token and eks-pod at opt-level 3 and compare with opt-level s
         --only A,B: some of sizes,token,create,wait,logs,many,micro (into target/bench too)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("e2e") => e2e(&root, &args[1..]),
        Some("demo") => demo::run(&root),
        Some("fake") => fake::run(&args[1..]),
        Some("image") => image::run(&root, &args[1..]),
        Some("bench") => bench::run(&root, &args[1..]),
        // The measuring helper of `bench` (see bench/measure.rs); not for people.
        Some(bench::HELPER) => return bench::measure_helper(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Run a command from the workspace root, printing it first.
pub fn cmd(root: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    println!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// The cargo profile of the binaries in the image `cargo xtask ci` tests (see Cargo.toml).
const CI_IMAGE_PROFILE: &str = "ci-image";

fn ci(root: &Path) -> Result<(), String> {
    let started = Instant::now();
    cmd(root, "cargo", &["fmt", "--all", "--check"])?;
    cmd(
        root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    cmd(root, "cargo", &["test", "--workspace", "--locked"])?;
    e2e(root, &[])?;
    // The image's tiers test behaviour, not size: a profile that builds in a fraction of the time.
    image::use_profile(CI_IMAGE_PROFILE);
    e2e(root, &["--docker".to_owned()])?;
    e2e(root, &["--airflow".to_owned()])?;
    // Proves the benchmarks run; their figures are not judged here.
    bench::run(root, &["--quick".to_owned()])?;
    println!(
        "xtask ci: all green in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Build the binaries, then run every scenario and report `N passed, M failed`.
fn e2e(root: &Path, args: &[String]) -> Result<(), String> {
    let tier = args.first().map(String::as_str);
    match tier {
        None | Some("--cluster") => {}
        Some("--docker") => return docker::run_tier(root),
        Some("--airflow") => return airflow::run_tier(root),
        Some(other) => {
            return Err(format!(
                "e2e: unknown option {other:?}; usage: cargo xtask e2e [--cluster | --docker | --airflow]"
            ));
        }
    }
    cmd(
        root,
        "cargo",
        &["build", "--workspace", "--bins", "--locked"],
    )?;
    let ctx = e2e::Ctx::new(root)?;
    if tier == Some("--cluster") {
        return cluster::run_tier(&ctx);
    }
    run_scenarios(&ctx, e2e::scenarios(), "against the fake EKS")
}

/// A named check run against a context `C`.
pub(crate) type Check<C> = (&'static str, fn(&C) -> Result<(), String>);

/// Run `scenarios` (those whose name contains `E2E_FILTER`, if set) and report each.
pub(crate) fn run_scenarios<C>(
    ctx: &C,
    scenarios: Vec<Check<C>>,
    what: &str,
) -> Result<(), String> {
    let filter = std::env::var("E2E_FILTER").ok();
    let (mut passed, mut failed) = (0, Vec::new());
    println!("running {} e2e scenarios {what}", scenarios.len());
    for (name, scenario) in scenarios {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let started = Instant::now();
        match scenario(ctx) {
            Ok(()) => {
                passed += 1;
                println!("  ok   {name} ({:.1}s)", started.elapsed().as_secs_f64());
            }
            Err(e) => {
                println!(
                    "  FAIL {name} ({:.1}s)\n{}",
                    started.elapsed().as_secs_f64(),
                    indent(&e)
                );
                failed.push(name);
            }
        }
    }
    println!("e2e: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("e2e failed: {}", failed.join("; ")))
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("       {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
