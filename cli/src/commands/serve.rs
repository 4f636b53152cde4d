//! `otrashi serve`: the gym as a gRPC service.

use std::process::ExitCode;

use otrashi_bridge::serve::{bind, serve_on, ServeConfig, ServeError, TlsPem};

use crate::args::ServeArgs;
use crate::exit::InputError;

fn read(path: &std::path::Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| InputError(format!("cannot read {what} {}: {e}", path.display())).into())
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = ServeConfig::new(args.listen);
    config.allow_remote = args.allow_remote;
    config.max_envs = args.max_envs;
    config.token = match &args.token_file {
        Some(path) => Some(
            String::from_utf8_lossy(&read(path, "--token-file")?)
                .trim()
                .to_owned(),
        ),
        None => std::env::var("OTRASHI_TOKEN").ok(),
    }
    .filter(|t| !t.is_empty());
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(TlsPem {
            cert: read(cert, "--tls-cert")?,
            key: read(key, "--tls-key")?,
        });
    }
    let input = |e: ServeError| -> anyhow::Error {
        match e {
            ServeError::NotLoopback { .. } | ServeError::Tls(_) => InputError(e.to_string()).into(),
            other => other.into(),
        }
    };
    config.validate().map_err(input)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = bind(&config).await.map_err(input)?;
        let addr = listener.local_addr()?;
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        // The address goes to stdout so that a script can start the server on port 0
        // and read where it listens.
        outln!("otrashi.v1.GymService listening on {scheme}://{addr}");
        eprintln!(
            "token: {} · Ctrl-C stops",
            if config.token.is_some() {
                "required"
            } else {
                "none (loopback only is safe)"
            }
        );
        serve_on(listener, &config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(input)?;
        Ok(ExitCode::SUCCESS)
    })
}
