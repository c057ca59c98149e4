//! `eks-delete-cluster`: Delete an EKS cluster, optionally deleting its nodegroups and Fargate profiles first, as Airflow's EksDeleteClusterOperator.
//! Flags, JSON output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::delete_cluster::main()
}
