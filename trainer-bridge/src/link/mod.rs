//! The gym's side of the trainer exchange: a [`TrainerLink`] streams episodes to a
//! trainer over one long-lived gRPC stream, with nothing lost.
//!
//! Every message gets the next seq of its worker and goes to the on-disk spool before it
//! is sent; a background task keeps the connection up (reconnecting with exponential
//! backoff), sends what the trainer has not acknowledged, and applies what comes back:
//! acknowledgements compact the spool, credit lets episodes start, policy versions are
//! stamped on later episodes, and feedback goes to the [`FeedbackStore`].
//!
//! Memory and disk are bounded: unacknowledged messages are capped by the spool's size
//! limit (a full spool makes the gym wait, never drop, and says so in the log), and the
//! trainer's credit caps how many episodes start.

mod connection;
pub mod episode;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use otrashi_gym::episode::EpisodeResult;
use otrashi_proto::v1::{gym_message::Body, EpisodeEnd, EpisodeStart, GymMessage, Step};

use crate::feedback::FeedbackStore;
use crate::spool::{Spool, SpoolError};

pub use episode::EpisodeMeta;

/// A link that cannot be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The spool failed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The trainer URL is not a valid URI.
    #[error("`{url}` is not a trainer URL; use http://HOST:PORT")]
    BadUrl {
        /// What was given.
        url: String,
    },
    /// The token cannot go in an HTTP header.
    #[error("the trainer token contains characters that cannot go in an HTTP header")]
    BadToken,
    /// An https:// URL was given to a build without TLS.
    #[error("`{url}` needs TLS, and this otrashi was built without the `tls` feature")]
    TlsUnavailable {
        /// The URL.
        url: String,
    },
    /// The link was closed, or its background task stopped.
    #[error("the trainer link is closed")]
    Closed,
    /// The link's state lock was poisoned by a panic.
    #[error("the trainer link's state was poisoned by a panic")]
    Poisoned,
}

/// How to reach the trainer and where to keep unacknowledged messages.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The trainer's URL, `http://HOST:PORT` (or `https://` with the `tls` feature).
    pub url: String,
    /// This worker's id: stable across restarts, unique among concurrent gyms.
    pub worker_id: String,
    /// The worker's spool directory.
    pub spool_dir: PathBuf,
    /// The spool's size limit in bytes (default 256 MiB).
    pub spool_max_bytes: u64,
    /// A bearer token sent as `authorization: Bearer …`.
    pub token: Option<String>,
    /// A PEM CA certificate to trust for `https://` trainers (needs the `tls` feature).
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Where feedback from the trainer is stored; without one it is acknowledged as not
    /// stored.
    pub store: Option<Arc<FeedbackStore>>,
    /// First reconnect delay (doubles up to `backoff_max`).
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Most messages per frame.
    pub max_frame_messages: usize,
}

impl LinkConfig {
    /// A configuration with the defaults: 256 MiB spool, backoff 100 ms to 5 s.
    pub fn new(
        url: impl Into<String>,
        worker_id: impl Into<String>,
        spool_dir: impl Into<PathBuf>,
    ) -> Self {
        LinkConfig {
            url: url.into(),
            worker_id: worker_id.into(),
            spool_dir: spool_dir.into(),
            spool_max_bytes: 256 << 20,
            token: None,
            ca_cert_pem: None,
            store: None,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            max_frame_messages: 512,
        }
    }
}

/// The default spool directory of a worker: `$XDG_CACHE_HOME/otrashi/spool/<worker>`,
/// else `~/.cache/otrashi/spool/<worker>`, else under the temporary directory.
pub fn default_spool_dir(worker_id: &str) -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("otrashi").join("spool").join(worker_id)
}

/// A snapshot of the link, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    /// The last seq assigned (0 before the first message).
    pub last_seq: u64,
    /// The highest seq the trainer acknowledged.
    pub acked: u64,
    /// Messages kept until acknowledged.
    pub unacked: usize,
    /// Whether a stream to the trainer is open.
    pub connected: bool,
    /// Episodes that may still start on this connection.
    pub credit: u64,
    /// Bytes in the spool.
    pub spool_bytes: u64,
    /// Connections opened so far.
    pub connections: u64,
}

/// The right to start one episode, granted by the trainer's credit.
#[derive(Debug)]
pub struct EpisodePermit {
    /// The trainer's policy version when the permit was granted.
    pub policy_version: String,
}

pub(crate) struct State {
    spool: Spool,
    pending: VecDeque<GymMessage>,
    last_seq: u64,
    acked: u64,
    /// Highest seq handed to the current connection.
    sent: u64,
    credit: u64,
    connected: bool,
    connections: u64,
    policy_version: String,
    closing: bool,
    stopped: bool,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the group-commit task.
    sync_wanted: tokio::sync::Notify,
    changed: watch::Sender<u64>,
    worker_id: String,
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, State>, LinkError> {
        self.state.lock().map_err(|_| LinkError::Poisoned)
    }

    /// Runs `f` on the state and wakes every waiter.
    fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, LinkError> {
        let out = f(&mut *self.lock()?);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
        Ok(out)
    }

    /// Waits until `ready` returns `Some`; `ready` runs under the lock.
    async fn wait_for<T>(
        &self,
        mut ready: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T, LinkError> {
        let mut rx = self.changed.subscribe();
        loop {
            {
                let mut st = self.lock()?;
                if let Some(v) = ready(&mut st) {
                    drop(st);
                    self.changed.send_modify(|v| *v = v.wrapping_add(1));
                    return Ok(v);
                }
                if st.stopped {
                    return Err(LinkError::Closed);
                }
            }
            rx.changed().await.map_err(|_| LinkError::Closed)?;
        }
    }

    /// Assigns the next seq, spools and queues the message. Internal messages (feedback
    /// receipts) pass a full spool, because waiting there would stop the acks that
    /// free it.
    fn push(&self, st: &mut State, body: Body) -> Result<u64, LinkError> {
        let seq = st.last_seq + 1;
        let msg = GymMessage {
            worker_id: self.worker_id.clone(),
            seq,
            body: Some(body),
        };
        st.spool.append(&msg)?;
        st.last_seq = seq;
        st.pending.push_back(msg);
        Ok(seq)
    }
}

/// The gym's connection to a trainer. Create it inside a tokio runtime.
pub struct TrainerLink {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
    syncer: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl TrainerLink {
    /// Opens the spool (taking what an earlier run left unacknowledged) and starts the
    /// background connection. Fails on a bad URL or an unusable spool; an unreachable
    /// trainer is not an error (the link keeps retrying).
    pub fn start(config: LinkConfig) -> Result<TrainerLink, LinkError> {
        let endpoint = connection::endpoint(&config)?;
        let token = match &config.token {
            Some(t) => Some(
                tonic::metadata::MetadataValue::try_from(format!("Bearer {t}"))
                    .map_err(|_| LinkError::BadToken)?,
            ),
            None => None,
        };
        let (spool, recovered) = Spool::open(&config.spool_dir, config.spool_max_bytes)?;
        if !recovered.unacked.is_empty() {
            tracing::info!(
                worker = %config.worker_id,
                spool = %config.spool_dir.display(),
                unacked = recovered.unacked.len(),
                "trainer link: re-sending messages an earlier run left unacknowledged"
            );
        }
        let state = State {
            spool,
            pending: recovered.unacked.into(),
            last_seq: recovered.last_seq,
            acked: recovered.acked,
            sent: recovered.acked,
            credit: 0,
            connected: false,
            connections: 0,
            policy_version: String::new(),
            closing: false,
            stopped: false,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            changed: watch::channel(0).0,
            sync_wanted: tokio::sync::Notify::new(),
            worker_id: config.worker_id.clone(),
        });
        let syncer = tokio::spawn(group_commit(Arc::clone(&shared)));
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(connection::run(
            Arc::clone(&shared),
            endpoint,
            token,
            config,
            stop_rx,
        ));
        Ok(TrainerLink {
            shared,
            task: Some(task),
            syncer: Some(syncer),
            stop,
        })
    }

    /// The worker id.
    pub fn worker_id(&self) -> &str {
        &self.shared.worker_id
    }

    /// A snapshot of the link.
    pub fn status(&self) -> Result<LinkStatus, LinkError> {
        let st = self.shared.lock()?;
        Ok(LinkStatus {
            last_seq: st.last_seq,
            acked: st.acked,
            unacked: st.pending.len(),
            connected: st.connected,
            credit: st.credit,
            spool_bytes: st.spool.bytes(),
            connections: st.connections,
        })
    }

    /// The last policy version the trainer sent ("" if none).
    pub fn policy_version(&self) -> Result<String, LinkError> {
        Ok(self.shared.lock()?.policy_version.clone())
    }

    /// Waits for one episode's worth of credit and takes it. The gym must not start an
    /// episode without a permit: credit is the trainer's backpressure. Logs every 10 s
    /// while it waits.
    pub async fn acquire_episode(&self) -> Result<EpisodePermit, LinkError> {
        let mut warned = tokio::time::Instant::now();
        loop {
            let wait = self.shared.wait_for(|st| {
                (st.credit > 0).then(|| {
                    st.credit -= 1;
                    EpisodePermit {
                        policy_version: st.policy_version.clone(),
                    }
                })
            });
            match tokio::time::timeout(Duration::from_secs(10), wait).await {
                Ok(permit) => return permit,
                Err(_) => {
                    let st = self.status()?;
                    tracing::warn!(
                        connected = st.connected,
                        waited_s = warned.elapsed().as_secs(),
                        "waiting for the trainer to grant credit before starting the next episode"
                    );
                    warned = tokio::time::Instant::now();
                }
            }
        }
    }

    /// Queues a message: waits while the spool is full (logging that it waits, at most
    /// every 30 s so that a long stall is one line, not one per message), then spools
    /// it. Returns its seq.
    async fn send(&self, body: Body) -> Result<u64, LinkError> {
        let mut body = Some(body);
        let mut logged = false;
        loop {
            {
                let mut st = self.shared.lock()?;
                if st.closing || st.stopped {
                    return Err(LinkError::Closed);
                }
                if !st.spool.is_full() {
                    let b = body.take().ok_or(LinkError::Closed)?;
                    let seq = self.shared.push(&mut st, b)?;
                    drop(st);
                    self.shared.changed.send_modify(|v| *v = v.wrapping_add(1));
                    return Ok(seq);
                }
                if !logged && full_warning_due() {
                    tracing::warn!(
                        spool = %st.spool.dir().display(),
                        bytes = st.spool.bytes(),
                        limit = st.spool.max_bytes(),
                        connected = st.connected,
                        "the trainer spool is full: waiting for the trainer to acknowledge (nothing is dropped)"
                    );
                    logged = true;
                }
            }
            self.shared
                .wait_for(|st| (!st.spool.is_full() || st.closing).then_some(()))
                .await?;
        }
    }

    /// Sends an episode's start; the permit's policy version is stamped on it.
    pub async fn start_episode(
        &self,
        permit: EpisodePermit,
        mut start: EpisodeStart,
    ) -> Result<u64, LinkError> {
        start.policy_version = permit.policy_version;
        self.send(Body::EpisodeStart(start)).await
    }

    /// Sends one step.
    pub async fn step(&self, step: Step) -> Result<u64, LinkError> {
        self.send(Body::Step(step)).await
    }

    /// Sends an episode's end: the spool is flushed to the OS at once (the episode now
    /// survives a crash of this process) and synced to disk (fsync) by the background
    /// group commit, which covers every episode end since the previous fsync — an fsync
    /// costs milliseconds, more than a whole episode's messages.
    pub async fn end_episode(&self, end: EpisodeEnd) -> Result<u64, LinkError> {
        let seq = self.send(Body::EpisodeEnd(end)).await?;
        self.shared.lock()?.spool.flush()?;
        self.shared.sync_wanted.notify_one();
        Ok(seq)
    }

    /// Streams a finished episode (start, every step, end) and records it in the
    /// feedback store, if one is given, for later export.
    pub async fn stream_episode(
        &self,
        permit: EpisodePermit,
        result: &EpisodeResult,
        meta: &EpisodeMeta,
        store: Option<&FeedbackStore>,
    ) -> Result<(), LinkError> {
        let policy = permit.policy_version.clone();
        if let Some(store) = store {
            let record = episode::episode_record(result, meta, &policy);
            if let Err(e) = store.record_episode(record) {
                tracing::warn!(error = %e, episode = %result.episode_id,
                    "cannot record the episode in the feedback store; its feedback cannot be exported");
            }
        }
        self.start_episode(permit, episode::start_message(result, meta))
            .await?;
        for step in episode::step_messages(result) {
            self.step(step).await?;
        }
        self.end_episode(episode::end_message(result)).await?;
        Ok(())
    }

    /// Waits until the trainer has acknowledged everything sent so far, or `timeout`
    /// passes; returns whether everything was acknowledged.
    pub async fn wait_acked(&self, timeout: Duration) -> Result<bool, LinkError> {
        let wait = self
            .shared
            .wait_for(|st| (st.acked >= st.last_seq).then_some(()));
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r.map(|()| true),
            Err(_) => Ok(false),
        }
    }

    /// Waits up to `timeout` for the trainer to acknowledge everything, then stops the
    /// connection and makes the spool durable. What is still unacknowledged stays in the
    /// spool and is sent by the next link on the same spool directory.
    pub async fn close(mut self, timeout: Duration) -> Result<LinkStatus, LinkError> {
        let all = self.wait_acked(timeout).await.unwrap_or(false);
        self.shared.update(|st| st.closing = true)?;
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(syncer) = self.syncer.take() {
            syncer.abort();
        }
        let status = self.status()?;
        {
            let mut st = self.shared.lock()?;
            st.spool.sync()?;
            st.spool.write_acked()?;
        }
        if !all {
            tracing::warn!(
                unacked = status.unacked,
                spool = %self.shared.lock()?.spool.dir().display(),
                "the trainer did not acknowledge everything; the rest stays in the spool and is re-sent by the next run with this worker id"
            );
        }
        Ok(status)
    }
}

impl Drop for TrainerLink {
    fn drop(&mut self) {
        for task in [self.task.take(), self.syncer.take()].into_iter().flatten() {
            task.abort();
        }
    }
}

/// The group commit: fsyncs the open segment whenever episode ends were written since
/// the last fsync, outside the state lock.
async fn group_commit(shared: Arc<Shared>) {
    loop {
        shared.sync_wanted.notified().await;
        let handle = match shared.lock() {
            Ok(st) => st.spool.sync_handle(),
            Err(_) => return,
        };
        let Some((file, path)) = handle else { continue };
        let synced =
            tokio::task::spawn_blocking(move || file.sync_data().map_err(|e| (e, path))).await;
        if let Ok(Err((e, path))) = synced {
            tracing::warn!(error = %e, path = %path.display(),
                "cannot fsync the trainer spool; episodes survive a crash of otrashi but maybe not of the machine");
        }
    }
}

/// Whether a "spool is full" warning may be logged now: at most one every 30 s per
/// process.
fn full_warning_due() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    now >= last.saturating_add(30)
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}
