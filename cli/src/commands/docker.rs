//! `otrashi doctor`, `otrashi sweep` and `otrashi images build`: the Docker backend's
//! host check, leftover removal and image builds.

use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use otrashi_clusters::docker::{self as backend, journal};
use otrashi_scenarios::FaultKind;
use serde_json::json;

use super::print_json;
use crate::args::{DoctorArgs, ImagesCommand, SweepArgs};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// `otrashi doctor`: the probe, then each fault kind's support on this host. Exits 0
/// when the engine answers, 1 otherwise.
pub fn doctor(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let (report, kube) = runtime()?.block_on(async {
        tokio::join!(
            otrashi_docker::probe(),
            super::kubernetes::KubeDoctor::probe(args.kube_context.as_deref())
        )
    });
    let workload = backend::find_workload();
    // Topologies with `engine: redis` need it to build the Redis image.
    let redis = otrashi_docker::image::find_program("redis-server");
    let kinds: Vec<(FaultKind, Result<(), String>)> = FaultKind::ALL
        .iter()
        .map(|k| (*k, backend::support(*k, &report)))
        .collect();
    let engine_ok = report.available("docker_engine");
    if args.json {
        print_json(&json!({
            "findings": report.findings.iter().map(|f| json!({
                "name": f.name, "available": f.available, "detail": f.detail, "explanation": f.explanation,
            })).collect::<Vec<_>>(),
            "workload_binary": workload.as_ref().map(|p| p.display().to_string()).map_err(|e| e.to_string()),
            "redis_server": redis.as_ref().map(|p| p.display().to_string()),
            "fault_kinds": kinds.iter().map(|(k, r)| json!({
                "kind": k.as_str(), "docker": r.is_ok(), "reason": r.as_ref().err(),
                "kubernetes": otrashi_clusters::kubernetes::support(*k).is_ok(),
                "kubernetes_reason": otrashi_clusters::kubernetes::support(*k).err(),
            })).collect::<Vec<_>>(),
            "kubernetes": kube.json(),
        }))?;
    } else {
        outln!("Host capabilities for the docker backend:\n");
        print!("{report}");
        match &workload {
            Ok(p) => outln!("ok   {:<20} {}", "workload_binary", p.display()),
            Err(e) => outln!("MISS {:<20} {e}", "workload_binary"),
        }
        match &redis {
            Some(p) => outln!(
                "ok   {:<20} {}\n                          the real Redis of services with `engine: redis` (shop's redis, chain's db)",
                "redis_server",
                p.display()
            ),
            None => outln!(
                "MISS {:<20} not on PATH; topologies with `engine: redis` cannot run on docker (apt-get install -y redis-server)",
                "redis_server"
            ),
        }
        let ok = kinds.iter().filter(|(_, r)| r.is_ok()).count();
        outln!("\nFault kinds on docker here: {ok} of {}", kinds.len());
        for (k, r) in &kinds {
            match r {
                Ok(()) => outln!("  ok   {}", k.as_str()),
                Err(reason) => outln!("  no   {:<36} {reason}", k.as_str()),
            }
        }
        kube.print();
        let on_kube = FaultKind::ALL
            .iter()
            .filter(|k| otrashi_clusters::kubernetes::support(**k).is_ok())
            .count();
        outln!(
            "Fault kinds on kubernetes: {on_kube} of {} (`otrashi faults` lists them)",
            kinds.len()
        );
    }
    Ok(if engine_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `otrashi sweep`.
pub fn sweep(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let report = runtime()?.block_on(async {
        let engine = otrashi_docker::Engine::connect()
            .await
            .context("no Docker engine answered")?;
        backend::sweep_dead(&engine, &journal::dir(), args.all)
            .await
            .context("the sweep failed")
    })?;
    if args.json {
        print_json(&json!({
            "episodes": report.episodes,
            "containers": report.containers,
            "networks": report.networks,
            "reverted_faults": report.reverted,
            "warnings": report.warnings,
        }))?;
    } else {
        outln!(
            "swept {} episode(s): {} container(s), {} network(s), {} journaled fault(s) reverted",
            report.episodes.len(),
            report.containers.len(),
            report.networks.len(),
            report.reverted
        );
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `otrashi images build`, with a progress bar over the build steps.
pub fn images(cmd: &ImagesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ImagesCommand::Build => {
            let binary = backend::find_workload()?;
            runtime()?.block_on(async {
                let engine = otrashi_docker::Engine::connect()
                    .await
                    .context("no Docker engine answered")?;
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix} [{bar:20}] {pos}/{len} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix("workload");
                let on_line = |p: otrashi_docker::BuildProgress<'_>| {
                    if let Some((n, of)) = p.step {
                        bar.set_length(u64::from(of));
                        bar.set_position(u64::from(n));
                    }
                    bar.set_message(p.line.to_owned());
                };
                let built = otrashi_docker::build_workload_image(&engine, &binary, on_line)
                    .await
                    .context("building the workload image")?;
                bar.finish_and_clear();
                outln!(
                    "{} {} ({:.1}s)",
                    built.tag,
                    if built.cached { "cached" } else { "built" },
                    built.elapsed.as_secs_f64()
                );
                match otrashi_docker::build_redis_image(&engine, &binary, |_| {}).await {
                    Ok(r) => outln!(
                        "{} {} ({:.1}s)",
                        r.tag,
                        if r.cached { "cached" } else { "built" },
                        r.elapsed.as_secs_f64()
                    ),
                    Err(e) => eprintln!("redis image skipped: {e}"),
                }
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
