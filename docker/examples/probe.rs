//! Prints what this host can do for the Docker backend (the future `otrashi doctor`).
//!
//! `cargo run -p otrashi-docker --example probe` (as root: it creates a throwaway
//! network namespace to try tc and iptables in).

#[tokio::main(flavor = "current_thread")]
async fn main() {
    print!("{}", otrashi_docker::probe().await);
}
