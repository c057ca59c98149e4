//! Project automation, run from the workspace root as `cargo xtask <command>`:
//!
//! - `ci`: format check, clippy (warnings are errors), every test, then `e2e`.
//! - `e2e`: the real binaries as processes against the fake EKS.
//! - `demo`: the main job on the built-in fake, step by step, for a new user.
//! - `fake`: serve the fake EKS on localhost until interrupted.
//!
//! It prints every command it runs.

// xtask talks to a person on a terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod auth;
mod bad_input;
mod cluster;
mod demo;
mod e2e;
mod fake;
mod pod;
mod proc;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "usage: cargo xtask <ci | e2e [--cluster] | demo | fake [--port N]>

  ci     cargo fmt --check, cargo clippy -D warnings, cargo test, then e2e
  e2e    run every binary as a process against the fake EKS and the fake control plane
         --cluster: eks-pod against a real Kubernetes (k3s in Docker); fails plainly where it cannot run
  demo   create a cluster with a nodegroup, wait, show it, delete it with --force (on the fake)
  fake   serve the fake EKS on 127.0.0.1 (default port 4566) until Ctrl-C";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("e2e") => e2e(&root, &args[1..]),
        Some("demo") => demo::run(&root),
        Some("fake") => fake::run(&args[1..]),
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
    println!(
        "xtask ci: all green in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Build the binaries, then run every scenario and report `N passed, M failed`.
fn e2e(root: &Path, args: &[String]) -> Result<(), String> {
    let tier = match args.first().map(String::as_str) {
        None => None,
        Some("--cluster") => Some("cluster"),
        Some(other) => {
            return Err(format!(
                "e2e: unknown option {other:?}; usage: cargo xtask e2e [--cluster] (the Docker tier comes with the image)"
            ));
        }
    };
    cmd(
        root,
        "cargo",
        &["build", "--workspace", "--bins", "--locked"],
    )?;
    let ctx = e2e::Ctx::new(root)?;
    if tier == Some("cluster") {
        return cluster::run_tier(&ctx);
    }
    let scenarios = e2e::scenarios();
    let filter = std::env::var("E2E_FILTER").ok();
    let (mut passed, mut failed) = (0, Vec::new());
    println!(
        "running {} e2e scenarios against the fake EKS",
        scenarios.len()
    );
    for (name, scenario) in scenarios {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let started = Instant::now();
        match scenario(&ctx) {
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
