//! The context that flows into every component of an episode.

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

/// What every component of one episode shares: who it is, how to label what it creates,
/// and how to stop.
#[derive(Debug, Clone)]
pub struct EpisodeContext {
    /// Unique id of the episode (`ep-<scenario>-<seed>-<random>`); every resource a
    /// backend creates carries it as a label so that a sweep can find leftovers.
    pub episode_id: String,
    /// The seed the incident was sampled with.
    pub seed: u64,
    /// Labels to put on everything created for this episode.
    pub labels: BTreeMap<String, String>,
    /// Cancelled on Ctrl-C, on timeout, or when the caller drops the episode.
    pub cancel: CancellationToken,
}

/// The label key that carries the episode id.
pub const EPISODE_LABEL: &str = "otrashi.episode";

impl EpisodeContext {
    /// A context for an episode, labelled with its id.
    pub fn new(episode_id: impl Into<String>, seed: u64) -> Self {
        let episode_id = episode_id.into();
        let labels = BTreeMap::from([
            ("otrashi".to_owned(), "true".to_owned()),
            (EPISODE_LABEL.to_owned(), episode_id.clone()),
        ]);
        EpisodeContext {
            episode_id,
            seed,
            labels,
            cancel: CancellationToken::new(),
        }
    }
}
