//! `otrashi feedback export`: stored feedback as DPO pairs or reward-model samples.

use std::process::ExitCode;

use anyhow::Context as _;
use otrashi_bridge::feedback::{export, ExportFormat, FEEDBACK_FILE};
use otrashi_bridge::FeedbackStore;

use crate::args::{FeedbackCommand, FeedbackFormat};
use crate::exit::InputError;

pub fn run(cmd: FeedbackCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FeedbackCommand::Export(args) => {
            if !args.store.join(FEEDBACK_FILE).exists() {
                return Err(InputError(format!(
                    "{} holds no {FEEDBACK_FILE}; point --store at the --out directory of runs made with --trainer",
                    args.store.display()
                ))
                .into());
            }
            let store = FeedbackStore::open(&args.store).with_context(|| {
                format!("cannot open the feedback store {}", args.store.display())
            })?;
            let format = match args.format {
                FeedbackFormat::Dpo => ExportFormat::Dpo,
                FeedbackFormat::Rm => ExportFormat::Rm,
            };
            let summary = export(&store, format, &args.out)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            eprintln!(
                "wrote {} lines to {} ({} skipped: episode not recorded; {} skipped: preference across different prompts)",
                summary.written,
                args.out.display(),
                summary.missing_episode,
                summary.different_prompts
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
