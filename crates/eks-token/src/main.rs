//! `eks-token`: Print an EKS bearer token as a kubectl exec credential, as aws eks get-token.
//! Flags, output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::token::main()
}
