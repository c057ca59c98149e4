//! `eks-delete-nodegroup`: Delete an EKS managed nodegroup, as Airflow's EksDeleteNodegroupOperator.
//! Flags, JSON output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::nodegroup::delete_main()
}
