//! Chat rows for supervised fine-tuning: one investigation per incident, in the TRL SFT
//! `messages` format with OpenAI-style tool calls.
//!
//! A row is `{"messages": [...], "ground_truth": {...}, "metadata": {...}}`. The
//! messages are a system prompt (the task and the tool specs in function-calling JSON),
//! the alert as the user turn, then assistant turns that each make one tool call
//! (`tool_calls: [{id, type: "function", function: {name, arguments}}]`, arguments as
//! an object as Hugging Face chat templates expect) followed by the `tool` turn with
//! the real answer, and a final assistant turn whose content is the RCA report JSON.
//!
//! The investigation is a reference solution: the calls a competent engineer makes
//! (service map, the alerting service's golden signals, the slowest traces, then the
//! suspect's resources, logs, events and deploys), run through [`crate::tools::dispatch`]
//! so every observation is what an agent would get. The suspect is the true root cause,
//! but the assistant text only says what the observations already show; the report
//! cites only signals that the observations contain.

mod report;

use std::collections::BTreeSet;

use serde_json::{json, Value};

use otrashi_scenarios::{GroundTruth, Incident, TrueCause, Via};

use crate::query::wall;
use crate::telemetry::Telemetry;
use crate::tools::{dispatch, function_calling_json, Action, ToolOutput};

use report::{report_for, score_report, suspect_deploy, Seen};

/// The step budget the reference trajectory is scored against, as `otrashi run` uses.
const MAX_STEPS: u32 = 30;

/// A chat row and how well its reference report scores.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRow {
    /// The row, ready to be written as one JSONL line.
    pub row: Value,
    /// The reference report (also the final message's content).
    pub report: Value,
    /// Its score with the bundled rubric, in [0, 1].
    pub score: f64,
}

/// The system prompt: the task, how to answer, and the tool specs.
pub fn system_prompt() -> String {
    let tools = serde_json::to_string(&function_calling_json()).unwrap_or_default();
    format!(
        "You are an on-call site reliability engineer investigating an incident in a \
         microservice system. Use the tools to read its telemetry (metrics, logs, traces, \
         orchestrator events, deploys and their code diffs). Find the root cause: the \
         component where the fault is, not one that only shows symptoms. When you know it, \
         answer with the RCA report as one JSON object in the submit_report format, citing \
         only signals you saw.\n\nTools (OpenAI function-calling format):\n{tools}"
    )
}

/// One planned step: what the engineer says, and the call.
struct Step {
    say: String,
    action: Action,
}

/// The alert, as the gym's first observation shows it.
fn alert_message(t: &Telemetry) -> String {
    let alert = json!({
        "alert": {
            "name": t.alert.name, "service": t.alert.service, "severity": t.alert.severity,
            "summary": t.alert.summary, "fired_at": wall(t, t.alert.t_ms),
        },
        "now": wall(t, t.end_ms),
        "telemetry_from": wall(t, 0),
        "task": "Find the root cause of this alert with the tools, then report your ranked root causes and the evidence you saw.",
    });
    serde_json::to_string(&alert).unwrap_or_default()
}

fn signal_names<'a>(cause: &'a TrueCause, modality: &str) -> Vec<&'a str> {
    cause
        .signals
        .iter()
        .filter_map(|s| {
            let (m, rest) = s.split_once(':').unwrap_or((s.as_str(), ""));
            let name = rest.rsplit_once('@').map_or(rest, |(n, _)| n);
            (m.split('@').next() == Some(modality)).then_some(name)
        })
        .collect()
}

fn run_steps(
    steps: Vec<Step>,
    t: &Telemetry,
    incident: &Incident,
    messages: &mut Vec<Value>,
    seen: &mut Seen,
    calls: &mut u32,
) {
    for step in steps {
        *calls += 1;
        let id = format!("call_{calls}");
        let service = step
            .action
            .args
            .get("service")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let content = match dispatch(&step.action, t, &incident.topology) {
            ToolOutput::Answer(v) => serde_json::to_string(&v).unwrap_or_default(),
            ToolOutput::Invalid(msg) => format!("error: {msg}"),
            ToolOutput::Submit(v) => serde_json::to_string(&v).unwrap_or_default(),
        };
        seen.answers
            .push((step.action.tool.clone(), service, content.to_lowercase()));
        messages.push(json!({
            "role": "assistant",
            "content": step.say,
            "tool_calls": [{
                "id": id, "type": "function",
                "function": {"name": step.action.tool, "arguments": step.action.args},
            }],
        }));
        messages.push(json!({
            "role": "tool", "tool_call_id": id, "name": step.action.tool, "content": content,
        }));
    }
}

/// The steps that look at one suspect.
fn suspect_steps(t: &Telemetry, cause: &TrueCause) -> Vec<Step> {
    let c = cause.component.as_str();
    let mut steps = Vec::new();
    for metric in signal_names(cause, "metric") {
        steps.push(Step {
            say: format!("Check {metric} on {c}, before and after the alert."),
            action: Action::new("query_metrics", json!({"metric": metric, "service": c})),
        });
    }
    steps.push(Step {
        say: format!("Read what {c} logged at warning level and above."),
        action: Action::new("search_logs", json!({"service": c, "level": "WARN"})),
    });
    steps.push(Step {
        say: format!("Check orchestrator events on {c}: restarts, kills, probe failures, configuration changes."),
        action: Action::new("get_events", json!({"service": c})),
    });
    let has_deploy = t
        .service_id(c)
        .is_some_and(|sid| t.deploys.iter().any(|d| d.service == sid));
    if cause.via == Via::Deploy || has_deploy {
        steps.push(Step {
            say: format!("See whether {c} was deployed around the start of the incident."),
            action: Action::new("get_deploys", json!({"service": c})),
        });
    }
    steps
}

/// Builds the chat row of an incident: runs the reference investigation through the
/// tools, writes the report, and scores it with the bundled rubric. `metadata` is
/// merged into the row's `metadata` (id, scenario, seed are added).
pub fn chat_row(
    incident: &Incident,
    truth: &GroundTruth,
    t: &Telemetry,
    metadata: Value,
) -> ChatRow {
    let mut messages = vec![
        json!({"role": "system", "content": system_prompt()}),
        json!({"role": "user", "content": alert_message(t)}),
    ];
    let alert_service = t.alert.service.clone();
    let mut opening = vec![
        Step {
            say: "Start with the service map: who calls whom.".into(),
            action: Action::new("list_services", json!({})),
        },
        Step {
            say: format!("The alert fired on {alert_service}; look at its request rate, errors and latency."),
            action: Action::new("query_metrics", json!({"metric": "http_request*", "service": alert_service})),
        },
        Step {
            say: "Follow the slowest requests and see which service the time and the failures come from.".into(),
            action: Action::new("get_traces", json!({"limit": 5})),
        },
    ];
    if alert_service.is_empty() {
        opening.remove(1);
    }
    let mut seen = Seen::default();
    let mut calls = 0u32;
    run_steps(opening, t, incident, &mut messages, &mut seen, &mut calls);

    let mut looked_at = BTreeSet::new();
    for cause in &truth.root_causes {
        if !looked_at.insert(cause.component.clone()) {
            continue;
        }
        run_steps(
            suspect_steps(t, cause),
            t,
            incident,
            &mut messages,
            &mut seen,
            &mut calls,
        );
        // Logs the warning filter hid: read every level once when the expected lines
        // did not show up.
        let c = cause.component.as_str();
        let missing_log = signal_names(cause, "log")
            .iter()
            .any(|l| !seen.contains("search_logs", c, l));
        let mut more = Vec::new();
        if missing_log {
            more.push(Step {
                say: format!("Nothing conclusive at warning level; read all of {c}'s log groups, most frequent first."),
                action: Action::new("search_logs", json!({"service": c, "sort": "count", "limit": 30})),
            });
        }
        if let Some(id) = suspect_deploy(t, c, cause.injected_at.as_millis()) {
            if seen.contains("get_deploys", c, id) {
                more.push(Step {
                    say: format!("{id} landed just before the symptoms; read what it changed."),
                    action: Action::new("get_code_diff", json!({"deploy_id": id})),
                });
            }
        }
        run_steps(more, t, incident, &mut messages, &mut seen, &mut calls);
    }

    let report = report_for(truth, t, &seen);
    messages.push(json!({
        "role": "assistant",
        "content": serde_json::to_string(&report).unwrap_or_default(),
    }));
    let score = score_report(&report, incident, truth, t, calls + 1);

    let mut meta = json!({
        "scenario": incident.scenario,
        "scenario_digest": incident.scenario_digest,
        "seed": incident.seed,
        "topology": incident.topology.name,
        "tool_calls": calls,
        "reference_score": (score * 10_000.0).round() / 10_000.0,
    });
    if let (Some(m), Value::Object(extra)) = (meta.as_object_mut(), metadata) {
        m.extend(extra);
    }
    let row = json!({
        "messages": messages,
        "ground_truth": truth,
        "metadata": meta,
    });
    ChatRow { row, report, score }
}
