//! `grpc_steps_per_s`: step messages streamed to a trainer on loopback and
//! acknowledged, per second, spool included.

use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

use otrashi_proto::v1::trainer_exchange_server::TrainerExchangeServer;
use otrashi_proto::v1::{EpisodeEnd, EpisodeStart, Step};

use crate::link::{LinkConfig, LinkError, TrainerLink};
use crate::trainer::{CollectingTrainer, TrainerConfig};

/// A benchmark that could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Setting up the loopback server or the spool failed.
    #[error("cannot set up the benchmark: {0}")]
    Setup(#[source] std::io::Error),
    /// The link failed.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// Streams steps of a typical size (a metrics answer of about 300 bytes) through a
/// [`TrainerLink`] to an in-process trainer on 127.0.0.1 for about `duration`, and
/// returns acknowledged steps per second. Episodes of 30 steps, credit-gated, as a
/// gym sends them. Run it inside a tokio runtime.
pub async fn bench_grpc_steps(duration: Duration) -> Result<f64, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(BenchError::Setup)?;
    let addr = listener.local_addr().map_err(BenchError::Setup)?;
    let trainer = CollectingTrainer::new(TrainerConfig {
        initial_credit: 1_000_000,
        credit_per_episode: 0,
        keep_steps: false,
        ..TrainerConfig::default()
    });
    let server = tokio::spawn(
        Server::builder()
            .tcp_nodelay(true)
            .add_service(TrainerExchangeServer::new(trainer.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let spool = std::env::temp_dir().join(format!(
        "otrashi-bench-spool-{}-{}",
        std::process::id(),
        addr.port()
    ));
    let link = TrainerLink::start(LinkConfig::new(format!("http://{addr}"), "bench", &spool))?;
    let observation = serde_json::json!({
        "kind": "tool_result", "tool": "query_metrics",
        "content": {"service": "cart", "metric": "latency_p99_ms", "step_s": 15,
                    "values": [12.5, 13.0, 12.8, 14.1, 55.2, 120.4, 240.9, 480.3, 510.0, 512.7],
                    "notes": "10 of 40 points shown"}
    })
    .to_string();
    let started = Instant::now();
    let mut episode = 0u64;
    let mut sent_steps = 0u64;
    while started.elapsed() < duration {
        let permit = link.acquire_episode().await?;
        let id = format!("bench-{episode}");
        link.start_episode(
            permit,
            EpisodeStart {
                episode_id: id.clone(),
                ..EpisodeStart::default()
            },
        )
        .await?;
        for i in 1..=30u32 {
            link.step(Step {
                episode_id: id.clone(),
                index: i,
                tool: "query_metrics".into(),
                args_json: r#"{"service":"cart","metric":"latency_p99_ms"}"#.into(),
                observation_json: observation.clone(),
                reward: 0.0,
                terminated: i == 30,
                truncated: false,
                error: String::new(),
            })
            .await?;
        }
        link.end_episode(EpisodeEnd {
            episode_id: id,
            reward_total: 0.5,
            ..EpisodeEnd::default()
        })
        .await?;
        sent_steps += 30;
        episode += 1;
    }
    let all = link.wait_acked(Duration::from_secs(30)).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let acked_steps = trainer.with_received(|r| r.steps).min(sent_steps);
    let _ = link.close(Duration::from_millis(100)).await;
    server.abort();
    let _ = std::fs::remove_dir_all(&spool);
    if !all {
        tracing::warn!("bench: not every step was acknowledged within 30 s");
    }
    Ok(acked_steps as f64 / elapsed)
}
