//! Checks scenario files and prints their diagnostics, like a linter.
//!
//! `cargo run -p otrashi-scenarios --example check -- FILE…` checks files;
//! `--bench` instead times parsing every bundled scenario.

fn bench() {
    let scenarios = otrashi_scenarios::library::scenarios();
    let rounds = 200u32;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for s in scenarios {
            if otrashi_scenarios::parse_str(s.source, s.file).is_err() {
                eprintln!("{} does not parse", s.file);
                std::process::exit(1);
            }
        }
    }
    let per_file = start.elapsed() / (rounds * scenarios.len() as u32);
    println!(
        "parsed {} bundled scenarios {rounds} times: {per_file:?} per file",
        scenarios.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--bench") {
        bench();
        return;
    }
    let mut failed = false;
    for path in &args {
        match otrashi_scenarios::parse_file(std::path::Path::new(path)) {
            Ok(s) => println!("{path}: ok ({} faults)", s.faults.len()),
            Err(e) => {
                failed = true;
                eprintln!("{e}\n");
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
