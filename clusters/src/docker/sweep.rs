//! Leftovers of dead episodes: containers and networks whose owning gym process (the
//! `otrashi.pid` label) is gone, and the faults their journals say were not reverted.
//! A live episode of another gym on the same host is never touched.

use std::collections::BTreeMap;
use std::path::Path;

use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};
use otrashi_docker::{Engine, SweepFilter};

use super::faults::undo;
use super::journal::{self, Step};
use super::plan::PID_LABEL;

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Episodes swept.
    pub episodes: Vec<String>,
    /// Containers removed.
    pub containers: Vec<String>,
    /// Networks removed.
    pub networks: Vec<String>,
    /// Journaled faults undone (or found gone with their container).
    pub reverted: usize,
    /// Problems that did not stop the sweep.
    pub warnings: Vec<String>,
}

fn alive(pid: &str) -> bool {
    pid.parse::<u32>()
        .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists())
}

/// Sweeps the episodes whose owner is dead (`all`: every otrashi episode, live or not,
/// and resources without an owner label), then journals left without resources.
pub async fn sweep_dead(
    engine: &Engine,
    journal_dir: &Path,
    all: bool,
) -> Result<SweepReport, otrashi_docker::Error> {
    let filters = otrashi_docker::labels::filters(None);
    let containers = engine
        .docker()
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .map_err(|e| otrashi_docker::Error::Api {
            call: "list_containers".to_owned(),
            source: e,
        })?;
    let networks = engine
        .docker()
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| otrashi_docker::Error::Api {
            call: "list_networks".to_owned(),
            source: e,
        })?;
    // episode -> whether some resource says its owner lives (None: no owner label).
    let mut owners: BTreeMap<String, Option<bool>> = BTreeMap::new();
    let labelled = containers
        .iter()
        .filter_map(|c| c.labels.as_ref())
        .chain(networks.iter().filter_map(|n| n.labels.as_ref()));
    for labels in labelled {
        let Some(ep) = labels.get(otrashi_docker::labels::EPISODE) else {
            continue;
        };
        let live = labels.get(PID_LABEL).map(|p| alive(p));
        let slot = owners.entry(ep.clone()).or_insert(live);
        *slot = match (*slot, live) {
            (Some(a), Some(b)) => Some(a || b),
            (a, b) => a.or(b),
        };
    }
    let mut report = SweepReport::default();
    for (ep, live) in &owners {
        let dead = match live {
            Some(l) => !l,
            None => all,
        };
        if !(dead || all) {
            continue;
        }
        report.reverted += revert_journal(journal_dir, ep, &mut report.warnings).await;
        let swept = otrashi_docker::sweep(engine, &SweepFilter::Episode(ep.clone())).await?;
        report.episodes.push(ep.clone());
        report.containers.extend(swept.containers);
        report.networks.extend(swept.networks);
    }
    // Journals of episodes with nothing left on the engine: their faults lived in
    // namespaces that are gone; a live episode always has containers before it injects.
    if let Ok(dir) = std::fs::read_dir(journal_dir) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(ep) = name.strip_suffix(".jsonl") {
                if !owners.contains_key(ep) {
                    report.reverted += revert_journal(journal_dir, ep, &mut report.warnings).await;
                }
            }
        }
    }
    Ok(report)
}

/// Undoes the pending faults of an episode's journal and removes the journal.
async fn revert_journal(dir: &Path, episode: &str, warnings: &mut Vec<String>) -> usize {
    let path = dir.join(format!("{episode}.jsonl"));
    let Ok(entries) = journal::read(&path) else {
        return 0;
    };
    let pending = journal::pending(&entries);
    let mut n = 0;
    for e in &pending {
        debug_assert!(e.step != Step::RevertDone);
        if let Err(msg) = undo(&e.undo).await {
            warnings.push(format!("{episode} {}: {msg}", e.fault));
        }
        n += 1;
    }
    if let Err(e) = std::fs::remove_file(&path) {
        warnings.push(format!("cannot remove {}: {e}", path.display()));
    }
    n
}
