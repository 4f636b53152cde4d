//! Reading and validating a scenario document.

use crate::duration::Duration;
use crate::model::{
    AlertSpec, Load, LoadPattern, Metadata, Noise, NoiseLevel, RedHerringKind, RedHerringSpec,
    Scenario, Target, Timeline, Topology, TopologySource, API_VERSION,
};

use super::decode::{suggest, Decoder};
use super::faults::{fault, target, FaultContext};
use super::node::{Node, NodeKind};
use super::topology::{topology_fields, TOPOLOGY_FIELDS};
use super::values::{sampled, Bounds, Unit};

/// The top-level fields of a scenario file.
pub const SCENARIO_FIELDS: [&str; 9] = [
    "apiVersion",
    "kind",
    "metadata",
    "topology",
    "load",
    "timeline",
    "faults",
    "noise",
    "alert",
];

/// Largest accepted request rate.
pub const MAX_RPS: f64 = 100_000.0;
/// Shortest accepted incident window.
pub const MIN_DURATION: Duration = Duration::from_secs(10);
/// Longest accepted episode (warm-up plus incident window).
pub const MAX_EPISODE: Duration = Duration::from_secs(24 * 3600);
/// The timeline used when a scenario has none.
pub const DEFAULT_TIMELINE: Timeline = Timeline {
    warmup: Duration::from_secs(60),
    duration: Duration::from_secs(300),
};
/// The load used when a scenario has none.
pub const DEFAULT_LOAD: Load = Load {
    rps: 50.0,
    pattern: LoadPattern::Steady,
};

/// Checks `apiVersion` and `kind` of a document that should be a `expected_kind`.
pub fn header(
    d: &mut Decoder<'_>,
    m: &mut super::decode::MapView<'_>,
    expected_kind: &str,
) -> bool {
    let before = d.error_count();
    if let Some(n) = m.required(d, "apiVersion", "the document") {
        if let Some(v) = d.string(n, "`apiVersion`") {
            if v != API_VERSION {
                d.error_hint(
                    n.pos,
                    format!("unsupported apiVersion `{v}`"),
                    format!("this build reads `apiVersion: {API_VERSION}`"),
                );
            }
        }
    }
    if let Some(n) = m.required(d, "kind", "the document") {
        if let Some(v) = d.string(n, "`kind`") {
            if v != expected_kind {
                let hint = match (expected_kind, v.as_str()) {
                    ("Scenario", "Topology") => {
                        "this is a topology file; a scenario names it with `topology: <name>`"
                            .to_owned()
                    }
                    _ => format!("write `kind: {expected_kind}`"),
                };
                d.error_hint(
                    n.pos,
                    format!("expected `kind: {expected_kind}`, found `{v}`"),
                    hint,
                );
            }
        }
    }
    d.error_count() == before
}

/// Whether `name` is kebab-case: `[a-z0-9]+(-[a-z0-9]+)*`.
pub fn kebab_case(name: &str) -> bool {
    !name.is_empty()
        && name.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Reads a scenario document.
pub fn scenario(d: &mut Decoder<'_>, root: &Node) -> Option<Scenario> {
    let mut m = d.map(root, "a scenario")?;
    let header_ok = header(d, &mut m, "Scenario");
    let metadata_node = m.required(d, "metadata", "the scenario");
    let topology_node = m.required(d, "topology", "the scenario");
    let load_node = m.optional("load");
    let timeline_node = m.optional("timeline");
    let faults_node = m.required(d, "faults", "the scenario");
    let noise_node = m.optional("noise");
    let alert_node = m.optional("alert");
    m.finish(d, "the scenario", &SCENARIO_FIELDS);
    if !header_ok {
        // A file of another kind or version would only produce noise below.
        return None;
    }
    let before = d.error_count();

    let metadata = metadata_node.and_then(|n| metadata(d, n));
    let default_name = metadata.as_ref().map_or("inline", |m| m.name.as_str());
    let topology = topology_node.and_then(|n| topology(d, n, default_name));
    let timeline = match timeline_node {
        Some(n) => timeline(d, n),
        None => Some(DEFAULT_TIMELINE),
    };
    let load = match load_node {
        Some(n) => load(d, n),
        None => Some(DEFAULT_LOAD),
    };
    let cx = FaultContext {
        topology: topology.as_ref().map(|(t, _)| t),
        timeline: timeline.as_ref(),
    };
    let faults = faults_node.and_then(|n| faults(d, n, &cx));
    let noise = match noise_node {
        Some(n) => noise(d, n, &cx),
        None => Some(Noise::default()),
    };
    let alert = match alert_node {
        Some(n) => alert(d, n, cx.topology),
        None => Some(AlertSpec::Auto),
    };
    if d.error_count() != before {
        return None;
    }
    let (topology, topology_source) = topology?;
    Some(Scenario {
        api_version: API_VERSION.to_owned(),
        metadata: metadata?,
        topology_source,
        topology,
        load: load?,
        timeline: timeline?,
        faults: faults?,
        noise: noise?,
        alert: alert?,
    })
}

fn metadata(d: &mut Decoder<'_>, node: &Node) -> Option<Metadata> {
    let mut m = d.map(node, "`metadata`")?;
    let name_node = m.required(d, "name", "`metadata`");
    let description = m.optional("description");
    let tags = m.optional("tags");
    m.finish(d, "`metadata`", &["name", "description", "tags"]);
    let name = name_node.and_then(|n| d.string(n, "the scenario name"));
    if let (Some(name), Some(n)) = (&name, name_node) {
        if !kebab_case(name) {
            d.error_hint(
                n.pos,
                format!("scenario name `{name}` must be kebab-case"),
                "use lowercase letters and digits separated by `-`, like `shop-cart-memory-leak`",
            );
        }
    }
    let description = match description {
        Some(n) => d.string(n, "the description"),
        None => Some(String::new()),
    };
    let mut tag_list = Vec::new();
    if let Some(items) = tags.and_then(|n| d.seq(n, "`tags`")) {
        for item in items {
            if let Some(t) = d.string(item, "a tag") {
                tag_list.push(t);
            }
        }
    }
    Some(Metadata {
        name: name?,
        description: description?,
        tags: tag_list,
    })
}

fn topology(
    d: &mut Decoder<'_>,
    node: &Node,
    default_name: &str,
) -> Option<(Topology, TopologySource)> {
    match &node.kind {
        NodeKind::Scalar { text, .. } => match crate::library::topology(text) {
            Some(t) => Some((t, TopologySource::Bundled(text.clone()))),
            None => {
                let names = crate::library::topology_names();
                let hint = match suggest(text, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "bundled topologies: {}; or write the services inline",
                        names.join(", ")
                    ),
                };
                d.error_hint(node.pos, format!("unknown bundled topology `{text}`"), hint);
                None
            }
        },
        NodeKind::Map(_) => {
            let mut m = d.map(node, "the inline topology")?;
            let t = topology_fields(d, &mut m, default_name);
            m.finish(d, "the inline topology", &TOPOLOGY_FIELDS);
            Some((t?, TopologySource::Inline))
        }
        _ => {
            d.error(
                node.pos,
                format!(
                    "expected `topology` (a bundled topology name or an inline service graph), found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

fn timeline(d: &mut Decoder<'_>, node: &Node) -> Option<Timeline> {
    let mut m = d.map(node, "`timeline`")?;
    let warmup_node = m.optional("warmup");
    let duration_node = m.required(d, "duration", "`timeline`");
    m.finish(d, "`timeline`", &["warmup", "duration"]);
    let warmup = match warmup_node {
        Some(n) => d.duration(n, "`warmup`"),
        None => Some(DEFAULT_TIMELINE.warmup),
    };
    let duration_node = duration_node?;
    let duration = d.duration(duration_node, "`duration`")?;
    if duration < MIN_DURATION {
        d.error_hint(
            duration_node.pos,
            format!("the incident window `{duration}` is shorter than {MIN_DURATION}"),
            "an agent needs telemetry to look at; use at least `10s`, typically `5m`",
        );
        return None;
    }
    let warmup = warmup?;
    let timeline = Timeline { warmup, duration };
    if timeline.end() > MAX_EPISODE {
        d.error(
            node.pos,
            format!(
                "the episode (warm-up plus duration) lasts `{}`, longer than the limit of {MAX_EPISODE}",
                timeline.end()
            ),
        );
        return None;
    }
    Some(timeline)
}

fn load(d: &mut Decoder<'_>, node: &Node) -> Option<Load> {
    let mut m = d.map(node, "`load`")?;
    let rps_node = m.required(d, "rps", "`load`");
    let pattern_node = m.optional("pattern");
    m.finish(d, "`load`", &["rps", "pattern"]);
    let patterns: Vec<_> = LoadPattern::ALL.iter().map(|p| (p.as_str(), *p)).collect();
    let pattern = match pattern_node {
        Some(n) => d.one_of(n, "load pattern", &patterns),
        None => Some(LoadPattern::Steady),
    };
    let rps_node = rps_node?;
    let rps = d.number(rps_node, "`rps`")?;
    if rps <= 0.0 || rps > MAX_RPS {
        d.error(
            rps_node.pos,
            format!("`rps` must be greater than 0 and at most {MAX_RPS}, found {rps}"),
        );
        return None;
    }
    Some(Load {
        rps,
        pattern: pattern?,
    })
}

fn faults(
    d: &mut Decoder<'_>,
    node: &Node,
    cx: &FaultContext<'_>,
) -> Option<Vec<crate::model::FaultSpec>> {
    let items = d.seq(node, "`faults`")?;
    if items.is_empty() {
        d.error_hint(
            node.pos,
            "a scenario needs at least one fault",
            "add a fault under `faults:`, like `- {id: leak, kind: code.memory_leak, target: cart, at: 90s}`",
        );
        return None;
    }
    if items.len() > super::MAX_FAULTS {
        d.error(
            node.pos,
            format!(
                "a scenario has at most {} faults, found {}",
                super::MAX_FAULTS,
                items.len()
            ),
        );
        return None;
    }
    let mut ids: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(fault(d, item, cx, &mut ids));
    }
    out.into_iter().collect()
}

fn noise(d: &mut Decoder<'_>, node: &Node, cx: &FaultContext<'_>) -> Option<Noise> {
    let mut m = d.map(node, "`noise`")?;
    let level_node = m.optional("level");
    let herrings = m.optional("red_herrings");
    m.finish(d, "`noise`", &["level", "red_herrings"]);
    let levels = [
        ("low", NoiseLevel::Low),
        ("normal", NoiseLevel::Normal),
        ("high", NoiseLevel::High),
    ];
    let level = match level_node {
        Some(n) => d.one_of(n, "noise level", &levels),
        None => Some(NoiseLevel::Normal),
    };
    let mut red_herrings = Vec::new();
    let mut ok = true;
    if let Some(items) = herrings.and_then(|n| d.seq(n, "`red_herrings`")) {
        if items.len() > super::MAX_RED_HERRINGS {
            d.error(
                node.pos,
                format!(
                    "a scenario has at most {} red herrings",
                    super::MAX_RED_HERRINGS
                ),
            );
            return None;
        }
        for item in items {
            match red_herring(d, item, cx) {
                Some(r) => red_herrings.push(r),
                None => ok = false,
            }
        }
    }
    ok.then_some(Noise {
        level: level?,
        red_herrings,
    })
}

fn red_herring(d: &mut Decoder<'_>, node: &Node, cx: &FaultContext<'_>) -> Option<RedHerringSpec> {
    let what = "a red herring";
    let mut m = d.map(node, what)?;
    let kind_node = m.required(d, "kind", what);
    let target_node = m.required(d, "target", what);
    let at_node = m.required(d, "at", what);
    m.finish(d, what, &["kind", "target", "at"]);
    let kinds: Vec<_> = RedHerringKind::ALL
        .iter()
        .map(|k| (k.as_str(), *k))
        .collect();
    let kind = kind_node.and_then(|n| d.one_of(n, "red herring kind", &kinds));
    let target = target_node.and_then(|n| target(d, n, cx.topology, None));
    // A deploy needs a service that runs its own code; a datastore has no releases.
    if let (Some(RedHerringKind::UnrelatedDeploy), Some(t), Some(topology), Some(n)) =
        (kind, &target, cx.topology, target_node)
    {
        let named: Vec<&String> = match t {
            Target::Service(s) => vec![s],
            Target::AnyOf(names) => names.iter().collect(),
            Target::Any => Vec::new(),
        };
        for name in named {
            if let Some(s) = topology.service(name).filter(|s| !s.kind.runs_own_code()) {
                d.error_hint(
                    n.pos,
                    format!(
                        "an `unrelated_deploy` needs a service that runs its own code, and `{name}` is a {}",
                        s.kind.as_str()
                    ),
                    "pick a web, api or worker service, or `any`",
                );
            }
        }
    }
    let at = at_node.and_then(|n| {
        let bounds = cx.timeline.map(|t| Bounds {
            min: 0.0,
            max: t.end().as_secs_f64(),
            min_exclusive: false,
            max_exclusive: false,
            context: format!("the episode (`0s` to `{}`)", t.end()),
        });
        sampled(d, n, "red herring `at`", Unit::Seconds, bounds.as_ref())
    });
    Some(RedHerringSpec {
        kind: kind?,
        target: target?,
        at: at?,
    })
}

fn alert(d: &mut Decoder<'_>, node: &Node, topology: Option<&Topology>) -> Option<AlertSpec> {
    if let NodeKind::Scalar { text, .. } = &node.kind {
        if text == "auto" {
            return Some(AlertSpec::Auto);
        }
        d.error_hint(
            node.pos,
            format!("unknown alert `{text}`"),
            "write `alert: auto` or `alert: {service: frontend, summary: \"…\"}`",
        );
        return None;
    }
    let mut m = d.map(node, "`alert` (`auto` or a service and a summary)")?;
    let service_node = m.required(d, "service", "`alert`");
    let summary_node = m.required(d, "summary", "`alert`");
    m.finish(d, "`alert`", &["service", "summary"]);
    let service = service_node.and_then(|n| d.string(n, "the alerting service"));
    let summary = summary_node.and_then(|n| d.string(n, "the alert summary"));
    if let (Some(name), Some(t), Some(n)) = (&service, topology, service_node) {
        if t.service(name).is_none() {
            d.error_maybe_hint(
                n.pos,
                format!("alert service `{name}` is not in topology `{}`", t.name),
                d.did_you_mean(name, t.names()),
            );
            return None;
        }
    }
    Some(AlertSpec::Fixed {
        service: service?,
        summary: summary?,
    })
}
