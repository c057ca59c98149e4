//! Python virtualenvs under `target/` for the tiers that drive Python tools: the aws CLI (a
//! reference client for benchmarks) and Apache Airflow (the `e2e --airflow` tier). Each is
//! installed on first use with exact pins and reused while its marker file, written after a
//! successful install, holds the same requirement list.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The aws CLI v1 from PyPI (v2 is not published there).
#[allow(dead_code)]
pub const AWSCLI_REQUIREMENTS: &[&str] = &["awscli==1.46.3"];

/// Apache Airflow 2.10 with the providers our DAGs and the tier use, in one install. PyPI's
/// newest providers need Airflow 2.11, so amazon, cncf.kubernetes and docker are pinned to their
/// last releases that accept 2.10. Airflow's own provider dependencies are unbounded, so they are
/// pinned too (to what the resolver settles on after minutes of backtracking), as is connexion,
/// whose `flask` extra sends it through every 2.x release.
pub const AIRFLOW_REQUIREMENTS: &[&str] = &[
    "apache-airflow==2.10.5",
    "apache-airflow-providers-amazon==9.17.0",
    "apache-airflow-providers-cncf-kubernetes==10.10.0",
    "apache-airflow-providers-docker==4.4.5",
    "apache-airflow-providers-common-compat==1.9.0",
    "apache-airflow-providers-common-io==1.6.5",
    "apache-airflow-providers-common-sql==1.29.0",
    "apache-airflow-providers-fab==1.5.3",
    "apache-airflow-providers-ftp==3.13.3",
    "apache-airflow-providers-http==5.5.0",
    "apache-airflow-providers-imap==3.9.4",
    "apache-airflow-providers-smtp==2.3.2",
    "apache-airflow-providers-sqlite==4.1.3",
    "connexion==2.14.2",
];

/// The installer: uv, from PyPI, because it resolves and downloads in parallel. Measured cold
/// (empty caches) for the Airflow venv: pip 131 s, uv 36 s including installing uv.
const UV: &str = "uv==0.9.16";

/// Written into a venv after a successful install: the exact requirement list, one a line.
const MARKER: &str = "xtask-requirements.txt";

/// The venv `target/venv-awscli` with the aws CLI; returns the path of its `aws`.
// For the benchmarks (`cargo xtask bench`), which land separately from the Airflow tier.
#[allow(dead_code)]
pub fn awscli(root: &Path) -> Result<PathBuf, String> {
    let venv = ensure(
        &crate::proc::target_dir(root).join("venv-awscli"),
        AWSCLI_REQUIREMENTS,
    )?;
    Ok(venv.join("bin").join("aws"))
}

/// An Apache Airflow install and the `AIRFLOW_HOME` it runs with.
pub struct Airflow {
    /// `target/venv-airflow`.
    pub venv: PathBuf,
    /// `target/airflow-home`: airflow.cfg, the sqlite metadata DB, logs, and `dags/`.
    pub home: PathBuf,
}

/// The venv `target/venv-airflow` with Airflow and its providers, and a migrated
/// `AIRFLOW_HOME` (sqlite, no example DAGs).
pub fn airflow(root: &Path) -> Result<Airflow, String> {
    let venv = ensure(
        &crate::proc::target_dir(root).join("venv-airflow"),
        AIRFLOW_REQUIREMENTS,
    )?;
    let airflow = Airflow {
        venv,
        home: crate::proc::target_dir(root).join("airflow-home"),
    };
    std::fs::create_dir_all(airflow.dags_folder())
        .map_err(|e| format!("{}: {e}", airflow.dags_folder().display()))?;
    // The DB is migrated once per install: a reinstall may bring another schema.
    let migrated = airflow.home.join("xtask-migrated.txt");
    let wanted = AIRFLOW_REQUIREMENTS.join("\n");
    if std::fs::read_to_string(&migrated).ok().as_deref() != Some(wanted.as_str()) {
        let db = airflow.home.join("airflow.db");
        if db.exists() {
            std::fs::remove_file(&db).map_err(|e| format!("{}: {e}", db.display()))?;
        }
        run(airflow.command(&["db", "migrate"]))?;
        std::fs::write(&migrated, &wanted).map_err(|e| format!("{}: {e}", migrated.display()))?;
    }
    Ok(airflow)
}

impl Airflow {
    /// The venv's `python`.
    pub fn python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }

    /// `AIRFLOW_HOME/dags`, the DAGs folder unless a caller points
    /// `AIRFLOW__CORE__DAGS_FOLDER` elsewhere.
    pub fn dags_folder(&self) -> PathBuf {
        self.home.join("dags")
    }

    /// The sqlite metadata DB.
    pub fn database(&self) -> PathBuf {
        self.home.join("airflow.db")
    }

    /// The environment every Airflow process of the tier gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = match std::env::var_os("PATH") {
            Some(path) => format!("{}:{}", self.venv.join("bin").display(), path.display()),
            None => self.venv.join("bin").display().to_string(),
        };
        vec![
            ("PATH".into(), path),
            ("AIRFLOW_HOME".into(), self.home.display().to_string()),
            (
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN".into(),
                format!("sqlite:///{}", self.database().display()),
            ),
            (
                "AIRFLOW__CORE__DAGS_FOLDER".into(),
                self.dags_folder().display().to_string(),
            ),
            ("AIRFLOW__CORE__LOAD_EXAMPLES".into(), "False".into()),
            (
                "AIRFLOW__CORE__EXECUTOR".into(),
                "SequentialExecutor".into(),
            ),
            // No usage data sent anywhere, no user site-packages leaking into the venv.
            ("SCARF_ANALYTICS".into(), "false".into()),
            (
                "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED".into(),
                "False".into(),
            ),
            ("PYTHONNOUSERSITE".into(), "1".into()),
        ]
    }

    /// `airflow <args>` from the venv, with the environment above; the caller may add to it.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.venv.join("bin").join("airflow"));
        command.args(args).envs(self.env());
        command
    }
}

/// Create (or re-create) the venv at `dir` with exactly `requirements`, unless its marker says
/// it already has them. Returns `dir`.
fn ensure(dir: &Path, requirements: &[&str]) -> Result<PathBuf, String> {
    let marker = dir.join(MARKER);
    let wanted = format!("# installed with {UV}\n{}", requirements.join("\n"));
    let python = dir.join("bin").join("python");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) && python.exists()
    {
        return Ok(dir.to_path_buf());
    }
    let started = Instant::now();
    if dir.exists() {
        println!("$ rm -rf {}", dir.display());
        std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut venv = Command::new("python3");
    venv.arg("-m").arg("venv").arg(dir);
    run(venv).map_err(|e| {
        format!("{e}: Python 3 with its venv module is needed (Debian: python3-venv)")
    })?;
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        UV,
    ]);
    run(pip)?;
    let mut uv = Command::new(dir.join("bin").join("uv"));
    uv.args(["pip", "install", "--quiet", "--python"])
        .arg(&python)
        .args(requirements);
    run(uv)?;
    std::fs::write(&marker, &wanted).map_err(|e| format!("{}: {e}", marker.display()))?;
    println!(
        "installed {} into {} in {:.0}s",
        requirements.join(" "),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(dir.to_path_buf())
}

/// Run `command` to completion, printing it first; its output goes to the terminal.
fn run(mut command: Command) -> Result<(), String> {
    let shown = show(&command);
    println!("$ {shown}");
    let status = command
        .status()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// A command as a person would type it (environment left out).
pub fn show(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
