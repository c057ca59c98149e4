//! `eks-kubeconfig`: Write or merge a kubeconfig for an EKS cluster that authenticates with eks-token, as aws eks update-kubeconfig.
//! Flags, output and exit codes are in the README; the logic is in eks-cli and eks-core.

fn main() -> std::process::ExitCode {
    eks_cli::kubeconfig::main()
}
