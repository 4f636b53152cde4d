//! The on-disk spool: every gym message the trainer has not acknowledged, so that a
//! trainer restart, a network cut or a gym restart loses nothing.
//!
//! Layout of a worker's spool directory:
//! - `seg-<first seq, 20 digits>.bin`: append-only segments of length-delimited
//!   protobuf `GymMessage`s (prost's varint length prefix), in seq order;
//! - `acked`: the highest acknowledged seq, rewritten (write + rename) on compaction
//!   and on close. It may lag behind the trainer after a crash: the lagging messages
//!   are sent again and the trainer's dedupe by (worker, seq) drops them;
//! - `lock`: held with an OS file lock while a process writes the spool, so two
//!   processes with the same worker id fail fast instead of interleaving segments.
//!
//! A torn record at the end of the last segment (a crash mid-write) is cut off on open.
//! Segments are rotated at an eighth of the size limit and deleted once every message
//! in them is acknowledged.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use otrashi_proto::v1::GymMessage;
use prost::Message;

/// A spool that cannot be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file operation failed.
    #[error("spool {path}: {action} failed")]
    Io {
        /// What was being done (create, write, sync, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the spool's lock.
    #[error(
        "spool {path} is in use by another otrashi process; give each concurrent gym its own worker id (--worker)"
    )]
    Locked {
        /// The spool directory.
        path: PathBuf,
    },
    /// The `acked` file does not hold a number.
    #[error("spool {path}: the acked file is corrupt ({text:?}); delete it to resend everything")]
    BadAcked {
        /// The file.
        path: PathBuf,
        /// What it held.
        text: String,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// One closed or open segment file.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// Highest seq written to it (0 when empty).
    last_seq: u64,
    bytes: u64,
}

/// The spool of one worker. Not thread-safe by itself: the link keeps it behind its
/// state lock.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    _lock: File,
    /// Closed segments, oldest first.
    closed: VecDeque<Segment>,
    /// The segment being appended to, with its writer; `None` until the first append
    /// after open or rotation.
    open: Option<(Segment, BufWriter<File>)>,
    max_bytes: u64,
    acked: u64,
    dirty_acked: bool,
}

/// What [`Spool::open`] found on disk.
#[derive(Debug)]
pub struct Recovered {
    /// Messages above the acknowledged seq, in seq order: to send again.
    pub unacked: Vec<GymMessage>,
    /// The highest seq ever written (0 for a new spool): the next message gets this + 1.
    pub last_seq: u64,
    /// The acknowledged seq recorded on disk.
    pub acked: u64,
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, locks it, repairs a torn tail, and
    /// returns what is still unacknowledged. `max_bytes` bounds the segments on disk.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(Spool, Recovered), SpoolError> {
        fs::create_dir_all(dir).map_err(io("create directory", dir))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open lock", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(SpoolError::Locked {
                    path: dir.to_owned(),
                })
            }
            Err(fs::TryLockError::Error(e)) => return Err(io("lock", &lock_path)(e)),
        }
        let acked_path = dir.join("acked");
        let acked = match fs::read_to_string(&acked_path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|_| SpoolError::BadAcked {
                    path: acked_path.clone(),
                    text: text.clone(),
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io("read", &acked_path)(e)),
        };
        let mut names: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(io("list", dir))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("seg-") && n.ends_with(".bin"))
            })
            .collect();
        // Zero-padded names sort in seq order.
        names.sort();
        let mut closed = VecDeque::new();
        let mut unacked = Vec::new();
        let mut last_seq = acked;
        let count = names.len();
        for (i, path) in names.into_iter().enumerate() {
            let (messages, good_len, file_len) = read_segment(&path)?;
            if good_len < file_len {
                if i + 1 == count {
                    tracing::warn!(path = %path.display(), kept = good_len, dropped = file_len - good_len,
                        "spool: cutting a torn record at the end of the last segment (a crash mid-write)");
                } else {
                    tracing::warn!(path = %path.display(), "spool: a segment other than the last has a bad tail; keeping what reads");
                }
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io("open", &path))?;
                f.set_len(good_len).map_err(io("truncate", &path))?;
            }
            let seg_last = messages.last().map_or(0, |m| m.seq);
            last_seq = last_seq.max(seg_last);
            unacked.extend(messages.into_iter().filter(|m| m.seq > acked));
            closed.push_back(Segment {
                path,
                last_seq: seg_last,
                bytes: good_len,
            });
        }
        let mut spool = Spool {
            dir: dir.to_owned(),
            _lock: lock,
            closed,
            open: None,
            max_bytes: max_bytes.max(1 << 16),
            acked,
            dirty_acked: false,
        };
        spool.compact()?;
        Ok((
            spool,
            Recovered {
                unacked,
                last_seq,
                acked,
            },
        ))
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of segments on disk.
    pub fn bytes(&self) -> u64 {
        self.closed.iter().map(|s| s.bytes).sum::<u64>()
            + self.open.as_ref().map_or(0, |(s, _)| s.bytes)
    }

    /// Whether the size limit is reached: the gym must wait for acknowledgements.
    pub fn is_full(&self) -> bool {
        self.bytes() >= self.max_bytes
    }

    /// The size limit.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn segment_limit(&self) -> u64 {
        (self.max_bytes / 8).max(1 << 15)
    }

    /// Appends a message (buffered; [`Spool::sync`] makes it durable).
    pub fn append(&mut self, msg: &GymMessage) -> Result<(), SpoolError> {
        if self
            .open
            .as_ref()
            .is_some_and(|(s, _)| s.bytes >= self.segment_limit())
        {
            self.rotate()?;
        }
        if self.open.is_none() {
            let path = self.dir.join(format!("seg-{:020}.bin", msg.seq));
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io("create segment", &path))?;
            let bytes = file.metadata().map_err(io("stat", &path))?.len();
            self.open = Some((
                Segment {
                    path,
                    last_seq: 0,
                    bytes,
                },
                BufWriter::with_capacity(1 << 16, file),
            ));
        }
        if let Some((seg, writer)) = self.open.as_mut() {
            let buf = msg.encode_length_delimited_to_vec();
            writer.write_all(&buf).map_err(io("write", &seg.path))?;
            seg.bytes += buf.len() as u64;
            seg.last_seq = msg.seq;
        }
        Ok(())
    }

    /// Hands the buffered records to the OS: from then on they survive a crash of this
    /// process (not yet of the machine; see [`Spool::sync_handle`]).
    pub fn flush(&mut self) -> Result<(), SpoolError> {
        if let Some((seg, writer)) = self.open.as_mut() {
            writer.flush().map_err(io("flush", &seg.path))?;
        }
        Ok(())
    }

    /// A handle on the open segment, to `sync_data` outside the caller's lock (group
    /// commit: one fsync covers every episode end since the last).
    pub fn sync_handle(&self) -> Option<(File, PathBuf)> {
        let (seg, writer) = self.open.as_ref()?;
        writer
            .get_ref()
            .try_clone()
            .ok()
            .map(|f| (f, seg.path.clone()))
    }

    /// Flushes the open segment and asks the OS to put it on disk.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if let Some((seg, writer)) = self.open.as_mut() {
            writer.flush().map_err(io("flush", &seg.path))?;
            writer
                .get_ref()
                .sync_data()
                .map_err(io("sync", &seg.path))?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), SpoolError> {
        if let Some((seg, mut writer)) = self.open.take() {
            writer.flush().map_err(io("flush", &seg.path))?;
            // A closed segment gets no later group commit: make it durable now (rare:
            // once per eighth of the size limit).
            writer
                .get_ref()
                .sync_data()
                .map_err(io("sync", &seg.path))?;
            self.closed.push_back(seg);
        }
        Ok(())
    }

    /// Records that the trainer acknowledged every seq up to `up_to`, and deletes the
    /// segments that hold nothing newer.
    pub fn ack(&mut self, up_to: u64) -> Result<(), SpoolError> {
        if up_to <= self.acked {
            return Ok(());
        }
        self.acked = up_to;
        self.dirty_acked = true;
        let open_done = self
            .open
            .as_ref()
            .is_some_and(|(s, _)| s.last_seq != 0 && s.last_seq <= up_to);
        if open_done {
            self.rotate()?;
        }
        if self.closed.front().is_some_and(|s| s.last_seq <= up_to) {
            self.compact()?;
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<(), SpoolError> {
        // The watermark goes to disk before the segments go, so a crash in between
        // never resends less than it should.
        let mut wrote = false;
        while let Some(seg) = self.closed.front() {
            if seg.last_seq > self.acked {
                break;
            }
            if !wrote {
                self.write_acked()?;
                wrote = true;
            }
            if let Some(seg) = self.closed.pop_front() {
                match fs::remove_file(&seg.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove segment", &seg.path)(e)),
                }
            }
        }
        Ok(())
    }

    /// Writes the acknowledged seq to disk if it changed.
    pub fn write_acked(&mut self) -> Result<(), SpoolError> {
        if !self.dirty_acked {
            return Ok(());
        }
        let tmp = self.dir.join("acked.tmp");
        let dest = self.dir.join("acked");
        fs::write(&tmp, self.acked.to_string()).map_err(io("write", &tmp))?;
        fs::rename(&tmp, &dest).map_err(io("rename", &dest))?;
        self.dirty_acked = false;
        Ok(())
    }
}

/// Reads a segment's records; returns them, the length of the readable prefix, and the
/// file's length.
fn read_segment(path: &Path) -> Result<(Vec<GymMessage>, u64, u64), SpoolError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io("read", path))?;
    let mut messages = Vec::new();
    let mut rest: &[u8] = &bytes;
    let mut good = 0usize;
    while !rest.is_empty() {
        let before = rest.len();
        match GymMessage::decode_length_delimited(&mut rest) {
            // A record that decodes but carries no seq is garbage, not a message.
            Ok(m) if m.seq > 0 => {
                good += before - rest.len();
                messages.push(m);
            }
            _ => break,
        }
    }
    Ok((messages, good as u64, bytes.len() as u64))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use otrashi_proto::v1::{gym_message::Body, EpisodeStart};

    fn msg(seq: u64) -> GymMessage {
        GymMessage {
            worker_id: "w".into(),
            seq,
            body: Some(Body::EpisodeStart(EpisodeStart {
                episode_id: format!("ep-{seq}"),
                prompt_json: "x".repeat(100),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn unacked_messages_survive_reopen_and_acked_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, rec) = Spool::open(dir.path(), 1 << 20).unwrap();
            assert_eq!(rec.last_seq, 0);
            for i in 1..=10 {
                s.append(&msg(i)).unwrap();
            }
            s.sync().unwrap();
            s.ack(4).unwrap();
            s.write_acked().unwrap();
        }
        let (_s, rec) = Spool::open(dir.path(), 1 << 20).unwrap();
        let seqs: Vec<u64> = rec.unacked.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (5..=10).collect::<Vec<_>>());
        assert_eq!(rec.last_seq, 10);
    }

    #[test]
    fn a_torn_tail_is_cut_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut s, _) = Spool::open(dir.path(), 1 << 20).unwrap();
            for i in 1..=3 {
                s.append(&msg(i)).unwrap();
            }
            s.sync().unwrap();
        }
        let seg = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".bin"))
            .unwrap();
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        // A length prefix promising more bytes than follow.
        f.write_all(&[0x7f, 1, 2, 3]).unwrap();
        drop(f);
        let (mut s, rec) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(rec.unacked.len(), 3);
        s.append(&msg(4)).unwrap();
        s.sync().unwrap();
        drop(s);
        let (_s, rec) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(rec.unacked.iter().map(|m| m.seq).max(), Some(4));
    }

    #[test]
    fn acked_segments_are_deleted_and_free_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Spool::open(dir.path(), 1 << 16).unwrap();
        let mut seq = 0;
        while !s.is_full() {
            seq += 1;
            s.append(&msg(seq)).unwrap();
        }
        s.ack(seq).unwrap();
        assert_eq!(s.bytes(), 0, "everything acknowledged, nothing kept");
        assert!(!s.is_full());
    }

    #[test]
    fn a_second_process_cannot_open_a_locked_spool() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Spool::open(dir.path(), 1 << 20).unwrap();
        let err = Spool::open(dir.path(), 1 << 20).unwrap_err();
        assert!(matches!(err, SpoolError::Locked { .. }));
    }
}
