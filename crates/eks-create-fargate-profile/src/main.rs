//! `eks-create-fargate-profile`: Create an EKS Fargate profile, as Airflow's EksCreateFargateProfileOperator.
//! Flags, JSON output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::fargate::create_main()
}
