//! Helpers shared by the bridge's integration tests: a trainer on 127.0.0.1, links,
//! synthetic and real episodes.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

use otrashi_bridge::proto::v1::trainer_exchange_server::TrainerExchangeServer;
use otrashi_bridge::proto::v1::{EpisodeEnd, EpisodeStart, Step};
use otrashi_bridge::trainer::CollectingTrainer;
use otrashi_bridge::{LinkConfig, TrainerLink};

/// Serves `trainer` on `addr` (127.0.0.1:0 for a fresh port); returns the address and
/// the server task (abort it to kill the trainer).
pub async fn start_trainer(
    trainer: CollectingTrainer,
    addr: SocketAddr,
) -> (SocketAddr, JoinHandle<()>) {
    // A restarted trainer may race the old socket's release; retry briefly.
    let mut tries = 0;
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e) if tries < 50 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot bind {addr}: {e}"),
        }
    };
    let local = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = Server::builder()
            .add_service(TrainerExchangeServer::new(trainer))
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
    });
    (local, task)
}

/// Serves `trainer` on a fresh port behind a bearer token.
pub async fn start_trainer_with_token(
    trainer: CollectingTrainer,
    token: &str,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let local = listener.local_addr().unwrap();
    let auth = otrashi_bridge::auth::BearerAuth::new(Some(token));
    let task = tokio::spawn(async move {
        let _ = Server::builder()
            .add_service(TrainerExchangeServer::with_interceptor(trainer, auth))
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
    });
    (local, task)
}

pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A link with fast reconnects.
pub fn link(addr: SocketAddr, spool: &Path) -> TrainerLink {
    TrainerLink::start(config(addr, spool)).unwrap()
}

pub fn config(addr: SocketAddr, spool: &Path) -> LinkConfig {
    let mut c = LinkConfig::new(format!("http://{addr}"), "worker-1", spool);
    c.backoff_min = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    c
}

/// Sends a synthetic episode of `steps` steps, credit first.
pub async fn send_episode(link: &TrainerLink, id: &str, steps: u32) {
    let permit = link.acquire_episode().await.unwrap();
    link.start_episode(
        permit,
        EpisodeStart {
            episode_id: id.into(),
            scenario: "synthetic".into(),
            ..EpisodeStart::default()
        },
    )
    .await
    .unwrap();
    for i in 1..=steps {
        link.step(Step {
            episode_id: id.into(),
            index: i,
            tool: "list_services".into(),
            args_json: "{}".into(),
            observation_json: format!("{{\"n\": {i}}}"),
            reward: 0.0,
            terminated: i == steps,
            truncated: false,
            error: String::new(),
        })
        .await
        .unwrap();
    }
    link.end_episode(EpisodeEnd {
        episode_id: id.into(),
        reward_total: 0.5,
        end_reason: "submitted".into(),
        steps,
        ..EpisodeEnd::default()
    })
    .await
    .unwrap();
}

/// Polls `cond` every 10 ms for up to `secs` seconds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// Checks that the trainer holds episodes `ids` complete: a start, steps 1..=n once
/// each in order, an end.
pub fn assert_complete(trainer: &CollectingTrainer, ids: &[String], steps: u32) {
    trainer.with_received(|r| {
        for id in ids {
            let ep = r
                .episodes
                .get(id)
                .unwrap_or_else(|| panic!("episode {id} never arrived"));
            assert!(ep.start.is_some(), "{id}: no start");
            assert!(ep.end.is_some(), "{id}: no end");
            let idx: Vec<u32> = ep.steps.iter().map(|s| s.index).collect();
            assert_eq!(
                idx,
                (1..=steps).collect::<Vec<_>>(),
                "{id}: steps missing or repeated"
            );
        }
    });
}

/// Plays one real episode on the simulator with the baseline agent.
pub async fn real_episode(seed: u64) -> otrashi_gym::EpisodeResult {
    let name = otrashi_scenarios::library::scenarios()[0].name;
    let scenario = otrashi_scenarios::library::load(name).unwrap();
    let config =
        otrashi_gym::GymConfig::new(Arc::new(otrashi_gym::scorer::RubricScorer::default()));
    let mut gym = otrashi_gym::Gym::new(
        scenario,
        Arc::new(otrashi_clusters::sim::SimBackend::new()),
        config,
    );
    otrashi_gym::run_episode(
        &mut gym,
        &mut otrashi_gym::agents::Baseline::new(),
        Some(seed),
    )
    .await
    .unwrap()
}
