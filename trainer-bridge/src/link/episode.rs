//! Turning a finished episode into exchange messages and into the text a feedback
//! export needs.

use serde_json::Value;

use otrashi_gym::episode::EpisodeResult;
use otrashi_gym::gym::EndReason;
use otrashi_gym::tools::function_calling_json;
use otrashi_proto::v1::{EpisodeEnd, EpisodeStart, RewardComponent, Step};

use crate::feedback::EpisodeRecord;

/// What the result itself does not say about an episode.
#[derive(Debug, Clone, Default)]
pub struct EpisodeMeta {
    /// The backend's name (`sim`).
    pub backend: String,
}

/// Longest observation kept in a rendered trajectory, in characters: enough to show
/// what the agent saw, short enough for a training context.
const OBSERVATION_TEXT_LIMIT: usize = 2_000;

/// The `snake_case` name of an end reason.
pub fn end_reason_name(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Submitted => "submitted",
        EndReason::StepBudget => "step_budget",
        EndReason::TimeBudget => "time_budget",
        EndReason::AgentFailed => "agent_failed",
    }
}

fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("{{\"error\": \"cannot encode: {e}\"}}"))
}

/// The `EpisodeStart` of a result (the policy version is stamped when sent).
pub fn start_message(result: &EpisodeResult, meta: &EpisodeMeta) -> EpisodeStart {
    EpisodeStart {
        episode_id: result.episode_id.clone(),
        scenario: result.scenario.clone(),
        seed: result.seed,
        prompt_json: json_text(&result.start.content),
        tool_specs_json: json_text(&function_calling_json()),
        policy_version: String::new(),
        agent: result.agent.clone(),
        backend: meta.backend.clone(),
    }
}

/// One `Step` per trajectory step. The last step carries `terminated` (a report
/// ended it) or `truncated` (a budget ran out), never both; an agent failure ends the
/// episode outside any step and shows in the end message only.
pub fn step_messages(result: &EpisodeResult) -> Vec<Step> {
    let n = result.trajectory.len();
    result
        .trajectory
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let last = i + 1 == n;
            Step {
                episode_id: result.episode_id.clone(),
                index: s.step,
                tool: s.tool.clone(),
                args_json: json_text(&s.args),
                observation_json: json_text(&s.observation),
                reward: s.reward,
                terminated: last && result.end_reason == EndReason::Submitted,
                truncated: last
                    && matches!(
                        result.end_reason,
                        EndReason::StepBudget | EndReason::TimeBudget
                    ),
                error: s.error.clone().unwrap_or_default(),
            }
        })
        .collect()
}

/// The `EpisodeEnd` of a result.
pub fn end_message(result: &EpisodeResult) -> EpisodeEnd {
    let reward = result.reward.clone().unwrap_or_default();
    EpisodeEnd {
        episode_id: result.episode_id.clone(),
        reward_total: reward.total,
        components: reward
            .components
            .iter()
            .map(|c| RewardComponent {
                name: c.name.clone(),
                value: c.value,
                weight: c.weight,
                reason: c.reason.clone(),
            })
            .collect(),
        return_total: result.total_reward,
        ground_truth_json: json_text(&result.truth),
        end_reason: end_reason_name(result.end_reason).to_owned(),
        steps: result.steps,
        report_json: result.report.as_ref().map(json_text).unwrap_or_default(),
    }
}

/// The prompt of an episode as text: the alert and task, then the tool specs.
pub fn prompt_text(result: &EpisodeResult) -> String {
    let tools = serde_json::to_string_pretty(&function_calling_json()).unwrap_or_default();
    format!(
        "{}\n# Tools (OpenAI function-calling format)\n{tools}\n",
        result.start.to_text()
    )
}

fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let head: String = text.chars().take(limit).collect();
    format!("{head}\n… (cut at {limit} characters)")
}

/// The trajectory as text: each tool call with its arguments and what came back, then
/// the report.
pub fn trajectory_text(result: &EpisodeResult) -> String {
    let mut out = String::new();
    for s in &result.trajectory {
        let args = match &s.args {
            Value::Null => String::new(),
            v => json_text(v),
        };
        out.push_str(&format!("## Step {}: {} {args}\n", s.step, s.tool));
        out.push_str(&cut(&s.observation.to_text(), OBSERVATION_TEXT_LIMIT));
        out.push('\n');
    }
    match &result.report {
        Some(report) => {
            let pretty = serde_json::to_string_pretty(report).unwrap_or_default();
            out.push_str(&format!("## Report\n{pretty}\n"));
        }
        None => out.push_str(&format!(
            "## No report ({})\n",
            end_reason_name(result.end_reason)
        )),
    }
    out
}

/// The record a feedback export needs.
pub fn episode_record(
    result: &EpisodeResult,
    _meta: &EpisodeMeta,
    policy_version: &str,
) -> EpisodeRecord {
    EpisodeRecord {
        episode_id: result.episode_id.clone(),
        scenario: result.scenario.clone(),
        seed: result.seed,
        agent: result.agent.clone(),
        policy_version: policy_version.to_owned(),
        prompt: prompt_text(result),
        response: trajectory_text(result),
        reward: result.reward.as_ref().map_or(0.0, |r| r.total),
    }
}
