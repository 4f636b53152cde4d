//! Creating an episode's namespace and objects, waiting until every Deployment is
//! ready (with progress reports, and an error naming the pod and its reason when it is
//! not ready in time), and deleting the namespace.

use std::fmt;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Client;
use tokio_util::sync::CancellationToken;

use super::faults::FIELD_MANAGER;
use super::render::Rendered;

/// Why provisioning or teardown failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// An API call failed.
    #[error("{action}: {source}")]
    Api {
        /// The call, naming the object.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Some pod did not become ready in time.
    #[error(
        "the services of namespace {namespace} were not ready within {timeout:?}: {diagnosis}"
    )]
    NotReady {
        /// The namespace.
        namespace: String,
        /// The deadline.
        timeout: Duration,
        /// The pod(s) and why (`pod cart-5d9c-x: ImagePullBackOff: ...`).
        diagnosis: String,
    },
    /// Cancelled while waiting.
    #[error("cancelled while waiting for namespace {0} to be ready")]
    Cancelled(String),
}

/// Progress of provisioning, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Objects are being created.
    Creating {
        /// The namespace.
        namespace: String,
        /// Objects created so far.
        done: usize,
        /// Objects to create.
        total: usize,
    },
    /// Waiting for Deployments to be ready.
    Waiting {
        /// The namespace.
        namespace: String,
        /// Deployments ready.
        ready: usize,
        /// Deployments in all.
        total: usize,
        /// The Deployments not ready yet.
        pending: Vec<String>,
    },
    /// Every Deployment is ready.
    Ready {
        /// The namespace.
        namespace: String,
        /// How long the wait took.
        elapsed: Duration,
    },
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Creating {
                namespace,
                done,
                total,
            } => write!(f, "{namespace}: created {done}/{total} objects"),
            Progress::Waiting {
                namespace,
                ready,
                total,
                pending,
            } => write!(
                f,
                "{namespace}: {ready}/{total} deployments ready (waiting for {})",
                pending.join(", ")
            ),
            Progress::Ready { namespace, elapsed } => {
                write!(f, "{namespace}: all deployments ready in {elapsed:.1?}")
            }
        }
    }
}

fn pp() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    }
}

fn api(action: String) -> impl FnOnce(kube::Error) -> ProvisionError {
    move |source| ProvisionError::Api { action, source }
}

/// Creates the namespace, then each service's ConfigMap, Deployment and Service.
pub async fn apply(
    client: &Client,
    r: &Rendered,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<(), ProvisionError> {
    let ns = r.namespace_name.as_str();
    let total = 1 + 3 * r.services.len();
    let report = |done| {
        progress(&Progress::Creating {
            namespace: ns.to_owned(),
            done,
            total,
        })
    };
    Api::<Namespace>::all(client.clone())
        .create(&pp(), &r.namespace)
        .await
        .map_err(api(format!("POST namespace {ns}")))?;
    report(1);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let deps: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let svcs: Api<Service> = Api::namespaced(client.clone(), ns);
    let mut done = 1;
    for s in &r.services {
        cms.create(&pp(), &s.config_map)
            .await
            .map_err(api(format!("POST configmap {ns}/{}-config", s.name)))?;
        deps.create(&pp(), &s.deployment)
            .await
            .map_err(api(format!("POST deployment {ns}/{}", s.name)))?;
        svcs.create(&pp(), &s.service)
            .await
            .map_err(api(format!("POST service {ns}/{}", s.name)))?;
        done += 3;
        report(done);
    }
    Ok(())
}

/// Whether a Deployment has all its replicas updated, ready and available.
pub fn deployment_ready(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = d.status.as_ref() else {
        return want == 0;
    };
    let observed = match (st.observed_generation, d.metadata.generation) {
        (Some(o), Some(g)) => o >= g,
        _ => true,
    };
    observed
        && st.ready_replicas.unwrap_or(0) >= want
        && st.updated_replicas.unwrap_or(0) >= want
        && st.available_replicas.unwrap_or(0) >= want
}

/// Why a pod is not ready, as a person debugging it would say it: the waiting reason
/// (`ImagePullBackOff`, `CrashLoopBackOff` with the last termination's reason and exit
/// code), the scheduler's message for a pending pod, or the failing readiness probe.
/// `None` for a ready pod.
pub fn diagnose(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    if ready {
        return None;
    }
    for cs in status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
    {
        if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or("Waiting");
            let mut out = format!("pod {name}: {reason}");
            if let Some(m) = w.message.as_deref().filter(|m| !m.is_empty()) {
                out.push_str(&format!(" ({m})"));
            }
            if let Some(t) = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
                out.push_str(&format!(
                    "; last termination: {} (exit code {}){}",
                    t.reason.as_deref().unwrap_or("unknown"),
                    t.exit_code,
                    t.message
                        .as_deref()
                        .map(|m| format!(": {}", m.trim()))
                        .unwrap_or_default()
                ));
            }
            out.push_str(&format!(", {} restarts", cs.restart_count));
            return Some(out);
        }
        if let Some(t) = cs.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            return Some(format!(
                "pod {name}: terminated: {} (exit code {})",
                t.reason.as_deref().unwrap_or("unknown"),
                t.exit_code
            ));
        }
        if cs.state.as_ref().and_then(|s| s.running.as_ref()).is_some() && !cs.ready {
            return Some(format!(
                "pod {name}: running but not ready (its readiness probe on /healthz fails), {} restarts",
                cs.restart_count
            ));
        }
    }
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Unknown");
    let scheduled = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status != "True");
    match scheduled {
        Some(c) => Some(format!(
            "pod {name}: {phase}, not scheduled: {}{}",
            c.reason.as_deref().unwrap_or("Unschedulable"),
            c.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
        None => Some(format!("pod {name}: {phase}")),
    }
}

/// Waits until every Deployment of namespace `ns` is ready, polling every second and
/// reporting progress; after `timeout` the error names each pod that is not ready and
/// why.
pub async fn wait_ready(
    client: &Client,
    ns: &str,
    timeout: Duration,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<(), ProvisionError> {
    let deps: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let begin = tokio::time::Instant::now();
    let mut last: Option<Progress> = None;
    loop {
        let list = deps
            .list(&ListParams::default())
            .await
            .map_err(api(format!("LIST deployments {ns}")))?;
        let total = list.items.len();
        let mut pending: Vec<String> = list
            .items
            .iter()
            .filter(|d| !deployment_ready(d))
            .filter_map(|d| d.metadata.name.clone())
            .collect();
        pending.sort();
        if pending.is_empty() {
            progress(&Progress::Ready {
                namespace: ns.to_owned(),
                elapsed: begin.elapsed(),
            });
            return Ok(());
        }
        let p = Progress::Waiting {
            namespace: ns.to_owned(),
            ready: total - pending.len(),
            total,
            pending,
        };
        if last.as_ref() != Some(&p) {
            progress(&p);
            last = Some(p);
        }
        if begin.elapsed() >= timeout {
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            let list = pods
                .list(&ListParams::default())
                .await
                .map_err(api(format!("LIST pods {ns}")))?;
            let mut why: Vec<String> = list.items.iter().filter_map(diagnose).collect();
            if why.is_empty() {
                why.push(
                    "no pod was created (check the ReplicaSets' events: quota, admission)"
                        .to_owned(),
                );
            }
            return Err(ProvisionError::NotReady {
                namespace: ns.to_owned(),
                timeout,
                diagnosis: why.join("; "),
            });
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(ProvisionError::Cancelled(ns.to_owned())),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Deletes the namespace (and with it everything of the episode, faults included). A
/// namespace already gone is deleted.
pub async fn delete_namespace(client: &Client, ns: &str) -> Result<(), ProvisionError> {
    match Api::<Namespace>::all(client.clone())
        .delete(ns, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ProvisionError::Api {
            action: format!("DELETE namespace {ns}"),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::mock::{lines, serve};
    use crate::kubernetes::render::{render, Owner};
    use http::Method;
    use serde_json::{json, Value};

    #[tokio::test]
    async fn apply_creates_the_namespace_then_each_services_objects() {
        let incident = crate::bench_incident(7);
        let owner = Owner {
            host: "h".to_owned(),
            pid: 1,
        };
        let r = render(&incident, "ep-a", "img:1", &owner);
        let (client, task) = serve(|_, _, body| (201, body.clone()));
        let seen = std::sync::Mutex::new(Vec::new());
        apply(&client, &r, &|p| seen.lock().unwrap().push(p.clone()))
            .await
            .unwrap();
        drop(client);
        let calls = task.await.unwrap();
        let ns = "otrashi-ep-a";
        let mut want = vec![(
            Method::POST,
            "/api/v1/namespaces?&fieldManager=otrashi".to_owned(),
        )];
        for _ in &r.services {
            want.push((
                Method::POST,
                format!("/api/v1/namespaces/{ns}/configmaps?&fieldManager=otrashi"),
            ));
            want.push((
                Method::POST,
                format!("/apis/apps/v1/namespaces/{ns}/deployments?&fieldManager=otrashi"),
            ));
            want.push((
                Method::POST,
                format!("/api/v1/namespaces/{ns}/services?&fieldManager=otrashi"),
            ));
        }
        assert_eq!(lines(&calls), want);
        assert_eq!(
            calls[0].body["metadata"]["labels"]["otrashi.episode"],
            "ep-a"
        );
        assert_eq!(calls[2].body["metadata"]["name"], r.services[0].name);
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 1 + r.services.len());
        assert_eq!(
            seen.last().unwrap().to_string(),
            format!(
                "{ns}: created {n}/{n} objects",
                n = 1 + 3 * r.services.len()
            )
        );
    }

    fn deployment_list(ready: i32) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {}, "items": [
            {"metadata": {"name": "api", "generation": 1},
             "spec": {"replicas": 1, "selector": {}, "template": {}},
             "status": {"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}},
            {"metadata": {"name": "cart", "generation": 1},
             "spec": {"replicas": 1, "selector": {}, "template": {}},
             "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": 1, "availableReplicas": ready}}
        ]})
    }

    #[tokio::test(start_paused = true)]
    async fn a_deployment_that_never_gets_ready_fails_naming_its_pod_and_reason() {
        let (client, task) = serve(|_, uri, _| {
            if uri.contains("/deployments") {
                (200, deployment_list(0))
            } else {
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
                        {"metadata": {"name": "cart-5d9-x"}, "status": {"phase": "Running", "containerStatuses": [{
                            "name": "workload", "ready": false, "restartCount": 3, "image": "i", "imageID": "",
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}
                    ]}),
                )
            }
        });
        let seen = std::sync::Mutex::new(Vec::new());
        let e = wait_ready(
            &client,
            "ns1",
            Duration::from_secs(10),
            &CancellationToken::new(),
            &|p| seen.lock().unwrap().push(p.to_string()),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the services of namespace ns1 were not ready within 10s: pod cart-5d9-x: CrashLoopBackOff; last termination: Error (exit code 1), 3 restarts"
        );
        // One progress line while nothing changes.
        assert_eq!(
            seen.into_inner().unwrap(),
            ["ns1: 1/2 deployments ready (waiting for cart)"]
        );
        drop(client);
        let calls = task.await.unwrap();
        assert_eq!(calls[0].uri, "/apis/apps/v1/namespaces/ns1/deployments?");
        assert_eq!(calls.last().unwrap().uri, "/api/v1/namespaces/ns1/pods?");
    }

    #[tokio::test(start_paused = true)]
    async fn readiness_reports_progress_until_ready() {
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let p = polls.clone();
        let (client, _task) = serve(move |_, _, _| {
            let n = p.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (200, deployment_list(i32::from(n >= 2)))
        });
        let seen = std::sync::Mutex::new(Vec::new());
        wait_ready(
            &client,
            "ns1",
            Duration::from_secs(60),
            &CancellationToken::new(),
            &|p| seen.lock().unwrap().push(p.clone()),
        )
        .await
        .unwrap();
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(matches!(seen[1], Progress::Ready { .. }));
    }

    #[tokio::test]
    async fn deleting_a_namespace_already_gone_succeeds() {
        let (client, task) = serve(|m, _, _| {
            assert_eq!(m, Method::DELETE);
            (
                404,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound", "message": "gone"}),
            )
        });
        delete_namespace(&client, "otrashi-ep-a").await.unwrap();
        drop(client);
        let calls = task.await.unwrap();
        assert_eq!(calls[0].uri, "/api/v1/namespaces/otrashi-ep-a?");
        assert_eq!(calls[0].body["propagationPolicy"], "Background");
    }

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn an_image_pull_back_off_names_the_pod_and_the_image() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "cart-7d4b9-x2"},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "workload", "ready": false, "restartCount": 0, "image": "otrashi/workload:abc", "imageID": "",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"otrashi/workload:abc\""}}
            }]}
        }));
        assert_eq!(
            diagnose(&p).unwrap(),
            "pod cart-7d4b9-x2: ImagePullBackOff (Back-off pulling image \"otrashi/workload:abc\"), 0 restarts"
        );
    }

    #[test]
    fn a_crash_loop_names_the_last_termination() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "api-1"},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "workload", "ready": false, "restartCount": 4, "image": "i", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
            }]}
        }));
        assert_eq!(
            diagnose(&p).unwrap(),
            "pod api-1: CrashLoopBackOff; last termination: OOMKilled (exit code 137), 4 restarts"
        );
    }

    #[test]
    fn a_pending_pod_gives_the_schedulers_message() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "db-0"},
            "status": {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient memory."
            }]}
        }));
        assert_eq!(
            diagnose(&p).unwrap(),
            "pod db-0: Pending, not scheduled: Unschedulable: 0/1 nodes are available: 1 Insufficient memory."
        );
    }

    #[test]
    fn a_ready_pod_has_no_diagnosis() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "ok"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        }));
        assert_eq!(diagnose(&p), None);
    }

    #[test]
    fn readiness_of_a_deployment_needs_every_replica_updated_and_available() {
        let d = |status: serde_json::Value| -> Deployment {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "a", "generation": 2},
                "spec": {"replicas": 2, "selector": {}, "template": {}},
                "status": status
            }))
            .unwrap()
        };
        assert!(deployment_ready(&d(serde_json::json!({
            "observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2
        }))));
        assert!(!deployment_ready(&d(serde_json::json!({
            "observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2
        }))));
        assert!(!deployment_ready(&d(serde_json::json!({
            "observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1
        }))));
    }
}
