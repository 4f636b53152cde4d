//! kind clusters through the `kind` command: create, delete, and load the workload
//! image from an image archive (nothing can be pulled, so the image built with the
//! local Docker engine is exported as a tar and loaded onto the nodes).
//!
//! `otrashi kind up [--name otrashi]` creates the cluster when it does not exist and
//! loads the image; its kubeconfig context is `kind-<name>`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The default cluster name.
pub const DEFAULT_CLUSTER: &str = "otrashi";

/// Why a kind operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KindError {
    /// `kind` is not on `PATH`.
    #[error("the `kind` command is not installed (not on PATH); install kind, or point otrashi at an existing cluster with --kube-context")]
    NotInstalled,
    /// The command could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The command failed.
    #[error("`{command}` failed (exit {code}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit code (-1: killed by a signal).
        code: i32,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// Exporting the image from the Docker engine failed.
    #[error("exporting image {image} from the Docker engine to {path}: {message}")]
    Export {
        /// The image tag.
        image: String,
        /// The archive path.
        path: String,
        /// What failed.
        message: String,
    },
}

/// The `kind` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    program: PathBuf,
}

impl Kind {
    /// `kind` from `PATH`.
    pub fn find() -> Result<Kind, KindError> {
        Kind::find_in(std::env::var_os("PATH"))
    }

    /// `kind` from the directories of a `PATH`-like value.
    pub fn find_in(path: Option<OsString>) -> Result<Kind, KindError> {
        let path = path.ok_or(KindError::NotInstalled)?;
        std::env::split_paths(&path)
            .map(|d| d.join("kind"))
            .find(|p| p.is_file())
            .map(|program| Kind { program })
            .ok_or(KindError::NotInstalled)
    }

    /// A given `kind` binary.
    pub fn at(program: impl Into<PathBuf>) -> Kind {
        Kind {
            program: program.into(),
        }
    }

    /// The program path.
    pub fn program(&self) -> &Path {
        &self.program
    }

    async fn run(&self, args: &[&str]) -> Result<String, KindError> {
        let out = Command::new(&self.program)
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| KindError::Spawn {
                program: self.program.display().to_string(),
                source,
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(KindError::Failed {
                command: format!("kind {}", args.join(" ")),
                code: out.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// The existing clusters (`kind get clusters`).
    pub async fn clusters(&self) -> Result<Vec<String>, KindError> {
        Ok(self
            .run(&["get", "clusters"])
            .await?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("No kind clusters"))
            .map(str::to_owned)
            .collect())
    }

    /// Creates cluster `name` and waits up to 2 minutes for its control plane; returns
    /// false when it already existed.
    pub async fn create(&self, name: &str) -> Result<bool, KindError> {
        if self.clusters().await?.iter().any(|c| c == name) {
            return Ok(false);
        }
        self.run(&["create", "cluster", "--name", name, "--wait", "120s"])
            .await?;
        Ok(true)
    }

    /// Deletes cluster `name` (kind succeeds when it does not exist).
    pub async fn delete(&self, name: &str) -> Result<(), KindError> {
        self.run(&["delete", "cluster", "--name", name]).await?;
        Ok(())
    }

    /// Loads an image archive onto every node of cluster `name`.
    pub async fn load_image_archive(&self, name: &str, archive: &Path) -> Result<(), KindError> {
        let archive = archive.display().to_string();
        self.run(&["load", "image-archive", &archive, "--name", name])
            .await?;
        Ok(())
    }
}

/// The kubeconfig context kind writes for cluster `name`.
pub fn context_of(name: &str) -> String {
    format!("kind-{name}")
}

/// Writes image `tag` from the Docker engine to `path` as an image archive (`docker
/// save`).
pub async fn export_image(
    engine: &otrashi_docker::Engine,
    tag: &str,
    path: &Path,
) -> Result<(), KindError> {
    let err = |message: String| KindError::Export {
        image: tag.to_owned(),
        path: path.display().to_string(),
        message,
    };
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| err(e.to_string()))?;
    let mut stream = engine.docker().export_image(tag);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| err(e.to_string()))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| err(e.to_string()))?;
    }
    file.flush().await.map_err(|e| err(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `kind` that logs its arguments, answers `get clusters` from a file, and
    /// fails `create` of a cluster named `broken`.
    fn fake_kind(dir: &Path) -> PathBuf {
        let script = dir.join("kind");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$@\" >> {log}\ncase \"$1 $2\" in\n  'get clusters') cat {clusters} 2>/dev/null || echo 'No kind clusters found.';;\n  'create cluster') if [ \"$4\" = broken ]; then echo 'ERROR: failed to create cluster: node(s) already exist' >&2; exit 1; fi; echo \"$4\" >> {clusters};;\nesac\n",
                log = dir.join("log").display(),
                clusters = dir.join("clusters").display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn log(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[tokio::test]
    async fn up_creates_a_missing_cluster_once_and_loads_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let kind = Kind::find_in(Some(fake_kind(dir.path()).parent().unwrap().into())).unwrap();
        assert_eq!(kind.clusters().await.unwrap(), Vec::<String>::new());
        assert!(kind.create("otrashi").await.unwrap());
        assert!(!kind.create("otrashi").await.unwrap(), "exists now");
        kind.load_image_archive("otrashi", Path::new("/tmp/img.tar"))
            .await
            .unwrap();
        kind.delete("otrashi").await.unwrap();
        assert_eq!(
            log(dir.path()),
            [
                "get clusters",
                "get clusters",
                "create cluster --name otrashi --wait 120s",
                "get clusters",
                "load image-archive /tmp/img.tar --name otrashi",
                "delete cluster --name otrashi",
            ]
        );
        assert_eq!(context_of("otrashi"), "kind-otrashi");
    }

    #[tokio::test]
    async fn a_failing_kind_reports_its_command_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let kind = Kind::at(fake_kind(dir.path()));
        let e = kind.create("broken").await.unwrap_err().to_string();
        assert_eq!(
            e,
            "`kind create cluster --name broken --wait 120s` failed (exit 1): ERROR: failed to create cluster: node(s) already exist"
        );
    }

    #[test]
    fn kind_missing_from_path_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let e = Kind::find_in(Some(dir.path().into())).unwrap_err();
        assert!(matches!(e, KindError::NotInstalled));
        assert!(e.to_string().contains("--kube-context"));
    }
}
