//! Prints the diagnostics for the files given.
fn main() {
    for path in std::env::args().skip(1) {
        match otrashi_scenarios::parse_file(std::path::Path::new(&path)) {
            Ok(s) => println!("{path}: ok ({} faults)", s.faults.len()),
            Err(e) => println!("{e}"),
        }
    }
}
