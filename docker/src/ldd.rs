//! The shared libraries a dynamically linked binary needs, from `ldd`, so an image
//! `FROM scratch` can carry exactly those.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The libraries `binary` loads, the dynamic loader included, as absolute paths in the
/// order `ldd` prints them. Empty for a static binary.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|source| Error::Spawn {
            program: "ldd".to_owned(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // ldd exits 1 for static binaries, printing "not a dynamic executable".
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stdout.contains("statically linked") || stderr.contains("not a dynamic executable") {
            return Ok(Vec::new());
        }
        return Err(Error::Ldd {
            binary: binary.to_owned(),
            message: stderr.trim().to_owned(),
        });
    }
    parse(&stdout).map_err(|message| Error::Ldd {
        binary: binary.to_owned(),
        message,
    })
}

/// Parses `ldd` output. Lines without a path (the vDSO) are skipped; a library that is
/// `not found` is an error, since the image would not start.
pub fn parse(output: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("statically linked") {
            continue;
        }
        let target = match line.split_once("=>") {
            Some((name, target)) => {
                let target = target.trim();
                if target.starts_with("not found") {
                    return Err(format!("library {} not found", name.trim()));
                }
                target
            }
            None => line,
        };
        let path = target.split(" (").next().unwrap_or_default().trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glibc_ldd_output() {
        let out = "\tlinux-vdso.so.1 (0x00007ffc)\n\
                   \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f95)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f94)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f95e1725000)\n";
        let libs = parse(out).unwrap();
        assert_eq!(
            libs,
            [
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn missing_libraries_are_errors() {
        let err = parse("\tlibfoo.so.1 => not found\n").unwrap_err();
        assert!(err.contains("libfoo.so.1"));
        assert!(parse("\tstatically linked\n").unwrap().is_empty());
    }

    #[test]
    fn finds_the_loader_of_a_real_binary() {
        let libs = shared_libraries(Path::new("/bin/sh")).unwrap();
        assert!(
            libs.iter()
                .any(|l| l.to_string_lossy().contains("ld-linux")),
            "{libs:?}"
        );
    }
}
