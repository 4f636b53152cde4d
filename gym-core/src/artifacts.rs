//! The episode directory: everything needed to audit, replay or learn from an episode.
//!
//! ```text
//! scenario.json  incident.json  ground_truth.json  report.json  score.json
//! trajectory.jsonl
//! telemetry/{metrics,logs,traces,events,deploys}.jsonl  telemetry/alert.json
//! ```
//! Each file is written under a temporary name and renamed into place, so a reader never
//! sees half a file, and an interrupted run leaves only `*.tmp` files to sweep.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use otrashi_scenarios::Scenario;

use crate::episode::EpisodeResult;
use crate::query::wall;
use crate::telemetry::Telemetry;

/// Why an episode directory could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Creating, writing or renaming a file failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be encoded as JSON.
    #[error("cannot encode {}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether files are flushed to disk before they are renamed into place. Episode
/// directories are (each file must survive a crash); dataset incidents are staged in a
/// directory that is renamed whole, and flushing thousands of files would dominate the
/// time to generate them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    Synced,
    Unsynced,
}

/// Writes a file through a temporary name: `write` fills it, then it is renamed.
fn atomic(
    path: &Path,
    durability: Durability,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> Result<(), ArtifactError>,
) -> Result<(), ArtifactError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut w = BufWriter::new(file);
    write(&mut w)?;
    w.flush().map_err(io(&tmp))?;
    if durability == Durability::Synced {
        w.get_ref().sync_all().map_err(io(&tmp))?;
    }
    drop(w);
    fs::rename(&tmp, path).map_err(io(path))
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), ArtifactError> {
    write_json_as(path, value, Durability::Synced)
}

fn write_json_as(
    path: &Path,
    value: &impl Serialize,
    durability: Durability,
) -> Result<(), ArtifactError> {
    atomic(path, durability, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(|source| ArtifactError::Encode {
            path: path.to_owned(),
            source,
        })?;
        w.write_all(b"\n").map_err(io(path))
    })
}

fn write_jsonl<T: Serialize>(
    path: &Path,
    rows: impl IntoIterator<Item = T>,
) -> Result<(), ArtifactError> {
    write_jsonl_as(path, rows, Durability::Synced)
}

fn write_jsonl_as<T: Serialize>(
    path: &Path,
    rows: impl IntoIterator<Item = T>,
    durability: Durability,
) -> Result<(), ArtifactError> {
    atomic(path, durability, |w| {
        for row in rows {
            serde_json::to_writer(&mut *w, &row).map_err(|source| ArtifactError::Encode {
                path: path.to_owned(),
                source,
            })?;
            w.write_all(b"\n").map_err(io(path))?;
        }
        Ok(())
    })
}

fn metric_rows(t: &Telemetry) -> impl Iterator<Item = Value> + '_ {
    t.metrics.iter().map(move |m| {
        let labels: serde_json::Map<String, Value> = m
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let values: Vec<Option<f64>> = m
            .values
            .iter()
            .map(|v| v.is_finite().then_some(*v))
            .collect();
        json!({
            "name": m.name, "service": t.service_name(m.service), "labels": labels,
            "kind": m.kind, "unit": m.unit, "start": wall(t, m.start_ms), "start_ms": m.start_ms,
            "step_ms": m.step_ms, "values": values,
        })
    })
}

/// A `logs.jsonl` row. A struct rather than `json!` because a dataset writes millions
/// of them; fields are in alphabetical order, the order `json!` objects serialize in,
/// so the bytes are the same either way.
#[derive(Serialize)]
struct LogRow<'a> {
    level: crate::telemetry::LogLevel,
    message: String,
    service: &'a str,
    t_ms: u64,
    template: u32,
    time: String,
    trace_id: Option<String>,
}

fn log_rows(t: &Telemetry) -> impl Iterator<Item = LogRow<'_>> + '_ {
    t.logs.iter().map(move |r| LogRow {
        level: r.level,
        message: t
            .log_templates
            .get(r.template as usize)
            .map(|tpl| tpl.render(&r.args))
            .unwrap_or_default(),
        service: t.service_name(r.service),
        t_ms: r.t_ms,
        template: r.template,
        time: wall(t, r.t_ms),
        trace_id: r.trace_id.map(|id| format!("{id:016x}")),
    })
}

/// A `traces.jsonl` row; see [`LogRow`] for why a struct and why this field order.
#[derive(Serialize)]
struct SpanRow<'a> {
    duration_us: u64,
    error: &'a Option<String>,
    http_status: u16,
    operation: Option<&'a String>,
    parent_id: Option<String>,
    service: &'a str,
    span_id: String,
    start: String,
    start_us: u64,
    status: crate::telemetry::SpanStatus,
    trace_id: String,
}

fn span_rows(t: &Telemetry) -> impl Iterator<Item = SpanRow<'_>> + '_ {
    t.spans.iter().map(move |s| SpanRow {
        duration_us: s.duration_us,
        error: &s.error,
        http_status: s.http_status,
        operation: t.operations.get(s.operation as usize),
        parent_id: s.parent_id.map(|p| format!("{p:016x}")),
        service: t.service_name(s.service),
        span_id: format!("{:016x}", s.span_id),
        start: wall(t, s.start_us / 1000),
        start_us: s.start_us,
        status: s.status,
        trace_id: format!("{:016x}", s.trace_id),
    })
}

fn event_rows(t: &Telemetry) -> impl Iterator<Item = Value> + '_ {
    t.events.iter().map(move |e| {
        json!({
            "time": wall(t, e.t_ms), "t_ms": e.t_ms, "service": t.service_name(e.service),
            "type": e.event_type, "reason": e.reason, "message": e.message,
        })
    })
}

fn deploy_rows(t: &Telemetry) -> impl Iterator<Item = Value> + '_ {
    t.deploys.iter().map(move |d| {
        json!({
            "id": d.id, "time": wall(t, d.t_ms), "t_ms": d.t_ms, "service": t.service_name(d.service),
            "from_version": d.from_version, "to_version": d.to_version, "commit": d.commit,
            "author": d.author, "title": d.title, "diff": d.diff,
        })
    })
}

/// Writes an episode's directory (created if missing; files replaced).
pub fn write_episode_dir(
    dir: &Path,
    result: &EpisodeResult,
    scenario: &Scenario,
) -> Result<(), ArtifactError> {
    let tele_dir = dir.join("telemetry");
    fs::create_dir_all(&tele_dir).map_err(io(&tele_dir))?;
    let t = &*result.telemetry;

    write_json(&dir.join("scenario.json"), scenario)?;
    write_json(&dir.join("incident.json"), &result.incident)?;
    write_json(&dir.join("ground_truth.json"), &result.truth)?;
    write_json(&dir.join("report.json"), &result.report)?;
    write_json(
        &dir.join("score.json"),
        &json!({
            "episode_id": result.episode_id,
            "scenario": result.scenario,
            "seed": result.seed,
            "agent": result.agent,
            "end_reason": result.end_reason,
            "failure": result.failure,
            "total_reward": result.total_reward,
            "reward": result.reward,
            "steps": result.steps,
            "invalid_actions": result.invalid_actions,
            "elapsed_s": result.elapsed_s,
        }),
    )?;
    write_jsonl(&dir.join("trajectory.jsonl"), &result.trajectory)?;

    write_telemetry_dir(&tele_dir, t)
}

/// As [`write_telemetry_dir`], without flushing each file to disk: for callers that
/// stage the files in a directory they rename into place whole (datasets), where a
/// killed process leaves only the staging directory behind. Not safe against power loss.
pub fn write_telemetry_dir_unsynced(tele_dir: &Path, t: &Telemetry) -> Result<(), ArtifactError> {
    write_telemetry(tele_dir, t, Durability::Unsynced)
}

/// Writes the `telemetry/` files of an episode directory into `tele_dir` (which must
/// exist): `alert.json` and one JSONL file per modality. Datasets reuse it so that an
/// incident's telemetry reads the same as an episode's.
pub fn write_telemetry_dir(tele_dir: &Path, t: &Telemetry) -> Result<(), ArtifactError> {
    write_telemetry(tele_dir, t, Durability::Synced)
}

fn write_telemetry(tele_dir: &Path, t: &Telemetry, d: Durability) -> Result<(), ArtifactError> {
    let alert = json!({
        "name": t.alert.name, "service": t.alert.service, "severity": t.alert.severity,
        "summary": t.alert.summary, "time": wall(t, t.alert.t_ms), "t_ms": t.alert.t_ms,
        "telemetry_start": wall(t, 0), "telemetry_end": wall(t, t.end_ms),
    });
    write_json_as(&tele_dir.join("alert.json"), &alert, d)?;
    write_jsonl_as(&tele_dir.join("metrics.jsonl"), metric_rows(t), d)?;
    write_jsonl_as(&tele_dir.join("logs.jsonl"), log_rows(t), d)?;
    write_jsonl_as(&tele_dir.join("traces.jsonl"), span_rows(t), d)?;
    write_jsonl_as(&tele_dir.join("events.jsonl"), event_rows(t), d)?;
    write_jsonl_as(&tele_dir.join("deploys.jsonl"), deploy_rows(t), d)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::agents::Baseline;
    use crate::fixture::{self, ExactScorer, FakeBackend};
    use crate::gym::{Gym, GymConfig};

    #[tokio::test]
    async fn writes_every_file_and_names_the_path_on_error() {
        let mut gym = Gym::new(
            fixture::scenario(),
            Arc::new(FakeBackend::default()),
            GymConfig::new(Arc::new(ExactScorer)),
        );
        let result = crate::episode::run_episode(&mut gym, &mut Baseline::new(), Some(5))
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!("otrashi-artifacts-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write_episode_dir(&dir, &result, gym.scenario()).unwrap();
        for f in [
            "scenario.json",
            "incident.json",
            "ground_truth.json",
            "report.json",
            "score.json",
            "trajectory.jsonl",
            "telemetry/alert.json",
            "telemetry/metrics.jsonl",
            "telemetry/logs.jsonl",
            "telemetry/traces.jsonl",
            "telemetry/events.jsonl",
            "telemetry/deploys.jsonl",
        ] {
            assert!(dir.join(f).is_file(), "{f} missing");
            assert!(!dir.join(format!("{f}.tmp")).exists());
        }
        let logs = fs::read_to_string(dir.join("telemetry/logs.jsonl")).unwrap();
        assert_eq!(logs.lines().count(), result.telemetry.logs.len());
        let first: Value = serde_json::from_str(logs.lines().next().unwrap()).unwrap();
        assert_eq!(first["message"], "GET /api/items 200 in 12ms");
        let traj = fs::read_to_string(dir.join("trajectory.jsonl")).unwrap();
        assert_eq!(traj.lines().count(), result.trajectory.len());
        let truth: otrashi_scenarios::GroundTruth =
            serde_json::from_str(&fs::read_to_string(dir.join("ground_truth.json")).unwrap())
                .unwrap();
        assert_eq!(truth, result.truth);
        let metrics = fs::read_to_string(dir.join("telemetry/metrics.jsonl")).unwrap();
        assert!(metrics.contains("null"), "NaN is written as null");

        // A file where the directory should be: the error names the path.
        let blocked = dir.join("blocked");
        fs::write(&blocked, "x").unwrap();
        let err = write_episode_dir(&blocked, &result, gym.scenario()).unwrap_err();
        assert!(err.to_string().contains("blocked"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
