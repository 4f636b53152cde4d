//! Measures image build (cold and cached) and container start for a workload binary,
//! then removes everything it created.
//!
//! `cargo run -p otrashi-docker --example measure -- target/release/otrashi-workload [HOLD_SECS]`
//!
//! With `HOLD_SECS` the containers stay up that long before cleanup (to drive them with
//! `otrashi-workload`'s `loopback_rps` example through their published ports).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use otrashi_docker::image::WORKLOAD_PORT;
use otrashi_docker::{
    build_workload_image, create_network, remove_image, run_container, sweep, ContainerSpec,
    Engine, SweepFilter,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let binary = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: measure PATH/TO/otrashi-workload")?,
    );
    let engine = Engine::connect().await?;
    let episode = format!("measure-{}", std::process::id());
    let hold: u64 = std::env::args().nth(2).map_or(Ok(0), |s| s.parse())?;
    let result = run(&engine, &binary, &episode).await;
    tokio::time::sleep(Duration::from_secs(hold)).await;
    sweep(&engine, &SweepFilter::Episode(episode)).await?;
    if let Ok(tag) = &result {
        remove_image(&engine, tag).await?;
    }
    result.map(|_| ())
}

async fn run(
    engine: &Engine,
    binary: &Path,
    episode: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut lines = 0;
    let cold = build_workload_image(engine, binary, |_| lines += 1).await?;
    let warm = build_workload_image(engine, binary, |_| {}).await?;
    println!(
        "image {}: cold build {:.2?} ({lines} progress lines, cached={}), cached {:.2?} (cached={})",
        cold.tag, cold.elapsed, cold.cached, warm.elapsed, warm.cached
    );
    let net = format!("otrashi-{episode}");
    create_network(engine, episode, &net).await?;
    for i in 0..3 {
        let begin = Instant::now();
        let started = run_container(
            engine,
            episode,
            &ContainerSpec {
                name: format!("otrashi-{episode}-svc{i}"),
                image: cold.tag.clone(),
                env: vec![format!("OTRASHI_SERVICE=svc{i}")],
                network: Some((net.clone(), format!("svc{i}"))),
                publish: Some(WORKLOAD_PORT),
                ..Default::default()
            },
        )
        .await?;
        let port = started.host_port.ok_or("no published port")?;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if begin.elapsed() > Duration::from_secs(10) {
                return Err("container did not accept connections within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!(
            "container svc{i}: create+start {:.2?}, accepting connections after {:.2?} (127.0.0.1:{port})",
            started.start_time,
            begin.elapsed()
        );
    }
    Ok(cold.tag)
}
