//! Kubernetes state into the telemetry model, pure: Kubernetes events, container
//! restarts and termination reasons from pod status, resource limits from the
//! Deployments, and the deploy records of faults that ship as a rollout.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use otrashi_gym::telemetry::{Deploy, EventType};
use otrashi_scenarios::catalog::FaultKind;
use otrashi_scenarios::rng::stable_hash;

use super::render::{CONTAINER, SERVICE_LABEL};

/// An event in wall-clock time: Unix ms, service index, type, reason, message.
pub type RawEvent = (i64, usize, EventType, String, String);

/// The service an object named `name` belongs to: the service itself (Deployment,
/// Service, ConfigMap `<svc>-config`) or the longest service name that prefixes it
/// with a `-` (ReplicaSets `<svc>-<hash>`, pods `<svc>-<hash>-<id>`).
pub fn service_of_name(name: &str, services: &[String]) -> Option<usize> {
    services
        .iter()
        .enumerate()
        .filter(|(_, s)| name == s.as_str() || name.starts_with(&format!("{s}-")))
        .max_by_key(|(_, s)| s.len())
        .map(|(i, _)| i)
}

/// The service index of a pod (from its `otrashi.service` label).
pub fn service_of_pod(pod: &Pod, services: &[String]) -> Option<usize> {
    let s = pod.metadata.labels.as_ref()?.get(SERVICE_LABEL)?;
    services.iter().position(|x| x == s)
}

/// A Kubernetes event as an orchestrator event (its last occurrence).
pub fn map_event(ev: &KubeEvent, services: &[String]) -> Option<RawEvent> {
    let name = ev.involved_object.name.as_deref()?;
    let svc = service_of_name(name, services)?;
    let t = ev
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(ev.event_time.as_ref().map(|t| t.0))
        .or(ev.first_timestamp.as_ref().map(|t| t.0))
        .or(ev.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
    let event_type = if ev.type_.as_deref() == Some("Warning") {
        EventType::Warning
    } else {
        EventType::Normal
    };
    Some((
        t.as_millisecond(),
        svc,
        event_type,
        ev.reason.clone().unwrap_or_default(),
        ev.message.clone().unwrap_or_default(),
    ))
}

/// Restart counts of every pod seen, so that restarts of pods that are gone (rolled
/// out, deleted) still count, and each new restart becomes an event carrying its
/// termination reason (`OOMKilled` is a pod status, not a Kubernetes event).
#[derive(Debug, Default, Clone)]
pub struct Restarts {
    seen: BTreeMap<String, (usize, i32)>,
}

impl Restarts {
    /// Records the pods listed at Unix ms `now` and returns an event per new restart.
    pub fn observe(&mut self, pods: &[Pod], services: &[String], now: i64) -> Vec<RawEvent> {
        let mut out = Vec::new();
        for pod in pods {
            let (Some(name), Some(svc)) =
                (pod.metadata.name.clone(), service_of_pod(pod, services))
            else {
                continue;
            };
            let Some(cs) = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|c| c.iter().find(|c| c.name == CONTAINER))
            else {
                continue;
            };
            let before = self.seen.get(&name).map_or(0, |(_, r)| *r);
            if cs.restart_count > before {
                let term = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
                let reason = term.and_then(|t| t.reason.clone()).unwrap_or_default();
                let t = term
                    .and_then(|t| t.finished_at.as_ref())
                    .map_or(now, |t| t.0.as_millisecond());
                let exit = term.map_or(0, |t| t.exit_code);
                out.push(if reason == "OOMKilled" {
                    (
                        t,
                        svc,
                        EventType::Warning,
                        "OOMKilled".to_owned(),
                        format!("Container workload in pod {name} was OOMKilled (exit code {exit}): memory limit reached"),
                    )
                } else {
                    (
                        t,
                        svc,
                        EventType::Warning,
                        "BackOff".to_owned(),
                        format!("Back-off restarting failed container workload in pod {name} (last termination: {} , exit code {exit})", if reason.is_empty() { "unknown" } else { &reason }),
                    )
                });
            }
            self.seen.insert(name, (svc, cs.restart_count.max(before)));
        }
        out
    }

    /// Restarts of service `svc` so far, over every pod seen.
    pub fn total(&self, svc: usize) -> i32 {
        self.seen
            .values()
            .filter(|(s, _)| *s == svc)
            .map(|(_, r)| r)
            .sum()
    }
}

/// A Kubernetes quantity (`200m`, `1`, `24Mi`, `1Gi`, `128974848`) as a number (cores
/// or bytes).
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1_048_576.0,
        "Gi" => 1_073_741_824.0,
        _ => return None,
    };
    Some(n * mult)
}

/// `(cpu limit in cores, memory limit in bytes)` of a Deployment's workload container.
pub fn limits(d: &Deployment) -> (Option<f64>, Option<f64>) {
    let limits = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.iter().find(|c| c.name == CONTAINER))
        .and_then(|c| c.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    let get = |k: &str| {
        limits
            .and_then(|l| l.get(k))
            .and_then(|q| parse_quantity(&q.0))
    };
    (get("cpu"), get("memory"))
}

/// The deploy record of a rollout of `service` carrying `kind`'s change (`None`: a
/// harmless release), or of its rollback.
pub fn deploy_record(
    episode: &str,
    key: &str,
    service_index: usize,
    service: &str,
    kind: Option<FaultKind>,
    rollback: bool,
    t_ms: u64,
) -> Deploy {
    let h = stable_hash(format!("{episode}/{key}/{rollback}").as_bytes());
    let commit = format!(
        "{h:016x}{:016x}{:08x}",
        h.rotate_left(21) ^ 0x5bd1_e995,
        (h >> 7) as u32
    );
    let (title, diff) = change(kind, service, rollback);
    let (from, to) = match (kind, rollback) {
        (None, _) => ("v1.4.2", "v1.4.3"),
        (Some(_), true) => ("v1.5.0", "v1.4.2"),
        (Some(_), false) => ("v1.4.2", "v1.5.0"),
    };
    Deploy {
        id: format!("deploy-{}", &commit[..7]),
        t_ms,
        service: u16::try_from(service_index).unwrap_or(u16::MAX),
        from_version: from.to_owned(),
        to_version: to.to_owned(),
        commit,
        author: ["maria.keller", "j.okafor", "priya.raman", "li.wei"][(h % 4) as usize].to_owned(),
        title,
        diff,
    }
}

/// The change a release ships: a plausible code diff for the fault's kind (the
/// rollback reverts it).
fn change(kind: Option<FaultKind>, svc: &str, rollback: bool) -> (String, String) {
    use FaultKind as K;
    let (title, ctx, added): (&str, &str, &str) = match kind {
        None => (
            "Bump the logging library",
            "tracing = \"0.1.40\"",
            "tracing = \"0.1.41\"",
        ),
        Some(K::ErrorInjection) => (
            "Apply customer discounts before pricing",
            "let price = pricing::base(&item)?;",
            "let discount = customer.discount.as_ref().unwrap().apply(&item);",
        ),
        Some(K::SlowHandler) => (
            "Validate the basket against the catalog on every request",
            "let basket = load_basket(&req)?;",
            "for line in &basket.lines { catalog::validate_sync(line)?; }",
        ),
        Some(K::MemoryLeak) => (
            "Memoize resolved price lists",
            "let list = store.load(id).await?;",
            "PRICE_LISTS.lock().push((req.id(), list.clone()));",
        ),
        Some(K::ConnectionLeak) => (
            "Reuse the client of the first attempt",
            "let conn = pool.get().await?;",
            "std::mem::forget(conn.clone());",
        ),
        Some(K::RetryStorm) => (
            "Retry downstream calls immediately",
            "let policy = RetryPolicy::default();",
            "let policy = RetryPolicy { attempts: 5, backoff: Duration::ZERO };",
        ),
        Some(K::CacheBypass) => (
            "Read fresh prices from the database",
            "let price = cache.get(&key).await;",
            "let price = None; // always fresh",
        ),
        Some(K::HotLoop) => (
            "Normalize SKUs",
            "let sku = req.sku();",
            "while normalize(&sku) != sku { sku = normalize(&sku); }",
        ),
        Some(K::PanicCrash) => (
            "Parse the coupon header",
            "let coupon = headers.get(\"x-coupon\");",
            "let coupon = coupon.unwrap().parse::<Coupon>().unwrap();",
        ),
        Some(K::SlowQuery) => (
            "Join orders with their line items",
            "let rows = db.query(ORDERS_BY_USER, &[&user]).await?;",
            "let rows = db.query(ORDERS_WITH_ITEMS_UNINDEXED, &[&user]).await?;",
        ),
        Some(K::FailedDeploy) => (
            "Require the pricing-v2 flag at start-up",
            "let config = Config::from_env()?;",
            "let flag = std::env::var(\"PRICING_V2_URL\").expect(\"PRICING_V2_URL must be set\");",
        ),
        Some(_) => (
            "Routine dependency update",
            "version = \"1.4.2\"",
            "version = \"1.5.0\"",
        ),
    };
    let path = if kind.is_none() {
        format!("services/{svc}/Cargo.toml")
    } else {
        format!("src/{}/handler.rs", svc.replace('-', "_"))
    };
    let sign = if rollback { '-' } else { '+' };
    let diff = format!(
        "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -41,3 +41,4 @@ async fn handle(req: Request) -> Result<Response> {{\n     {ctx}\n{sign}    {added}\n     Ok(respond(&req))\n }}\n"
    );
    let title = if rollback {
        format!("Revert \"{title}\"")
    } else {
        title.to_owned()
    };
    (title, diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> Vec<String> {
        ["cart", "cart-db", "api"].map(str::to_owned).to_vec()
    }

    #[test]
    fn objects_map_to_the_longest_service_prefix() {
        let s = services();
        assert_eq!(service_of_name("cart", &s), Some(0));
        assert_eq!(service_of_name("cart-7d4b9c-x2f", &s), Some(0));
        assert_eq!(service_of_name("cart-db-5f6-abc", &s), Some(1));
        assert_eq!(service_of_name("cartography", &s), None);
    }

    #[test]
    fn kubernetes_events_keep_reason_type_and_time() {
        let ev: KubeEvent = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api-1.17f", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "api-6c9-q7"},
            "reason": "Unhealthy", "type": "Warning",
            "message": "Liveness probe failed: connection refused",
            "lastTimestamp": "2026-11-22T03:00:01Z"
        }))
        .unwrap();
        let (t, svc, ty, reason, msg) = map_event(&ev, &services()).unwrap();
        assert_eq!(
            Some(t),
            crate::collect::logs::parse_rfc3339_ms("2026-11-22T03:00:01Z")
        );
        assert_eq!((svc, ty), (2, EventType::Warning));
        assert_eq!(reason, "Unhealthy");
        assert!(msg.contains("Liveness probe failed"));
    }

    fn pod(name: &str, svc: &str, restarts: i32, reason: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"otrashi.service": svc}},
            "status": {"containerStatuses": [{
                "name": "workload", "ready": true, "restartCount": restarts, "image": "i", "imageID": "",
                "lastState": {"terminated": {"exitCode": 137, "reason": reason, "finishedAt": "2026-11-22T03:00:02Z"}}
            }]}
        }))
        .unwrap()
    }

    #[test]
    fn new_restarts_become_events_with_the_termination_reason_and_counts_survive_pods() {
        let s = services();
        let mut r = Restarts::default();
        assert!(r.observe(&[pod("cart-a", "cart", 0, "")], &s, 5).is_empty());
        let ev = r.observe(&[pod("cart-a", "cart", 1, "OOMKilled")], &s, 5);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].3, "OOMKilled");
        assert_eq!(
            Some(ev[0].0),
            crate::collect::logs::parse_rfc3339_ms("2026-11-22T03:00:02Z")
        );
        // The pod is replaced; its restarts still count.
        let ev = r.observe(&[pod("cart-b", "cart", 2, "Error")], &s, 5);
        assert_eq!(ev[0].3, "BackOff");
        assert_eq!(r.total(0), 3);
        assert_eq!(r.total(2), 0);
    }

    #[test]
    fn quantities_parse() {
        assert_eq!(parse_quantity("200m"), Some(0.2));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("24Mi"), Some(24.0 * 1_048_576.0));
        assert_eq!(parse_quantity("1Gi"), Some(1_073_741_824.0));
        assert_eq!(parse_quantity("lots"), None);
    }

    #[test]
    fn a_deploy_and_its_rollback_are_distinct_and_stable() {
        let d = deploy_record(
            "ep",
            "f1",
            1,
            "cart",
            Some(FaultKind::MemoryLeak),
            false,
            10,
        );
        let r = deploy_record("ep", "f1", 1, "cart", Some(FaultKind::MemoryLeak), true, 20);
        assert_ne!(d.id, r.id);
        assert_eq!(
            d,
            deploy_record(
                "ep",
                "f1",
                1,
                "cart",
                Some(FaultKind::MemoryLeak),
                false,
                10
            )
        );
        assert!(d.diff.contains("+    PRICE_LISTS"));
        assert!(r.diff.contains("-    PRICE_LISTS"));
        assert_eq!(
            (d.from_version.as_str(), d.to_version.as_str()),
            ("v1.4.2", "v1.5.0")
        );
        assert!(r.title.starts_with("Revert"));
    }
}
