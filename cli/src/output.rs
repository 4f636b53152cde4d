//! Human-readable output of an episode: alert, steps, report, score, then the truth.

use std::path::Path;

use serde_json::Value;

use crate::session::{Played, Settings};

/// At most this many characters of a JSON value on one line.
const ARGS_WIDTH: usize = 60;

fn compact(value: &Value, width: usize) -> String {
    let text = match value {
        Value::Object(map) if map.is_empty() => String::new(),
        other => other.to_string(),
    };
    if text.chars().count() <= width {
        text
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Prints an ended episode for a person.
pub fn print_episode(played: &Played, settings: &Settings, dir: &Path) {
    let r = &played.result;
    println!(
        "▶ {} · seed {} · backend {} · agent {}",
        r.scenario,
        r.seed,
        settings.backend_name(),
        settings.agent.label()
    );
    if let Some(alert) = r.start.content.get("alert") {
        println!(
            "\nALERT  [{}] {} on {} at {}\n       {}",
            alert["severity"].as_str().unwrap_or("page"),
            alert["name"].as_str().unwrap_or("?"),
            alert["service"].as_str().unwrap_or("?"),
            alert["fired_at"].as_str().unwrap_or("?"),
            alert["summary"].as_str().unwrap_or("")
        );
    }

    println!("\nSTEPS");
    for step in &r.trajectory {
        let outcome = match &step.error {
            Some(e) => format!("error: {}", compact(&Value::String(e.clone()), 70)),
            None => format!("{} bytes", step.observation_bytes),
        };
        println!(
            "  {:>2} {:<14} {:<width$} {}",
            step.step,
            step.tool,
            compact(&step.args, ARGS_WIDTH),
            outcome,
            width = ARGS_WIDTH
        );
    }

    println!("\nREPORT");
    match &r.report {
        Some(report) => {
            for (i, cause) in report.root_causes.iter().enumerate() {
                println!(
                    "  {}. {} — {} ({}) confidence {}",
                    i + 1,
                    cause.component,
                    cause.fault.as_deref().unwrap_or("?"),
                    cause.level.as_deref().unwrap_or("?"),
                    cause
                        .confidence
                        .map_or_else(|| "?".to_owned(), |c| format!("{c:.2}"))
                );
                for e in cause.evidence.iter().take(4) {
                    let service = e.service.as_deref().unwrap_or("-");
                    println!(
                        "       evidence {}:{}@{} {}",
                        e.kind, e.signal, service, e.note
                    );
                }
            }
            if !report.summary.is_empty() {
                println!("  summary: {}", report.summary);
            }
        }
        None => println!("  (no report)"),
    }
    if let Some(failure) = &played.failure {
        println!("  failure: {failure}");
    }

    println!("\nSCORE");
    if let Some(reward) = &r.reward {
        println!("  total {:.3}", reward.total);
        for c in &reward.components {
            println!(
                "  {:<16} {:>5.2} × {:<4.2} {}",
                c.name, c.value, c.weight, c.reason
            );
        }
    }

    println!("\nTRUTH (revealed now that the agent has finished)");
    {
        for c in &r.truth.root_causes {
            println!(
                "  {} — {} ({} level) from {} via {}; affects {}",
                c.component,
                c.fault,
                c.level,
                c.injected_at,
                c.via,
                c.affected.join(", ")
            );
        }
    }
    println!("\nepisode written to {}", dir.display());
}
