//! Command-line arguments. Every command's `--help` ends with examples, because an
//! example teaches faster than a flag list.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// otrashi — a chaos gym for root-cause-analysis (RCA) agents.
///
/// otrashi breaks a running system on purpose (a simulator by default, or real
/// containers), lets an RCA agent investigate with a fixed tool set, and scores its
/// report against the ground truth it knows because it caused the incident.
#[derive(Debug, Parser)]
#[command(
    name = "otrashi",
    version,
    propagate_version = true,
    after_help = "\
Examples:
  otrashi scenarios list                         # the bundled incident library
  otrashi run shop-cart-memory-leak              # one episode, baseline agent, simulator
  otrashi run my-scenario.yaml --agent 'python3 my_agent.py' --seed 7
  otrashi eval --all --seeds 5 --json > scores.json
  otrashi eval --all --seeds 5 --compare scores.json --fail-under 0.4

Exit codes: 0 success · 1 a check failed (invalid scenario, regression, score under
the threshold) · 2 bad usage or input · 3 the run itself failed."
)]
pub struct Cli {
    /// Log verbosity for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", env = "OTRASHI_LOG")]
    pub log: String,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with scenario files: list the library, validate, sample, print the schema.
    #[command(subcommand)]
    Scenarios(ScenariosCommand),
    /// List the fault catalog: every fault kind, its level, parameters and signature.
    #[command(after_help = "\
Examples:
  otrashi faults                      # table of all fault kinds
  otrashi faults --level code         # only code-level faults
  otrashi faults --json | jq '.[0]'   # machine-readable, with parameter ranges")]
    Faults(FaultsArgs),
    /// Print the agent's tool set (JSON Schemas), e.g. in function-calling format.
    #[command(after_help = "\
Examples:
  otrashi tools                 # names and descriptions
  otrashi tools --json          # OpenAI-style function-calling specs for LLM trainers")]
    Tools(ToolsArgs),
    /// Run one episode: provision, break, let an agent investigate, score its report.
    Run(RunArgs),
    /// Run scenarios over several seeds and print a score table; gate CI on regressions.
    Eval(EvalArgs),
    /// Measure otrashi's own speed and print the figures.
    #[command(after_help = "\
Examples:
  otrashi bench             # human-readable figures
  otrashi bench --json      # {\"sim_episodes_per_s\": …, …}")]
    Bench(BenchArgs),
    /// Generate a synthetic incident dataset (native, RCAEval, chat) or print its stats.
    Generate(GenerateArgs),
    /// Render an episode directory or an eval result as one self-contained HTML page.
    Report(ReportArgs),
    /// Serve the gym over gRPC so a trainer can drive episodes (create, reset, step, close).
    #[command(after_help = "\
Examples:
  otrashi serve                                   # 127.0.0.1:50051, no token
  OTRASHI_TOKEN=s3cret otrashi serve --listen 127.0.0.1:6000
  otrashi serve --listen 0.0.0.0:50051 --allow-remote --token-file token.txt \\
      --tls-cert cert.pem --tls-key key.pem       # TLS (rustls)

The protocol is proto/otrashi/v1/gym.proto (service otrashi.v1.GymService).")]
    Serve(ServeArgs),
    /// Work with human and AI feedback stored by `--trainer` runs.
    #[command(subcommand)]
    Feedback(FeedbackCommand),
    /// Check this host for the Docker backend: engine, image builds, tc, netem,
    /// iptables, nsenter, and which fault kinds it can inject here.
    #[command(after_help = "\
Examples:
  otrashi doctor            # a table of capabilities and fault kinds
  otrashi doctor --json     # machine-readable")]
    Doctor(DoctorArgs),
    /// Remove what crashed Docker episodes left behind (containers, networks, and the
    /// faults their journals did not revert). Live episodes of running gyms are kept.
    #[command(after_help = "\
Examples:
  otrashi sweep             # episodes whose gym process is gone
  otrashi sweep --all       # every otrashi container and network on this engine")]
    Sweep(SweepArgs),
    /// Build the container images of the Docker backend.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Create or delete a local kind cluster for the Kubernetes backend, with the
    /// workload image loaded into it (needs the `kind` command and a Docker engine).
    #[command(subcommand)]
    Kind(KindCommand),
}

/// `otrashi kind …`
#[derive(Debug, Subcommand)]
pub enum KindCommand {
    /// Create the kind cluster when it does not exist, build the workload image and
    /// load it onto the nodes (`kind load image-archive`). Its context is `kind-NAME`.
    #[command(after_help = "\
Examples:
  otrashi kind up
  otrashi run chain-api-crash-loop --backend kubernetes --kube-context kind-otrashi")]
    Up(KindArgs),
    /// Delete the kind cluster.
    Down(KindArgs),
}

/// Options of `otrashi kind up|down`.
#[derive(Debug, Args)]
pub struct KindArgs {
    /// The cluster's name.
    #[arg(long, default_value = "otrashi")]
    pub name: String,
}

/// `otrashi serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback address (use a token and TLS then).
    #[arg(long)]
    pub allow_remote: bool,
    /// A file holding the bearer token every request must carry; default: $OTRASHI_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Environments open at once, at most.
    #[arg(long, default_value_t = 64)]
    pub max_envs: usize,
}

/// `otrashi feedback …`
#[derive(Debug, Subcommand)]
pub enum FeedbackCommand {
    /// Export stored feedback as JSONL for TRL / OpenRLHF.
    #[command(after_help = "\
`dpo` writes {prompt, chosen, rejected} per pairwise preference (both episodes must share
the prompt); `rm` writes {prompt, response, score} per scalar score.

Examples:
  otrashi feedback export --format dpo --store otrashi-runs --out dpo.jsonl
  otrashi feedback export --format rm --store otrashi-runs --out rm.jsonl")]
    Export(FeedbackExportArgs),
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeedbackFormat {
    /// Preference pairs for DPO.
    Dpo,
    /// Scored samples for a reward model.
    Rm,
    /// One line per episode: the gym's reward blended with its feedback by the rubric's
    /// `[feedback]` section.
    Rewards,
}

/// `otrashi feedback export`
#[derive(Debug, Args)]
pub struct FeedbackExportArgs {
    /// What to write.
    #[arg(long, value_enum)]
    pub format: FeedbackFormat,
    /// The feedback store: the `--out` directory of the runs (holds feedback.jsonl).
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    /// The JSONL file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// A rubric file whose `[feedback]` section (`weight`, `ai_rater_weight`) sets how
    /// feedback blends into the reward (`--format rewards`); default: no blending.
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,
}

/// Streaming episodes to a trainer (`run`, `eval`).
#[derive(Debug, Args, Clone)]
pub struct TrainerArgs {
    /// Stream every episode to a trainer over gRPC (otrashi.v1.TrainerExchange), e.g.
    /// http://127.0.0.1:50052. Episodes start only with the trainer's credit.
    #[arg(long, value_name = "URL")]
    pub trainer: Option<String>,
    /// This gym's worker id at the trainer: stable across restarts, unique among gyms
    /// running at once.
    #[arg(long, default_value = "default", value_name = "ID")]
    pub worker: String,
    /// Where unacknowledged messages wait (default: `~/.cache/otrashi/spool/<worker>`).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// A file holding a bearer token for the trainer; default: $OTRASHI_TRAINER_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub trainer_token_file: Option<PathBuf>,
    /// Where trainer feedback is stored [default: the --out directory].
    #[arg(long, value_name = "DIR")]
    pub feedback_store: Option<PathBuf>,
    /// How long to wait at the end for the trainer to acknowledge everything.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub trainer_drain: String,
}

/// `otrashi doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The kubeconfig context to check [default: the current one].
    #[arg(long, value_name = "CONTEXT", env = "OTRASHI_KUBE_CONTEXT")]
    pub kube_context: Option<String>,
}

/// `otrashi sweep`
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Also remove live episodes and unlabelled leftovers.
    #[arg(long)]
    pub all: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `otrashi images …`
#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build (or find, by content hash) the workload image, and the Redis image when
    /// redis-server is installed.
    #[command(after_help = "\
The workload binary comes from OTRASHI_WORKLOAD_BIN, next to otrashi, or PATH
(build it with `cargo build --release -p otrashi-workload`).

Examples:
  otrashi images build")]
    Build,
}

/// `otrashi scenarios …`
#[derive(Debug, Subcommand)]
pub enum ScenariosCommand {
    /// List the bundled scenarios and topologies.
    #[command(after_help = "\
Examples:
  otrashi scenarios list
  otrashi scenarios list --json")]
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check scenario files and report every problem with file:line:column.
    #[command(after_help = "\
Exits 0 only when every file is valid. A bundled scenario may be named instead of a path.

Examples:
  otrashi scenarios validate my-incident.yaml
  otrashi scenarios validate scenarios/library/*.yaml")]
    Validate {
        /// Scenario files (or bundled scenario names).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Turn a scenario into a concrete incident for a seed and show its ground truth.
    #[command(after_help = "\
The same file and seed give the same incident on every machine.

Examples:
  otrashi scenarios sample shop-cart-memory-leak --seed 3
  otrashi scenarios sample my-incident.yaml --seed 42 --json | jq .ground_truth")]
    Sample {
        /// A scenario file or a bundled scenario name.
        #[arg(value_name = "FILE")]
        file: String,
        /// The seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object with keys `incident` and `ground_truth`.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of scenario files, for editors.
    #[command(after_help = "\
Example (VS Code / yaml-language-server): save it and add to the top of a scenario file
  # yaml-language-server: $schema=./otrashi-scenario.schema.json

  otrashi scenarios schema > otrashi-scenario.schema.json")]
    Schema,
}

/// `otrashi faults`
#[derive(Debug, Args)]
pub struct FaultsArgs {
    /// Only faults of this level.
    #[arg(long, value_parser = ["infra", "orchestration", "code"])]
    pub level: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `otrashi tools`
#[derive(Debug, Args)]
pub struct ToolsArgs {
    /// Print the tools in OpenAI function-calling format.
    #[arg(long)]
    pub json: bool,
}

/// The environment engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendName {
    /// The embedded simulator: no Docker, deterministic, milliseconds per incident.
    Sim,
    /// Real containers on the local Docker engine (timeline compressed to about 45 s,
    /// load capped at 20 rps; see `otrashi doctor` for what this host supports).
    Docker,
    /// A namespace per episode on a Kubernetes cluster: the current kubeconfig
    /// context, `--kube-context`, or a kind cluster from `otrashi kind up`.
    Kubernetes,
}

/// Options shared by `run` and `eval`.
#[derive(Debug, Args, Clone)]
pub struct AgentArgs {
    /// The agent: `baseline`, `random`, or a shell command that runs your agent.
    ///
    /// A command agent gets the alert (JSON) on stdin and the tool API on a loopback
    /// HTTP port whose URL is in $OTRASHI_API (`GET $OTRASHI_API/tools`, `POST
    /// $OTRASHI_API/tools/<name>` with JSON arguments). It submits its report with
    /// `POST $OTRASHI_API/tools/submit_report` or prints it as JSON on stdout.
    #[arg(long, default_value = "baseline", value_name = "baseline|random|CMD")]
    pub agent: String,
    /// The environment engine.
    #[arg(long, value_enum, default_value_t = BackendName::Sim)]
    pub backend: BackendName,
    /// Wall-clock limit for the agent; on expiry it is killed and the episode fails.
    #[arg(long, default_value = "120s", value_name = "DURATION")]
    pub timeout: String,
    /// Step budget: tool calls before the episode is truncated.
    #[arg(long, default_value_t = 30)]
    pub max_steps: u32,
    /// A rubric file (TOML) with scoring weights; default: the bundled rubric.
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,
    /// With --backend kubernetes: the kubeconfig context [default: the current one].
    #[arg(long, value_name = "CONTEXT", env = "OTRASHI_KUBE_CONTEXT")]
    pub kube_context: Option<String>,
}

/// `otrashi run`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  otrashi run shop-cart-memory-leak
  otrashi run shop-cart-memory-leak --seed 7 --agent random
  otrashi run ./my-incident.yaml --agent 'python3 examples/agents/heuristic.py' --out runs/
  otrashi run chain-db-disk-full --json | jq .score.total

The human output shows the alert, the agent's steps, its report, the score breakdown,
then the revealed ground truth. Every episode writes a directory (scenario, ground truth,
telemetry, trajectory, report, score) under --out.")]
pub struct RunArgs {
    /// A scenario file or a bundled scenario name.
    #[arg(value_name = "SCENARIO")]
    pub scenario: String,
    /// The seed; default: a fresh one, printed so the episode can be replayed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to write the episode directory.
    #[arg(long, default_value = "otrashi-runs", value_name = "DIR")]
    pub out: PathBuf,
    /// Print one JSON object (`report`, `ground_truth`, `score`, …) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Agent and budget options.
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Trainer options.
    #[command(flatten)]
    pub trainer: TrainerArgs,
}

/// `otrashi eval`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  otrashi eval --all --seeds 5                       # the whole library, baseline agent
  otrashi eval shop-*.yaml --seeds 3 --agent random
  otrashi eval --all --json > baseline.json          # save a result …
  otrashi eval --all --compare baseline.json         # … and fail (exit 1) on a regression
  otrashi eval --all --fail-under 0.5                # fail when the mean score is below 0.5
  otrashi eval --all --backend docker --parallel 2   # two Docker episodes side by side")]
pub struct EvalArgs {
    /// Scenario files or bundled scenario names.
    #[arg(value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// Evaluate every bundled scenario.
    #[arg(long)]
    pub all: bool,
    /// Seeds per scenario (0, 1, …, N-1).
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Print one JSON object with `summary` and `episodes`.
    #[arg(long)]
    pub json: bool,
    /// A previous `--json` result: report regressions and exit 1 on one.
    #[arg(long, value_name = "PREVIOUS.json")]
    pub compare: Option<PathBuf>,
    /// How much a scenario's mean score may drop before it counts as a regression.
    #[arg(long, default_value_t = 0.05)]
    pub tolerance: f64,
    /// Exit 1 when the mean score is below this.
    #[arg(long, value_name = "X")]
    pub fail_under: Option<f64>,
    /// Write each episode's directory under this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Episodes run at the same time. Each gets its own environment (a Docker network,
    /// a Kubernetes namespace); results are listed in scenario and seed order whatever
    /// order they finish in.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1)]
    pub parallel: usize,
    /// Agent and budget options.
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Trainer options.
    #[command(flatten)]
    pub trainer: TrainerArgs,
}

/// `otrashi bench`
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Seconds to spend on each measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Skip the Docker figures (`docker_reset_s`, `docker_episode_s`: about a minute,
    /// measured when an engine answers).
    #[arg(long)]
    pub no_docker: bool,
}

/// A dataset export format of `otrashi generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum DatasetFormat {
    /// otrashi's own files: incident, ground truth and telemetry JSONL per incident.
    Native,
    /// The RCAEval layout: `rcaeval/<service>_<fault>/<run>/data.csv`, `inject_time.txt`.
    Rcaeval,
    /// `chat.jsonl`: TRL SFT `messages` rows with a reference investigation.
    Chat,
}

/// `otrashi generate`
#[derive(Debug, Args)]
#[command(after_help = "\
Incident i is sampled from scenario i mod (number of scenarios) with a seed derived from
--seed and i; a draw identical to an earlier incident is skipped (and recorded). The same
arguments write byte-identical files; re-running after an interruption resumes.

Examples:
  otrashi generate --all --count 1000 --seed 1 --out data/ --format native,rcaeval,chat
  otrashi generate shop-cart-memory-leak my.yaml --count 50 --out data/ --format chat
  otrashi generate --stats data/            # counts per fault, level, target, topology
  otrashi generate --stats data/ --json")]
pub struct GenerateArgs {
    /// Scenario files or bundled scenario names.
    #[arg(value_name = "FILE")]
    pub scenarios: Vec<String>,
    /// Use every bundled scenario.
    #[arg(long)]
    pub all: bool,
    /// How many incidents.
    #[arg(long, default_value_t = 100)]
    pub count: u64,
    /// The dataset's seed; incident seeds are derived from it.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The dataset directory.
    #[arg(long, value_name = "DIR", required_unless_present = "stats")]
    pub out: Option<PathBuf>,
    /// The environment engine.
    #[arg(long, value_enum, default_value_t = BackendName::Sim)]
    pub backend: BackendName,
    /// Formats to write, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "native")]
    pub format: Vec<DatasetFormat>,
    /// Print statistics of an existing dataset instead of generating one.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["scenarios", "all", "out"])]
    pub stats: Option<PathBuf>,
    /// With --stats: print JSON.
    #[arg(long)]
    pub json: bool,
    /// Threads that simulate and write; default: one per core. The files do not depend
    /// on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// `otrashi report`
#[derive(Debug, Args)]
#[command(after_help = "\
INPUT is an episode directory (`otrashi run --out`) or an `otrashi eval --json` file; an
eval's episodes are embedded when its rows name their directories (`eval --out`).

Examples:
  otrashi run shop-cart-memory-leak --out runs/ && otrashi report runs/<episode>
  otrashi eval --all --seeds 3 --out runs/ --json > eval.json && otrashi report eval.json
  otrashi report runs/<episode> --html /tmp/episode.html")]
pub struct ReportArgs {
    /// An episode directory or an eval result file.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Where to write the HTML; default: `report.html` next to the input.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
}
