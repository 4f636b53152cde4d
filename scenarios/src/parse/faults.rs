//! Reading and validating faults and their targets.

use std::collections::BTreeMap;

use crate::catalog::{FaultKind, Level, Via};
use crate::incident::{eligible_targets, kind_fits_service, meets_requirement};
use crate::model::{FaultSpec, Target, Timeline, Topology};

use super::decode::{suggest, Decoder};
use super::node::{Node, NodeKind};
use super::values::{sampled, Bounds, Unit};

/// What fault validation needs from the rest of the scenario; `None` parts failed to
/// read, and the checks that need them are skipped.
pub struct FaultContext<'a> {
    /// The resolved topology.
    pub topology: Option<&'a Topology>,
    /// The timeline.
    pub timeline: Option<&'a Timeline>,
}

const FAULT_FIELDS: [&str; 7] = ["id", "kind", "target", "at", "duration", "params", "via"];

/// How many eligible services a hint lists before it says "…".
const HINT_LIST: usize = 8;

fn list(names: &[&str]) -> String {
    if names.len() <= HINT_LIST {
        names.join(", ")
    } else {
        format!("{}, …", names[..HINT_LIST].join(", "))
    }
}

/// Reads one fault. `ids` holds the ids seen so far and their lines, for duplicates.
pub fn fault(
    d: &mut Decoder<'_>,
    node: &Node,
    cx: &FaultContext<'_>,
    ids: &mut Vec<(String, usize)>,
) -> Option<FaultSpec> {
    let what = "a fault";
    let mut m = d.map(node, what)?;
    let id_node = m.required(d, "id", what);
    let kind_node = m.required(d, "kind", what);
    let target_node = m.required(d, "target", what);
    let at_node = m.required(d, "at", what);
    let duration_node = m.optional("duration");
    let params_node = m.optional("params");
    let via_node = m.optional("via");
    m.finish(d, what, &FAULT_FIELDS);
    let before = d.error_count();

    let id = id_node.and_then(|n| d.string(n, "the fault id"));
    if let (Some(id), Some(n)) = (&id, id_node) {
        if let Some((_, line)) = ids.iter().find(|(seen, _)| seen == id) {
            d.error_hint(
                n.pos,
                format!("duplicate fault id `{id}`"),
                format!("the first fault with this id is on line {line}; ids must be unique"),
            );
        } else {
            ids.push((id.clone(), n.pos.line));
        }
    }
    let kind = kind_node.and_then(|n| fault_kind(d, n));
    let target = target_node.and_then(|n| target(d, n, cx.topology, kind));
    let window = cx.timeline.map(|t| Bounds {
        min: t.warmup.as_secs_f64(),
        max: t.end().as_secs_f64(),
        min_exclusive: false,
        max_exclusive: true,
        context: format!(
            "the incident window (from the end of the warm-up `{}` to the end `{}`)",
            t.warmup,
            t.end()
        ),
    });
    let at = at_node.and_then(|n| sampled(d, n, "fault `at`", Unit::Seconds, window.as_ref()));
    let duration = match duration_node {
        Some(n) => {
            let bounds = Bounds {
                min: 0.0,
                max: crate::parse::scenario::MAX_EPISODE.as_secs_f64(),
                min_exclusive: true,
                max_exclusive: false,
                context: "the allowed range (more than `0s`, at most `24h`)".to_owned(),
            };
            sampled(d, n, "fault `duration`", Unit::Seconds, Some(&bounds)).map(Some)
        }
        None => Some(None),
    };
    let params = match (params_node, kind) {
        (Some(n), Some(kind)) => params(d, n, kind),
        (Some(_), None) => None,
        (None, _) => Some(BTreeMap::new()),
    };
    let via = match via_node {
        Some(n) => via(d, n, kind).map(Some),
        None => Some(None),
    };
    if d.error_count() != before {
        return None;
    }
    Some(FaultSpec {
        id: id?,
        kind: kind?,
        target: target?,
        at: at?,
        duration: duration?,
        params: params?,
        via: via?,
    })
}

fn fault_kind(d: &mut Decoder<'_>, node: &Node) -> Option<FaultKind> {
    let name = d.string(node, "the fault kind")?;
    if let Some(k) = FaultKind::parse(&name) {
        return Some(k);
    }
    let hint = match suggest(&name, FaultKind::ALL.iter().map(|k| k.as_str())) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "see docs/faults.md for every fault kind".to_owned(),
    };
    d.error_hint(node.pos, format!("unknown fault kind `{name}`"), hint);
    None
}

/// Why `service` cannot take `kind`, if it cannot.
fn unfit_reason(topology: &Topology, service: &str, kind: FaultKind) -> Option<String> {
    let s = topology.service(service)?;
    if !kind_fits_service(kind, s.kind) {
        return Some(format!(
            "`{service}` cannot take `{kind}`: {} faults need a service that runs its own code (web, api or worker), and `{service}` is a {}",
            kind.level(),
            s.kind.as_str()
        ));
    }
    let req = kind.def().target;
    if !meets_requirement(topology, service, req) {
        return Some(format!(
            "`{service}` cannot take `{kind}`: the target must {}",
            req.describe()
        ));
    }
    None
}

/// Reads a target (`cart`, `any`, `{any_of: [a, b]}`); with a fault kind, checks that the
/// named services can take it.
pub fn target(
    d: &mut Decoder<'_>,
    node: &Node,
    topology: Option<&Topology>,
    kind: Option<FaultKind>,
) -> Option<Target> {
    let (target, named): (Target, Vec<&Node>) = match &node.kind {
        NodeKind::Scalar { text, .. } if text == "any" => (Target::Any, Vec::new()),
        NodeKind::Scalar { text, .. } => (Target::Service(text.clone()), vec![node]),
        NodeKind::Map(_) => {
            let mut m = d.map(node, "a target")?;
            let any_of = m.required(d, "any_of", "a target mapping");
            m.finish(d, "a target", &["any_of"]);
            let items = d.seq(any_of?, "`any_of` (service names)")?;
            if items.is_empty() {
                d.error(any_of?.pos, "`any_of` needs at least one service");
                return None;
            }
            if items.len() > super::MAX_SERVICES {
                d.error(
                    any_of?.pos,
                    format!("`any_of` lists at most {} services", super::MAX_SERVICES),
                );
                return None;
            }
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                names.push(d.string(item, "a service name"));
            }
            let names: Option<Vec<String>> = names.into_iter().collect();
            (Target::AnyOf(names?), items.iter().collect())
        }
        _ => {
            d.error(
                node.pos,
                format!(
                    "expected a target (a service name, `any`, or `{{any_of: [a, b]}}`), found {}",
                    node.describe()
                ),
            );
            return None;
        }
    };
    let Some(topology) = topology else {
        return Some(target);
    };
    let before = d.error_count();
    let eligible = kind.map(|k| eligible_targets(topology, k));
    for n in named {
        let Some(name) = n.as_scalar() else { continue };
        if topology.service(name).is_none() {
            d.error_maybe_hint(
                n.pos,
                format!(
                    "target `{name}` is not a service of topology `{}`",
                    topology.name
                ),
                d.did_you_mean(name, topology.names()),
            );
            continue;
        }
        if let (Some(kind), Some(eligible)) = (kind, &eligible) {
            if let Some(reason) = unfit_reason(topology, name, kind) {
                let hint = if eligible.is_empty() {
                    format!("no service of topology `{}` can take it", topology.name)
                } else {
                    format!("services that can: {}", list(eligible))
                };
                d.error_hint(n.pos, reason, hint);
            }
        }
    }
    if let (Target::Any, Some(kind), Some(eligible)) = (&target, kind, &eligible) {
        if eligible.is_empty() {
            let why = if kind.level() == Level::Code {
                format!(
                    "runs its own code (web, api or worker) and can {}",
                    kind.def().target.describe()
                )
            } else {
                format!("can {}", kind.def().target.describe())
            };
            d.error(
                node.pos,
                format!(
                    "`target: any`: no service of topology `{}` {why}, as `{kind}` needs",
                    topology.name
                ),
            );
        }
    }
    (d.error_count() == before).then_some(target)
}

fn params(
    d: &mut Decoder<'_>,
    node: &Node,
    kind: FaultKind,
) -> Option<BTreeMap<String, crate::model::Sampled>> {
    let def = kind.def();
    let mut m = d.map(node, "`params`")?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    let entries: Vec<_> = m.entries().collect();
    for (name, key, value) in entries {
        let Some(p) = def.param(name) else {
            ok = false;
            let names: Vec<&str> = def.params.iter().map(|p| p.name).collect();
            if names.is_empty() {
                d.error_hint(
                    key.pos,
                    format!("unknown parameter `{name}` for `{kind}`"),
                    format!("`{kind}` takes no parameters"),
                );
            } else {
                let hint = match suggest(name, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("`{kind}` takes: {}", names.join(", ")),
                };
                d.error_hint(
                    key.pos,
                    format!("unknown parameter `{name}` for `{kind}`"),
                    hint,
                );
            }
            continue;
        };
        let bounds = Bounds {
            min: p.min,
            max: p.max,
            min_exclusive: false,
            max_exclusive: false,
            context: format!(
                "the range of `{}` ({} to {} {})",
                p.name, p.min, p.max, p.unit
            ),
        };
        match sampled(
            d,
            value,
            &format!("`{}`", p.name),
            Unit::Number(p.unit),
            Some(&bounds),
        ) {
            Some(v) => {
                out.insert(name.to_owned(), v);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn via(d: &mut Decoder<'_>, node: &Node, kind: Option<FaultKind>) -> Option<Via> {
    let vias: Vec<_> = Via::ALL.iter().map(|v| (v.as_str(), *v)).collect();
    let via = d.one_of(node, "`via`", &vias)?;
    if let Some(kind) = kind {
        let allowed = kind.def().vias;
        if !allowed.contains(&via) {
            let names: Vec<&str> = allowed.iter().map(|v| v.as_str()).collect();
            d.error_hint(
                node.pos,
                format!("`{kind}` cannot arrive by `{via}`"),
                format!("it arrives by: {}", names.join(", ")),
            );
            return None;
        }
    }
    Some(via)
}
