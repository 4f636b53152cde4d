//! The service a workload process plays, read once at start from a JSON document and
//! environment variables (variables override the document, so a backend can ship one
//! base config and tweak single fields per container).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What can be wrong with a workload configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `OTRASHI_CONFIG` named a file that could not be read.
    #[error("cannot read config file {path}")]
    ReadFile {
        /// The path given in `OTRASHI_CONFIG`.
        path: String,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON config document does not match the schema.
    #[error("invalid JSON config")]
    Json(#[source] serde_json::Error),
    /// An environment variable holds a value of the wrong shape.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Env {
        /// The variable name.
        var: &'static str,
        /// Its value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A downstream URL is not `http://host:port[/path]` or `redis://host:port`.
    #[error("downstream {name:?} has URL {url:?}, expected http://host:port[/path] or redis://host:port")]
    DownstreamUrl {
        /// The downstream's name.
        name: String,
        /// The URL given.
        url: String,
    },
    /// A numeric field is outside what the workload can do.
    #[error("{field} must be {expected}")]
    Range {
        /// The field name.
        field: &'static str,
        /// The allowed range, in words.
        expected: &'static str,
    },
}

/// The role a service plays; mirrors the scenario model's `ServiceKind` names so the
/// backend can pass them through unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A user-facing web front end or gateway.
    Web,
    /// A backend API service.
    #[default]
    Api,
    /// A background worker.
    Worker,
    /// A cache: answers with hits and misses at `cache_hit_pct`.
    Cache,
    /// A database: honours the slow-query header its callers send under `slow_query`.
    Database,
    /// A message queue.
    Queue,
}

impl Kind {
    /// The name used in scenario files and in the `OTRASHI_KIND` variable.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Web => "web",
            Kind::Api => "api",
            Kind::Worker => "worker",
            Kind::Cache => "cache",
            Kind::Database => "database",
            Kind::Queue => "queue",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Web,
            Kind::Api,
            Kind::Worker,
            Kind::Cache,
            Kind::Database,
            Kind::Queue,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One service this service calls, in call order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Downstream {
    /// The peer's service name (used in metrics labels and logs).
    pub name: String,
    /// `http://host:port[/path]` for another workload, `redis://host:port` for a real
    /// Redis (spoken to over RESP).
    pub url: String,
    /// The peer's kind, when the caller must treat it specially (cache lookups that
    /// skip the database on a hit, database query metrics).
    #[serde(default)]
    pub kind: Option<Kind>,
}

/// How a downstream is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 to another workload process.
    Http,
    /// RESP2 to a real Redis server.
    Redis,
}

/// A downstream URL split into what the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// How to speak to it.
    pub protocol: Protocol,
    /// `host:port`, as dialled and as sent in the `Host` header.
    pub authority: String,
    /// The request path, `/` when the URL has none.
    pub path: String,
}

impl Downstream {
    /// Splits the URL; only plain `http://` and `redis://` are supported (the gym's
    /// networks are private).
    pub fn endpoint(&self) -> Result<Endpoint, ConfigError> {
        let bad = || ConfigError::DownstreamUrl {
            name: self.name.clone(),
            url: self.url.clone(),
        };
        let (protocol, rest) = match self.url.strip_prefix("redis://") {
            Some(rest) => (Protocol::Redis, rest),
            None => (
                Protocol::Http,
                self.url.strip_prefix("http://").ok_or_else(bad)?,
            ),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        if protocol == Protocol::Redis && path != "/" {
            return Err(bad());
        }
        Ok(Endpoint {
            protocol,
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }
}

/// Everything that defines one service's behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The service name, as in the topology.
    pub service: String,
    /// Its role.
    pub kind: Kind,
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// Services called by `GET /`, in order.
    pub downstreams: Vec<Downstream>,
    /// CPU burnt per request, in milliseconds.
    pub cpu_ms: f64,
    /// Memory allocated (and touched) for the duration of each request, in KiB.
    pub memory_kb_per_request: u64,
    /// Time each request waits, as if on IO, in milliseconds.
    pub latency_ms: u64,
    /// Connections per downstream in the bounded pool.
    pub pool_size: usize,
    /// Deadline of one downstream attempt (pool wait, connect, request and body).
    pub call_timeout_ms: u64,
    /// Retries after a failed downstream attempt (so `retries + 1` attempts at most).
    pub retries: u32,
    /// For a cache: the share of lookups that hit, in percent.
    pub cache_hit_pct: f64,
    /// Keys a caller spreads its reads and writes over on a real Redis downstream
    /// (`item:<n>`); with `cache_ttl_s` it decides a real cache's hit ratio.
    pub keyspace: u64,
    /// Size of each value written (`SET`) to a real Redis downstream, in bytes.
    pub value_bytes: usize,
    /// Expiry of the values written to a real Redis cache, in seconds.
    pub cache_ttl_s: u64,
    /// Bearer token for `POST /admin/failpoints`; the endpoint is disabled without one.
    pub admin_token: Option<String>,
    /// Whether each request writes an access log line.
    pub access_log: bool,
    /// Directory of the service's data volume: a share of requests (see
    /// [`Config::write_share`]) append a record to a file there, so a full volume
    /// fails them with `No space left on device`. No writes without one.
    pub data_dir: Option<String>,
    /// Share of requests that write, in percent; `None` means the role's default.
    pub write_pct: Option<f64>,
    /// Pooled connections older than this are closed instead of reused, so a peer's
    /// name is resolved again (and a changed or broken record is noticed), as
    /// clients with a connection lifetime do.
    pub conn_max_age_ms: u64,
    /// The service's own `<SERVICE>_UPSTREAM_TIMEOUT` setting (see [`setting_key`]),
    /// as written: a duration such as `800ms` or `2s`. Parsed on each request that
    /// uses it, so a bad value fails those requests with `invalid configuration`.
    pub upstream_timeout: Option<String>,
    /// Share of requests that use `upstream_timeout` (a staged rollout of the
    /// setting), in percent.
    pub upstream_timeout_rollout_pct: f64,
    /// Where spans are exported (OTLP/HTTP protobuf, the full `.../v1/traces` URL);
    /// `None`: no exporter. From `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` plus `/v1/traces`, as the OTel SDKs read them.
    pub otlp_traces_endpoint: Option<String>,
    /// Extra resource attributes of exported spans (`OTEL_RESOURCE_ATTRIBUTES`);
    /// `service.instance.id` defaults to the host name (the container's id on Docker).
    pub resource_attributes: Vec<(String, String)>,
}

/// The environment variable holding a service's upstream timeout (`cart-api` →
/// `CART_API_UPSTREAM_TIMEOUT`); the name the simulator's `bad_env_config` breaks.
pub fn setting_key(service: &str) -> String {
    format!(
        "{}_UPSTREAM_TIMEOUT",
        service.to_uppercase().replace('-', "_")
    )
}

/// Parses a duration setting: an integer with a unit (`ms`, `s`, `m`), as Go's
/// `time.ParseDuration` and most config libraries want it; a bare number is refused.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{value:?} does not start with a number"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "" => Err(format!(
            "missing unit in duration {value:?} (expected e.g. 800ms or 2s)"
        )),
        other => Err(format!("unknown unit {other:?} in duration {value:?}")),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service: "workload".to_owned(),
            kind: Kind::Api,
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            downstreams: Vec::new(),
            cpu_ms: 1.0,
            memory_kb_per_request: 64,
            latency_ms: 0,
            pool_size: 16,
            call_timeout_ms: 2000,
            retries: 1,
            cache_hit_pct: 90.0,
            keyspace: 1000,
            value_bytes: 512,
            cache_ttl_s: 60,
            admin_token: None,
            access_log: true,
            data_dir: None,
            write_pct: None,
            conn_max_age_ms: 30_000,
            upstream_timeout: None,
            upstream_timeout_rollout_pct: 100.0,
            otlp_traces_endpoint: None,
            resource_attributes: Vec::new(),
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment (see [`Config::from_lookup`]).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from `OTRASHI_CONFIG` (inline JSON when it starts with
    /// `{`, a file path otherwise), then applies the single-field variables
    /// `OTRASHI_SERVICE`, `OTRASHI_KIND`, `OTRASHI_LISTEN`, `OTRASHI_PORT`,
    /// `OTRASHI_DOWNSTREAMS` (`name[:kind]=http://host:port,...`), `OTRASHI_CPU_MS`,
    /// `OTRASHI_MEMORY_KB_PER_REQUEST`, `OTRASHI_LATENCY_MS`, `OTRASHI_POOL_SIZE`,
    /// `OTRASHI_CALL_TIMEOUT_MS`, `OTRASHI_RETRIES`, `OTRASHI_CACHE_HIT_PCT`,
    /// `OTRASHI_KEYSPACE`, `OTRASHI_VALUE_BYTES`, `OTRASHI_CACHE_TTL_S`,
    /// `OTRASHI_ADMIN_TOKEN`, `OTRASHI_ACCESS_LOG`, `OTRASHI_DATA_DIR`,
    /// `OTRASHI_WRITE_PCT`, `OTRASHI_CONN_MAX_AGE_MS`, the service's own
    /// `<SERVICE>_UPSTREAM_TIMEOUT` and `<SERVICE>_UPSTREAM_TIMEOUT_ROLLOUT_PCT`, the
    /// OpenTelemetry variables `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL` (only
    /// `http/protobuf`), `OTEL_RESOURCE_ATTRIBUTES`, and `HOSTNAME` (the default
    /// `service.instance.id`), and validates the result.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = match get("OTRASHI_CONFIG") {
            Some(doc) if doc.trim_start().starts_with('{') => {
                serde_json::from_str(&doc).map_err(ConfigError::Json)?
            }
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::ReadFile { path, source })?;
                serde_json::from_str(&text).map_err(ConfigError::Json)?
            }
            None => Config::default(),
        };
        if let Some(v) = get("OTRASHI_SERVICE") {
            config.service = v;
        }
        if let Some(v) = get("OTRASHI_KIND") {
            config.kind = Kind::parse(&v).ok_or_else(|| ConfigError::Env {
                var: "OTRASHI_KIND",
                value: v.clone(),
                reason: "expected web, api, worker, cache, database or queue".to_owned(),
            })?;
        }
        if let Some(v) = get("OTRASHI_LISTEN") {
            config.listen = parse_env("OTRASHI_LISTEN", v)?;
        }
        if let Some(v) = get("OTRASHI_PORT") {
            config.listen.set_port(parse_env("OTRASHI_PORT", v)?);
        }
        if let Some(v) = get("OTRASHI_DOWNSTREAMS") {
            config.downstreams = parse_downstreams(&v)?;
        }
        if let Some(v) = get("OTRASHI_CPU_MS") {
            config.cpu_ms = parse_env("OTRASHI_CPU_MS", v)?;
        }
        if let Some(v) = get("OTRASHI_MEMORY_KB_PER_REQUEST") {
            config.memory_kb_per_request = parse_env("OTRASHI_MEMORY_KB_PER_REQUEST", v)?;
        }
        if let Some(v) = get("OTRASHI_LATENCY_MS") {
            config.latency_ms = parse_env("OTRASHI_LATENCY_MS", v)?;
        }
        if let Some(v) = get("OTRASHI_POOL_SIZE") {
            config.pool_size = parse_env("OTRASHI_POOL_SIZE", v)?;
        }
        if let Some(v) = get("OTRASHI_CALL_TIMEOUT_MS") {
            config.call_timeout_ms = parse_env("OTRASHI_CALL_TIMEOUT_MS", v)?;
        }
        if let Some(v) = get("OTRASHI_RETRIES") {
            config.retries = parse_env("OTRASHI_RETRIES", v)?;
        }
        if let Some(v) = get("OTRASHI_CACHE_HIT_PCT") {
            config.cache_hit_pct = parse_env("OTRASHI_CACHE_HIT_PCT", v)?;
        }
        if let Some(v) = get("OTRASHI_KEYSPACE") {
            config.keyspace = parse_env("OTRASHI_KEYSPACE", v)?;
        }
        if let Some(v) = get("OTRASHI_VALUE_BYTES") {
            config.value_bytes = parse_env("OTRASHI_VALUE_BYTES", v)?;
        }
        if let Some(v) = get("OTRASHI_CACHE_TTL_S") {
            config.cache_ttl_s = parse_env("OTRASHI_CACHE_TTL_S", v)?;
        }
        if let Some(v) = get("OTRASHI_ADMIN_TOKEN") {
            config.admin_token = Some(v).filter(|t| !t.is_empty());
        }
        if let Some(v) = get("OTRASHI_ACCESS_LOG") {
            config.access_log = parse_env("OTRASHI_ACCESS_LOG", v)?;
        }
        if let Some(v) = get("OTRASHI_DATA_DIR") {
            config.data_dir = Some(v).filter(|d| !d.is_empty());
        }
        if let Some(v) = get("OTRASHI_WRITE_PCT") {
            config.write_pct = Some(parse_env("OTRASHI_WRITE_PCT", v)?);
        }
        if let Some(v) = get("OTRASHI_CONN_MAX_AGE_MS") {
            config.conn_max_age_ms = parse_env("OTRASHI_CONN_MAX_AGE_MS", v)?;
        }
        // Read as the service reads it, raw: a bad value only fails the requests that
        // use it (see `upstream_timeout`).
        let key = setting_key(&config.service);
        if let Some(v) = get(&key) {
            config.upstream_timeout = Some(v);
        }
        if let Some(v) = get(&format!("{key}_ROLLOUT_PCT")) {
            config.upstream_timeout_rollout_pct =
                v.trim().parse().map_err(|e| ConfigError::Env {
                    var: "<SERVICE>_UPSTREAM_TIMEOUT_ROLLOUT_PCT",
                    value: v.clone(),
                    reason: format!("{e}"),
                })?;
        }
        otel_from_lookup(&mut config, &get)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and downstream URLs; pure.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.cpu_ms.is_finite() && self.cpu_ms >= 0.0) {
            return Err(ConfigError::Range {
                field: "cpu_ms",
                expected: "a finite number >= 0",
            });
        }
        if self.pool_size == 0 {
            return Err(ConfigError::Range {
                field: "pool_size",
                expected: "at least 1",
            });
        }
        if self.call_timeout_ms == 0 {
            return Err(ConfigError::Range {
                field: "call_timeout_ms",
                expected: "at least 1",
            });
        }
        if !(0.0..=100.0).contains(&self.cache_hit_pct) {
            return Err(ConfigError::Range {
                field: "cache_hit_pct",
                expected: "between 0 and 100",
            });
        }
        if !self.write_pct.is_none_or(|p| (0.0..=100.0).contains(&p)) {
            return Err(ConfigError::Range {
                field: "write_pct",
                expected: "between 0 and 100",
            });
        }
        if !(0.0..=100.0).contains(&self.upstream_timeout_rollout_pct) {
            return Err(ConfigError::Range {
                field: "upstream_timeout_rollout_pct",
                expected: "between 0 and 100",
            });
        }
        if self.keyspace == 0 || self.cache_ttl_s == 0 {
            return Err(ConfigError::Range {
                field: "keyspace and cache_ttl_s",
                expected: "at least 1",
            });
        }
        if self.value_bytes > 1 << 20 {
            return Err(ConfigError::Range {
                field: "value_bytes",
                expected: "at most 1 MiB",
            });
        }
        for d in &self.downstreams {
            d.endpoint()?;
        }
        if let Some(url) = &self.otlp_traces_endpoint {
            otlp_endpoint(url)?;
        }
        Ok(())
    }

    /// Share of requests that write to the data volume, in percent: `write_pct`, or
    /// the role's default (the simulator's: a queue mostly writes, a cache rarely).
    pub fn write_share(&self) -> f64 {
        self.write_pct.unwrap_or(match self.kind {
            Kind::Database => 30.0,
            Kind::Queue => 80.0,
            Kind::Cache => 5.0,
            Kind::Web | Kind::Api | Kind::Worker => 25.0,
        })
    }

    /// The OTLP traces endpoint split for the client, when an exporter is configured.
    pub fn otlp_endpoint(&self) -> Result<Option<Endpoint>, ConfigError> {
        self.otlp_traces_endpoint
            .as_deref()
            .map(otlp_endpoint)
            .transpose()
    }

    /// The deadline of one downstream attempt.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

fn parse_env<T: std::str::FromStr>(var: &'static str, value: String) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
        var,
        value: value.clone(),
        reason: e.to_string(),
    })
}

/// The OpenTelemetry SDK variables (an empty value counts as unset, as the OTel
/// specification says).
fn otel_from_lookup(
    config: &mut Config,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    if let Some(p) = get("OTEL_EXPORTER_OTLP_PROTOCOL") {
        if p.trim() != "http/protobuf" {
            return Err(ConfigError::Env {
                var: "OTEL_EXPORTER_OTLP_PROTOCOL",
                value: p,
                reason: "this exporter speaks http/protobuf only; unset it or set http/protobuf"
                    .to_owned(),
            });
        }
    }
    if let Some(url) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        config.otlp_traces_endpoint = Some(url.trim().to_owned());
    } else if let Some(base) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        // The base URL of all signals: each signal appends its own path.
        config.otlp_traces_endpoint =
            Some(format!("{}/v1/traces", base.trim().trim_end_matches('/')));
    }
    if let Some(list) = get("OTEL_RESOURCE_ATTRIBUTES") {
        config.resource_attributes = parse_resource_attributes(&list)?;
    }
    let has_instance = config
        .resource_attributes
        .iter()
        .any(|(k, _)| k == "service.instance.id");
    if let (false, Some(host)) = (has_instance, get("HOSTNAME")) {
        config
            .resource_attributes
            .push(("service.instance.id".to_owned(), host.trim().to_owned()));
    }
    Ok(())
}

/// `key=value,...` with percent-encoded values (the W3C baggage octet rules the OTel
/// specification uses for `OTEL_RESOURCE_ATTRIBUTES`).
fn parse_resource_attributes(list: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let bad = |reason: &str| ConfigError::Env {
        var: "OTEL_RESOURCE_ATTRIBUTES",
        value: list.to_owned(),
        reason: reason.to_owned(),
    };
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| bad("each entry is key=value"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad("empty attribute key"));
        }
        let value = percent_decode(value.trim()).ok_or_else(|| bad("bad percent-encoding"))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An OTLP/HTTP URL: plain `http://host:port/path` (the exporter has no TLS; the gym's
/// receiver is on the episode's private network).
fn otlp_endpoint(url: &str) -> Result<Endpoint, ConfigError> {
    Downstream {
        name: "OTLP traces endpoint".to_owned(),
        url: url.to_owned(),
        kind: None,
    }
    .endpoint()
}

/// Parses `name[:kind]=http://host:port,...` (an empty string means no downstreams).
fn parse_downstreams(list: &str) -> Result<Vec<Downstream>, ConfigError> {
    let bad = |reason: &str| ConfigError::Env {
        var: "OTRASHI_DOWNSTREAMS",
        value: list.to_owned(),
        reason: reason.to_owned(),
    };
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (head, url) = item
            .split_once('=')
            .ok_or_else(|| bad("each entry is name[:kind]=http://host:port"))?;
        let (name, kind) = match head.split_once(':') {
            Some((name, kind)) => (
                name,
                Some(Kind::parse(kind).ok_or_else(|| bad("unknown kind after `:`"))?),
            ),
            None => (head, None),
        };
        if name.is_empty() {
            return Err(bad("empty downstream name"));
        }
        out.push(Downstream {
            name: name.to_owned(),
            url: url.to_owned(),
            kind,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_variables_build_a_config() {
        let c = Config::from_lookup(lookup(&[
            ("OTRASHI_SERVICE", "cart"),
            ("OTRASHI_KIND", "web"),
            ("OTRASHI_PORT", "9000"),
            (
                "OTRASHI_DOWNSTREAMS",
                "redis:cache=redis://redis:6379, db:database=http://db:5432/q,auth=http://auth:80",
            ),
            ("OTRASHI_CPU_MS", "2.5"),
            ("OTRASHI_RETRIES", "3"),
        ]))
        .unwrap();
        assert_eq!(c.service, "cart");
        assert_eq!(c.kind, Kind::Web);
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.cpu_ms, 2.5);
        assert_eq!(c.retries, 3);
        assert_eq!(c.downstreams.len(), 3);
        assert_eq!(c.downstreams[0].kind, Some(Kind::Cache));
        assert_eq!(c.downstreams[2].kind, None);
        let r = c.downstreams[0].endpoint().unwrap();
        assert_eq!(
            (r.protocol, r.authority.as_str()),
            (Protocol::Redis, "redis:6379")
        );
        let e = c.downstreams[1].endpoint().unwrap();
        assert_eq!(e.protocol, Protocol::Http);
        assert_eq!(e.authority, "db:5432");
        assert_eq!(e.path, "/q");
    }

    #[test]
    fn variables_override_the_json_document() {
        let c = Config::from_lookup(lookup(&[
            (
                "OTRASHI_CONFIG",
                r#"{"service":"a","kind":"database","pool_size":4}"#,
            ),
            ("OTRASHI_SERVICE", "b"),
        ]))
        .unwrap();
        assert_eq!(c.service, "b");
        assert_eq!(c.kind, Kind::Database);
        assert_eq!(c.pool_size, 4);
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("800ms"), Ok(Duration::from_millis(800)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5h").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn the_services_own_settings_are_read_raw() {
        let c = Config::from_lookup(lookup(&[
            ("OTRASHI_SERVICE", "cart-api"),
            ("OTRASHI_DATA_DIR", "/data"),
            ("CART_API_UPSTREAM_TIMEOUT", "5"),
            ("CART_API_UPSTREAM_TIMEOUT_ROLLOUT_PCT", "40"),
        ]))
        .unwrap();
        assert_eq!(setting_key("cart-api"), "CART_API_UPSTREAM_TIMEOUT");
        assert_eq!(c.upstream_timeout.as_deref(), Some("5"));
        assert_eq!(c.upstream_timeout_rollout_pct, 40.0);
        assert_eq!(c.data_dir.as_deref(), Some("/data"));
        assert_eq!(c.write_share(), 25.0);
        let db = Config {
            kind: Kind::Queue,
            ..Config::default()
        };
        assert_eq!(db.write_share(), 80.0);
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let typo = Config::from_lookup(lookup(&[("OTRASHI_CONFIG", r#"{"pool_sise":4}"#)]));
        assert!(matches!(typo, Err(ConfigError::Json(_))));
        let kind = Config::from_lookup(lookup(&[("OTRASHI_KIND", "mainframe")]));
        assert!(matches!(
            kind,
            Err(ConfigError::Env {
                var: "OTRASHI_KIND",
                ..
            })
        ));
        let url = Config::from_lookup(lookup(&[("OTRASHI_DOWNSTREAMS", "a=https://a:1")]));
        assert!(matches!(url, Err(ConfigError::DownstreamUrl { .. })));
        let path = Config::from_lookup(lookup(&[("OTRASHI_DOWNSTREAMS", "a=redis://a:1/0")]));
        assert!(matches!(path, Err(ConfigError::DownstreamUrl { .. })));
        let otlp = Config::from_lookup(lookup(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://collector:4318",
        )]));
        assert!(matches!(otlp, Err(ConfigError::DownstreamUrl { .. })));
        let grpc = Config::from_lookup(lookup(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]));
        assert!(matches!(
            grpc,
            Err(ConfigError::Env {
                var: "OTEL_EXPORTER_OTLP_PROTOCOL",
                ..
            })
        ));
        let pool = Config::from_lookup(lookup(&[("OTRASHI_POOL_SIZE", "0")]));
        assert!(matches!(
            pool,
            Err(ConfigError::Range {
                field: "pool_size",
                ..
            })
        ));
    }

    #[test]
    fn otel_variables_configure_the_exporter() {
        let none = Config::from_lookup(lookup(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])).unwrap();
        assert_eq!(none.otlp_traces_endpoint, None, "empty means unset");
        let base = Config::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://172.18.0.1:4318/"),
            ("HOSTNAME", "3f2a9c"),
        ]))
        .unwrap();
        assert_eq!(
            base.otlp_traces_endpoint.as_deref(),
            Some("http://172.18.0.1:4318/v1/traces")
        );
        let e = base.otlp_endpoint().unwrap().unwrap();
        assert_eq!(
            (e.authority.as_str(), e.path.as_str()),
            ("172.18.0.1:4318", "/v1/traces")
        );
        assert_eq!(
            base.resource_attributes,
            [("service.instance.id".to_owned(), "3f2a9c".to_owned())]
        );
        let traces = Config::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.instance.id=cart-1, deployment.environment=gym%20a",
            ),
            ("HOSTNAME", "not-used"),
        ]))
        .unwrap();
        assert_eq!(
            traces.otlp_traces_endpoint.as_deref(),
            Some("http://c:9/custom")
        );
        assert_eq!(
            traces.resource_attributes,
            [
                ("service.instance.id".to_owned(), "cart-1".to_owned()),
                ("deployment.environment".to_owned(), "gym a".to_owned()),
            ]
        );
    }
}
