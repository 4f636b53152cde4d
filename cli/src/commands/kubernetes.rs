//! `otrashi kind up|down`, the Kubernetes part of `otrashi doctor`, and the
//! provisioning progress display of `--backend kubernetes`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use otrashi_clusters::kubernetes::{self as kube_backend, kind, Progress};
use serde_json::json;

use crate::args::KindCommand;

/// A spinner on stderr that shows provisioning progress (hidden when stderr is not a
/// terminal); it ends when every Deployment is ready.
pub fn kube_progress() -> impl Fn(&Progress) + Send + Sync + 'static {
    let bar = Arc::new(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    move |p: &Progress| {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar.set_message(p.to_string());
        if matches!(p, Progress::Ready { .. }) {
            bar.finish_and_clear();
            bar.reset();
        }
    }
}

/// What `otrashi doctor` says about Kubernetes: the kubeconfig's contexts and whether
/// the chosen one's API server answers.
pub struct KubeDoctor {
    /// The contexts, or why the kubeconfig could not be read.
    pub contexts: Result<(Vec<String>, Option<String>), String>,
    /// The context checked.
    pub context: Option<String>,
    /// `(server, version)`, or why it did not answer.
    pub answer: Result<(String, String), String>,
    /// Whether the `kind` command is installed.
    pub kind: Option<String>,
}

impl KubeDoctor {
    /// Checks the kubeconfig and asks the API server of `context` for its version.
    pub async fn probe(context: Option<&str>) -> KubeDoctor {
        let answer = match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            kube_backend::ping(context),
        )
        .await
        {
            Ok(r) => r.map_err(|e| chain(&e)),
            Err(_) => Err("the API server did not answer within 5 s".to_owned()),
        };
        KubeDoctor {
            contexts: kube_backend::contexts().map_err(|e| chain(&e)),
            context: context.map(str::to_owned),
            answer,
            kind: kind::Kind::find()
                .ok()
                .map(|k| k.program().display().to_string()),
        }
    }

    /// As JSON.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "contexts": self.contexts.as_ref().map(|(c, _)| c.clone()).ok(),
            "current_context": self.contexts.as_ref().ok().and_then(|(_, c)| c.clone()),
            "context": self.context,
            "api_server": self.answer.as_ref().ok().map(|(s, _)| s),
            "version": self.answer.as_ref().ok().map(|(_, v)| v),
            "error": self.answer.as_ref().err(),
            "kind": self.kind,
        })
    }

    /// As lines for the doctor's table.
    pub fn print(&self) {
        outln!("\nKubernetes backend:");
        match &self.contexts {
            Ok((all, current)) => outln!(
                "ok   {:<20} {} context(s), current: {}",
                "kubeconfig",
                all.len(),
                current.as_deref().unwrap_or("none")
            ),
            Err(e) => outln!("MISS {:<20} {e}", "kubeconfig"),
        }
        let which = self.context.as_deref().unwrap_or("current context");
        match &self.answer {
            Ok((server, version)) => {
                outln!(
                    "ok   {:<20} {server} answers ({version}, {which})",
                    "api_server"
                )
            }
            Err(e) => outln!("MISS {:<20} {which}: {e}", "api_server"),
        }
        match &self.kind {
            Some(p) => outln!("ok   {:<20} {p}", "kind"),
            None => outln!(
                "MISS {:<20} not on PATH (only needed for `otrashi kind up`)",
                "kind"
            ),
        }
    }
}

/// An error with its causes, `: `-separated; a cause whose text the message already
/// holds (many errors print their source themselves) is not repeated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// `otrashi kind up|down`.
pub fn kind(cmd: &KindCommand) -> anyhow::Result<ExitCode> {
    let kind = kind::Kind::find()?;
    match cmd {
        KindCommand::Up(args) => runtime()?.block_on(async {
            let created = kind.create(&args.name).await?;
            outln!(
                "{} kind cluster {} (context {})",
                if created { "created" } else { "found" },
                args.name,
                kind::context_of(&args.name)
            );
            let binary = otrashi_clusters::docker::find_workload()?;
            let engine = otrashi_docker::Engine::connect()
                .await
                .context("no Docker engine answered (it builds the workload image)")?;
            let built = otrashi_docker::build_workload_image(&engine, &binary, |_| {})
                .await
                .context("building the workload image")?;
            let archive =
                std::env::temp_dir().join(format!("otrashi-workload-{}.tar", std::process::id()));
            let loaded = async {
                kind::export_image(&engine, &built.tag, &archive).await?;
                kind.load_image_archive(&args.name, &archive).await
            }
            .await;
            let _ = std::fs::remove_file(&archive);
            loaded?;
            outln!("loaded {} into kind cluster {}", built.tag, args.name);
            outln!(
                "run: otrashi run SCENARIO --backend kubernetes --kube-context {}",
                kind::context_of(&args.name)
            );
            Ok(ExitCode::SUCCESS)
        }),
        KindCommand::Down(args) => runtime()?.block_on(async {
            kind.delete(&args.name).await?;
            outln!("deleted kind cluster {}", args.name);
            Ok(ExitCode::SUCCESS)
        }),
    }
}
