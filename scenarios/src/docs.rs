//! Reference documentation generated from the catalog, so that `docs/faults.md` cannot
//! drift from the code: a test compares the file with [`render_markdown`].

use std::fmt::Write as _;

use crate::catalog::{FaultDef, Level, TargetRequirement, CATALOG};

fn level_title(level: Level) -> &'static str {
    match level {
        Level::Infra => "Infrastructure faults (`infra.*`)",
        Level::Orchestration => "Orchestration faults (`orchestration.*`)",
        Level::Code => "Code faults (`code.*`)",
    }
}

fn requirement(def: &FaultDef) -> String {
    let base = match def.target {
        TargetRequirement::AnyService => "any service".to_owned(),
        other => format!("a service that can {}", other.describe()),
    };
    if def.level == Level::Code {
        format!("{base} that runs its own code (kind `web`, `api` or `worker`)")
    } else {
        base
    }
}

/// Formats a number without a trailing `.0`, so tables read `100`, not `100.0`.
pub(crate) fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

/// A Markdown reference of every fault kind: level, description, signature, parameters
/// with unit, range and default, the ways it may arrive and what it needs of its target.
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Fault catalog\n\n");
    out.push_str(
        "<!-- Generated from scenarios/src/catalog.rs by `docs::render_markdown`. Do not edit:\n     \
         regenerate with `OTRASHI_BLESS=1 cargo test -p otrashi-scenarios --test docs`. -->\n\n",
    );
    let _ = writeln!(
        out,
        "otrashi knows {} fault kinds on three levels. A scenario names a kind by its full name \
         (`code.memory_leak`) or its short name (`memory_leak`). Every parameter is a number \
         that may be fixed or drawn from a distribution; sampled values are clamped into the \
         range below. `via` says how the fault arrives and so which clues exist: a `deploy` \
         leaves a deploy event and a code diff, a `config` change leaves a configuration event, \
         `direct` leaves neither. The first via listed is the default.\n",
        CATALOG.len()
    );
    for level in Level::ALL {
        let _ = writeln!(out, "## {}\n", level_title(level));
        for def in CATALOG.iter().filter(|d| d.level == level) {
            let _ = writeln!(out, "### `{}`\n", def.kind);
            let _ = writeln!(out, "{}\n", def.description);
            let _ = writeln!(out, "- **Signature:** {}", def.signature);
            let _ = writeln!(out, "- **Family:** `{}`", def.family);
            let vias: Vec<String> = def.vias.iter().map(|v| format!("`{v}`")).collect();
            let _ = writeln!(out, "- **Arrives via:** {}", vias.join(", "));
            let _ = writeln!(out, "- **Target:** {}", requirement(def));
            let signals: Vec<String> = def.signals.iter().map(|s| format!("`{s}`")).collect();
            let _ = writeln!(out, "- **Signals:** {}\n", signals.join(", "));
            if def.params.is_empty() {
                out.push_str("No parameters.\n\n");
                continue;
            }
            out.push_str("| parameter | unit | range | default | description |\n");
            out.push_str("|---|---|---|---|---|\n");
            for p in def.params {
                let integer = if p.integer { " (whole)" } else { "" };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} – {}{integer} | {} | {} |",
                    p.name,
                    escape(p.unit),
                    num(p.min),
                    num(p.max),
                    num(p.default),
                    escape(p.description)
                );
            }
            out.push('\n');
        }
    }
    // One trailing newline, as editors save files.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_section() {
        let md = render_markdown();
        for def in &CATALOG {
            assert!(md.contains(&format!("### `{}`", def.kind)), "{}", def.kind);
            for p in def.params {
                assert!(md.contains(&format!("| `{}` |", p.name)), "{}", p.name);
            }
        }
    }
}
