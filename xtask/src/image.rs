//! `cargo xtask image`: the DockerOperator image, built here where no base image can be pulled.
//! The static (musl) release binaries are built on the host, then the final stage of
//! `docker/Dockerfile`, read from that file, is built `FROM scratch` on top of them: the same
//! lines users and GitHub build, with the host standing in for the `build` stage.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd;

/// The tag every tier uses for the image built here.
pub const TAG: &str = "eks-operators:dev";

/// The line in docker/Dockerfile where the final stage starts.
const FINAL_STAGE_MARKER: &str = "# ---- final image";

/// The cargo profile the image's binaries are built with: `release` (what users get) unless
/// [`use_profile`] chose another, as `cargo xtask ci` does.
static PROFILE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Build the image's binaries with `profile` from now on (first call wins).
pub fn use_profile(profile: &str) {
    let _ = PROFILE.set(profile.to_owned());
}

pub fn profile() -> &'static str {
    PROFILE.get().map(String::as_str).unwrap_or("release")
}

/// Static binaries for this machine's architecture, as the Dockerfile builds them.
pub fn musl_target() -> String {
    format!("{}-unknown-linux-musl", std::env::consts::ARCH)
}

/// What was built: the image and the binaries in it.
pub struct Image {
    pub tag: String,
    /// Where the static release binaries are on the host.
    pub bin_dir: PathBuf,
    /// The image's size as `docker image inspect` reports it (uncompressed).
    pub size_bytes: u64,
    /// Each binary's name and size in bytes, sorted by name.
    pub binaries: Vec<(String, u64)>,
}

/// `cargo xtask image [--profile P]`: build, then report each size.
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    match args {
        [] => {}
        [flag, profile] if flag == "--profile" => use_profile(profile),
        _ => {
            return Err(format!(
                "image: unexpected {args:?}; usage: cargo xtask image [--profile P]"
            ));
        }
    }
    let image = build(root)?;
    println!(
        "image {}: {} (binaries built with the {} profile)",
        image.tag,
        mib(image.size_bytes),
        profile()
    );
    for (name, size) in &image.binaries {
        println!("  {name:<28} {}", mib(*size));
    }
    Ok(())
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Build the static binaries and the image; cheap when nothing changed (cargo and Docker's
/// layer cache both have it).
pub fn build(root: &Path) -> Result<Image, String> {
    docker_ok()?;
    let bin_dir = build_binaries(root)?;
    let names = binary_names(root)?;
    // One context per process: two builds at once must not share a half-written tree.
    let context = root
        .join("target")
        .join("image")
        .join(format!("context-{}", std::process::id()));
    assemble_context(root, &bin_dir, &names, &context)?;
    let version = env!("CARGO_PKG_VERSION");
    let built = cmd(
        root,
        "docker",
        &[
            "build",
            "--quiet",
            "--build-arg",
            &format!("VERSION={version}"),
            "--tag",
            TAG,
            &context.display().to_string(),
        ],
    );
    let _ = std::fs::remove_dir_all(&context);
    built?;
    let size_bytes = output(
        "docker",
        &["image", "inspect", "--format", "{{.Size}}", TAG],
    )?
    .trim()
    .parse()
    .map_err(|e| format!("docker image inspect: size is not a number: {e}"))?;
    let mut binaries = Vec::new();
    for name in names {
        let path = bin_dir.join(&name);
        let size = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        binaries.push((name, size));
    }
    Ok(Image {
        tag: TAG.to_owned(),
        bin_dir,
        size_bytes,
        binaries,
    })
}

/// `cargo build` of every binary for the musl target, as the Dockerfile's build stage runs it
/// (with [`profile`]). Returns the directory holding them.
pub fn build_binaries(root: &Path) -> Result<PathBuf, String> {
    let target = musl_target();
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !installed.lines().any(|l| l.trim() == target) {
        return Err(format!(
            "the Rust target {target} is not installed: run `rustup target add {target}`"
        ));
    }
    if Command::new("musl-gcc").arg("--version").output().is_err() {
        return Err(
            "musl-gcc was not found (aws-lc-sys compiles C for the musl target): install Debian's musl-tools"
                .to_owned(),
        );
    }
    cmd(
        root,
        "cargo",
        &[
            "build",
            "--profile",
            profile(),
            "--locked",
            "--target",
            &target,
            "--workspace",
            "--bins",
            "--exclude",
            "xtask",
            "--exclude",
            "eks-testkit",
        ],
    )?;
    Ok(crate::proc::target_dir(root).join(&target).join(profile()))
}

/// Every binary crate of the workspace: `crates/eks-*/src/main.rs`.
pub fn binary_names(root: &Path) -> Result<Vec<String>, String> {
    let crates = root.join("crates");
    let entries = std::fs::read_dir(&crates).map_err(|e| format!("{}: {e}", crates.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("src").join("main.rs").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("eks-"))
        .collect();
    names.sort();
    Ok(names)
}

/// The Docker build context: `rootfs/` laid out as the Dockerfile's build stage lays out
/// `/out`, and a Dockerfile whose build stage copies it in.
fn assemble_context(
    root: &Path,
    bin_dir: &Path,
    names: &[String],
    context: &Path,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;

    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    let rootfs = context.join("rootfs");
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs).map_err(io(&rootfs))?;
    }
    let bin = rootfs.join("usr/local/bin");
    let certs = rootfs.join("etc/ssl/certs");
    let tmp = rootfs.join("tmp");
    for dir in [&bin, &certs, &tmp] {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    for name in names {
        let from = bin_dir.join(name);
        std::fs::copy(&from, bin.join(name)).map_err(io(&from))?;
    }
    let host_bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if !host_bundle.is_file() {
        return Err(format!(
            "{} is missing: install Debian's ca-certificates (the image's CA bundle comes from it)",
            host_bundle.display()
        ));
    }
    std::fs::copy(host_bundle, certs.join("ca-certificates.crt")).map_err(io(host_bundle))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).map_err(io(&tmp))?;
    let etc = rootfs.join("etc");
    std::fs::write(
        etc.join("passwd"),
        "eks:x:65532:65532:eks-operators:/tmp:/sbin/nologin\n",
    )
    .map_err(io(&etc))?;
    std::fs::write(etc.join("group"), "eks:x:65532:\n").map_err(io(&etc))?;

    let dockerfile = root.join("docker").join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).map_err(io(&dockerfile))?;
    std::fs::write(context.join("Dockerfile"), prebuilt_dockerfile(&text)?).map_err(io(context))?;
    Ok(())
}

/// docker/Dockerfile with its build stage replaced by one that copies the host's `rootfs/`.
fn prebuilt_dockerfile(dockerfile: &str) -> Result<String, String> {
    let start = dockerfile.find(FINAL_STAGE_MARKER).ok_or_else(|| {
        format!(
            "docker/Dockerfile has no line starting {FINAL_STAGE_MARKER:?} before its final stage"
        )
    })?;
    Ok(format!(
        "# Generated by `cargo xtask image` from docker/Dockerfile: the build stage is the host's.\n\
         FROM scratch AS build\n\
         COPY rootfs/ /out/\n\n{}",
        &dockerfile[start..]
    ))
}

/// Whether the Docker engine answers; says why not.
pub fn docker_ok() -> Result<(), String> {
    println!("$ docker version --format {{{{.Server.Version}}}}");
    match Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "the Docker engine is not reachable: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("`docker version` failed")
        )),
        Err(e) => Err(format!("the docker CLI cannot run: {e}")),
    }
}

/// Run a command quietly and return its stdout; for queries, not for steps of the build.
pub fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    fn dockerfile() -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker/Dockerfile"))
            .unwrap()
    }

    #[test]
    fn the_final_stage_is_the_dockerfiles_own() {
        let text = dockerfile();
        let generated = prebuilt_dockerfile(&text).unwrap();
        let final_stage = &text[text.find(FINAL_STAGE_MARKER).unwrap()..];
        assert!(generated.ends_with(final_stage));
        assert!(!generated.contains("rust:"), "no base image to pull");
        // One stage from scratch for the binaries, one for the image.
        assert_eq!(generated.matches("\nFROM scratch").count(), 2);
    }

    #[test]
    fn the_final_stage_is_minimal_and_non_root() {
        let text = dockerfile();
        let final_stage = &text[text.find(FINAL_STAGE_MARKER).unwrap()..];
        assert!(final_stage.contains("\nFROM scratch\n"));
        assert!(final_stage.contains("\nUSER 65532:65532"));
        assert!(
            !final_stage.contains("ENTRYPOINT"),
            "DockerOperator passes the command"
        );
        for label in ["source", "version", "licenses"] {
            assert!(final_stage.contains(&format!("org.opencontainers.image.{label}=")));
        }
    }

    #[test]
    fn every_binary_crate_is_found() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let names = binary_names(root).unwrap();
        assert!(names.contains(&"eks-pod".to_owned()));
        assert!(names.contains(&"eks-token".to_owned()));
        assert!(!names.iter().any(|n| n == "eks-core" || n == "eks-testkit"));
    }
}
