//! Scenario files: YAML text → a node tree with positions → a validated [`Scenario`].
//!
//! Every problem in a file is reported at once, each with its line and column. Hostile
//! input (huge files, binary junk, alias bombs, deep nesting) is refused quickly with a
//! message, never with a panic or an exhausted stack.

mod decode;
mod faults;
pub mod node;
pub(crate) mod scenario;
mod topology;
mod values;

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{Scenario, Topology};

use decode::Decoder;
use node::{Node, NodeKind};

pub use scenario::{DEFAULT_LOAD, DEFAULT_TIMELINE, MAX_EPISODE, MAX_RPS, MIN_DURATION};
pub use topology::valid_service_name;

/// Largest file accepted, in bytes. Scenario files are a few kilobytes.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Most services a topology may have. Far above any gym system, and it keeps the
/// graph checks (some quadratic in the number of services) fast on hostile input.
pub const MAX_SERVICES: usize = 500;

/// Most faults a scenario may inject.
pub const MAX_FAULTS: usize = 100;

/// Most red herrings a scenario may add.
pub const MAX_RED_HERRINGS: usize = 100;

const EMPTY_MESSAGE: &str = "file is empty; a scenario starts with `apiVersion: otrashi/v1`";

/// Parses and validates a scenario from text. `origin` names the source in diagnostics.
pub fn parse_str(source: &str, origin: &str) -> Result<Scenario, Diagnostics> {
    let root = document(source, origin)?;
    let mut d = Decoder::new(origin, source);
    let scenario = scenario::scenario(&mut d, &root);
    finish(d, scenario, origin, "a scenario")
}

/// Parses and validates a scenario from bytes, refusing what is not UTF-8 text.
pub fn parse_bytes(bytes: &[u8], origin: &str) -> Result<Scenario, Diagnostics> {
    parse_str(text(bytes, origin)?, origin)
}

/// Reads, parses and validates a scenario file. An IO error becomes a diagnostic that
/// names the path.
pub fn parse_file(path: &Path) -> Result<Scenario, Diagnostics> {
    let origin = path.display().to_string();
    let bytes = read_limited(path, &origin)?;
    parse_bytes(&bytes, &origin)
}

/// Parses and validates a topology file (`kind: Topology`).
pub fn parse_topology_str(source: &str, origin: &str) -> Result<Topology, Diagnostics> {
    let root = document(source, origin)?;
    let mut d = Decoder::new(origin, source);
    let topology = topology_document(&mut d, &root);
    finish(d, topology, origin, "a topology")
}

fn topology_document(d: &mut Decoder<'_>, root: &Node) -> Option<Topology> {
    let mut m = d.map(root, "a topology")?;
    let header_ok = scenario::header(d, &mut m, "Topology");
    let has_name = m.required(d, "name", "the topology").is_some();
    let t = topology::topology_fields(d, &mut m, "");
    let mut allowed = vec!["apiVersion", "kind"];
    allowed.extend(topology::TOPOLOGY_FIELDS);
    m.finish(d, "the topology", &allowed);
    (header_ok && has_name).then_some(t).flatten()
}

fn finish<T>(d: Decoder<'_>, value: Option<T>, origin: &str, what: &str) -> Result<T, Diagnostics> {
    let diags = d.into_diagnostics();
    match value {
        Some(v) if diags.is_empty() => Ok(v),
        _ if diags.is_empty() => Err(Diagnostics(vec![Diagnostic::file_error(
            origin,
            format!("not {what}"),
        )])),
        _ => Err(Diagnostics::sorted(diags)),
    }
}

fn fail(d: Diagnostic) -> Diagnostics {
    Diagnostics(vec![d])
}

fn read_limited(path: &Path, origin: &str) -> Result<Vec<u8>, Diagnostics> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| {
        fail(Diagnostic::file_error(
            origin,
            format!("cannot read `{origin}`: {e}"),
        ))
    })?;
    let mut bytes = Vec::new();
    // Reading one byte past the limit tells "too big" apart without reading a 50 GB file.
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            fail(Diagnostic::file_error(
                origin,
                format!("cannot read `{origin}`: {e}"),
            ))
        })?;
    Ok(bytes)
}

fn too_big(origin: &str, len: usize) -> Diagnostics {
    fail(
        Diagnostic::file_error(
            origin,
            format!("file is larger than the limit of 1 MiB ({len} bytes or more)"),
        )
        .with_hint("scenario files are a few kilobytes; is this the right file?"),
    )
}

fn text<'b>(bytes: &'b [u8], origin: &str) -> Result<&'b str, Diagnostics> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_big(origin, bytes.len()));
    }
    if bytes.contains(&0) {
        return Err(fail(Diagnostic::file_error(
            origin,
            "not a text file: it contains NUL bytes",
        )));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = String::from_utf8_lossy(valid.rsplit(|b| *b == b'\n').next().unwrap_or(&[]))
            .chars()
            .count()
            + 1;
        fail(Diagnostic {
            origin: origin.to_owned(),
            line,
            column,
            severity: crate::diag::Severity::Error,
            message: format!("not a text file: invalid UTF-8 at byte {}", e.valid_up_to()),
            hint: Some("scenario files are UTF-8 YAML".into()),
            excerpt: None,
        })
    })
}

/// The root node of the single YAML document in `source`, after the checks that apply
/// to any file.
fn document(source: &str, origin: &str) -> Result<Node, Diagnostics> {
    if source.len() > MAX_FILE_BYTES {
        return Err(too_big(origin, source.len()));
    }
    if source.contains('\0') {
        return Err(fail(Diagnostic::file_error(
            origin,
            "not a text file: it contains NUL bytes",
        )));
    }
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if source.trim().is_empty() {
        return Err(fail(Diagnostic::file_error(origin, EMPTY_MESSAGE)));
    }
    let root = match node::build(source) {
        Ok(Some(root)) => root,
        Ok(None) => return Err(fail(Diagnostic::file_error(origin, EMPTY_MESSAGE))),
        Err(e) => {
            let d = Diagnostic::error(origin, source, e.pos.line, e.pos.col, e.message);
            return Err(fail(match e.hint {
                Some(h) => d.with_hint(h),
                None => d,
            }));
        }
    };
    match &root.kind {
        NodeKind::Map(_) => Ok(root),
        NodeKind::Null => Err(fail(Diagnostic::file_error(origin, EMPTY_MESSAGE))),
        _ => Err(fail(
            Diagnostic::error(
                origin,
                source,
                root.pos.line,
                root.pos.col,
                format!(
                    "a scenario file is a YAML mapping, but this document is {}",
                    root.describe()
                ),
            )
            .with_hint("a scenario starts with `apiVersion: otrashi/v1`"),
        )),
    }
}
