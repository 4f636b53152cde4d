//! `otrashi feedback export`: stored feedback as DPO pairs or reward-model samples.

use std::process::ExitCode;

use anyhow::Context as _;
use otrashi_bridge::feedback::{
    export, export_rewards, ExportFormat, FeedbackRubric, FEEDBACK_FILE,
};
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
                        Some(path) => {
                            // The whole rubric is checked as `run` would read it; the
                            // blend reads its [feedback] section.
                            let text = std::fs::read_to_string(path).map_err(|e| {
                                InputError(format!("cannot read --rubric {}: {e}", path.display()))
                            })?;
                            otrashi_gym::score::Rubric::from_toml_str(
                                &text,
                                &path.display().to_string(),
                            )
                            .map_err(|e| InputError(e.to_string()))?;
                            FeedbackRubric::from_rubric_toml(&text)
                                .map_err(|e| InputError(format!("{}: {e}", path.display())))?
                        }
                        None => FeedbackRubric::default(),
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
