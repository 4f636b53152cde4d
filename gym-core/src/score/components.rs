//! The scored aspects of a report, one function each, each returning its value in
//! [0, 1] and a one-line reason.

use std::collections::BTreeSet;

use otrashi_scenarios::catalog::Level;
use otrashi_scenarios::incident::{GroundTruth, TrueCause};
use otrashi_scenarios::model::Topology;

use super::names::resolve;
use super::rubric::Rubric;
use super::EpisodeStats;
use crate::report::{normalize_fault, normalize_level, FaultName, RcaReport, RootCause};

/// A value and why.
pub(super) type Scored = (f64, String);

/// The index of the first entry naming the true component.
fn first_match(report: &RcaReport, t: &TrueCause, topology: &Topology) -> Option<usize> {
    report
        .root_causes
        .iter()
        .position(|rc| resolve(&rc.component, topology) == Some(t.component.as_str()))
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// Localization before the spraying divisor: by rank of the first entry naming each
/// true component, else by call-graph distance; averaged over the true causes.
pub(super) fn localization(
    report: &RcaReport,
    truth: &GroundTruth,
    topology: &Topology,
    alert_service: &str,
    rubric: &Rubric,
) -> Scored {
    let mut reasons = Vec::new();
    let credits = truth.root_causes.iter().map(|t| {
        if let Some(i) = first_match(report, t, topology) {
            // Other true causes ranked above do not push this one down: with two
            // faults, ranks 1 and 2 are both perfect.
            let other_truths_above = report.root_causes[..i]
                .iter()
                .filter_map(|rc| resolve(&rc.component, topology))
                .filter(|n| {
                    *n != t.component && truth.root_causes.iter().any(|o| o.component == *n)
                })
                .collect::<BTreeSet<_>>()
                .len();
            let rank = i + 1 - other_truths_above;
            let credit = rubric.rank_credit(rank);
            let shifted = if rank == i + 1 {
                String::new()
            } else {
                format!(", counted as rank {rank} after the other true causes")
            };
            reasons.push(format!(
                "{} at rank {}{shifted} ({credit:.2})",
                t.component,
                i + 1
            ));
            return credit;
        }
        let mut best: Option<(f64, String)> = None;
        let ranked = report
            .root_causes
            .iter()
            .take(rubric.localization.rank_credit.len());
        for (i, rc) in ranked.enumerate() {
            let Some(name) = resolve(&rc.component, topology) else {
                continue;
            };
            // The alert's service and the entry show the symptoms of every incident:
            // naming them carries no information, so they earn no distance credit.
            let symptom = name == alert_service || name == topology.entry;
            if symptom && !rubric.localization.symptom_distance_credit {
                continue;
            }
            // An entry that is another true cause is already paid for by its own match.
            if truth
                .root_causes
                .iter()
                .any(|other| other.component == name)
            {
                continue;
            }
            let Some(hops) = topology.distance(name, &t.component) else {
                continue;
            };
            let credit = rubric.rank_credit(i + 1) * rubric.distance_credit(hops);
            if credit > best.as_ref().map_or(0.0, |(c, _)| *c) {
                best = Some((
                    credit,
                    format!(
                        "{} not named; {name} (rank {}) is {hops} hop{} away ({credit:.2})",
                        t.component,
                        i + 1,
                        if hops == 1 { "" } else { "s" }
                    ),
                ));
            }
        }
        match best {
            Some((credit, why)) => {
                reasons.push(why);
                credit
            }
            None => {
                reasons.push(format!("{} not named, nor a neighbour", t.component));
                0.0
            }
        }
    });
    let value = mean(credits.collect::<Vec<_>>());
    (value, reasons.join("; "))
}

/// The divisor on localization for entries beyond the true count plus the free ones.
pub(super) fn spray_divisor(
    report: &RcaReport,
    truth: &GroundTruth,
    rubric: &Rubric,
) -> (f64, String) {
    let n = report.root_causes.len();
    let free = truth.root_causes.len() + rubric.spraying.free_extra_causes;
    let extra = n.saturating_sub(free);
    let divisor = 1.0 + rubric.spraying.per_extra_cause * extra as f64;
    let why = if extra == 0 {
        String::new()
    } else {
        format!("; {n} entries, {extra} beyond the {free} free: ÷{divisor:.2}")
    };
    (divisor, why)
}

/// The entry each true cause is judged on for kind and level: the one naming it, else
/// rank 1 (with `unlocalized_factor`).
fn judged_entry<'r>(
    report: &'r RcaReport,
    t: &TrueCause,
    topology: &Topology,
    rubric: &Rubric,
) -> Option<(&'r RootCause, f64)> {
    match first_match(report, t, topology) {
        Some(i) => report.root_causes.get(i).map(|rc| (rc, 1.0)),
        None => report
            .root_causes
            .first()
            .map(|rc| (rc, rubric.fault_kind.unlocalized_factor)),
    }
}

fn factor_note(factor: f64) -> String {
    if factor < 1.0 {
        format!(", ×{factor:.2} as the component is wrong")
    } else {
        String::new()
    }
}

/// Scores every true cause by `judge` on the report entry judged against it (see
/// [`judged_entry`]), scaled by that entry's factor; a cause no entry can be judged
/// against scores 0. Returns the mean and the reasons joined.
fn per_true_cause(
    report: &RcaReport,
    truth: &GroundTruth,
    topology: &Topology,
    rubric: &Rubric,
    judge: impl Fn(&TrueCause, &RootCause) -> (f64, String),
) -> Scored {
    let mut reasons = Vec::new();
    let values: Vec<f64> = truth
        .root_causes
        .iter()
        .map(|t| {
            let Some((rc, factor)) = judged_entry(report, t, topology, rubric) else {
                return 0.0;
            };
            let (credit, why) = judge(t, rc);
            reasons.push(format!("{why}{}", factor_note(factor)));
            credit * factor
        })
        .collect();
    (mean(values), reasons.join("; "))
}

/// Fault kind: exact, same family, right mechanism at another level, or wrong.
pub(super) fn fault_kind(
    report: &RcaReport,
    truth: &GroundTruth,
    topology: &Topology,
    rubric: &Rubric,
) -> Scored {
    per_true_cause(report, truth, topology, rubric, |t, rc| {
        match rc.fault.as_deref().map(|f| (f, normalize_fault(f))) {
            None => (0.0, "no fault kind given".to_owned()),
            Some((_, FaultName::Known(k))) if k == t.fault => (1.0, format!("{k} is right")),
            Some((_, FaultName::OtherLevel(k))) if k == t.fault => (
                rubric.fault_kind.other_level_credit,
                format!("{} is right but not at that level", k.short_name()),
            ),
            Some((_, FaultName::Known(k) | FaultName::OtherLevel(k)))
                if k.def().family == t.family =>
            {
                (
                    rubric.fault_kind.family_credit,
                    format!("{k} is in the same family ({}) as the truth", t.family),
                )
            }
            Some((f, FaultName::Known(_) | FaultName::OtherLevel(_))) => (
                0.0,
                format!(
                    "{f} is a different kind (the truth is a {} fault)",
                    t.family
                ),
            ),
            Some((f, FaultName::Unknown)) => (0.0, format!("`{f}` is not a catalog kind")),
        }
    })
}

/// The level an entry states, or the one its fault kind implies.
fn stated_level(rc: &RootCause) -> Option<(Level, &'static str)> {
    if let Some(l) = rc.level.as_deref().and_then(normalize_level) {
        return Some((l, "stated"));
    }
    let fault = rc.fault.as_deref()?;
    match normalize_fault(fault) {
        FaultName::Known(k) => Some((k.level(), "implied by the kind")),
        FaultName::OtherLevel(_) | FaultName::Unknown => fault
            .split_once('.')
            .and_then(|(prefix, _)| normalize_level(prefix))
            .map(|l| (l, "implied by the kind's prefix")),
    }
}

/// Level: the stated or implied level against the truth's.
pub(super) fn level(
    report: &RcaReport,
    truth: &GroundTruth,
    topology: &Topology,
    rubric: &Rubric,
) -> Scored {
    per_true_cause(
        report,
        truth,
        topology,
        rubric,
        |t, rc| match stated_level(rc) {
            None => (0.0, "no level given or implied".to_owned()),
            Some((l, how)) if l == t.level => (1.0, format!("{l} ({how}) is right")),
            Some((l, how)) => (0.0, format!("{l} ({how}); the truth is {}", t.level)),
        },
    )
}

/// Calibration: 1 − the Brier score of rank 1's confidence that its component is a root
/// cause, minus the Brier loss of every further ranked entry weighted by its rank credit
/// (relative to rank 1). Further entries can only cost, so padding a list with
/// low-confidence guesses never repairs an overconfident first answer, and confidence
/// claimed on every entry is paid for on each.
pub(super) fn calibration(
    report: &RcaReport,
    truth: &GroundTruth,
    topology: &Topology,
    rubric: &Rubric,
) -> Scored {
    let k = rubric.localization.rank_credit.len().max(1);
    let first_credit = rubric.rank_credit(1);
    let mut value = 0.0;
    let mut parts = Vec::new();
    for (i, rc) in report.root_causes.iter().take(k).enumerate() {
        let correct = resolve(&rc.component, topology)
            .is_some_and(|n| truth.root_causes.iter().any(|t| t.component == n));
        let y = if correct { 1.0 } else { 0.0 };
        let verdict = if correct { "right" } else { "wrong" };
        let confidence = rc
            .confidence
            .filter(|c| c.is_finite())
            .map(|c| c.clamp(0.0, 1.0));
        if i == 0 {
            value = match confidence {
                Some(c) => {
                    let s = 1.0 - (c - y) * (c - y);
                    parts.push(format!("rank 1 {verdict} at {c:.2}: {s:.2}"));
                    s
                }
                None => {
                    let s = rubric.calibration.missing_confidence;
                    parts.push(format!("rank 1 states no confidence: {s:.2}"));
                    s
                }
            };
            continue;
        }
        // An entry without a confidence claims nothing, so it costs nothing.
        let Some(c) = confidence else { continue };
        let weight = if first_credit > 0.0 {
            rubric.rank_credit(i + 1) / first_credit
        } else {
            1.0
        };
        let loss = weight * (c - y) * (c - y);
        if loss > 0.005 {
            parts.push(format!("rank {} {verdict} at {c:.2}: −{loss:.2}", i + 1));
        }
        value -= loss;
    }
    (value.max(0.0), parts.join("; "))
}

/// Efficiency: the larger share of the step and time budgets used; free up to
/// `free_fraction`, then falling linearly to 0. Paid in proportion to `localization`.
pub(super) fn efficiency(stats: &EpisodeStats, rubric: &Rubric, localization: f64) -> Scored {
    let mut uses = Vec::new();
    if stats.max_steps > 0 {
        uses.push(f64::from(stats.steps) / f64::from(stats.max_steps));
    }
    if stats.time_budget_s > 0.0 && stats.elapsed_s.is_finite() {
        uses.push(stats.elapsed_s.max(0.0) / stats.time_budget_s);
    }
    let Some(used) = uses.into_iter().reduce(f64::max) else {
        return (
            localization,
            "no step or time budget given: counted as efficient".to_owned(),
        );
    };
    let free = rubric.efficiency.free_fraction;
    let raw = if free >= 1.0 {
        1.0
    } else {
        1.0 - ((used - free) / (1.0 - free)).clamp(0.0, 1.0)
    };
    let value = raw * localization;
    (
        value,
        format!(
            "{}/{} steps, {:.0}/{:.0} s: {:.0}% of the budget used, {raw:.2} × localization {localization:.2}",
            stats.steps,
            stats.max_steps,
            stats.elapsed_s,
            stats.time_budget_s,
            used * 100.0
        ),
    )
}

/// Hallucination: distinct names anywhere in the report that are not services.
pub(super) fn hallucination(report: &RcaReport, topology: &Topology, rubric: &Rubric) -> Scored {
    let names = report
        .root_causes
        .iter()
        .flat_map(|rc| {
            std::iter::once(rc.component.as_str())
                .chain(rc.evidence.iter().filter_map(|e| e.service.as_deref()))
        })
        .chain(report.affected.iter().map(String::as_str));
    let unknown: BTreeSet<String> = names
        .filter(|n| resolve(n, topology).is_none())
        .map(|n| n.trim().to_lowercase())
        .collect();
    let k = unknown.len();
    let list = unknown.iter().cloned().collect::<Vec<_>>().join(", ");
    let h = &rubric.hallucination;
    if k == 0 {
        (1.0, "every component named exists".to_owned())
    } else if k > h.gate_over {
        (
            0.0,
            format!(
                "{k} named components do not exist ({list}); more than {}: total 0",
                h.gate_over
            ),
        )
    } else {
        let factor = (1.0 - h.penalty_per_unknown * k as f64).max(0.0);
        (
            factor,
            format!(
                "{k} named component{} not exist ({list}): ×{factor:.2}",
                if k == 1 { " does" } else { "s do" }
            ),
        )
    }
}

/// Coverage: naming most of the system as root causes multiplies the total down.
pub(super) fn coverage(
    report: &RcaReport,
    truth: &GroundTruth,
    topology: &Topology,
    rubric: &Rubric,
    divisor_note: &str,
) -> Scored {
    let named: BTreeSet<&str> = report
        .root_causes
        .iter()
        .filter_map(|rc| resolve(&rc.component, topology))
        .collect();
    let total = topology.services.len().max(1);
    let share = named.len() as f64 / total as f64;
    let s = &rubric.spraying;
    let min_named = s.coverage_min_named.max(truth.root_causes.len() + 1);
    let note = divisor_note.trim_start_matches("; ");
    let note = if note.is_empty() {
        String::new()
    } else {
        format!("; localization {note}")
    };
    if named.len() >= min_named && share >= s.coverage_threshold {
        (
            s.coverage_multiplier,
            format!(
                "{} of {total} services named as root causes ({:.0}%): ×{:.2}{note}",
                named.len(),
                share * 100.0,
                s.coverage_multiplier
            ),
        )
    } else {
        (
            1.0,
            format!(
                "{} of {total} services named as root causes{note}",
                named.len()
            ),
        )
    }
}
