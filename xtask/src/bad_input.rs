//! The bad-input matrix: every case must exit 2 with a one-line message naming the flag,
//! and no request may reach the fake.

use crate::e2e::{Ctx, NODE_ROLE, POD_ROLE, ROLE, VPC};

struct Case {
    bin: &'static str,
    args: Vec<String>,
    /// Environment changes: `(name, Some(value))` sets, `(name, None)` removes.
    env: Vec<(&'static str, Option<&'static str>)>,
    /// The message must contain this (the flag or field named).
    names: &'static str,
}

fn cluster(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--cluster-name",
        "ok",
        "--cluster-role-arn",
        ROLE,
        "--resources-vpc-config",
        VPC,
        "--compute",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A flag given in `extra` replaces the base pair of the same name (also as `--flag=value`).
    for flag in extra.iter().filter(|a| a.starts_with("--")) {
        let name = flag.split('=').next().unwrap_or(flag);
        if let Some(i) = args.iter().step_by(2).position(|a| a == name) {
            args.drain(2 * i..2 * i + 2);
        }
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn plain(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn nodegroup(extra: &[&str]) -> Vec<String> {
    let mut args = plain(&[
        "--cluster-name",
        "c",
        "--nodegroup-name",
        "ng",
        "--nodegroup-subnets",
        "subnet-1",
        "--nodegroup-role-arn",
        NODE_ROLE,
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn case(bin: &'static str, args: Vec<String>, names: &'static str) -> Case {
    Case {
        bin,
        args,
        env: vec![],
        names,
    }
}

fn cases() -> Vec<Case> {
    let long_name = "x".repeat(101);
    let long_name: &'static str = Box::leak(long_name.into_boxed_str());
    vec![
        case(
            "eks-create-cluster",
            cluster(&["--cluster-name=-starts-with-dash"]),
            "--cluster-name",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--cluster-name", long_name]),
            "--cluster-name",
        ),
        case(
            "eks-create-cluster",
            plain(&["--compute", "none"]),
            "--cluster-name",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--cluster-role-arn", "eks-role"]),
            "--cluster-role-arn",
        ),
        case(
            "eks-create-cluster",
            plain(&[
                "--cluster-name",
                "c",
                "--resources-vpc-config",
                VPC,
                "--compute",
                "none",
            ]),
            "--cluster-role-arn",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--resources-vpc-config", r#"{"subnetIds":"subnet-1"}"#]),
            "--resources-vpc-config",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--resources-vpc-config", r#"{"subnetIdz":["a","b"]}"#]),
            "subnetIdz",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--resources-vpc-config", r#"{"subnetIds":["only-one"]}"#]),
            "--resources-vpc-config",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--create-cluster-kwargs", r#"{"nmae":"x"}"#]),
            "nmae",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--create-cluster-kwargs", "{not json"]),
            "--create-cluster-kwargs",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--create-cluster-kwargs", r#"{"name":"other"}"#]),
            "--cluster-name",
        ),
        case(
            "eks-create-cluster",
            cluster(&[
                "--create-cluster-kwargs",
                r#"{"kubernetesNetworkConfig":{"ipFamily":"ipv5"}}"#,
            ]),
            "ipFamily",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--create-cluster-kwargs", "@/nonexistent/kwargs.json"]),
            "--create-cluster-kwargs",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--compute", "gpu"]),
            "--compute",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--compute", "nodegroup"]),
            "--nodegroup-role-arn",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--nodegroup-role-arn", NODE_ROLE]),
            "--nodegroup-role-arn",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--compute", "fargate"]),
            "--fargate-pod-execution-role-arn",
        ),
        case(
            "eks-create-cluster",
            cluster(&[
                "--compute",
                "fargate",
                "--fargate-pod-execution-role-arn",
                POD_ROLE,
                "--fargate-selectors",
                "[]",
            ]),
            "--fargate-selectors",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--waiter-delay", "0"]),
            "--waiter-delay",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--waiter-delay=-5"]),
            "--waiter-delay",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--waiter-max-attempts", "0"]),
            "--waiter-max-attempts",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--region", "mars-1"]),
            "--region",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--region", "us-east1"]),
            "--region",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--kubernetes-version", "latest"]),
            "--kubernetes-version",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--if-exists", "maybe"]),
            "--if-exists",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--endpoint-url", "localhost:4566"]),
            "--endpoint-url",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--role-session-name", "airflow"]),
            "--role-session-name",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--role-arn", "arn:aws:iam::123:role/x"]),
            "--role-arn",
        ),
        case(
            "eks-create-cluster",
            cluster(&["--wait=perhaps"]),
            "--wait-for-completion",
        ),
        Case {
            bin: "eks-create-cluster",
            args: cluster(&[]),
            env: vec![("AWS_REGION", Some("moon-1"))],
            names: "AWS_REGION",
        },
        Case {
            bin: "eks-create-cluster",
            args: cluster(&[]),
            env: vec![("AWS_REGION", None)],
            names: "--region",
        },
        case(
            "eks-create-nodegroup",
            nodegroup(&["--min-size", "3", "--max-size", "1"]),
            "--min-size",
        ),
        case(
            "eks-create-nodegroup",
            nodegroup(&["--desired-size", "9", "--max-size", "2"]),
            "--desired-size",
        ),
        case(
            "eks-create-nodegroup",
            plain(&[
                "--cluster-name",
                "c",
                "--nodegroup-subnets",
                "[subnet",
                "--nodegroup-role-arn",
                NODE_ROLE,
            ]),
            "--nodegroup-subnets",
        ),
        case(
            "eks-create-nodegroup",
            plain(&["--cluster-name", "c", "--nodegroup-role-arn", NODE_ROLE]),
            "--nodegroup-subnets",
        ),
        case(
            "eks-create-nodegroup",
            nodegroup(&["--create-nodegroup-kwargs", r#"{"amiType":"AL3"}"#]),
            "amiType",
        ),
        case(
            "eks-create-nodegroup",
            nodegroup(&["--create-nodegroup-kwargs", r#"{"subnets":["s"]}"#]),
            "--nodegroup-subnets",
        ),
        case(
            "eks-create-nodegroup",
            nodegroup(&["--taints", r#"[{"key":"a","effect":"NoSchedule"}]"#]),
            "effect",
        ),
        case(
            "eks-create-nodegroup",
            nodegroup(&["--labels", "novalue"]),
            "--labels",
        ),
        case(
            "eks-create-nodegroup",
            plain(&[
                "--cluster-name",
                "c",
                "--nodegroup-subnets",
                "s",
                "--nodegroup-role-arn",
                NODE_ROLE,
                "--nodegroup-name",
                &*Box::leak("n".repeat(64).into_boxed_str()),
            ]),
            "--nodegroup-name",
        ),
        case(
            "eks-delete-nodegroup",
            plain(&["--cluster-name", "c", "--nodegroup-name", "bad name"]),
            "--nodegroup-name",
        ),
        case(
            "eks-create-fargate-profile",
            plain(&[
                "--cluster-name",
                "c",
                "--fargate-profile-name",
                "p",
                "--pod-execution-role-arn",
                POD_ROLE,
                "--selectors",
                r#"[{"labels":{"a":"b"}}]"#,
            ]),
            "--selectors",
        ),
        case(
            "eks-create-fargate-profile",
            plain(&[
                "--cluster-name",
                "c",
                "--fargate-profile-name",
                "p",
                "--pod-execution-role-arn",
                POD_ROLE,
            ]),
            "--selectors",
        ),
        case(
            "eks-delete-fargate-profile",
            plain(&["--cluster-name", "c"]),
            "--fargate-profile-name",
        ),
        case(
            "eks-delete-cluster",
            plain(&["--cluster-name", "c", "--force=maybe"]),
            "--force",
        ),
        case(
            "eks-delete-cluster",
            plain(&["--cluster-name", "c", "--if-missing", "ignore"]),
            "--if-missing",
        ),
        case(
            "eks-wait",
            plain(&[
                "cluster",
                "--cluster-name",
                "c",
                "--target-state",
                "RUNNING",
            ]),
            "--target-state",
        ),
        case(
            "eks-wait",
            plain(&["nodegroup", "--cluster-name", "c"]),
            "--nodegroup-name",
        ),
        case(
            "eks-wait",
            plain(&[
                "fargate-profile",
                "--cluster-name",
                "c",
                "--fargate-profile-name",
                "p",
                "--target-state",
                "DEGRADED",
            ]),
            "--target-state",
        ),
        case("eks-wait", plain(&["pod", "--cluster-name", "c"]), "pod"),
        case(
            "eks-pod",
            plain(&["--cluster-name", "c", "--image", "busybox"]),
            "--name",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "busybox",
                "--name",
                "p",
                "--namespace",
                "Not_A_Namespace",
            ]),
            "--namespace",
        ),
        case(
            "eks-pod",
            plain(&["--cluster-name", "c", "--name", "p"]),
            "--image",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--env-vars",
                r#"[{"name":"A","valeu":"1"}]"#,
            ]),
            "valeu",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--tolerations",
                r#"[{"key":"k","efect":"NoSchedule"}]"#,
            ]),
            "efect",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--container-resources",
                r#"{"limits":"lots"}"#,
            ]),
            "--container-resources",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--pod-template-file",
                "/nonexistent/pod.yaml",
            ]),
            "--pod-template-file",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--image-pull-policy",
                "Sometimes",
            ]),
            "--image-pull-policy",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--container-logs",
                "sidecar",
            ]),
            "--container-logs",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--on-finish-action",
                "delete",
            ]),
            "--on-finish-action",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--skip-on-exit-code",
                "one",
            ]),
            "--skip-on-exit-code",
        ),
        case(
            "eks-pod",
            plain(&[
                "--cluster-name",
                "c",
                "--image",
                "b",
                "--name",
                "p",
                "--full-pod-spec",
                "{}",
                "--pod-template-file",
                "x.yaml",
            ]),
            "--pod-template-file",
        ),
    ]
}

pub fn run_matrix(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(eks_testkit::FakeEksConfig::default());
    let mut failures = Vec::new();
    let all = cases();
    for (i, case) in all.iter().enumerate() {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let mut env = crate::proc::env_for(&fake.uri(), &ctx.home);
        for (name, value) in &case.env {
            env.retain(|(k, _)| k != name);
            if let Some(v) = value {
                env.push((name.to_string(), v.to_string()));
            }
        }
        let out = crate::proc::run(
            &ctx.bin(case.bin),
            &Ctx::args(&args),
            &env,
            std::time::Duration::from_secs(30),
        )?;
        let check = || -> Result<(), String> {
            let json = out.expect(2)?;
            let message = json["error"]["message"].as_str().unwrap_or_default();
            if json["error"]["kind"] != "bad_input"
                || !message.contains(case.names)
                || message.contains('\n')
            {
                return Err(format!(
                    "message does not name {:?} on one line: {json}",
                    case.names
                ));
            }
            if !out.stderr.contains("error: ") {
                return Err(format!("no human message on stderr: {}", out.stderr));
            }
            if !fake.requests().is_empty() {
                return Err(format!(
                    "{} request(s) reached the fake",
                    fake.requests().len()
                ));
            }
            Ok(())
        };
        match check() {
            Ok(()) => {
                if ctx.verbose {
                    println!("    ok [{i}] {}", out.stdout.trim());
                }
            }
            Err(e) => failures.push(format!("[{i}] {}: {e}", out.command)),
        }
    }
    if failures.is_empty() {
        println!("    {} bad inputs rejected before any request", all.len());
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

pub fn scenarios() -> Vec<crate::e2e::Scenario> {
    vec![(
        "bad input matrix: exit 2, flag named, no request sent",
        run_matrix,
    )]
}
