//! Images built from local artifacts only (nothing can be pulled here): the workload
//! binary and a Redis server from this host's packages, each `FROM scratch` with the
//! shared libraries `ldd` lists. Tags are content hashes, so a rebuild of unchanged
//! inputs is a cache hit that skips the engine's build entirely.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::query_parameters::{BuildImageOptions, ListImagesOptions, RemoveImageOptions};
use futures_util::StreamExt;

use crate::context::BuildContext;
use crate::engine::Engine;
use crate::error::{api, Error, Result};
use crate::labels;

/// Repository of workload images.
pub const WORKLOAD_REPO: &str = "otrashi/workload";
/// Repository of Redis images.
pub const REDIS_REPO: &str = "otrashi/redis";
/// Port the workload listens on inside its container.
pub const WORKLOAD_PORT: u16 = 8080;
/// Port Redis listens on inside its container.
pub const REDIS_PORT: u16 = 6379;

/// The outcome of [`build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// `repo:content-hash`.
    pub tag: String,
    /// True when the tag already existed and nothing was built.
    pub cached: bool,
    /// Wall time spent, hashing included.
    pub elapsed: Duration,
}

/// The context of a workload image: the binary at `/usr/local/bin/otrashi-workload`,
/// its libraries, an `/etc/passwd` for the `nobody` user it runs as. It listens on
/// [`WORKLOAD_PORT`], the workload's default.
pub fn workload_context(binary: &Path) -> Result<BuildContext> {
    let mut cx = BuildContext::new();
    cx.add_dynamic_binary(binary, "/usr/local/bin/otrashi-workload")?
        .add_bytes("/etc/passwd", PASSWD, 0o644)
        .add_bytes("/etc/group", GROUP, 0o644)
        .add_dir("/tmp", 0o1777)
        .user("65534:65534")
        .entrypoint(&["/usr/local/bin/otrashi-workload"]);
    Ok(cx)
}

/// The context of a Redis image from the host's `redis-server`, with the workload binary
/// beside it at `/usr/local/bin/otrashi-workload` (its `redis-ping` is the health
/// check, and the in-container tools faults exec — `hog`, `burn`, `delay-proxy` — work
/// there as in any other service's container). Data lives in `/data` with the
/// append-only file on (no RDB snapshots), so a full `/data` makes writes fail as on a
/// real server; the run's `cmd` adds the memory limit and eviction policy.
pub fn redis_context(redis_server: &Path, workload: &Path) -> Result<BuildContext> {
    let mut cx = BuildContext::new();
    // Debian installs redis-server as a symlink to redis-check-rdb and the program picks
    // its role from argv[0], so the copy must be named redis-server.
    cx.add_dynamic_binary(redis_server, "/usr/bin/redis-server")?
        .add_dynamic_binary(workload, "/usr/local/bin/otrashi-workload")?
        .add_bytes("/etc/passwd", PASSWD, 0o644)
        .add_bytes("/etc/group", GROUP, 0o644)
        .add_dir("/data", 0o1777)
        .add_dir("/tmp", 0o1777)
        .user("65534:65534")
        .entrypoint(&[
            "/usr/bin/redis-server",
            "--bind",
            "0.0.0.0",
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            "/data",
        ]);
    Ok(cx)
}

const PASSWD: &str =
    "root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// Finds `program` in `PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// One line of build output, with the Dockerfile step it belongs to when the engine
/// says (`Step 3/5 : USER 65534:65534`), so a progress bar can show `3 of 5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildProgress<'a> {
    /// The output line, trimmed.
    pub line: &'a str,
    /// `(step, of)` from the latest `Step N/M` line.
    pub step: Option<(u32, u32)>,
}

/// Parses the classic builder's `Step N/M : INSTRUCTION` lines.
fn parse_step(line: &str) -> Option<(u32, u32)> {
    let rest = line.strip_prefix("Step ")?;
    let (n, rest) = rest.split_once('/')?;
    let m = rest.split_whitespace().next()?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

/// Builds `context` as `repo:<content hash>` unless that tag exists. Every line of the
/// engine's build output goes to `progress` (for a progress bar or a log).
pub async fn build(
    engine: &Engine,
    repo: &str,
    context: &BuildContext,
    mut progress: impl FnMut(BuildProgress<'_>),
) -> Result<BuiltImage> {
    let start = Instant::now();
    let tar = context.to_tar()?;
    let tag = format!("{repo}:{}", BuildContext::content_hash(&tar));
    if engine.docker().inspect_image(&tag).await.is_ok() {
        progress(BuildProgress {
            line: &format!("{tag} exists, not rebuilding"),
            step: None,
        });
        return Ok(BuiltImage {
            tag,
            cached: true,
            elapsed: start.elapsed(),
        });
    }
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".to_owned(),
        t: Some(tag.clone()),
        rm: true,
        forcerm: true,
        labels: Some(labels::image_labels()),
        ..Default::default()
    };
    let mut stream =
        engine
            .docker()
            .build_image(options, None, Some(bollard::body_full(tar.into())));
    let mut last = String::new();
    let mut step = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(api(format!("build_image {tag}")))?;
        if let Some(detail) = info.error_detail {
            return Err(Error::Build {
                tag,
                message: detail.message.unwrap_or(last),
            });
        }
        for text in [info.stream, info.status].into_iter().flatten() {
            let line = text.trim();
            if !line.is_empty() {
                step = parse_step(line).or(step);
                progress(BuildProgress { line, step });
                last = line.to_owned();
            }
        }
    }
    if engine.docker().inspect_image(&tag).await.is_err() {
        return Err(Error::Build {
            tag,
            message: format!("the engine finished without the image; last output: {last}"),
        });
    }
    Ok(BuiltImage {
        tag,
        cached: false,
        elapsed: start.elapsed(),
    })
}

/// Builds (or finds) the workload image for the binary at `binary` (build it with
/// `cargo build --release -p otrashi-workload`).
pub async fn build_workload_image(
    engine: &Engine,
    binary: &Path,
    progress: impl FnMut(BuildProgress<'_>),
) -> Result<BuiltImage> {
    let binary = binary.to_owned();
    let context = run_blocking(move || workload_context(&binary)).await?;
    build(engine, WORKLOAD_REPO, &context, progress).await
}

/// Builds (or finds) the Redis image from this host's `redis-server` and the workload
/// binary at `workload`.
pub async fn build_redis_image(
    engine: &Engine,
    workload: &Path,
    progress: impl FnMut(BuildProgress<'_>),
) -> Result<BuiltImage> {
    let server = find_program("redis-server").ok_or_else(|| Error::NotInstalled {
        program: "redis-server".to_owned(),
        hint: "install it with `apt-get install -y redis-server`".to_owned(),
    })?;
    let workload = workload.to_owned();
    let context = run_blocking(move || redis_context(&server, &workload)).await?;
    build(engine, REDIS_REPO, &context, progress).await
}

/// Removes the images labelled `otrashi=true`, all of them or those of one repository
/// (`otrashi/workload`), for tests' cleanup: images are otherwise kept as a build cache.
/// Returns the tags removed.
pub async fn remove_images(engine: &Engine, repo: Option<&str>) -> Result<Vec<String>> {
    let mut filters = labels::filters(None);
    if let Some(repo) = repo {
        filters.insert("reference".to_owned(), vec![repo.to_owned()]);
    }
    let images = engine
        .docker()
        .list_images(Some(ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(api("list_images"))?;
    let mut removed = Vec::new();
    for image in images {
        remove_image(engine, &image.id).await?;
        removed.extend(image.repo_tags);
    }
    Ok(removed)
}

/// Removes one image by tag or id (untagging it if a container still uses it); a
/// missing image is not an error.
pub async fn remove_image(engine: &Engine, tag: &str) -> Result<()> {
    let options = RemoveImageOptions {
        force: true,
        ..Default::default()
    };
    match engine.docker().remove_image(tag, Some(options), None).await {
        Ok(_) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(api(format!("remove_image {tag}"))(e)),
    }
}

/// Context building reads files and runs `ldd`; keep it off the async threads.
async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(Error::Task)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_are_parsed() {
        assert_eq!(parse_step("Step 3/5 : USER 65534:65534"), Some((3, 5)));
        assert_eq!(parse_step("Step 1/4 : FROM scratch"), Some((1, 4)));
        assert_eq!(parse_step(" ---> Running in 9dd38df2c25f"), None);
        assert_eq!(parse_step("Step x/5"), None);
    }

    #[test]
    fn workload_image_runs_unprivileged_from_scratch() {
        let cx = workload_context(Path::new("/bin/sh")).unwrap();
        let df = cx.dockerfile();
        assert!(df.starts_with("FROM scratch\n"), "{df}");
        assert!(df.contains("USER 65534:65534\n"));
        assert!(df.contains("ENTRYPOINT [\"/usr/local/bin/otrashi-workload\"]"));
        assert!(cx.paths().contains(&PathBuf::from("/etc/passwd")));
    }
}
