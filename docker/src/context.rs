//! Build contexts made in memory from local files: a `rootfs/` tree copied to `/` by a
//! `FROM scratch` Dockerfile. The tar is deterministic (sorted entries, zero mtimes,
//! root ownership), so its hash names the image and an unchanged input is not rebuilt.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ldd;

#[derive(Debug, Clone)]
enum Entry {
    File { data: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
}

/// An image's files and start-up settings, before it is a tar.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    entries: BTreeMap<String, Entry>,
    env: Vec<(String, String)>,
    user: Option<String>,
    entrypoint: Vec<String>,
}

impl BuildContext {
    /// An empty context.
    pub fn new() -> BuildContext {
        BuildContext::default()
    }

    /// Copies the host file `host` (symlinks followed) to `image_path`, keeping its mode.
    pub fn add_host_file(&mut self, host: &Path, image_path: &str) -> Result<&mut Self> {
        let read_err = |source| Error::ReadFile {
            path: host.to_owned(),
            source,
        };
        let data = std::fs::read(host).map_err(read_err)?;
        let mode = std::fs::metadata(host)
            .map_err(read_err)?
            .permissions()
            .mode()
            & 0o7777;
        Ok(self.add_bytes(image_path, data, mode))
    }

    /// Adds a file with the given content and mode.
    pub fn add_bytes(
        &mut self,
        image_path: &str,
        data: impl Into<Vec<u8>>,
        mode: u32,
    ) -> &mut Self {
        self.entries.insert(
            normalize(image_path),
            Entry::File {
                data: data.into(),
                mode,
            },
        );
        self
    }

    /// Adds an empty directory (e.g. a data dir, mode `0o1777` so any user can write).
    pub fn add_dir(&mut self, image_path: &str, mode: u32) -> &mut Self {
        self.entries
            .insert(normalize(image_path), Entry::Dir { mode });
        self
    }

    /// Adds the binary at `image_path` plus every shared library `ldd` lists for it, at
    /// their host paths. A scratch image has no `ld.so.cache`, so libraries outside the
    /// loader's built-in search path are found through `LD_LIBRARY_PATH`.
    pub fn add_dynamic_binary(&mut self, host: &Path, image_path: &str) -> Result<&mut Self> {
        self.add_host_file(host, image_path)?;
        let mut dirs: Vec<String> = Vec::new();
        for lib in ldd::shared_libraries(host)? {
            let path = lib.to_string_lossy().into_owned();
            self.add_host_file(&lib, &path)?;
            if let Some(dir) = lib.parent().map(|d| d.to_string_lossy().into_owned()) {
                if !LOADER_SEARCH_PATH.contains(&dir.as_str()) && !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        if !dirs.is_empty() {
            self.env("LD_LIBRARY_PATH", &dirs.join(":"));
        }
        Ok(self)
    }

    /// Sets an environment variable of the image.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The user the entrypoint runs as (`65534:65534`).
    pub fn user(&mut self, user: &str) -> &mut Self {
        self.user = Some(user.to_owned());
        self
    }

    /// The command the container runs.
    pub fn entrypoint(&mut self, argv: &[&str]) -> &mut Self {
        self.entrypoint = argv.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// The image paths of the files in the context, sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.entries
            .keys()
            .map(|p| Path::new("/").join(p))
            .collect()
    }

    /// The Dockerfile.
    pub fn dockerfile(&self) -> String {
        // The classic builder commits an intermediate container for every metadata
        // instruction (about a second each), so they are as few as possible: one ENV
        // for all variables, no EXPOSE (ports are published at container creation).
        let mut df = String::from("FROM scratch\nCOPY rootfs/ /\n");
        if !self.env.is_empty() {
            let pairs: Vec<String> = self
                .env
                .iter()
                .map(|(k, v)| format!("{k}={}", serde_json::Value::from(v.as_str())))
                .collect();
            df.push_str(&format!("ENV {}\n", pairs.join(" ")));
        }
        if let Some(user) = &self.user {
            df.push_str(&format!("USER {user}\n"));
        }
        if !self.entrypoint.is_empty() {
            let argv = serde_json::Value::from(self.entrypoint.clone());
            df.push_str(&format!("ENTRYPOINT {argv}\n"));
        }
        df
    }

    /// The build context as tar bytes: `Dockerfile` plus `rootfs/…`.
    pub fn to_tar(&self) -> Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        let append = |tar: &mut tar::Builder<Vec<u8>>, path: &str, kind, mode, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_size(data.len() as u64);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            tar.append_data(&mut h, path, data)
                .map_err(|source| Error::Archive {
                    path: path.to_owned(),
                    source,
                })
        };
        append(
            &mut tar,
            "Dockerfile",
            tar::EntryType::Regular,
            0o644,
            self.dockerfile().as_bytes(),
        )?;
        for (path, entry) in &self.entries {
            let full = format!("rootfs/{path}");
            match entry {
                Entry::File { data, mode } => {
                    append(&mut tar, &full, tar::EntryType::Regular, *mode, data)?;
                }
                Entry::Dir { mode } => {
                    append(&mut tar, &full, tar::EntryType::Directory, *mode, &[])?;
                }
            }
        }
        tar.into_inner().map_err(|source| Error::Archive {
            path: "<end of archive>".to_owned(),
            source,
        })
    }

    /// The first 12 hex digits of the SHA-256 of `tar`: the image tag.
    pub fn content_hash(tar: &[u8]) -> String {
        let digest = Sha256::digest(tar);
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }
}

/// Directories glibc's loader searches without a cache on Debian, Ubuntu and Fedora
/// (`ld.so --help`); `/lib64` holds only the loader itself on Debian.
const LOADER_SEARCH_PATH: &[&str] = &[
    "/lib",
    "/usr/lib",
    "/lib64",
    "/usr/lib64",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
];

fn normalize(image_path: &str) -> String {
    image_path.trim_start_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BuildContext {
        let mut cx = BuildContext::new();
        cx.add_bytes("/etc/passwd", "root:x:0:0::/:/\n", 0o644)
            .add_dir("/data", 0o1777)
            .env("A", "b c")
            .env("B", "1")
            .user("65534:65534")
            .entrypoint(&["/bin/app", "--flag"]);
        cx
    }

    #[test]
    fn dockerfile_is_from_scratch_with_exec_form_entrypoint() {
        let df = sample().dockerfile();
        assert!(df.starts_with("FROM scratch\nCOPY rootfs/ /\n"), "{df}");
        assert!(df.contains("ENV A=\"b c\" B=\"1\"\n"), "{df}");
        assert!(df.contains("USER 65534:65534\n"));
        assert!(df.contains("ENTRYPOINT [\"/bin/app\",\"--flag\"]\n"));
    }

    #[test]
    fn tar_is_deterministic_and_holds_the_tree() {
        let a = sample().to_tar().unwrap();
        assert_eq!(a, sample().to_tar().unwrap());
        assert_eq!(BuildContext::content_hash(&a).len(), 12);
        let mut changed = sample();
        changed.add_bytes("/etc/group", "root:x:0:\n", 0o644);
        assert_ne!(
            BuildContext::content_hash(&a),
            BuildContext::content_hash(&changed.to_tar().unwrap())
        );

        let mut archive = tar::Archive::new(a.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["Dockerfile", "rootfs/data", "rootfs/etc/passwd"]);
    }

    #[test]
    fn dynamic_binaries_bring_their_libraries() {
        let mut cx = BuildContext::new();
        cx.add_dynamic_binary(Path::new("/bin/sh"), "/bin/sh")
            .unwrap();
        let paths = cx.paths();
        assert!(
            paths
                .iter()
                .any(|p| p.to_string_lossy().contains("ld-linux")),
            "{paths:?}"
        );
        assert!(
            !cx.dockerfile().contains("LD_LIBRARY_PATH="),
            "system libraries need no search path"
        );
    }
}
