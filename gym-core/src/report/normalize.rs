//! Loose names to catalog names: fault kinds, levels and evidence kinds as language
//! models tend to write them (`memory leak`, `MemoryLeak`, `Infrastructure`, `metrics`).
//!
//! Shared by the parser (which rewrites and warns) and the scorer (which judges what it
//! is given, including reports built in code that never went through the parser).

use otrashi_scenarios::catalog::{FaultKind, Level};

/// What a fault name in a report refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultName {
    /// A catalog kind (full name, short name, or a loose form of either).
    Known(FaultKind),
    /// A short name of the catalog under another level's prefix (`infra.memory_leak`):
    /// the right mechanism placed at the wrong layer.
    OtherLevel(FaultKind),
    /// Not in the catalog.
    Unknown,
}

/// Loose forms that language models use for catalog kinds, after snake-casing.
const ALIASES: &[(&str, FaultKind)] = &[
    ("oom_killed", FaultKind::OomKill),
    ("oomkilled", FaultKind::OomKill),
    ("oom", FaultKind::OomKill),
    ("crash_loop_back_off", FaultKind::CrashLoop),
    ("crashloop", FaultKind::CrashLoop),
    ("crashloopbackoff", FaultKind::CrashLoop),
    ("network_latency", FaultKind::NetworkDelay),
    ("packet_loss", FaultKind::NetworkLoss),
    ("cpu_hog", FaultKind::CpuSaturation),
    ("cpu_stress", FaultKind::CpuSaturation),
    ("memory_stress", FaultKind::MemoryPressure),
    ("disk_pressure", FaultKind::DiskFull),
    ("dns_error", FaultKind::DnsFailure),
    ("scaled_to_zero", FaultKind::ScaleToZero),
    ("bad_config", FaultKind::BadEnvConfig),
    ("misconfiguration", FaultKind::BadEnvConfig),
    ("cpu_throttling", FaultKind::CpuThrottle),
    ("connection_pool_exhaustion", FaultKind::ConnectionLeak),
    ("panic", FaultKind::PanicCrash),
];

/// Snake-cases one dotted segment: `MemoryLeak`, `memory leak`, `memory-leak` and
/// `OOMKill` become `memory_leak` and `oom_kill`.
fn snake(segment: &str) -> String {
    let chars: Vec<char> = segment.trim().chars().collect();
    let mut out = String::with_capacity(chars.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(char::is_uppercase) && next.is_some_and(char::is_lowercase));
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if c.is_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out.split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn short_kind(short: &str) -> Option<FaultKind> {
    FaultKind::ALL
        .iter()
        .copied()
        .find(|k| k.short_name() == short)
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == short).map(|(_, k)| *k))
}

/// Reads a fault name in any of its loose forms.
pub fn normalize_fault(text: &str) -> FaultName {
    let (prefix, tail) = match text.trim().split_once('.') {
        Some((p, t)) => (Some(p), t),
        None => (None, text),
    };
    let Some(kind) = short_kind(&snake(tail)) else {
        return FaultName::Unknown;
    };
    match prefix {
        None => FaultName::Known(kind),
        Some(p) if normalize_level(p) == Some(kind.level()) => FaultName::Known(kind),
        Some(_) => FaultName::OtherLevel(kind),
    }
}

/// Reads a level (`infra`, `orchestration`, `code`) in its loose forms
/// (`Infrastructure`, `kubernetes`, `application`).
pub fn normalize_level(text: &str) -> Option<Level> {
    match snake(text).as_str() {
        "infra" | "infrastructure" | "host" | "node" | "platform" => Some(Level::Infra),
        "orchestration" | "orchestrator" | "kubernetes" | "k8s" | "cluster" => {
            Some(Level::Orchestration)
        }
        "code" | "application" | "app" | "software" => Some(Level::Code),
        _ => None,
    }
}

/// Reads an evidence kind (`metric`, `log`, `trace`, `event`, `deploy`) in its loose
/// forms (`metrics`, `span`, `k8s_event`, `deployment`, `code_change`).
pub fn normalize_evidence_kind(text: &str) -> Option<&'static str> {
    match snake(text).as_str() {
        "metric" | "metrics" | "prometheus" | "promql" => Some("metric"),
        "log" | "logs" | "log_line" | "log_pattern" => Some("log"),
        "trace" | "traces" | "span" | "spans" | "tracing" => Some("trace"),
        "event" | "events" | "k8s_event" | "kubernetes_event" => Some("event"),
        "deploy" | "deploys" | "deployment" | "deployments" | "code_change" | "diff"
        | "code_diff" | "change" => Some("deploy"),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn loose_fault_forms_resolve_to_the_catalog_kind() {
        for form in [
            "code.memory_leak",
            "memory_leak",
            "memory leak",
            "MemoryLeak",
            "Memory-Leak",
            " code.MemoryLeak ",
            "application.memory leak",
        ] {
            assert_eq!(
                normalize_fault(form),
                FaultName::Known(FaultKind::MemoryLeak),
                "{form}"
            );
        }
        assert_eq!(
            normalize_fault("OOMKilled"),
            FaultName::Known(FaultKind::OomKill)
        );
        assert_eq!(
            normalize_fault("infra.memory_leak"),
            FaultName::OtherLevel(FaultKind::MemoryLeak)
        );
        assert_eq!(normalize_fault("gremlins"), FaultName::Unknown);
    }

    #[test]
    fn every_catalog_name_resolves_to_itself() {
        for &k in FaultKind::ALL {
            assert_eq!(normalize_fault(k.as_str()), FaultName::Known(k));
            assert_eq!(normalize_fault(k.short_name()), FaultName::Known(k));
        }
    }

    #[test]
    fn levels_and_evidence_kinds_accept_loose_forms() {
        assert_eq!(normalize_level("Infrastructure"), Some(Level::Infra));
        assert_eq!(normalize_level("k8s"), Some(Level::Orchestration));
        assert_eq!(normalize_level("banana"), None);
        assert_eq!(normalize_evidence_kind("Metrics"), Some("metric"));
        assert_eq!(normalize_evidence_kind("k8s event"), Some("event"));
        assert_eq!(normalize_evidence_kind("smell"), None);
    }
}
