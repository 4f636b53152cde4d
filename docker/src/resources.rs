//! Networks and containers of an episode, all labelled so [`crate::sweep()`] can find them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions,
};

use crate::engine::Engine;
use crate::error::{api, Error, Result};
use crate::labels;

/// Creates a user-defined bridge network (containers on it resolve each other by name)
/// and returns its id.
pub async fn create_network(engine: &Engine, episode: &str, name: &str) -> Result<String> {
    create_network_labelled(engine, episode, name, &[]).await
}

/// [`create_network`] with labels besides the episode's (the owning process, for a
/// sweep that must leave live episodes alone).
pub async fn create_network_labelled(
    engine: &Engine,
    episode: &str,
    name: &str,
    extra: &[(String, String)],
) -> Result<String> {
    let mut all = labels::episode_labels(episode);
    all.extend(extra.iter().cloned());
    let request = NetworkCreateRequest {
        name: name.to_owned(),
        driver: Some("bridge".to_owned()),
        labels: Some(all),
        ..Default::default()
    };
    let created = engine
        .docker()
        .create_network(request)
        .await
        .map_err(api(format!("create_network {name}")))?;
    Ok(created.id)
}

/// A container to start.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// Container name (unique on the host; prefix it with the episode id).
    pub name: String,
    /// Image tag.
    pub image: String,
    /// `KEY=value` environment entries.
    pub env: Vec<String>,
    /// Arguments appended to the image's entrypoint.
    pub cmd: Vec<String>,
    /// Network to join, with this DNS alias (the service name).
    pub network: Option<(String, String)>,
    /// Container TCP port to publish on a free port of 127.0.0.1 (never on every
    /// interface: the gym's services are not for the outside).
    pub publish: Option<u16>,
    /// Memory limit in bytes.
    pub memory_bytes: Option<i64>,
    /// CPU limit in cores.
    pub cpus: Option<f64>,
    /// Restart the container when it exits with a non-zero code, up to this many times
    /// (what an orchestrator does; crash faults then show as restarts).
    pub restart_on_failure: Option<i64>,
    /// Labels besides the episode's (`otrashi.service`, the owning process).
    pub labels: Vec<(String, String)>,
    /// A health check run inside the container: the command (exec form) and the time
    /// between checks; three failures in a row make it `unhealthy`.
    pub healthcheck: Option<(Vec<String>, std::time::Duration)>,
    /// Size-limited tmpfs mounts: container path and size in bytes (a small volume a
    /// disk can really fill, gone with the container).
    pub tmpfs: Vec<(String, u64)>,
}

/// A started container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// Container id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The host port on 127.0.0.1 the published port maps to.
    pub host_port: Option<u16>,
    /// Host PID of its main process (for `nsenter -t PID -n`).
    pub pid: Option<i64>,
    /// Time from the create call to the engine reporting it running.
    pub start_time: Duration,
}

/// Creates and starts a container of `episode`.
pub async fn run_container(
    engine: &Engine,
    episode: &str,
    spec: &ContainerSpec,
) -> Result<Started> {
    let begin = Instant::now();
    let port_key = spec.publish.map(|p| format!("{p}/tcp"));
    let host_config = HostConfig {
        port_bindings: port_key.as_ref().map(|key| {
            HashMap::from([(
                key.clone(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_owned()),
                    host_port: Some(String::new()),
                }]),
            )])
        }),
        network_mode: spec.network.as_ref().map(|(net, _)| net.clone()),
        memory: spec.memory_bytes,
        nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
        restart_policy: spec.restart_on_failure.map(|max| RestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: Some(max),
        }),
        tmpfs: (!spec.tmpfs.is_empty()).then(|| {
            spec.tmpfs
                .iter()
                .map(|(path, bytes)| (path.clone(), format!("size={bytes},mode=1777")))
                .collect()
        }),
        ..Default::default()
    };
    let networking_config = spec.network.as_ref().map(|(net, alias)| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            net.clone(),
            EndpointSettings {
                aliases: Some(vec![alias.clone()]),
                ..Default::default()
            },
        )])),
    });
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(spec.env.clone()),
        cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
        labels: Some({
            let mut all = labels::episode_labels(episode);
            all.extend(spec.labels.iter().cloned());
            all
        }),
        exposed_ports: port_key.clone().map(|k| vec![k]),
        healthcheck: spec.healthcheck.as_ref().map(|(cmd, every)| {
            let mut test = vec!["CMD".to_owned()];
            test.extend(cmd.iter().cloned());
            let ns = every.as_nanos() as i64;
            HealthConfig {
                test: Some(test),
                interval: Some(ns),
                timeout: Some(ns),
                retries: Some(3),
                start_period: Some(ns),
                start_interval: None,
            }
        }),
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(spec.name.clone()),
        ..Default::default()
    };
    let created = engine
        .docker()
        .create_container(Some(options), body)
        .await
        .map_err(api(format!("create_container {}", spec.name)))?;
    engine
        .docker()
        .start_container(
            &created.id,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(api(format!("start_container {}", spec.name)))?;
    let inspect = engine
        .docker()
        .inspect_container(&created.id, None::<InspectContainerOptions>)
        .await
        .map_err(api(format!("inspect_container {}", spec.name)))?;
    let state = inspect.state.unwrap_or_default();
    if state.running != Some(true) {
        return Err(Error::Container {
            container: spec.name.clone(),
            message: format!(
                "not running after start (status {:?}, exit code {:?})",
                state.status, state.exit_code
            ),
        });
    }
    let host_port = port_key.and_then(|key| {
        inspect
            .network_settings?
            .ports?
            .get(&key)?
            .as_ref()?
            .iter()
            .find_map(|b| b.host_port.as_deref()?.parse().ok())
    });
    Ok(Started {
        id: created.id,
        name: spec.name.clone(),
        host_port,
        pid: state.pid,
        start_time: begin.elapsed(),
    })
}

/// How a container has fared: restarts so far and its current or last exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerHealth {
    /// Whether it runs now.
    pub running: bool,
    /// Restarts done by its restart policy.
    pub restart_count: i64,
    /// Exit code of the last run (0 while the first run lasts).
    pub exit_code: Option<i64>,
}

/// Reads a container's run state.
pub async fn container_health(engine: &Engine, id_or_name: &str) -> Result<ContainerHealth> {
    let inspect = engine
        .docker()
        .inspect_container(id_or_name, None::<InspectContainerOptions>)
        .await
        .map_err(api(format!("inspect_container {id_or_name}")))?;
    let state = inspect.state.unwrap_or_default();
    Ok(ContainerHealth {
        running: state.running == Some(true),
        restart_count: inspect.restart_count.unwrap_or(0),
        exit_code: state.exit_code,
    })
}

/// Force-removes a container (and its anonymous volumes); a missing one, or one another
/// caller is already removing (a sweep racing a teardown), is fine.
pub async fn remove_container(engine: &Engine, id_or_name: &str) -> Result<()> {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match engine
        .docker()
        .remove_container(id_or_name, Some(options))
        .await
    {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        }) if status_code == 404
            || (status_code == 409 && message.contains("already in progress")) =>
        {
            Ok(())
        }
        Err(e) => Err(api(format!("remove_container {id_or_name}"))(e)),
    }
}

/// Removes a network; a missing one is fine.
pub async fn remove_network(engine: &Engine, id_or_name: &str) -> Result<()> {
    match engine.docker().remove_network(id_or_name).await {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(api(format!("remove_network {id_or_name}"))(e)),
    }
}
