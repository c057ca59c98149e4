//! `eks-create-cluster`: Create an EKS cluster, optionally with a managed nodegroup or a Fargate profile, as Airflow's EksCreateClusterOperator.
//! Flags, JSON output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::create_cluster::main()
}
