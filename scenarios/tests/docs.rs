//! Generated documents stay in sync with the code, and the format reference's example
//! is a scenario that parses.
//!
//! When a check fails because the catalog or the schema changed, regenerate with
//! `OTRASHI_BLESS=1 cargo test -p otrashi-scenarios --test docs`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

fn check_generated(file: &str, expected: &str) {
    let path = docs_dir().join(file);
    if std::env::var_os("OTRASHI_BLESS").is_some() {
        std::fs::create_dir_all(docs_dir()).unwrap();
        std::fs::write(&path, expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/{file} is stale; regenerate it with \
         `OTRASHI_BLESS=1 cargo test -p otrashi-scenarios --test docs`"
    );
}

#[test]
fn fault_reference_is_fresh() {
    check_generated("faults.md", &otrashi_scenarios::docs::render_markdown());
}

#[test]
fn json_schema_file_is_fresh() {
    let schema = otrashi_scenarios::scenario_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    check_generated("otrashi-scenario.schema.json", &text);
}

/// The first ```yaml block of the format reference.
fn first_yaml_block(markdown: &str) -> &str {
    let start = markdown.find("```yaml\n").expect("a ```yaml block") + "```yaml\n".len();
    let len = markdown[start..].find("```").expect("a closing fence");
    &markdown[start..start + len]
}

#[test]
fn format_reference_example_parses_and_is_a_library_file() {
    let doc = std::fs::read_to_string(docs_dir().join("scenario-format.md")).unwrap();
    let example = first_yaml_block(&doc);
    let scenario = otrashi_scenarios::parse_str(example, "docs/scenario-format.md")
        .unwrap_or_else(|e| panic!("{e}"));
    let bundled = otrashi_scenarios::library::scenarios()
        .iter()
        .find(|s| s.name == scenario.metadata.name)
        .expect("the example is a bundled scenario");
    assert_eq!(
        bundled.source, example,
        "the example differs from {}",
        bundled.file
    );
}

#[test]
fn library_index_is_fresh() {
    check_generated(
        "library.md",
        &otrashi_scenarios::docs::render_library_markdown(),
    );
}
