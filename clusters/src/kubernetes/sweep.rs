//! Leftovers of earlier runs: every start deletes the namespaces (`otrashi=true`) whose
//! owner is gone. A cluster may be shared by many gyms on many hosts, so the rule is:
//!
//! - a namespace owned by this host (`otrashi.host`) is deleted when its gym process
//!   (`otrashi.pid`) no longer runs here;
//! - a namespace owned by another host, or without owner labels, is deleted only when
//!   it is older than the maximum age ([`DEFAULT_MAX_AGE`], 6 hours: far longer than
//!   any episode), since this host cannot tell whether that gym still runs;
//! - a namespace already being deleted is left alone.
//!
//! Deleting a namespace removes every object of the episode, faults included.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::Client;

use super::provision::{delete_namespace, ProvisionError};
use super::render::{Owner, HOST_LABEL, OTRASHI_LABEL, PID_LABEL};

/// Namespaces of other hosts older than this are swept.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(6 * 3600);

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// The namespaces deleted, each with why.
    pub deleted: Vec<(String, String)>,
    /// Namespaces left alone because their owner may be alive.
    pub kept: usize,
}

/// Why namespace `ns` should be swept, or `None` to keep it. `age` is its age;
/// `alive(pid)` says whether a process of this host runs.
pub fn verdict(
    ns: &Namespace,
    me: &Owner,
    age: Duration,
    max_age: Duration,
    alive: &dyn Fn(u32) -> bool,
) -> Option<String> {
    if ns.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let labels = ns.metadata.labels.clone().unwrap_or_default();
    let host = labels.get(HOST_LABEL);
    let pid = labels.get(PID_LABEL).and_then(|p| p.parse::<u32>().ok());
    match (host, pid) {
        (Some(h), Some(pid)) if *h == me.host => {
            (!alive(pid)).then(|| format!("its gym (pid {pid} on {h}) is gone"))
        }
        _ if age > max_age => Some(format!(
            "older than {}h and owned by {}",
            max_age.as_secs() / 3600,
            host.map_or("no known host", String::as_str)
        )),
        _ => None,
    }
}

/// Whether process `pid` runs on this host.
pub fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Deletes the namespaces of earlier runs whose owner is gone (see the module docs).
pub async fn sweep(
    client: &Client,
    me: &Owner,
    max_age: Duration,
) -> Result<SweepReport, ProvisionError> {
    let list = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default().labels(&format!("{OTRASHI_LABEL}=true")))
        .await
        .map_err(|e| ProvisionError::Api {
            action: "LIST namespaces labelled otrashi=true".to_owned(),
            source: e,
        })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut report = SweepReport::default();
    for ns in list.items {
        let created = ns
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(now, |t| t.0.as_second());
        let age = Duration::from_secs(u64::try_from(now - created).unwrap_or(0));
        let name = ns.metadata.name.clone().unwrap_or_default();
        // Never this process's own episodes.
        let mine = me.pid == std::process::id();
        let alive = |pid: u32| (mine && pid == me.pid) || pid_alive(pid);
        match verdict(&ns, me, age, max_age, &alive) {
            Some(why) => {
                delete_namespace(client, &name).await?;
                report.deleted.push((name, why));
            }
            None => report.kept += 1,
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(labels: &[(&str, &str)]) -> Namespace {
        let mut n = Namespace::default();
        n.metadata.name = Some("otrashi-ep".to_owned());
        n.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        n
    }

    fn me() -> Owner {
        Owner {
            host: "h1".to_owned(),
            pid: 10,
        }
    }

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_namespace_of_a_dead_gym_on_this_host_is_swept_at_any_age() {
        let n = ns(&[("otrashi", "true"), (HOST_LABEL, "h1"), (PID_LABEL, "77")]);
        assert!(verdict(&n, &me(), MIN, DEFAULT_MAX_AGE, &|_| false)
            .unwrap()
            .contains("pid 77"));
        assert_eq!(verdict(&n, &me(), MIN, DEFAULT_MAX_AGE, &|p| p == 77), None);
    }

    #[test]
    fn another_hosts_namespace_is_swept_only_when_old() {
        let n = ns(&[("otrashi", "true"), (HOST_LABEL, "h2"), (PID_LABEL, "77")]);
        assert_eq!(verdict(&n, &me(), MIN, DEFAULT_MAX_AGE, &|_| false), None);
        let old = DEFAULT_MAX_AGE + MIN;
        assert!(verdict(&n, &me(), old, DEFAULT_MAX_AGE, &|_| true)
            .unwrap()
            .contains("owned by h2"));
        let unowned = ns(&[("otrashi", "true")]);
        assert_eq!(
            verdict(&unowned, &me(), MIN, DEFAULT_MAX_AGE, &|_| false),
            None
        );
        assert!(verdict(&unowned, &me(), old, DEFAULT_MAX_AGE, &|_| false).is_some());
    }

    #[tokio::test]
    async fn sweep_lists_by_label_and_deletes_only_dead_owners_namespaces() {
        use crate::kubernetes::mock::{lines, serve};
        use http::Method;
        // PID 1 runs everywhere; u32::MAX never does.
        let dead = u32::MAX.to_string();
        let list = serde_json::json!({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {}, "items": [
            {"metadata": {"name": "otrashi-dead", "labels": {"otrashi": "true", "otrashi.host": "h1", "otrashi.pid": dead}}},
            {"metadata": {"name": "otrashi-alive", "labels": {"otrashi": "true", "otrashi.host": "h1", "otrashi.pid": "1"}}},
            {"metadata": {"name": "otrashi-other-host", "labels": {"otrashi": "true", "otrashi.host": "h2", "otrashi.pid": dead}}}
        ]});
        let (client, task) = serve(move |m, _, _| {
            if *m == Method::GET {
                (200, list.clone())
            } else {
                (
                    200,
                    serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "otrashi-dead"}}),
                )
            }
        });
        let r = sweep(&client, &me(), DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(r.kept, 2);
        assert_eq!(r.deleted.len(), 1);
        assert_eq!(r.deleted[0].0, "otrashi-dead");
        drop(client);
        assert_eq!(
            lines(&task.await.unwrap()),
            [
                (
                    Method::GET,
                    "/api/v1/namespaces?&labelSelector=otrashi%3Dtrue".to_owned()
                ),
                (
                    Method::DELETE,
                    "/api/v1/namespaces/otrashi-dead?".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_namespace_being_deleted_is_left_alone() {
        let mut n = ns(&[(HOST_LABEL, "h1"), (PID_LABEL, "77")]);
        n.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        assert_eq!(verdict(&n, &me(), MIN, DEFAULT_MAX_AGE, &|_| false), None);
    }
}
