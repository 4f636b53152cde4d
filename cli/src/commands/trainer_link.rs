//! `--trainer URL` for `run` and `eval`: credit before each episode, the episode
//! streamed after it, feedback stored next to the episode directories.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use otrashi_bridge::link::default_spool_dir;
use otrashi_bridge::{EpisodeMeta, EpisodePermit, FeedbackStore, LinkConfig, TrainerLink};
use tokio_util::sync::CancellationToken;

use crate::args::TrainerArgs;
use crate::exit::InputError;
use crate::session::Played;

/// A trainer connection for one command.
pub struct TrainerSession {
    link: TrainerLink,
    store: Arc<FeedbackStore>,
    meta: EpisodeMeta,
    drain: Duration,
    cancel: CancellationToken,
    worker: String,
}

impl TrainerSession {
    /// Starts the link when `--trainer` was given; `out` is the runs' directory (the
    /// default feedback store). Call inside the runtime.
    pub fn start(
        args: &TrainerArgs,
        out: &Path,
        backend: &str,
        cancel: CancellationToken,
    ) -> anyhow::Result<Option<TrainerSession>> {
        let Some(url) = &args.trainer else {
            return Ok(None);
        };
        let drain: otrashi_scenarios::Duration = args
            .trainer_drain
            .parse()
            .map_err(|e| InputError(format!("--trainer-drain: {e}")))?;
        let token = match &args.trainer_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| {
                        InputError(format!(
                            "cannot read --trainer-token-file {}: {e}",
                            path.display()
                        ))
                    })?
                    .trim()
                    .to_owned(),
            ),
            None => std::env::var("OTRASHI_TRAINER_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty()),
        };
        let store_dir = args
            .feedback_store
            .clone()
            .unwrap_or_else(|| out.to_owned());
        let store = Arc::new(FeedbackStore::open(&store_dir).with_context(|| {
            format!("cannot open the feedback store in {}", store_dir.display())
        })?);
        let spool = args
            .spool
            .clone()
            .unwrap_or_else(|| default_spool_dir(&args.worker));
        let mut config = LinkConfig::new(url.clone(), args.worker.clone(), spool);
        config.token = token;
        config.store = Some(Arc::clone(&store));
        let link = TrainerLink::start(config).map_err(|e| InputError(e.to_string()))?;
        tracing::info!(trainer = %url, worker = %args.worker, "streaming episodes to the trainer");
        Ok(Some(TrainerSession {
            link,
            store,
            meta: EpisodeMeta {
                backend: backend.to_owned(),
            },
            drain: drain.into(),
            cancel,
            worker: args.worker.clone(),
        }))
    }

    /// Waits for the trainer's credit for one episode (Ctrl-C stops the wait).
    pub async fn permit(&self) -> anyhow::Result<EpisodePermit> {
        tokio::select! {
            p = self.link.acquire_episode() => Ok(p?),
            _ = self.cancel.cancelled() => anyhow::bail!("interrupted while waiting for the trainer's credit"),
        }
    }

    /// Streams a played episode.
    pub async fn send(&self, permit: EpisodePermit, played: &Played) -> anyhow::Result<()> {
        self.link
            .stream_episode(permit, &played.result, &self.meta, Some(&self.store))
            .await
            .context("cannot stream the episode to the trainer")
    }

    /// Waits for the trainer to acknowledge everything (up to `--trainer-drain`) and
    /// closes; what is left stays in the spool for the next run.
    pub async fn finish(self) -> anyhow::Result<()> {
        let status = self.link.close(self.drain).await?;
        if status.unacked > 0 {
            eprintln!(
                "note: the trainer has not acknowledged {} messages; they stay in the spool and are re-sent by the next run with --worker {}",
                status.unacked, self.worker
            );
        }
        Ok(())
    }
}
