//! Removal of leftovers: every container and network labelled `otrashi=true`, of one
//! episode or of all. Teardown calls it per episode; `otrashi sweep --all`
//! calls it for everything after a crash.

use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};

use crate::engine::Engine;
use crate::error::{api, Result};
use crate::labels;
use crate::resources::{remove_container, remove_network};

/// What to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepFilter {
    /// Everything otrashi created on this engine.
    All,
    /// Only the resources of this episode.
    Episode(String),
}

/// What a sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Names of removed containers.
    pub containers: Vec<String>,
    /// Names of removed networks.
    pub networks: Vec<String>,
}

/// Removes the matching containers first (a network with endpoints cannot go), then the
/// networks. Safe to repeat.
pub async fn sweep(engine: &Engine, filter: &SweepFilter) -> Result<Swept> {
    let episode = match filter {
        SweepFilter::All => None,
        SweepFilter::Episode(id) => Some(id.as_str()),
    };
    let mut swept = Swept::default();
    let containers = engine
        .docker()
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(labels::filters(episode)),
            ..Default::default()
        }))
        .await
        .map_err(api("list_containers"))?;
    // Concurrently: an episode has a container per replica, and each forced removal
    // waits for its process to die.
    let targets: Vec<(String, String)> = containers
        .into_iter()
        .filter_map(|c| {
            let id = c.id?;
            let name = c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_else(|| id.clone())
                .trim_start_matches('/')
                .to_owned();
            Some((id, name))
        })
        .collect();
    let removed =
        futures_util::future::join_all(targets.iter().map(|(id, _)| remove_container(engine, id)))
            .await;
    for ((_, name), r) in targets.into_iter().zip(removed) {
        r?;
        swept.containers.push(name);
    }
    let networks = engine
        .docker()
        .list_networks(Some(ListNetworksOptions {
            filters: Some(labels::filters(episode)),
        }))
        .await
        .map_err(api("list_networks"))?;
    for n in networks {
        let Some(id) = n.id else { continue };
        remove_network(engine, &id).await?;
        swept.networks.push(n.name.unwrap_or(id));
    }
    Ok(swept)
}
