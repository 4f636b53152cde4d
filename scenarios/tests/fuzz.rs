//! Property tests: no input makes the parser panic.

#![allow(clippy::unwrap_used)]

use otrashi_scenarios::{library, parse_bytes};
use proptest::prelude::*;

/// One edit of a library file.
#[derive(Debug, Clone)]
enum Mutation {
    FlipByte { at: usize, mask: u8 },
    DeleteLine { line: usize },
    Truncate { at: usize },
    DuplicateLine { line: usize },
    InsertByte { at: usize, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::FlipByte { at, mask }),
        any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::InsertByte { at, byte }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let lines = |b: &[u8]| -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, c) in b.iter().enumerate() {
            if *c == b'\n' {
                out.push((start, i + 1));
                start = i + 1;
            }
        }
        if start < b.len() {
            out.push((start, b.len()));
        }
        out
    };
    match *m {
        Mutation::FlipByte { at, mask } => {
            let i = at % bytes.len();
            bytes[i] ^= mask;
        }
        Mutation::DeleteLine { line } => {
            let ls = lines(bytes);
            let (s, e) = ls[line % ls.len()];
            bytes.drain(s..e);
        }
        Mutation::Truncate { at } => bytes.truncate(at % bytes.len()),
        Mutation::DuplicateLine { line } => {
            let ls = lines(bytes);
            let (s, e) = ls[line % ls.len()];
            let copy = bytes[s..e].to_vec();
            bytes.splice(e..e, copy);
        }
        Mutation::InsertByte { at, byte } => {
            let i = at % (bytes.len() + 1);
            bytes.insert(i, byte);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_bytes(&bytes, "fuzz.yaml");
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t]{0,512}") {
        let _ = parse_bytes(text.as_bytes(), "fuzz.yaml");
    }

    #[test]
    fn mutated_library_files_never_panic(
        file in 0..library::scenarios().len(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = library::scenarios()[file].source.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Err(e) = parse_bytes(&bytes, "mutated.yaml") {
            // Every refusal says something and renders.
            prop_assert!(!e.is_empty());
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
