//! The exact requests each fault's inject and revert send, against a mocked API server
//! (`tower_test::mock::pair`, as kube's own tests do). The server holds the objects as
//! provisioning rendered them and answers GETs with them, echoes PUTs and POSTs, and
//! records every request; the tests then pin method, path, query and the body fields
//! that matter, and that a revert PUTs back the object the GET returned.

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response};
use kube::client::Body;
use kube::Client;
use otrashi_scenarios::catalog::{FaultKind, Via};
use otrashi_scenarios::incident::ConcreteFault;
use serde_json::{json, Value};

use super::{Active, Injector};
use crate::docker::plan::Scale;
use crate::kubernetes::render::{self, Owner};

const EPISODE: &str = "ep-test-7";
const NS: &str = "otrashi-ep-test-7";

/// One recorded request.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    method: Method,
    /// Path and query.
    uri: String,
    body: Value,
}

/// Canned failures: `(method, path prefix, status, how many times)`.
type Failures = Vec<(Method, &'static str, u16, usize)>;

/// The objects the mocked server holds, as rendered for the bench incident's first
/// service, with server-set metadata.
fn objects() -> (String, Value, Value, Value) {
    let incident = crate::bench_incident(7);
    let owner = Owner {
        host: "h".to_owned(),
        pid: 1,
    };
    let r = render::render(&incident, EPISODE, "otrashi/workload:abc", &owner);
    let s = &r.services[0];
    let mut dep = serde_json::to_value(&s.deployment).unwrap();
    dep["apiVersion"] = json!("apps/v1");
    dep["kind"] = json!("Deployment");
    dep["metadata"]["resourceVersion"] = json!("41");
    dep["metadata"]["uid"] = json!("uid-dep");
    dep["metadata"]["generation"] = json!(1);
    dep["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    let mut svc = serde_json::to_value(&s.service).unwrap();
    svc["apiVersion"] = json!("v1");
    svc["kind"] = json!("Service");
    svc["metadata"]["resourceVersion"] = json!("42");
    svc["spec"]["clusterIP"] = json!("10.96.0.17");
    let mut cm = serde_json::to_value(&s.config_map).unwrap();
    cm["apiVersion"] = json!("v1");
    cm["kind"] = json!("ConfigMap");
    cm["metadata"]["resourceVersion"] = json!("43");
    (s.name.clone(), dep, svc, cm)
}

fn status(code: u16, reason: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "status": if code < 300 { "Success" } else { "Failure" },
           "code": code, "reason": reason, "message": reason})
}

/// A mocked API server for namespace [`NS`]; returns the client and a task that
/// yields the recorded calls once every client clone is dropped.
fn server(mut fail: Failures) -> (Client, tokio::task::JoinHandle<Vec<Call>>) {
    let (svc_name, dep, svc, cm) = objects();
    let (mock, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let seen: Arc<Mutex<Vec<Call>>> = Arc::default();
    let task = tokio::spawn(async move {
        let mut handle = pin!(handle);
        while let Some((req, send)) = handle.next_request().await {
            let method = req.method().clone();
            let uri = req.uri().to_string();
            let bytes = req.into_body().collect_bytes().await.unwrap();
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            seen.lock().unwrap().push(Call {
                method: method.clone(),
                uri: uri.clone(),
                body: body.clone(),
            });
            let path = uri.split('?').next().unwrap().to_owned();
            let failed = fail
                .iter_mut()
                .find(|(m, p, _, n)| *m == method && path.starts_with(*p) && *n > 0)
                .map(|(_, _, c, n)| {
                    *n -= 1;
                    *c
                });
            let (code, reply) = if let Some(code) = failed {
                (code, status(code, "canned failure"))
            } else {
                let deps = format!("/apis/apps/v1/namespaces/{NS}/deployments/{svc_name}");
                let svcs = format!("/api/v1/namespaces/{NS}/services/{svc_name}");
                let cms = format!("/api/v1/namespaces/{NS}/configmaps/{svc_name}-config");
                let pods = format!("/api/v1/namespaces/{NS}/pods");
                match method {
                    Method::GET if path == deps => (200, dep.clone()),
                    Method::GET if path == svcs => (200, svc.clone()),
                    Method::GET if path == cms => (200, cm.clone()),
                    Method::GET if path == pods => (
                        200,
                        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
                            {"metadata": {"name": format!("{svc_name}-5d9c-zz"), "namespace": NS}},
                            {"metadata": {"name": format!("{svc_name}-5d9c-aa"), "namespace": NS}},
                            {"metadata": {"name": format!("{svc_name}-5d9c-00"), "namespace": NS,
                                          "deletionTimestamp": "2026-11-22T03:00:00Z"}}
                        ]}),
                    ),
                    Method::PUT | Method::POST => {
                        (if method == Method::POST { 201 } else { 200 }, body.clone())
                    }
                    Method::DELETE if path.starts_with(&pods) => (
                        200,
                        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": path.rsplit('/').next().unwrap()}}),
                    ),
                    Method::DELETE => (200, status(200, "deleted")),
                    _ => (404, status(404, "NotFound")),
                }
            };
            send.send_response(
                Response::builder()
                    .status(code)
                    .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                    .unwrap(),
            );
        }
        seen.lock().unwrap().clone()
    });
    (Client::new(mock, NS), task)
}

fn fault(kind: FaultKind, via: Via, params: &[(&str, f64)]) -> ConcreteFault {
    let (target, ..) = objects();
    ConcreteFault {
        id: "f1".to_owned(),
        kind,
        target,
        at: otrashi_scenarios::duration::Duration::from_secs(60),
        until: otrashi_scenarios::duration::Duration::from_secs(120),
        via,
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn active(client: Client) -> Active {
    let scale = Scale {
        factor: 0.125,
        rps_cap: 10.0,
    };
    Active::new(Injector::new(client, NS, EPISODE, scale, 10.0))
}

/// Injects and reverts `f`, returning the recorded calls.
async fn round_trip(f: &ConcreteFault, fail: Failures) -> Vec<Call> {
    let (client, task) = server(fail);
    let mut a = active(client);
    a.inject(0, f).await.unwrap();
    assert!(a.revert(0).await.unwrap(), "the fault was in effect");
    assert!(!a.revert(0).await.unwrap(), "a second revert does nothing");
    drop(a);
    task.await.unwrap()
}

fn dep_path(svc: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NS}/deployments/{svc}")
}

fn container(body: &Value) -> &Value {
    &body["spec"]["template"]["spec"]["containers"][0]
}

fn env_of(body: &Value, key: &str) -> Option<String> {
    container(body)["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == key)
        .map(|e| e["value"].as_str().unwrap().to_owned())
}

/// The object a revert must PUT back: what the GET returned, without the
/// `resourceVersion` (an unconditional update).
fn restored(mut original: Value) -> Value {
    original["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    original
}

/// The Deployment faults: GET, PUT (optimistic, with the GET's resourceVersion) the
/// changed Deployment, then on revert PUT the original back exactly.
async fn deployment_fault(kind: FaultKind, via: Via, params: &[(&str, f64)]) -> Value {
    let (svc, dep, ..) = objects();
    let calls = round_trip(&fault(kind, via, params), Vec::new()).await;
    let path = dep_path(&svc);
    let put = format!("{path}?&fieldManager=otrashi");
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.method.clone(), c.uri.clone()))
            .collect::<Vec<_>>(),
        [
            (Method::GET, path.clone()),
            (Method::PUT, put.clone()),
            (Method::PUT, put)
        ],
        "{kind:?}"
    );
    assert_eq!(calls[1].body["metadata"]["resourceVersion"], "41");
    assert_ne!(
        calls[1].body["spec"], dep["spec"],
        "inject changed the spec"
    );
    assert_eq!(
        calls[2].body,
        restored(dep),
        "revert restores the exact object"
    );
    calls[1].body.clone()
}

#[tokio::test]
async fn crash_loop_sets_a_pool_size_the_workload_refuses() {
    let put = deployment_fault(FaultKind::CrashLoop, Via::Config, &[]).await;
    assert_eq!(env_of(&put, "OTRASHI_POOL_SIZE").as_deref(), Some("0"));
}

#[tokio::test]
async fn oom_kill_sets_the_memory_limit_below_the_working_set() {
    let put = deployment_fault(FaultKind::OomKill, Via::Config, &[("limit_mb", 24.0)]).await;
    let res = &container(&put)["resources"];
    assert_eq!(res["limits"]["memory"], "24Mi");
    assert_eq!(res["requests"]["memory"], "24Mi");
    assert_eq!(
        env_of(&put, "OTRASHI_FAILPOINTS").as_deref(),
        Some("leak_memory=return(1048576)")
    );
}

#[tokio::test]
async fn scale_to_zero_sets_zero_replicas() {
    let put = deployment_fault(FaultKind::ScaleToZero, Via::Config, &[]).await;
    assert_eq!(put["spec"]["replicas"], 0);
}

#[tokio::test]
async fn cpu_throttle_sets_the_cpu_limit_and_keeps_the_request_below_it() {
    let put = deployment_fault(FaultKind::CpuThrottle, Via::Config, &[("limit_cores", 0.2)]).await;
    let res = &container(&put)["resources"];
    assert_eq!(res["limits"]["cpu"], "200m");
    assert_eq!(res["requests"]["cpu"], "20m");
}

#[tokio::test]
async fn liveness_probe_misconfig_probes_a_dead_port_at_the_scaled_period() {
    // 30 scenario seconds at factor 0.125 is about 4 wall seconds.
    let put = deployment_fault(
        FaultKind::LivenessProbeMisconfig,
        Via::Config,
        &[("period_s", 30.0)],
    )
    .await;
    let probe = &container(&put)["livenessProbe"];
    assert_eq!(probe["httpGet"]["port"], 8081);
    assert_eq!(probe["periodSeconds"], 4);
    assert_eq!(probe["failureThreshold"], 1);
}

#[tokio::test]
async fn failed_deploy_rolls_out_a_release_that_cannot_start() {
    let put = deployment_fault(
        FaultKind::FailedDeploy,
        Via::Deploy,
        &[("unavailable_pct", 50.0)],
    )
    .await;
    assert_eq!(env_of(&put, "OTRASHI_POOL_SIZE").as_deref(), Some("0"));
    assert_eq!(env_of(&put, "OTRASHI_RELEASE").as_deref(), Some("v1.5.0"));
    assert_eq!(
        put["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        "50%"
    );
}

#[tokio::test]
async fn a_code_fault_by_deploy_ships_its_failpoint_in_a_new_release() {
    let put = deployment_fault(
        FaultKind::ErrorInjection,
        Via::Deploy,
        &[("error_pct", 30.0)],
    )
    .await;
    assert_eq!(
        env_of(&put, "OTRASHI_FAILPOINTS").as_deref(),
        Some("handler_error=30%return")
    );
    assert_eq!(env_of(&put, "OTRASHI_RELEASE").as_deref(), Some("v1.5.0"));
}

/// ConfigMap faults: GET the ConfigMap and the Deployment, PUT the ConfigMap with the
/// failpoint, PUT the Deployment with a new config revision (so pods restart with
/// it); the revert PUTs both back exactly.
async fn config_fault(kind: FaultKind, via: Via, params: &[(&str, f64)]) -> Value {
    let (svc, dep, _, cm) = objects();
    let calls = round_trip(&fault(kind, via, params), Vec::new()).await;
    let cm_path = format!("/api/v1/namespaces/{NS}/configmaps/{svc}-config");
    let path = dep_path(&svc);
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.method.clone(), c.uri.clone()))
            .collect::<Vec<_>>(),
        [
            (Method::GET, cm_path.clone()),
            (Method::GET, path.clone()),
            (Method::PUT, format!("{cm_path}?&fieldManager=otrashi")),
            (Method::PUT, format!("{path}?&fieldManager=otrashi")),
            (Method::PUT, format!("{cm_path}?&fieldManager=otrashi")),
            (Method::PUT, format!("{path}?&fieldManager=otrashi")),
        ]
    );
    assert_eq!(calls[2].body["metadata"]["resourceVersion"], "43");
    assert_eq!(
        calls[3].body["spec"]["template"]["metadata"]["annotations"]["otrashi.config-revision"],
        "f1"
    );
    assert_eq!(calls[4].body, restored(cm));
    assert_eq!(calls[5].body, restored(dep));
    calls[2].body["data"].clone()
}

#[tokio::test]
async fn bad_env_config_puts_a_failing_setting_in_the_config_map() {
    let data = config_fault(FaultKind::BadEnvConfig, Via::Config, &[("error_pct", 40.0)]).await;
    assert_eq!(data["OTRASHI_FAILPOINTS"], "handler_error=40%return");
    // The rest of the environment is untouched.
    assert_eq!(data["OTRASHI_ADMIN_TOKEN"], "otrashi-gym");
}

#[tokio::test]
async fn a_code_fault_by_config_switches_its_failpoint_in_the_config_map() {
    let data = config_fault(
        FaultKind::SlowHandler,
        Via::Config,
        &[("affected_pct", 50.0), ("delay_ms", 300.0)],
    )
    .await;
    assert_eq!(data["OTRASHI_FAILPOINTS"], "handler_slow=50%return(300)");
}

#[tokio::test]
async fn misrouted_port_points_the_service_at_the_wrong_port_and_back() {
    let (svc_name, _, svc, _) = objects();
    let calls = round_trip(
        &fault(FaultKind::MisroutedPort, Via::Config, &[("port", 9090.0)]),
        Vec::new(),
    )
    .await;
    let path = format!("/api/v1/namespaces/{NS}/services/{svc_name}");
    let put = format!("{path}?&fieldManager=otrashi");
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.method.clone(), c.uri.clone()))
            .collect::<Vec<_>>(),
        [
            (Method::GET, path),
            (Method::PUT, put.clone()),
            (Method::PUT, put)
        ]
    );
    assert_eq!(calls[1].body["spec"]["ports"][0]["targetPort"], 9090);
    assert_eq!(calls[1].body["spec"]["ports"][0]["port"], 8080);
    assert_eq!(calls[2].body, restored(svc));
}

#[tokio::test]
async fn misrouted_port_never_picks_the_real_port() {
    let (client, task) = server(Vec::new());
    let mut a = active(client);
    a.inject(
        0,
        &fault(FaultKind::MisroutedPort, Via::Config, &[("port", 8080.0)]),
    )
    .await
    .unwrap();
    drop(a);
    let calls = task.await.unwrap();
    assert_eq!(calls[1].body["spec"]["ports"][0]["targetPort"], 8081);
}

#[tokio::test]
async fn network_partition_creates_a_deny_all_ingress_policy_and_deletes_it() {
    let (svc, ..) = objects();
    let calls = round_trip(
        &fault(FaultKind::NetworkPartition, Via::Direct, &[]),
        Vec::new(),
    )
    .await;
    let base = format!("/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies");
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.method.clone(), c.uri.clone()))
            .collect::<Vec<_>>(),
        [
            (Method::POST, format!("{base}?&fieldManager=otrashi")),
            (Method::DELETE, format!("{base}/otrashi-partition-{svc}?")),
        ]
    );
    let spec = &calls[0].body["spec"];
    assert_eq!(
        spec["podSelector"]["matchLabels"],
        json!({"otrashi.episode": EPISODE, "otrashi.service": svc})
    );
    assert_eq!(spec["policyTypes"], json!(["Ingress"]));
    assert!(spec.get("ingress").is_none(), "no rule admits anything");
    assert_eq!(calls[0].body["metadata"]["labels"]["otrashi"], "true");
}

#[tokio::test]
async fn a_partition_whose_policy_is_already_gone_reverts_fine() {
    let (svc, ..) = objects();
    let (client, task) = server(vec![(
        Method::DELETE,
        "/apis/networking.k8s.io/v1/namespaces/otrashi-ep-test-7/networkpolicies",
        404,
        usize::MAX,
    )]);
    let mut a = active(client);
    a.inject(0, &fault(FaultKind::NetworkPartition, Via::Direct, &[]))
        .await
        .unwrap();
    assert!(a.revert(0).await.unwrap());
    drop(a);
    let calls = task.await.unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls[1].uri.ends_with(&format!("otrashi-partition-{svc}?")));
}

#[tokio::test]
async fn dependency_removed_deletes_deployment_and_service_and_recreates_them() {
    let (svc_name, dep, svc, _) = objects();
    let calls = round_trip(
        &fault(FaultKind::DependencyRemoved, Via::Config, &[]),
        Vec::new(),
    )
    .await;
    let d = dep_path(&svc_name);
    let s = format!("/api/v1/namespaces/{NS}/services/{svc_name}");
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.method.clone(), c.uri.clone()))
            .collect::<Vec<_>>(),
        [
            (Method::GET, d.clone()),
            (Method::GET, s.clone()),
            (Method::DELETE, format!("{d}?")),
            (Method::DELETE, format!("{s}?")),
            (
                Method::POST,
                format!("/apis/apps/v1/namespaces/{NS}/deployments?&fieldManager=otrashi")
            ),
            (
                Method::POST,
                format!("/api/v1/namespaces/{NS}/services?&fieldManager=otrashi")
            ),
        ]
    );
    assert_eq!(calls[2].body["propagationPolicy"], "Background");
    // Re-created as they were, without the server-set identity.
    assert_eq!(calls[4].body["spec"], dep["spec"]);
    assert_eq!(
        calls[4].body["metadata"]["labels"],
        dep["metadata"]["labels"]
    );
    assert!(calls[4].body["metadata"].get("uid").is_none());
    assert!(calls[4].body["metadata"].get("resourceVersion").is_none());
    assert_eq!(calls[5].body["spec"]["ports"], svc["spec"]["ports"]);
    assert_eq!(calls[5].body["spec"]["selector"], svc["spec"]["selector"]);
    assert!(calls[5].body["spec"].get("clusterIP").is_none());
}

#[tokio::test]
async fn a_revert_without_an_inject_sends_nothing_and_succeeds() {
    let (client, task) = server(Vec::new());
    let mut a = active(client);
    assert!(!a.revert(0).await.unwrap());
    assert!(!a.revert(7).await.unwrap());
    assert!(a.revert_all().await.is_empty());
    drop(a);
    assert_eq!(task.await.unwrap(), Vec::<Call>::new());
}

#[tokio::test]
async fn an_inject_refused_by_the_server_leaves_nothing_to_revert() {
    let (svc, ..) = objects();
    let (client, task) = server(vec![(Method::PUT, "/apis/apps/v1/", 422, usize::MAX)]);
    let mut a = active(client);
    let e = a
        .inject(0, &fault(FaultKind::ScaleToZero, Via::Config, &[]))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("PUT deployment {NS}/{svc}:")), "{e}");
    assert!(!a.revert(0).await.unwrap());
    drop(a);
    let calls = task.await.unwrap();
    assert_eq!(calls.len(), 2, "GET and the refused PUT only: {calls:?}");
}

#[tokio::test]
async fn a_config_change_whose_rollout_fails_puts_the_config_map_back() {
    let (svc, _, _, cm) = objects();
    let (client, task) = server(vec![(Method::PUT, "/apis/apps/v1/", 500, usize::MAX)]);
    let mut a = active(client);
    assert!(a
        .inject(0, &fault(FaultKind::BadEnvConfig, Via::Config, &[]))
        .await
        .is_err());
    assert!(!a.revert(0).await.unwrap());
    drop(a);
    let calls = task.await.unwrap();
    let cm_path = format!("/api/v1/namespaces/{NS}/configmaps/{svc}-config?&fieldManager=otrashi");
    let puts: Vec<&Call> = calls.iter().filter(|c| c.method == Method::PUT).collect();
    // ConfigMap changed, rollout refused, ConfigMap restored, Deployment restored
    // (refused again, reported by the failed inject already).
    assert_eq!(puts[0].uri, cm_path);
    assert_eq!(puts[2].uri, cm_path);
    assert_eq!(puts[2].body, restored(cm));
}

#[tokio::test]
async fn unsupported_kinds_are_refused_with_the_reason() {
    let (client, task) = server(Vec::new());
    let mut a = active(client);
    let e = a
        .inject(0, &fault(FaultKind::ProcessFreeze, Via::Direct, &[]))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs `exec`"), "{e}");
    drop(a);
    assert!(task.await.unwrap().is_empty());
    for k in FaultKind::ALL {
        if let Err(reason) = super::support(*k) {
            assert!(reason.contains("--backend"), "{k:?}: {reason}");
        }
    }
}

#[tokio::test]
async fn pod_kill_deletes_the_first_pod_not_already_terminating_and_reverts_to_nothing() {
    let (svc, ..) = objects();
    let calls = round_trip(&fault(FaultKind::PodKill, Via::Direct, &[]), Vec::new()).await;
    let pods = format!("/api/v1/namespaces/{NS}/pods");
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.method.clone(), c.uri.clone()))
            .collect::<Vec<_>>(),
        [
            (
                Method::GET,
                format!(
                    "{pods}?&labelSelector=otrashi.episode%3D{EPISODE}%2Cotrashi.service%3D{svc}"
                )
            ),
            (Method::DELETE, format!("{pods}/{svc}-5d9c-aa?")),
        ],
        "the revert sends nothing: the ReplicaSet already replaced the pod"
    );
}

/// `(api group, resource, verb)` an API request needs under RBAC.
fn rbac_need(method: &Method, uri: &str) -> (String, String, String) {
    let path = uri.split('?').next().unwrap();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts[0] {
        "api" => (String::new(), &parts[2..]),
        _ => (parts[1].to_owned(), &parts[3..]),
    };
    // namespaces[/ns[/resource[/name[/sub...]]]]
    let (resource, named) = match rest {
        ["namespaces"] => ("namespaces".to_owned(), false),
        ["namespaces", _] => ("namespaces".to_owned(), true),
        ["namespaces", _, res] => ((*res).to_owned(), false),
        ["namespaces", _, res, _] => ((*res).to_owned(), true),
        ["namespaces", _, res, _, sub, ..] => (format!("{res}/{sub}"), true),
        other => panic!("unexpected path {other:?}"),
    };
    let verb = match *method {
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::DELETE => "delete",
        _ => panic!("unexpected method {method}"),
    };
    (group, resource, verb.to_owned())
}

/// The rules of the shipped ClusterRole.
fn rbac_rules() -> Vec<(String, String, String)> {
    let text = include_str!("../../../../deploy/kubernetes/rbac.yaml");
    let docs = yaml_rust2::YamlLoader::load_from_str(text).unwrap();
    let role = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("ClusterRole"))
        .unwrap();
    let mut out = Vec::new();
    for rule in role["rules"].as_vec().unwrap() {
        for g in rule["apiGroups"].as_vec().unwrap() {
            for r in rule["resources"].as_vec().unwrap() {
                for v in rule["verbs"].as_vec().unwrap() {
                    out.push((
                        g.as_str().unwrap().to_owned(),
                        r.as_str().unwrap().to_owned(),
                        v.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn the_shipped_rbac_allows_every_request_the_backend_sends_and_no_more() {
    let mut calls: Vec<(Method, String)> = Vec::new();
    for kind in FaultKind::ALL {
        if super::support(*kind).is_err() {
            continue;
        }
        let vias: &[Via] = if kind.level() == otrashi_scenarios::catalog::Level::Code {
            &[Via::Deploy, Via::Config]
        } else {
            &[Via::Config]
        };
        for via in vias {
            for c in round_trip(&fault(*kind, *via, &[]), Vec::new()).await {
                calls.push((c.method, c.uri));
            }
        }
    }
    // Provisioning, readiness, scrapes, logs, events, load, teardown and the sweep.
    let ns = "otrashi-ep";
    for (m, p) in [
        (Method::POST, "/api/v1/namespaces?".to_owned()),
        (Method::POST, format!("/api/v1/namespaces/{ns}/configmaps?")),
        (
            Method::POST,
            format!("/apis/apps/v1/namespaces/{ns}/deployments?"),
        ),
        (Method::POST, format!("/api/v1/namespaces/{ns}/services?")),
        (
            Method::GET,
            format!("/apis/apps/v1/namespaces/{ns}/deployments?"),
        ),
        (Method::GET, format!("/api/v1/namespaces/{ns}/pods?")),
        (
            Method::GET,
            format!("/api/v1/namespaces/{ns}/pods/web-1/log?container=workload"),
        ),
        (Method::GET, format!("/api/v1/namespaces/{ns}/events?")),
        (
            Method::GET,
            crate::kubernetes::env::pod_proxy_path(ns, "web-1", "/metrics"),
        ),
        (
            Method::GET,
            crate::kubernetes::env::service_proxy_path(ns, "web", "/"),
        ),
        (Method::DELETE, format!("/api/v1/namespaces/{ns}?")),
        (
            Method::GET,
            "/api/v1/namespaces?&labelSelector=otrashi%3Dtrue".to_owned(),
        ),
    ] {
        calls.push((m, p));
    }
    let rules = rbac_rules();
    let mut used = std::collections::BTreeSet::new();
    for (m, uri) in &calls {
        let need = rbac_need(m, uri);
        assert!(
            rules.contains(&need),
            "{m} {uri} needs {need:?}, which rbac.yaml does not grant"
        );
        used.insert(need);
    }
    let unused: Vec<_> = rules.iter().filter(|r| !used.contains(*r)).collect();
    assert!(
        unused.is_empty(),
        "rbac.yaml grants what the backend never uses: {unused:?}"
    );
}

#[tokio::test]
async fn a_conflict_from_a_concurrent_status_update_is_retried_on_a_fresh_get() {
    let (svc, dep, ..) = objects();
    let calls = round_trip(
        &fault(FaultKind::ScaleToZero, Via::Config, &[]),
        vec![(Method::PUT, "/apis/apps/v1/", 409, 1)],
    )
    .await;
    let path = dep_path(&svc);
    let put = format!("{path}?&fieldManager=otrashi");
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.method.clone(), c.uri.clone()))
            .collect::<Vec<_>>(),
        [
            (Method::GET, path.clone()),
            (Method::PUT, put.clone()),
            (Method::GET, path),
            (Method::PUT, put.clone()),
            (Method::PUT, put),
        ]
    );
    assert_eq!(calls[3].body["spec"]["replicas"], 0);
    assert_eq!(calls[4].body, restored(dep));
}
