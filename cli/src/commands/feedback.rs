//! `otrashi feedback export`: stored feedback as DPO pairs or reward-model samples.

use std::process::ExitCode;

use anyhow::Context as _;
use otrashi_bridge::feedback::{export, export_rewards, ExportFormat, FEEDBACK_FILE};
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
            let summary = match args.format {
                FeedbackFormat::Dpo => export(&store, ExportFormat::Dpo, &args.out),
                FeedbackFormat::Rm => export(&store, ExportFormat::Rm, &args.out),
                FeedbackFormat::Rewards => {
                    let rubric = match &args.rubric {
                        Some(path) => otrashi_gym::score::Rubric::load(path)
                            .map_err(|e| InputError(e.to_string()))?
                            .feedback_blend(),
                        None => otrashi_gym::score::FeedbackBlend::default(),
                    };
                    export_rewards(&store, &rubric, &args.out)
                }
            }
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
