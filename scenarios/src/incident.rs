//! Concrete incidents and their ground truth.
//!
//! [`sample`] resolves every randomized field of a [`Scenario`] from a seed;
//! [`GroundTruth::derive`] reads the truth off the resulting [`Incident`] and the
//! topology. Nothing here is typed by hand.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{FaultKind, Level, Propagation, TargetRequirement, Via};
use crate::duration::Duration;
use crate::model::{
    AlertSpec, Distribution, Load, NoiseLevel, RedHerringKind, Sampled, Scenario, ServiceKind,
    Target, Timeline, Topology,
};
use crate::rng::{stable_hash, Rng};

/// A scenario with every random choice made: what the backend runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// The scenario's name.
    pub scenario: String,
    /// A stable digest of the scenario it came from (hex), so a dataset row can be
    /// regenerated and checked.
    pub scenario_digest: String,
    /// The seed it was sampled with.
    pub seed: u64,
    /// The service graph.
    pub topology: Topology,
    /// The traffic.
    pub load: Load,
    /// The time window.
    pub timeline: Timeline,
    /// The faults, ordered by start time.
    pub faults: Vec<ConcreteFault>,
    /// The background noise level.
    pub noise: NoiseLevel,
    /// The distractions, ordered by time.
    pub red_herrings: Vec<ConcreteRedHerring>,
    /// What the agent is told.
    pub alert: AlertSpec,
}

/// One fault with every field decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcreteFault {
    /// The id from the scenario.
    pub id: String,
    /// The kind.
    pub kind: FaultKind,
    /// The target service.
    pub target: String,
    /// Start, from the start of the warm-up.
    pub at: Duration,
    /// End, from the start of the warm-up (at most the end of the episode).
    pub until: Duration,
    /// How it arrives.
    pub via: Via,
    /// Every parameter of the kind, defaults filled in.
    pub params: BTreeMap<String, f64>,
}

impl ConcreteFault {
    /// The value of a parameter, or its catalog default.
    pub fn param(&self, name: &str) -> f64 {
        self.params
            .get(name)
            .copied()
            .or_else(|| self.kind.def().param(name).map(|p| p.default))
            .unwrap_or(0.0)
    }
}

/// One red herring with every field decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcreteRedHerring {
    /// What kind of distraction.
    pub kind: RedHerringKind,
    /// The service it shows up on.
    pub target: String,
    /// When, from the start of the warm-up.
    pub at: Duration,
}

/// Why a scenario could not be sampled. Validation rules these out for parsed files;
/// they guard scenarios built in code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    /// No service can take the fault.
    #[error("fault `{fault}` ({kind}): no service in the topology can {requirement}")]
    NoEligibleTarget {
        /// The fault id.
        fault: String,
        /// Its kind.
        kind: FaultKind,
        /// What the target must do.
        requirement: &'static str,
    },
    /// A named target is not in the topology.
    #[error("fault `{fault}`: target `{target}` is not a service of topology `{topology}`")]
    UnknownTarget {
        /// The fault or red-herring id.
        fault: String,
        /// The missing service.
        target: String,
        /// The topology.
        topology: String,
    },
}

/// Whether `service` can take a fault with this requirement.
pub fn meets_requirement(topology: &Topology, service: &str, req: TargetRequirement) -> bool {
    let Some(s) = topology.service(service) else {
        return false;
    };
    let calls_kind = |kind: ServiceKind| {
        s.calls
            .iter()
            .any(|c| topology.service(c).is_some_and(|t| t.kind == kind))
    };
    match req {
        TargetRequirement::AnyService => true,
        TargetRequirement::HasDownstream => !s.calls.is_empty(),
        TargetRequirement::CallsCache => calls_kind(ServiceKind::Cache),
        TargetRequirement::CallsDatabase => calls_kind(ServiceKind::Database),
        TargetRequirement::HasCallers => topology.callers_of(service).next().is_some(),
    }
}

/// Whether a fault kind makes sense on a service of this kind: code-level faults and
/// deploys need a service that runs its own code.
pub fn kind_fits_service(kind: FaultKind, service: ServiceKind) -> bool {
    kind.level() != Level::Code || service.runs_own_code()
}

/// The services a target may resolve to for this fault kind.
pub fn eligible_targets(topology: &Topology, kind: FaultKind) -> Vec<&str> {
    topology
        .services
        .iter()
        .filter(|s| kind_fits_service(kind, s.kind))
        .filter(|s| meets_requirement(topology, &s.name, kind.def().target))
        .map(|s| s.name.as_str())
        .collect()
}

/// A stable digest of a scenario: FNV-1a of its canonical JSON form, in hex.
pub fn scenario_digest(scenario: &Scenario) -> String {
    let canonical = serde_json::to_vec(scenario).unwrap_or_default();
    format!("{:016x}", stable_hash(&canonical))
}

fn draw(rng: &mut Rng, value: &Sampled) -> f64 {
    match value {
        Sampled::Fixed(v) => *v,
        Sampled::Random(dist) => match dist {
            Distribution::Uniform { low, high } => rng.uniform(*low, *high),
            Distribution::Normal { mean, std_dev } => rng.normal(*mean, *std_dev),
            Distribution::Lognormal { mu, sigma } => rng.lognormal(*mu, *sigma),
            Distribution::Exponential { rate } => rng.exponential(*rate),
            Distribution::Choice { values } => {
                if values.is_empty() {
                    0.0
                } else {
                    *rng.pick(values)
                }
            }
        },
    }
}

fn resolve_target(
    rng: &mut Rng,
    target: &Target,
    eligible: &[&str],
    id: &str,
    topology: &Topology,
) -> Result<String, SampleError> {
    let pick_from = |rng: &mut Rng, names: &[&str]| names[rng.below(names.len())].to_owned();
    match target {
        Target::Service(name) => {
            if topology.service(name).is_none() {
                return Err(SampleError::UnknownTarget {
                    fault: id.to_owned(),
                    target: name.clone(),
                    topology: topology.name.clone(),
                });
            }
            Ok(name.clone())
        }
        Target::AnyOf(names) => {
            if let Some(missing) = names.iter().find(|n| topology.service(n).is_none()) {
                return Err(SampleError::UnknownTarget {
                    fault: id.to_owned(),
                    target: missing.clone(),
                    topology: topology.name.clone(),
                });
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            Ok(pick_from(rng, &names))
        }
        Target::Any => Ok(pick_from(rng, eligible)),
    }
}

/// Turns a scenario into a concrete incident. Deterministic: the same scenario and seed
/// give the same incident on every machine. Every field draws from its own named stream,
/// so adding a fault to a scenario does not change how the others are sampled.
pub fn sample(scenario: &Scenario, seed: u64) -> Result<Incident, SampleError> {
    let root = Rng::new(seed ^ stable_hash(scenario.metadata.name.as_bytes()));
    let topology = &scenario.topology;
    let end = scenario.timeline.end();
    let warmup = scenario.timeline.warmup;

    let mut faults = Vec::with_capacity(scenario.faults.len());
    for spec in &scenario.faults {
        let mut rng = root.fork(&format!("fault/{}", spec.id));
        let def = spec.kind.def();
        let eligible = eligible_targets(topology, spec.kind);
        if eligible.is_empty() && spec.target == Target::Any {
            return Err(SampleError::NoEligibleTarget {
                fault: spec.id.clone(),
                kind: spec.kind,
                requirement: def.target.describe(),
            });
        }
        let target = resolve_target(&mut rng, &spec.target, &eligible, &spec.id, topology)?;
        // Start times land inside the incident window, at least a second before its end.
        let latest_start = end.as_secs_f64() - 1.0;
        let at_secs = draw(&mut rng, &spec.at).clamp(warmup.as_secs_f64(), latest_start);
        let at = Duration::from_secs_f64(at_secs);
        let until = match &spec.duration {
            None => end,
            Some(d) => {
                let secs = draw(&mut rng, d).max(1.0);
                at.saturating_add(Duration::from_secs_f64(secs)).min(end)
            }
        };
        let mut params = BTreeMap::new();
        for p in def.params {
            let value = match spec.params.get(p.name) {
                Some(v) => draw(&mut rng, v),
                None => p.default,
            };
            let value = value.clamp(p.min, p.max);
            let value = if p.integer {
                value.round()
            } else {
                // Three significant decimals keep files readable and values exact in JSON.
                (value * 1000.0).round() / 1000.0
            };
            params.insert(p.name.to_owned(), value);
        }
        faults.push(ConcreteFault {
            id: spec.id.clone(),
            kind: spec.kind,
            target,
            at,
            until,
            via: spec.via.unwrap_or_else(|| def.default_via()),
            params,
        });
    }
    faults.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));

    let fault_targets: Vec<&str> = faults.iter().map(|f| f.target.as_str()).collect();
    let mut red_herrings = Vec::with_capacity(scenario.noise.red_herrings.len());
    for (i, spec) in scenario.noise.red_herrings.iter().enumerate() {
        let mut rng = root.fork(&format!("red_herring/{i}"));
        let bystanders: Vec<&str> = topology
            .names()
            .filter(|n| !fault_targets.contains(n))
            .filter(|n| {
                spec.kind != RedHerringKind::UnrelatedDeploy
                    || topology.service(n).is_some_and(|s| s.kind.runs_own_code())
            })
            .collect();
        let eligible = if bystanders.is_empty() {
            topology.names().collect()
        } else {
            bystanders
        };
        let id = format!("noise.red_herrings[{i}]");
        let target = resolve_target(&mut rng, &spec.target, &eligible, &id, topology)?;
        let at = Duration::from_secs_f64(draw(&mut rng, &spec.at).clamp(0.0, end.as_secs_f64()));
        red_herrings.push(ConcreteRedHerring {
            kind: spec.kind,
            target,
            at,
        });
    }
    red_herrings.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.target.cmp(&b.target)));

    Ok(Incident {
        scenario: scenario.metadata.name.clone(),
        scenario_digest: scenario_digest(scenario),
        seed,
        topology: topology.clone(),
        load: scenario.load,
        timeline: scenario.timeline,
        faults,
        noise: scenario.noise.level,
        red_herrings,
        alert: scenario.alert.clone(),
    })
}

/// What really happened in an incident. Derived from the incident, never typed by hand,
/// and never shown to the agent under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundTruth {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// One entry per injected fault, the earliest first: the root causes.
    pub root_causes: Vec<TrueCause>,
    /// Every component the faults harm, root causes included, sorted by name.
    pub affected: Vec<String>,
}

/// One true root cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrueCause {
    /// The fault id from the scenario.
    pub fault_id: String,
    /// The faulty component.
    pub component: String,
    /// The fault kind.
    pub fault: FaultKind,
    /// Its level.
    pub level: Level,
    /// Its family in the catalog.
    pub family: String,
    /// How it arrived.
    pub via: Via,
    /// When it started, from the start of the warm-up.
    pub injected_at: Duration,
    /// When it ended.
    pub until: Duration,
    /// Its parameters.
    pub params: BTreeMap<String, f64>,
    /// The components it harms, itself included, sorted by name.
    pub affected: Vec<String>,
    /// The signals that should show it, as `modality:name@component`.
    pub signals: Vec<String>,
}

impl GroundTruth {
    /// Reads the truth off a concrete incident.
    pub fn derive(incident: &Incident) -> GroundTruth {
        let topology = &incident.topology;
        let mut all_affected: Vec<String> = Vec::new();
        let root_causes = incident
            .faults
            .iter()
            .map(|f| {
                let def = f.kind.def();
                let mut affected = vec![f.target.clone()];
                affected.extend(topology.upstream_of(&f.target));
                if def.propagation == Propagation::UpstreamAndDownstream {
                    // The target overloads what it calls; a shared database or cache
                    // then slows every other service that uses it, and their callers.
                    if let Some(s) = topology.service(&f.target) {
                        for callee in &s.calls {
                            affected.push(callee.clone());
                            affected.extend(topology.upstream_of(callee));
                        }
                    }
                }
                affected.sort();
                affected.dedup();
                all_affected.extend(affected.iter().cloned());
                let signals = def
                    .signals
                    .iter()
                    .map(|s| format!("{s}@{}", f.target))
                    .collect();
                TrueCause {
                    fault_id: f.id.clone(),
                    component: f.target.clone(),
                    fault: f.kind,
                    level: f.kind.level(),
                    family: def.family.to_owned(),
                    via: f.via,
                    injected_at: f.at,
                    until: f.until,
                    params: f.params.clone(),
                    affected,
                    signals,
                }
            })
            .collect();
        all_affected.sort();
        all_affected.dedup();
        GroundTruth {
            scenario: incident.scenario.clone(),
            seed: incident.seed,
            root_causes,
            affected: all_affected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_that_overloads_a_shared_database_affects_its_other_users() {
        // Regression: slow_query on `orders` slows the shared database, and with it
        // `users`, which never calls `orders`; the truth used to leave `users` out.
        let scenario = crate::parse_str(
            "apiVersion: otrashi/v1
kind: Scenario
metadata: {name: shared-db}
topology:
  entry: web
  services:
    web: {kind: web, calls: [orders, users]}
    orders: {kind: api, calls: [db]}
    users: {kind: api, calls: [db]}
    db: {kind: database}
load: {rps: 20, pattern: steady}
timeline: {warmup: 60s, duration: 5m}
faults:
  - {id: q, kind: code.slow_query, target: orders, at: 90s}
",
            "shared-db.yaml",
        )
        .expect("valid");
        let truth = GroundTruth::derive(&sample(&scenario, 1).expect("samples"));
        assert_eq!(truth.affected, ["db", "orders", "users", "web"]);
    }
}
