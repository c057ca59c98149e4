//! `eks-delete-fargate-profile`: Delete an EKS Fargate profile, as Airflow's EksDeleteFargateProfileOperator.
//! Flags, JSON output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::fargate::delete_main()
}
