//! The service's data volume: the write-ahead records a share of requests append (so a
//! full volume really fails them with `ENOSPC`), its usage for `container_fs_usage_bytes`,
//! and the filler behind the Docker backend's `infra.disk_full` (`otrashi-workload fill`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// A record file is truncated (rotated) past this size, so the service's own writes
/// never fill its volume.
const ROTATE_BYTES: u64 = 4 << 20;

/// Records are written in blocks of this size, as a database writes its log in pages
/// (so each record takes new space, and a full volume refuses the very next one).
pub const BLOCK_BYTES: usize = 4096;

/// Name of the filler file `fill` writes in the data directory.
pub const FILL_FILE: &str = "spool-overflow.tmp";

/// The append-only record file of one service (`<dir>/<service>.wal`).
#[derive(Debug)]
pub struct DataLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl DataLog {
    /// The record file of `service` in `dir` (opened on first write).
    pub fn new(dir: &Path, service: &str) -> DataLog {
        DataLog {
            path: dir.join(format!("{service}.wal")),
            file: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record, padded to whole [`BLOCK_BYTES`] blocks, and flushes it to
    /// the file system; the error is the write's (`No space left on device` on a full
    /// volume).
    pub fn append(&self, record: &[u8]) -> io::Result<()> {
        let mut block = record.to_vec();
        block.resize(record.len().div_ceil(BLOCK_BYTES).max(1) * BLOCK_BYTES, 0);
        let mut slot = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let Some(file) = slot.as_mut() else {
            return Err(io::Error::other("record file not open"));
        };
        if file.metadata()?.len() > ROTATE_BYTES {
            file.set_len(0)?;
        }
        let result = file.write_all(&block).and_then(|()| file.sync_data());
        if result.is_err() {
            // A short write leaves a torn record; reopen on the next write.
            *slot = None;
        }
        result
    }
}

/// Bytes used by the regular files directly in `dir` (what a full volume is made of).
pub fn usage_bytes(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

/// Fills the volume of `dir` with a filler file until writes fail with `ENOSPC`, then
/// gives back `leave` bytes. Returns the filler's size.
pub fn fill(dir: &Path, leave: u64) -> io::Result<u64> {
    let path = dir.join(FILL_FILE);
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    let chunk = vec![0x5Au8; 1 << 20];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let size = file.metadata()?.len();
    let keep = size.saturating_sub(leave);
    file.set_len(keep)?;
    Ok(keep)
}

/// Removes the filler `fill` wrote; none there is fine.
pub fn unfill(dir: &Path) -> io::Result<()> {
    match std::fs::remove_file(dir.join(FILL_FILE)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_append_and_usage_counts_them() {
        let dir = std::env::temp_dir().join(format!("otrashi-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = DataLog::new(&dir, "db");
        log.append(b"one\n").unwrap();
        log.append(b"two\n").unwrap();
        let text = std::fs::read(log.path()).unwrap();
        assert_eq!(text.len(), 2 * BLOCK_BYTES);
        assert!(text.starts_with(b"one\n\0"));
        assert!(text[BLOCK_BYTES..].starts_with(b"two\n\0"));
        assert_eq!(usage_bytes(&dir).unwrap(), 2 * BLOCK_BYTES as u64);
        unfill(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Unmounts and removes the test's tmpfs however the test ends.
    struct Mounted(std::path::PathBuf);

    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A real size-limited file system: a tmpfs, when this process may mount one.
    #[test]
    fn fill_leaves_the_asked_room_and_writes_then_fail_with_enospc() {
        let dir = std::env::temp_dir().join(format!("otrashi-fill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "otrashi-test"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipping: cannot mount a tmpfs here (needs root)");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        let _mounted = Mounted(dir.clone());
        let log = DataLog::new(&dir, "db");
        log.append(b"before\n").unwrap();
        let filled = fill(&dir, 0).unwrap();
        assert!(filled > 3 << 20, "filled only {filled} bytes");
        let err = log.append(b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "{err}");
        assert!(err.to_string().contains("No space left on device"), "{err}");
        unfill(&dir).unwrap();
        log.append(b"after\n").unwrap();
        // Leaving room: that much can be written again.
        fill(&dir, 1 << 20).unwrap();
        log.append(&[b'y'; 65536]).unwrap();
        unfill(&dir).unwrap();
        unfill(&dir).unwrap();
        // The open record file would keep the mount busy.
        drop(log);
    }
}
