//! Tests against the real Docker engine (named `docker_*`). Without an engine they skip,
//! except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{engine_or_skip, http_get, wait_healthy, Cleanup};
use otrashi_docker::image::{REDIS_PORT, WORKLOAD_PORT};
use otrashi_docker::{
    build_redis_image, build_workload_image, container_health, create_network, run_container,
    sweep, ContainerSpec, SweepFilter,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn docker_two_workloads_call_each_other_on_a_bridge_network() {
    let Some(engine) = engine_or_skip("docker_two_workloads").await else {
        return;
    };
    let cleanup = Cleanup::new("docker-two-workloads");
    let ep = cleanup.episode.clone();
    let binary = tokio::task::spawn_blocking(common::workload_binary)
        .await
        .unwrap();

    let mut lines = 0;
    let mut last_step = None;
    let cold = build_workload_image(&engine, &binary, |p| {
        lines += 1;
        last_step = p.step;
    })
    .await
    .unwrap();
    cleanup.repo(otrashi_docker::image::WORKLOAD_REPO);
    assert!(cold.tag.starts_with("otrashi/workload:"));
    if !cold.cached {
        let (step, of) = last_step.expect("the classic builder reports steps");
        assert_eq!(step, of, "the build ran to its last step");
    }
    let warm = build_workload_image(&engine, &binary, |_| {})
        .await
        .unwrap();
    assert_eq!(warm.tag, cold.tag);
    assert!(
        warm.cached,
        "the same binary must hit the content-hash cache"
    );
    eprintln!(
        "workload image {}: build {:.2?} (cached: {}, {lines} progress lines), cached rebuild {:.2?}",
        cold.tag, cold.elapsed, cold.cached, warm.elapsed
    );

    let net = format!("otrashi-{ep}");
    create_network(&engine, &ep, &net).await.unwrap();
    let callee = run_container(
        &engine,
        &ep,
        &ContainerSpec {
            name: format!("otrashi-{ep}-inventory"),
            image: cold.tag.clone(),
            env: vec!["OTRASHI_SERVICE=inventory".to_owned()],
            network: Some((net.clone(), "inventory".to_owned())),
            memory_bytes: Some(128 << 20),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let caller = run_container(
        &engine,
        &ep,
        &ContainerSpec {
            name: format!("otrashi-{ep}-frontend"),
            image: cold.tag.clone(),
            env: vec![
                "OTRASHI_SERVICE=frontend".to_owned(),
                format!("OTRASHI_DOWNSTREAMS=inventory=http://inventory:{WORKLOAD_PORT}"),
            ],
            network: Some((net.clone(), "frontend".to_owned())),
            publish: Some(WORKLOAD_PORT),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let port = caller.host_port.expect("published port");
    let ready = wait_healthy(port, Duration::from_secs(10)).await;
    eprintln!(
        "container start: create+start {:.2?} / {:.2?}, then healthy after {ready:.2?}",
        callee.start_time, caller.start_time
    );

    let (status, body) = http_get(port, "/").await.unwrap();
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        reply["calls"][0]["peer"], "inventory",
        "DNS on the bridge resolves peers"
    );
    assert_eq!(reply["calls"][0]["status"], 200);
    let (_, metrics) = http_get(port, "/metrics").await.unwrap();
    assert!(
        metrics.contains("http_client_requests_total{peer=\"inventory\",outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("process_resident_memory_bytes"));

    // A failpoint shipped with the "deploy" (an environment variable) fails the callee,
    // and the error propagates to its caller across the network.
    let payments = run_container(
        &engine,
        &ep,
        &ContainerSpec {
            name: format!("otrashi-{ep}-payments"),
            image: cold.tag.clone(),
            env: vec![
                "OTRASHI_SERVICE=payments".to_owned(),
                "OTRASHI_FAILPOINTS=handler_error=100%return".to_owned(),
            ],
            network: Some((net.clone(), "payments".to_owned())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let checkout = run_container(
        &engine,
        &ep,
        &ContainerSpec {
            name: format!("otrashi-{ep}-checkout"),
            image: cold.tag.clone(),
            env: vec![
                "OTRASHI_SERVICE=checkout".to_owned(),
                format!("OTRASHI_DOWNSTREAMS=payments=http://payments:{WORKLOAD_PORT}"),
            ],
            network: Some((net.clone(), "checkout".to_owned())),
            publish: Some(WORKLOAD_PORT),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let checkout_port = checkout.host_port.expect("published port");
    wait_healthy(checkout_port, Duration::from_secs(10)).await;
    let (status, body) = http_get(checkout_port, "/").await.unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("upstream payments returned 500"), "{body}");
    assert!(payments.pid.is_some());

    // A panicking build exits with 101 and its restart policy brings it back.
    let search = run_container(
        &engine,
        &ep,
        &ContainerSpec {
            name: format!("otrashi-{ep}-search"),
            image: cold.tag.clone(),
            env: vec![
                "OTRASHI_SERVICE=search".to_owned(),
                "OTRASHI_FAILPOINTS=panic=return".to_owned(),
            ],
            network: Some((net.clone(), "search".to_owned())),
            publish: Some(WORKLOAD_PORT),
            restart_on_failure: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let search_port = search.host_port.expect("published port");
    wait_healthy(search_port, Duration::from_secs(10)).await;
    assert!(
        http_get(search_port, "/").await.is_err(),
        "the process dies mid-request"
    );
    let mut health = container_health(&engine, &search.id).await.unwrap();
    for _ in 0..100 {
        if health.restart_count >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = container_health(&engine, &search.id).await.unwrap();
    }
    assert!(health.restart_count >= 1, "{health:?}");
    assert_eq!(health.exit_code, Some(101), "{health:?}");

    // What the next session's fault injection relies on: the host's tc inside the
    // container's network namespace. Reported, not asserted: it needs root.
    if let Some(pid) = caller.pid {
        let out = std::process::Command::new("nsenter")
            .args([
                "-t",
                &pid.to_string(),
                "-n",
                "tc",
                "qdisc",
                "show",
                "dev",
                "eth0",
            ])
            .output();
        eprintln!("nsenter -t {pid} -n tc qdisc show dev eth0: {out:?}");
    }

    let swept = sweep(&engine, &SweepFilter::Episode(ep.clone()))
        .await
        .unwrap();
    assert_eq!(swept.containers.len(), 5, "{swept:?}");
    assert_eq!(swept.networks, [net]);
    let again = sweep(&engine, &SweepFilter::Episode(ep)).await.unwrap();
    assert!(
        again.containers.is_empty() && again.networks.is_empty(),
        "sweeping twice is a no-op"
    );
}

#[tokio::test]
async fn docker_redis_image_from_host_packages_answers_ping() {
    let Some(engine) = engine_or_skip("docker_redis").await else {
        return;
    };
    if otrashi_docker::image::find_program("redis-server").is_none()
        && std::env::var("CI").as_deref() != Ok("true")
    {
        eprintln!("docker_redis: skipped, redis-server is not installed (apt-get install -y redis-server)");
        return;
    }
    let cleanup = Cleanup::new("docker-redis");
    let ep = cleanup.episode.clone();
    let binary = tokio::task::spawn_blocking(common::workload_binary)
        .await
        .unwrap();
    let built = build_redis_image(&engine, &binary, |_| {}).await.unwrap();
    cleanup.repo(otrashi_docker::image::REDIS_REPO);
    eprintln!(
        "redis image {}: build {:.2?} (cached: {})",
        built.tag, built.elapsed, built.cached
    );
    let redis = run_container(
        &engine,
        &ep,
        &ContainerSpec {
            name: format!("otrashi-{ep}-redis"),
            image: built.tag.clone(),
            publish: Some(REDIS_PORT),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let port = redis.host_port.expect("published port");
    let mut reply = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let mut buf = [0u8; 64];
            if s.write_all(b"PING\r\n").await.is_ok() {
                if let Ok(n) = s.read(&mut buf).await {
                    reply = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if reply.starts_with("+PONG") {
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reply.starts_with("+PONG"), "redis answered {reply:?}");
}

#[tokio::test]
async fn docker_probe_reports_the_engine_and_scratch_builds() {
    if engine_or_skip("docker_probe").await.is_none() {
        return;
    }
    let report = otrashi_docker::probe().await;
    eprintln!("{report}");
    assert!(report.available("docker_engine"), "{report}");
    assert!(report.available("build_from_scratch"), "{report}");
    for name in [
        "nsenter",
        "tc_tbf",
        "tc_htb",
        "netem",
        "iptables_statistic",
        "iptables_reject",
    ] {
        assert!(
            report.findings.iter().any(|f| f.name == name),
            "{name} not probed"
        );
    }
}
