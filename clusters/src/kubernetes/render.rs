//! From an incident to the objects of its namespace. Pure: no IO, so the shapes are
//! pinned by unit tests. Each service becomes a ConfigMap (the workload's environment),
//! a Deployment that takes its environment from that ConfigMap, and a Service; the
//! namespace and everything in it carry the episode id, `otrashi=true` and (per
//! service) the service name as labels.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, HTTPGetAction,
    Namespace, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use otrashi_docker::image::WORKLOAD_PORT;
use otrashi_scenarios::incident::Incident;
use otrashi_scenarios::model::Service as TopologyService;
use otrashi_scenarios::rng::stable_hash;

use crate::docker::plan;

/// Label carrying the episode id (sanitized to a label value: see [`label_value`]).
pub const EPISODE_LABEL: &str = "otrashi.episode";
/// Label on everything otrashi creates.
pub const OTRASHI_LABEL: &str = "otrashi";
/// Label carrying the service an object belongs to.
pub const SERVICE_LABEL: &str = "otrashi.service";
/// Namespace label: the host name of the gym that owns the episode.
pub const HOST_LABEL: &str = "otrashi.host";
/// Namespace label: the PID of the gym that owns the episode.
pub const PID_LABEL: &str = "otrashi.pid";
/// Name of the workload container in every pod.
pub const CONTAINER: &str = "workload";
/// Pod-template annotation a configuration change bumps so that pods restart with the
/// new ConfigMap (environment from a ConfigMap is read only at container start).
pub const CONFIG_REVISION: &str = "otrashi.config-revision";

/// Who owns an episode: the sweep deletes namespaces whose owner is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// This host's name, as a label value.
    pub host: String,
    /// The gym's process id.
    pub pid: u32,
}

impl Owner {
    /// This process on this host (`HOSTNAME`, else `/etc/hostname`, else `unknown`).
    pub fn current() -> Owner {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        Owner {
            host: label_value(&host),
            pid: std::process::id(),
        }
    }
}

/// `s` as a Kubernetes label value and DNS label: lowercase `[a-z0-9-]`, starting and
/// ending alphanumeric, at most 63 characters (a longer one keeps its head and a hash
/// of the whole, so two long ids stay distinct).
pub fn label_value(s: &str) -> String {
    let mut v: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                c
            } else {
                '-'
            }
        })
        .collect();
    if v.len() > 63 {
        let h = format!("{:08x}", stable_hash(s.as_bytes()) as u32);
        v.truncate(63 - 9);
        v = format!("{}-{h}", v.trim_end_matches('-'));
    }
    let v = v.trim_matches('-').to_owned();
    if v.is_empty() {
        "x".to_owned()
    } else {
        v
    }
}

/// The namespace of an episode (`otrashi-<episode>`, as a DNS label).
pub fn namespace_name(episode: &str) -> String {
    label_value(&format!("otrashi-{episode}"))
}

/// The ConfigMap of a service.
pub fn config_map_name(service: &str) -> String {
    format!("{service}-config")
}

/// The objects of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceObjects {
    /// The service's name in the topology (also its Deployment's and Service's name).
    pub name: String,
    /// The workload's environment.
    pub config_map: ConfigMap,
    /// Its pods.
    pub deployment: Deployment,
    /// Its stable address (`http://<name>:8080` for its callers).
    pub service: Service,
}

/// Everything of one episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The namespace name.
    pub namespace_name: String,
    /// The namespace.
    pub namespace: Namespace,
    /// Per service, in topology order.
    pub services: Vec<ServiceObjects>,
}

/// The labels on every object of an episode.
pub fn episode_labels(episode: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (OTRASHI_LABEL.to_owned(), "true".to_owned()),
        (EPISODE_LABEL.to_owned(), label_value(episode)),
    ])
}

/// The labels that select a service's pods.
pub fn selector(episode: &str, service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (EPISODE_LABEL.to_owned(), label_value(episode)),
        (SERVICE_LABEL.to_owned(), service.to_owned()),
    ])
}

/// The label selector (`a=b,c=d`) of a service's pods.
pub fn selector_string(episode: &str, service: &str) -> String {
    selector(episode, service)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn service_labels(episode: &str, service: &str) -> BTreeMap<String, String> {
    let mut l = episode_labels(episode);
    l.insert(SERVICE_LABEL.to_owned(), service.to_owned());
    l
}

fn meta(name: &str, ns: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ns.to_owned()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// Renders the namespace of an episode: `image` is the workload image's tag (present on
/// the nodes: nothing is pulled), `owner` the gym that owns it.
pub fn render(incident: &Incident, episode: &str, image: &str, owner: &Owner) -> Rendered {
    let ns = namespace_name(episode);
    let mut ns_labels = episode_labels(episode);
    ns_labels.insert(HOST_LABEL.to_owned(), owner.host.clone());
    ns_labels.insert(PID_LABEL.to_owned(), owner.pid.to_string());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.clone()),
            labels: Some(ns_labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let services = incident
        .topology
        .services
        .iter()
        .map(|svc| service_objects(incident, svc, episode, &ns, image))
        .collect();
    Rendered {
        namespace_name: ns,
        namespace,
        services,
    }
}

fn http_probe(path: &str, period_s: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::Int(i32::from(WORKLOAD_PORT)),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_s),
        failure_threshold: Some(failures),
        timeout_seconds: Some(1),
        ..Probe::default()
    }
}

/// CPU cores as a quantity in millicores.
pub fn cpu_quantity(cores: f64) -> Quantity {
    Quantity(format!("{}m", (cores * 1000.0).round().max(1.0)))
}

/// Mebibytes as a quantity.
pub fn memory_quantity(mib: f64) -> Quantity {
    Quantity(format!("{}Mi", mib.round().max(1.0)))
}

fn service_objects(
    incident: &Incident,
    svc: &TopologyService,
    episode: &str,
    ns: &str,
    image: &str,
) -> ServiceObjects {
    let labels = service_labels(episode, &svc.name);
    let data: BTreeMap<String, String> = plan::env(incident, svc)
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    let config_map = ConfigMap {
        metadata: meta(&config_map_name(&svc.name), ns, labels.clone()),
        data: Some(data),
        ..ConfigMap::default()
    };
    // The same fit as on Docker: limits a small host (or a kind node) can hold for an
    // 8-service topology; requests are a fraction so that everything schedules.
    let cores = svc.cpu_cores.clamp(0.25, 1.0);
    let mib = svc.memory_mb.clamp(64.0, 1024.0);
    let resources = ResourceRequirements {
        limits: Some(BTreeMap::from([
            ("cpu".to_owned(), cpu_quantity(cores)),
            ("memory".to_owned(), memory_quantity(mib)),
        ])),
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), cpu_quantity(cores / 10.0)),
            ("memory".to_owned(), memory_quantity(mib / 2.0)),
        ])),
        ..ResourceRequirements::default()
    };
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(image.to_owned()),
        // The image is loaded onto the nodes (kind) or pushed by the operator: a pull
        // of a content-hash tag that is present never happens.
        image_pull_policy: Some("IfNotPresent".to_owned()),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: config_map_name(&svc.name),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_owned()),
            container_port: i32::from(WORKLOAD_PORT),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        resources: Some(resources),
        readiness_probe: Some(http_probe("/healthz", 2, 3)),
        liveness_probe: Some(http_probe("/healthz", 5, 3)),
        ..Container::default()
    };
    let selector = selector(episode, &svc.name);
    let deployment = Deployment {
        metadata: meta(&svc.name, ns, labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(svc.replicas.max(1)).unwrap_or(1)),
            revision_history_limit: Some(3),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    // Episodes are short: pods go at once.
                    termination_grace_period_seconds: Some(2),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    let service = Service {
        metadata: meta(&svc.name, ns, labels),
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: i32::from(WORKLOAD_PORT),
                target_port: Some(IntOrString::Int(i32::from(WORKLOAD_PORT))),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    ServiceObjects {
        name: svc.name.clone(),
        config_map,
        deployment,
        service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            host: "builder-1".to_owned(),
            pid: 4242,
        }
    }

    fn rendered() -> Rendered {
        let incident = crate::bench_incident(7);
        render(
            &incident,
            "ep-demo-7-abc",
            "otrashi/workload:0123abcd",
            &owner(),
        )
    }

    #[test]
    fn label_values_are_dns_labels_and_long_ids_stay_distinct() {
        assert_eq!(label_value("ep-Cart_Leak-7"), "ep-cart-leak-7");
        let a = label_value(&format!("ep-{}-1", "x".repeat(80)));
        let b = label_value(&format!("ep-{}-2", "x".repeat(80)));
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_eq!(label_value("--"), "x");
    }

    #[test]
    fn the_namespace_is_named_and_labelled_after_the_episode_and_its_owner() {
        let r = rendered();
        assert_eq!(r.namespace_name, "otrashi-ep-demo-7-abc");
        let labels = r.namespace.metadata.labels.unwrap();
        assert_eq!(labels["otrashi"], "true");
        assert_eq!(labels["otrashi.episode"], "ep-demo-7-abc");
        assert_eq!(labels["otrashi.host"], "builder-1");
        assert_eq!(labels["otrashi.pid"], "4242");
    }

    #[test]
    fn every_service_gets_a_config_map_a_deployment_and_a_service() {
        let incident = crate::bench_incident(7);
        let r = rendered();
        assert_eq!(r.services.len(), incident.topology.services.len());
        for (objs, svc) in r.services.iter().zip(&incident.topology.services) {
            for m in [
                &objs.config_map.metadata,
                &objs.deployment.metadata,
                &objs.service.metadata,
            ] {
                assert_eq!(m.namespace.as_deref(), Some("otrashi-ep-demo-7-abc"));
                let l = m.labels.as_ref().unwrap();
                assert_eq!(l["otrashi"], "true");
                assert_eq!(l["otrashi.episode"], "ep-demo-7-abc");
                assert_eq!(l["otrashi.service"], svc.name);
            }
            let data = objs.config_map.data.as_ref().unwrap();
            assert_eq!(data["OTRASHI_SERVICE"], svc.name);
            assert_eq!(data["OTRASHI_KIND"], svc.kind.as_str());
            for callee in &svc.calls {
                assert!(
                    data["OTRASHI_DOWNSTREAMS"].contains(&format!("http://{callee}:8080")),
                    "{}",
                    data["OTRASHI_DOWNSTREAMS"]
                );
            }

            let spec = objs.deployment.spec.as_ref().unwrap();
            assert_eq!(spec.replicas, Some(svc.replicas.max(1) as i32));
            assert_eq!(
                spec.selector.match_labels.as_ref().unwrap(),
                &selector("ep-demo-7-abc", &svc.name)
            );
            let tpl_labels = spec.template.metadata.as_ref().unwrap().labels.as_ref();
            for (k, v) in spec.selector.match_labels.as_ref().unwrap() {
                assert_eq!(&tpl_labels.unwrap()[k], v, "the selector matches the pods");
            }
            let pod = spec.template.spec.as_ref().unwrap();
            let c = &pod.containers[0];
            assert_eq!(c.name, "workload");
            assert_eq!(c.image.as_deref(), Some("otrashi/workload:0123abcd"));
            assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
            assert_eq!(
                c.env_from.as_ref().unwrap()[0]
                    .config_map_ref
                    .as_ref()
                    .unwrap()
                    .name,
                format!("{}-config", svc.name)
            );
            let res = c.resources.as_ref().unwrap();
            let limits = res.limits.as_ref().unwrap();
            let cores = svc.cpu_cores.clamp(0.25, 1.0);
            assert_eq!(limits["cpu"].0, format!("{}m", (cores * 1000.0).round()));
            assert_eq!(
                limits["memory"].0,
                format!("{}Mi", svc.memory_mb.clamp(64.0, 1024.0).round())
            );
            assert!(res.requests.as_ref().unwrap().contains_key("cpu"));
            for probe in [&c.readiness_probe, &c.liveness_probe] {
                let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
                assert_eq!(get.path.as_deref(), Some("/healthz"));
                assert_eq!(get.port, IntOrString::Int(8080));
            }

            let s = objs.service.spec.as_ref().unwrap();
            assert_eq!(
                s.selector.as_ref().unwrap(),
                &selector("ep-demo-7-abc", &svc.name)
            );
            let port = &s.ports.as_ref().unwrap()[0];
            assert_eq!(port.port, 8080);
            assert_eq!(port.target_port, Some(IntOrString::Int(8080)));
        }
    }

    #[test]
    fn rendering_is_pure() {
        assert_eq!(rendered(), rendered());
    }

    #[test]
    fn quantities() {
        assert_eq!(cpu_quantity(0.2).0, "200m");
        assert_eq!(cpu_quantity(0.0).0, "1m");
        assert_eq!(memory_quantity(24.0).0, "24Mi");
    }
}
