//! `eks-wait`: Wait for an EKS cluster, nodegroup or Fargate profile to reach a state, as Airflow's EKS sensors.
//! Flags, JSON output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::wait::main()
}
