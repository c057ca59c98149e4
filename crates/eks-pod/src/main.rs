//! `eks-pod`: Run a pod on an EKS cluster to the end, as Airflow's EksPodOperator.
//! Flags, output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::pod::main()
}
