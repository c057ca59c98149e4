//! `eks-create-nodegroup`: Create an EKS managed nodegroup, as Airflow's EksCreateNodegroupOperator.
//! Flags, JSON output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::nodegroup::create_main()
}
