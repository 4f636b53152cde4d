//! The `ansi` rendering: the episode so far as text for a person reading a terminal.

use std::fmt::Write as _;

use otrashi_gym::observation::Observation;
use otrashi_gym::Gym;

/// Observations longer than this many lines are cut in the rendering (the agent saw
/// them whole); a rendering is for skimming an episode, not for replaying it.
const MAX_LINES: usize = 40;

/// The alert, every step with its observation, and at the end the report, the score
/// and the revealed truth.
pub fn episode(gym: &Gym, start: Option<&Observation>) -> String {
    let mut out = String::new();
    let Some(start) = start else {
        return "otrashi: no episode yet; call reset()\n".to_owned();
    };
    let _ = writeln!(
        out,
        "=== otrashi episode: {} (seed {}) ===",
        gym.scenario().metadata.name,
        gym.seed().map_or_else(|| "?".to_owned(), |s| s.to_string())
    );
    push_cut(&mut out, &start.to_text());
    for step in gym.trajectory() {
        let args = if step.args.is_null() {
            String::new()
        } else {
            step.args.to_string()
        };
        let tool = if step.tool.is_empty() {
            "(unreadable action)"
        } else {
            step.tool.as_str()
        };
        let _ = writeln!(
            out,
            "\n--- step {}: {tool} {} -> reward {}",
            step.step,
            cut_line(&args, 200),
            step.reward
        );
        push_cut(&mut out, &step.observation.to_text());
    }
    if let Some(reason) = gym.end_reason() {
        let _ = writeln!(out, "\n=== episode over: {reason:?} ===");
        if let Some(report) = gym.report() {
            let text = serde_json::to_string_pretty(report).unwrap_or_default();
            let _ = writeln!(out, "report:\n{text}");
        }
        if let Some(reward) = gym.reward() {
            let _ = writeln!(out, "score: {:.3}", reward.total);
            for c in &reward.components {
                let _ = writeln!(
                    out,
                    "  {:<16} {:.3} (weight {:.2}) {}",
                    c.name, c.value, c.weight, c.reason
                );
            }
        }
        if let Some(truth) = gym.revealed_truth() {
            let causes: Vec<String> = truth
                .root_causes
                .iter()
                .map(|c| format!("{} ({})", c.component, c.fault))
                .collect();
            let _ = writeln!(out, "truth: {}", causes.join(", "));
        }
    }
    out
}

fn push_cut(out: &mut String, text: &str) {
    let total = text.lines().count();
    for line in text.lines().take(MAX_LINES) {
        out.push_str(line);
        out.push('\n');
    }
    if total > MAX_LINES {
        let _ = writeln!(out, "... ({} more lines)", total - MAX_LINES);
    }
}

fn cut_line(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}
