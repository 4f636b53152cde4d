//! `get_deploys` and `get_code_diff`: what changed, and the change itself.

use serde::{Deserialize, Serialize};

use super::{resolve_service, truncate_text, wall, QueryError, Window};
use crate::telemetry::Telemetry;

/// Longest diff returned, in characters.
pub const MAX_DIFF_CHARS: usize = 12_000;
/// Most deploys one call lists.
pub const MAX_DEPLOYS: usize = 50;

/// Arguments of `get_deploys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployArgs {
    /// Only deploys of this service.
    #[serde(default)]
    pub service: Option<String>,
    /// Window start.
    #[serde(default)]
    pub start: Option<String>,
    /// Window end.
    #[serde(default)]
    pub end: Option<String>,
}

/// One deploy, without its diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployInfo {
    /// Id, what `get_code_diff` takes.
    pub id: String,
    /// When the rollout started.
    pub time: String,
    /// The service deployed.
    pub service: String,
    /// Version before.
    pub from_version: String,
    /// Version after.
    pub to_version: String,
    /// Commit hash.
    pub commit: String,
    /// Who shipped it.
    pub author: String,
    /// The change's title.
    pub title: String,
    /// Files the diff touches.
    pub files_changed: Vec<String>,
}

/// Result of `get_deploys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploysResult {
    /// Window start.
    pub start: String,
    /// Window end.
    pub end: String,
    /// Deploys, earliest first.
    pub deploys: Vec<DeployInfo>,
    /// What was cut.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Result of `get_code_diff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeDiff {
    /// The deploy.
    pub deploy: DeployInfo,
    /// The unified diff (cut when very long).
    pub diff: String,
    /// What was cut.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The files a unified diff touches, from its `+++ b/…` (or `diff --git`) headers.
pub fn files_changed(diff: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for line in diff.lines() {
        let file = if let Some(rest) = line.strip_prefix("+++ ") {
            let rest = rest.trim();
            if rest == "/dev/null" {
                continue;
            }
            rest.strip_prefix("b/").unwrap_or(rest)
        } else if let Some(rest) = line.strip_prefix("diff --git ") {
            match rest.split_whitespace().nth(1) {
                Some(b) => b.strip_prefix("b/").unwrap_or(b),
                None => continue,
            }
        } else {
            continue;
        };
        if !files.iter().any(|f| f == file) {
            files.push(file.to_owned());
        }
    }
    files
}

fn info(t: &Telemetry, d: &crate::telemetry::Deploy) -> DeployInfo {
    DeployInfo {
        id: d.id.clone(),
        time: wall(t, d.t_ms),
        service: t.service_name(d.service).to_owned(),
        from_version: d.from_version.clone(),
        to_version: d.to_version.clone(),
        commit: d.commit.clone(),
        author: d.author.clone(),
        title: d.title.clone(),
        files_changed: files_changed(&d.diff),
    }
}

/// Answers `get_deploys`.
pub fn get_deploys(t: &Telemetry, args: &DeployArgs) -> Result<DeploysResult, QueryError> {
    let window = Window::resolve(t, args.start.as_deref(), args.end.as_deref())?;
    let service = resolve_service(t, args.service.as_deref())?;
    let matched: Vec<&crate::telemetry::Deploy> = t
        .deploys
        .iter()
        .filter(|d| window.contains(d.t_ms) && service.is_none_or(|s| s == d.service))
        .collect();
    let mut notes = Vec::new();
    if matched.len() > MAX_DEPLOYS {
        notes.push(format!(
            "showing the {MAX_DEPLOYS} latest of {} deploys",
            matched.len()
        ));
    }
    let skip = matched.len().saturating_sub(MAX_DEPLOYS);
    Ok(DeploysResult {
        start: wall(t, window.start_ms),
        end: wall(t, window.end_ms),
        deploys: matched.into_iter().skip(skip).map(|d| info(t, d)).collect(),
        notes,
    })
}

/// Answers `get_code_diff`.
pub fn get_code_diff(t: &Telemetry, deploy_id: &str) -> Result<CodeDiff, QueryError> {
    let wanted = deploy_id.trim();
    let Some(d) = t
        .deploys
        .iter()
        .find(|d| d.id == wanted || d.commit == wanted)
    else {
        return Err(QueryError::UnknownDeploy {
            given: wanted.to_owned(),
            suggestion: otrashi_scenarios::catalog::closest(
                wanted,
                t.deploys.iter().map(|d| d.id.as_str()),
            )
            .map(str::to_owned),
        });
    };
    let (diff, cut) = truncate_text(&d.diff, MAX_DIFF_CHARS);
    let notes = if cut {
        vec![format!("the diff is cut at {MAX_DIFF_CHARS} characters")]
    } else {
        Vec::new()
    };
    Ok(CodeDiff {
        deploy: info(t, d),
        diff,
        notes,
    })
}
