//! The Kubernetes backend on a real cluster: one scenario per fault level, each run
//! twice — once through the backend directly, checking the fault's effect from outside
//! otrashi's telemetry (the load generator's counters, the API's view of the pods) and
//! that teardown deletes the namespace; once through the gym with the baseline agent,
//! checking that the episode is scored.
//!
//! Ignored by default: there is no cluster in CI. Run them with a kubeconfig whose
//! nodes have the workload image (`otrashi kind up` loads it into kind):
//!
//! ```sh
//! OTRASHI_E2E_KUBECONFIG=~/.kube/config OTRASHI_KUBE_CONTEXT=kind-otrashi \
//!   cargo test -p otrashi-clusters --features kubernetes --test kubernetes_e2e -- --ignored
//! ```
#![cfg(feature = "kubernetes")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use otrashi_clusters::kubernetes::render::namespace_name;
use otrashi_clusters::kubernetes::{KubeBackend, KubeOptions};
use otrashi_gym::backend::{Backend, Env};
use otrashi_gym::context::EpisodeContext;
use otrashi_gym::telemetry::Telemetry;
use otrashi_scenarios::incident::sample;
use otrashi_scenarios::parse::parse_str;

/// One episode at a time: the cluster may be a laptop's kind.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The backend on the cluster of `OTRASHI_E2E_KUBECONFIG` (context from
/// `OTRASHI_KUBE_CONTEXT`, image from `OTRASHI_KUBE_IMAGE` or built locally).
async fn backend() -> KubeBackend {
    let path = std::env::var("OTRASHI_E2E_KUBECONFIG").unwrap_or_else(|_| {
        panic!("these tests need a cluster: set OTRASHI_E2E_KUBECONFIG to a kubeconfig")
    });
    let options = KubeOptions::from_env();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = Config::from_custom_kubeconfig(
        kubeconfig,
        &KubeConfigOptions {
            context: options.context.clone(),
            ..KubeConfigOptions::default()
        },
    )
    .await
    .unwrap();
    let client = Client::try_from(config).unwrap();
    client.apiserver_version().await.unwrap();
    KubeBackend::with_client(client, options)
}

fn scenario(name: &str, fault: &str) -> otrashi_scenarios::Scenario {
    let yaml = format!(
        "apiVersion: otrashi/v1
kind: Scenario
metadata: {{name: {name}}}
topology:
  name: mini
  entry: web
  services:
    web: {{kind: web, calls: [api]}}
    api: {{kind: api, calls: [db]}}
    db: {{kind: database}}
load: {{rps: 10, pattern: steady}}
timeline: {{warmup: 20s, duration: 40s}}
faults:
  - {fault}
"
    );
    parse_str(&yaml, name).unwrap()
}

/// Whether the namespace is gone or being deleted.
async fn namespace_gone(client: &Client, ns: &str) -> bool {
    match Api::<Namespace>::all(client.clone())
        .get_opt(ns)
        .await
        .unwrap()
    {
        None => true,
        Some(n) => n.metadata.deletion_timestamp.is_some(),
    }
}

/// Runs the scenario through the backend; returns its telemetry, the load
/// generator's `(sent, ok, 5xx, failed)` and the restarts the API shows at the end.
async fn direct(
    b: &KubeBackend,
    sc: &otrashi_scenarios::Scenario,
    episode: &str,
) -> (Telemetry, (u64, u64, u64, u64), i32) {
    let incident = sample(sc, 1).unwrap();
    b.check(&incident).unwrap();
    let cx = EpisodeContext::new(episode, 1);
    let mut env = b.provision_env(&incident, &cx).await.unwrap();
    let run = env.run(&cx).await;
    let pods = Api::<Pod>::namespaced(b.client().clone(), &env.namespace)
        .list(&ListParams::default())
        .await
        .unwrap();
    let restarts = pods
        .items
        .iter()
        .flat_map(|p| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
        })
        .map(|c| c.restart_count)
        .sum();
    let stats = env.stats.snapshot();
    env.teardown(&cx).await.unwrap();
    assert!(namespace_gone(b.client(), &namespace_name(episode)).await);
    (run.unwrap(), stats, restarts)
}

/// The same scenario scored end to end by the gym with the baseline agent.
async fn scored(b: KubeBackend, sc: otrashi_scenarios::Scenario) {
    let client = b.client().clone();
    let mut config = otrashi_gym::GymConfig::new(Arc::new(otrashi_gym::scorer::RubricScorer::new(
        Default::default(),
    )));
    config.max_steps = 30;
    let mut gym = otrashi_gym::Gym::new(sc, Arc::new(b), config);
    let result = otrashi_gym::episode::run_episode(
        &mut gym,
        &mut otrashi_gym::agents::Baseline::new(),
        Some(1),
    )
    .await
    .unwrap();
    assert!(result.reward.is_some(), "the episode was not scored");
    assert!(namespace_gone(&client, &namespace_name(&result.episode_id)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes cluster: set OTRASHI_E2E_KUBECONFIG"]
async fn kubernetes_code_error_injection_fails_requests_and_is_scored() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let b = backend().await;
    let sc = scenario(
        "k8s-code",
        "{id: bad, kind: code.error_injection, target: api, at: 25s, via: deploy, params: {error_pct: 60}}",
    );
    let (telemetry, (sent, ok, errors, failed), _) = direct(&b, &sc, "ep-e2e-k8s-code").await;
    assert!(
        errors > sent / 10,
        "sent {sent}, ok {ok}, 5xx {errors}, failed {failed}"
    );
    assert_eq!(telemetry.deploys.len(), 1, "{:?}", telemetry.deploys);
    assert!(!telemetry.spans.is_empty());
    scored(b, sc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes cluster: set OTRASHI_E2E_KUBECONFIG"]
async fn kubernetes_orchestration_crash_loop_restarts_pods_and_is_scored() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let b = backend().await;
    let sc = scenario(
        "k8s-orchestration",
        "{id: crash, kind: orchestration.crash_loop, target: api, at: 25s, via: config}",
    );
    let (telemetry, _, restarts) = direct(&b, &sc, "ep-e2e-k8s-orch").await;
    assert!(restarts > 0, "the API shows no restart");
    assert!(
        telemetry
            .events
            .iter()
            .any(|e| e.reason == "BackOff" || e.reason == "CrashLoopBackOff"),
        "{:?}",
        telemetry.events
    );
    scored(b, sc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes cluster: set OTRASHI_E2E_KUBECONFIG"]
async fn kubernetes_infra_network_partition_cuts_callers_off_and_is_scored() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let b = backend().await;
    let sc = scenario(
        "k8s-infra",
        "{id: cut, kind: infra.network_partition, target: api, at: 25s, via: direct}",
    );
    let (_, (sent, ok, errors, failed), _) = direct(&b, &sc, "ep-e2e-k8s-infra").await;
    // web's calls to api are refused or time out: the entry answers 5xx.
    assert!(
        errors > sent / 10,
        "sent {sent}, ok {ok}, 5xx {errors}, failed {failed}"
    );
    scored(b, sc).await;
}
