//! Hostile and malformed input is refused with a message, never a panic, and within
//! the parser's budgets (size, depth, alias expansion, node count, diagnostics), which
//! the messages name. Speed is the benchmark's business (`otrashi bench`), not a timed
//! assertion here: a loaded CI machine would make one flaky.

#![allow(clippy::unwrap_used)]

use otrashi_scenarios::{parse_bytes, parse_str, Diagnostics};

fn refused(bytes: &[u8]) -> Diagnostics {
    let result = parse_bytes(bytes, "hostile.yaml");
    let err = result.expect_err("hostile input parsed");
    assert!(err.has_errors());
    // Rendering stays bounded whatever the input: at most 100 diagnostics, each with
    // capped messages and a cut excerpt.
    assert!(
        err.to_string().len() < 64 * 1024,
        "{} bytes of diagnostics",
        err.to_string().len()
    );
    err
}

fn message(err: &Diagnostics) -> String {
    err.iter()
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn empty_file() {
    let err = refused(b"");
    assert_eq!(
        message(&err),
        "file is empty; a scenario starts with `apiVersion: otrashi/v1`"
    );
}

#[test]
fn whitespace_and_comments_only() {
    assert!(message(&refused(b"  \n\t\n   \n")).starts_with("file is empty"));
    assert!(message(&refused(b"# just a comment\n---\n")).starts_with("file is empty"));
}

#[test]
fn binary_junk() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(message(&refused(&junk)).starts_with("not a text file"));
}

#[test]
fn nul_bytes() {
    let err = refused(b"apiVersion: otrashi/v1\0\nkind: Scenario\n");
    assert_eq!(message(&err), "not a text file: it contains NUL bytes");
    let err = parse_str("apiVersion: otrashi/v1\0", "s").unwrap_err();
    assert!(message(&err).contains("NUL"));
}

#[test]
fn invalid_utf8_has_a_position() {
    let err = refused(b"apiVersion: otrashi/v1\nkind: Sc\xff\xfeenario\n");
    let d = &err.0[0];
    assert!(
        d.message
            .starts_with("not a text file: invalid UTF-8 at byte 31"),
        "{}",
        d.message
    );
    assert_eq!((d.line, d.column), (2, 9));
}

#[test]
fn billion_laughs() {
    let mut yaml = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        yaml.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    let err = refused(yaml.as_bytes());
    assert!(
        message(&err).contains("alias expansion exceeds 100000 nodes"),
        "{}",
        message(&err)
    );
}

#[test]
fn fifty_megabytes() {
    let big = "a".repeat(50 * 1024 * 1024);
    let err = parse_str(&big, "big.yaml").unwrap_err();
    assert!(
        message(&err).contains("larger than the limit of 1 MiB"),
        "{}",
        message(&err)
    );
    assert!(message(&refused(big.as_bytes())).contains("1 MiB"));
}

#[test]
fn fifty_megabyte_file_is_not_read_whole() {
    let path = std::env::temp_dir().join(format!("otrashi-hostile-{}.yaml", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(50 * 1024 * 1024).unwrap();
    let err = otrashi_scenarios::parse_file(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(message(&err).contains("larger than the limit of 1 MiB"));
}

#[test]
fn deep_flow_nesting() {
    let deep = "[".repeat(100_000);
    let err = refused(deep.as_bytes());
    let m = message(&err);
    assert!(
        m.contains("nesting deeper than 64 levels") || m.starts_with("YAML syntax"),
        "{m}"
    );
}

#[test]
fn deep_block_nesting() {
    let mut yaml = String::new();
    for depth in 0..200 {
        yaml.push_str(&" ".repeat(depth));
        yaml.push_str("k:\n");
    }
    assert!(message(&refused(yaml.as_bytes())).contains("nesting deeper than 64 levels"));
}

#[test]
fn one_mebibyte_single_line_scalar() {
    let line = "x".repeat(1024 * 1024 - 16);
    let err = refused(line.as_bytes());
    assert!(
        message(&err).contains("this document is a string"),
        "{}",
        message(&err)
    );
    let value = format!("apiVersion: {}\n", "v".repeat(1024 * 1024 - 64));
    let err = refused(value.as_bytes());
    assert!(err
        .iter()
        .any(|d| d.message.starts_with("unsupported apiVersion")));
}

#[test]
fn documents_that_are_not_mappings() {
    assert!(message(&refused(b"hello\n")).contains("this document is a string"));
    assert!(message(&refused(b"42\n")).contains("this document is a number"));
    assert!(message(&refused(b"- a\n- b\n")).contains("this document is a list"));
    assert!(message(&refused(b"~\n")).starts_with("file is empty"));
}

#[test]
fn several_documents() {
    let err = refused(b"apiVersion: otrashi/v1\n---\nkind: Scenario\n");
    assert!(message(&err).contains("exactly one YAML document"));
}

#[test]
fn unknown_anchor_and_odd_keys() {
    refused(b"a: *nope\n");
    let err = refused(b"? [a, b]\n: c\n");
    assert!(message(&err).contains("must be names"), "{}", message(&err));
}

#[test]
fn a_mebibyte_of_bad_faults_stays_quick_and_bounded() {
    let mut yaml = String::from("apiVersion: otrashi/v1\nkind: Scenario\nmetadata: {name: t}\ntopology: platform\nfaults:\n");
    let fault =
        |i: usize| format!("  - {{id: f{i}, kind: memory_leek, target: ordrs-db, at: 1s}}\n");
    let mut few = yaml.clone();
    for i in 0..150 {
        few.push_str(&fault(i));
    }
    assert!(message(&refused(few.as_bytes())).contains("at most 100 faults"));
    let mut i = 0;
    while yaml.len() < 1000 * 1024 {
        yaml.push_str(&fault(i));
        i += 1;
    }
    let m = message(&refused(yaml.as_bytes()));
    assert!(
        m.contains("more than 100000 nodes") || m.contains("at most 100 faults"),
        "{m}"
    );
}

#[test]
fn many_bad_calls_stay_quick_and_bounded() {
    let mut yaml = String::from("apiVersion: otrashi/v1\nkind: Scenario\nmetadata: {name: t}\ntopology:\n  entry: s0\n  services:\n");
    for i in 0..500 {
        let calls: Vec<String> = (0..100).map(|j| format!("x{i}-{j}")).collect();
        yaml.push_str(&format!(
            "    s{i}: {{kind: api, calls: [{}]}}\n",
            calls.join(", ")
        ));
    }
    yaml.push_str("faults:\n  - {id: f, kind: hot_loop, target: s0, at: 90s}\n");
    assert!(yaml.len() < 1024 * 1024);
    let err = refused(yaml.as_bytes());
    assert_eq!(err.len(), 101, "100 diagnostics and a note");
    assert!(
        err.0[0].message.contains("more errors not shown"),
        "{}",
        err.0[0]
    );
}
