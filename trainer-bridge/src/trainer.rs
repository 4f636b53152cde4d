//! A small trainer in Rust: it takes episodes off the exchange, dedupes them by
//! (worker, seq), acknowledges, grants credit and can send feedback. It is the
//! reference for trainer authors, the counterpart in the integration tests, and what
//! `bench_grpc_steps` measures against.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use otrashi_proto::v1::trainer_exchange_server::TrainerExchange;
use otrashi_proto::v1::{
    gym_message::Body, trainer_message, Ack, Credit, EpisodeEnd, EpisodeStart, Feedback,
    FeedbackReceived, GymFrame, PolicyVersion, RaterKind, ScoreFeedback, Step, TrainerMessage,
};

/// How the trainer behaves.
#[derive(Debug, Clone)]
pub struct TrainerConfig {
    /// Credit granted when a stream opens.
    pub initial_credit: u32,
    /// Credit granted back for each episode end taken (keeps a gym going).
    pub credit_per_episode: u32,
    /// Whether to acknowledge at all (off: a trainer that takes but never confirms).
    pub ack: bool,
    /// Whether to keep every step (off: count only, for benchmarks).
    pub keep_steps: bool,
    /// Sent when a stream opens.
    pub policy_version: Option<String>,
    /// Send a score feedback (the gym's own reward, rater "otrashi-test", AI) for
    /// every episode end, before acknowledging it.
    pub score_each_episode: bool,
    /// Simulates a crash: after this many messages in total (duplicates included), the
    /// trainer breaks every stream before acknowledging the frame, once.
    pub crash_after_messages: Option<u64>,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            initial_credit: 4,
            credit_per_episode: 1,
            ack: true,
            keep_steps: true,
            policy_version: None,
            score_each_episode: false,
            crash_after_messages: None,
        }
    }
}

/// One episode as received.
#[derive(Debug, Clone, Default)]
pub struct ReceivedEpisode {
    /// The worker that sent it.
    pub worker_id: String,
    /// Its start.
    pub start: Option<EpisodeStart>,
    /// Its steps, in arrival order (empty when steps are not kept).
    pub steps: Vec<Step>,
    /// Its end.
    pub end: Option<EpisodeEnd>,
}

/// What the trainer has taken in, after dedupe.
#[derive(Debug, Default)]
pub struct Received {
    /// Highest seq taken per worker.
    pub last_seq: HashMap<String, u64>,
    /// Messages received again (dropped by the dedupe).
    pub duplicates: u64,
    /// Messages taken (after dedupe).
    pub messages: u64,
    /// Steps taken.
    pub steps: u64,
    /// Episodes by id.
    pub episodes: BTreeMap<String, ReceivedEpisode>,
    /// Feedback receipts from the gyms.
    pub feedback_receipts: Vec<FeedbackReceived>,
    /// Streams opened.
    pub streams: u64,
}

#[derive(Debug, Clone)]
enum Control {
    Send(TrainerMessage),
}

/// The trainer service; clone it to keep a handle while the server runs.
#[derive(Clone)]
pub struct CollectingTrainer {
    config: Arc<TrainerConfig>,
    received: Arc<Mutex<Received>>,
    control: broadcast::Sender<Control>,
    crash: watch::Sender<u64>,
    crashed_once: Arc<Mutex<bool>>,
}

impl CollectingTrainer {
    /// A trainer with this behaviour.
    pub fn new(config: TrainerConfig) -> Self {
        CollectingTrainer {
            config: Arc::new(config),
            received: Arc::default(),
            control: broadcast::channel(1024).0,
            crash: watch::channel(0).0,
            crashed_once: Arc::default(),
        }
    }

    /// A trainer that shares what an earlier one received (a restarted trainer that
    /// kept its dedupe state), with a new behaviour.
    pub fn restarted(&self, config: TrainerConfig) -> Self {
        CollectingTrainer {
            received: Arc::clone(&self.received),
            ..CollectingTrainer::new(config)
        }
    }

    /// Runs `f` on what was received.
    pub fn with_received<T>(&self, f: impl FnOnce(&Received) -> T) -> T {
        match self.received.lock() {
            Ok(r) => f(&r),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// Sends a message to every open stream.
    pub fn broadcast(&self, msg: trainer_message::Body) {
        let _ = self
            .control
            .send(Control::Send(TrainerMessage { body: Some(msg) }));
    }

    /// Grants credit on every open stream.
    pub fn grant(&self, episodes: u32) {
        self.broadcast(trainer_message::Body::Credit(Credit { episodes }));
    }

    /// Sends feedback on every open stream.
    pub fn send_feedback(&self, feedback: Feedback) {
        self.broadcast(trainer_message::Body::Feedback(feedback));
    }

    /// Breaks every open stream, as a crash would.
    pub fn crash(&self) {
        self.crash.send_modify(|n| *n += 1);
    }

    /// Whether `crash_after_messages` has fired.
    pub fn has_crashed(&self) -> bool {
        self.crashed_once.lock().map(|c| *c).unwrap_or(true)
    }

    /// Takes one frame; returns the replies to send before the ack, and whether to
    /// crash instead of acknowledging.
    fn take(&self, frame: GymFrame) -> (Vec<TrainerMessage>, Option<u64>, bool) {
        let mut replies = Vec::new();
        let mut r = match self.received.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let mut ack = None;
        let mut total = r.messages + r.duplicates;
        for m in frame.messages {
            total += 1;
            let last = r.last_seq.get(&m.worker_id).copied().unwrap_or(0);
            if m.seq <= last {
                r.duplicates += 1;
                ack = Some(last);
                continue;
            }
            r.last_seq.insert(m.worker_id.clone(), m.seq);
            ack = Some(m.seq);
            r.messages += 1;
            match m.body {
                Some(Body::EpisodeStart(s)) => {
                    let e = r.episodes.entry(s.episode_id.clone()).or_default();
                    e.worker_id = m.worker_id.clone();
                    e.start = Some(s);
                }
                Some(Body::Step(s)) => {
                    r.steps += 1;
                    if self.config.keep_steps {
                        r.episodes
                            .entry(s.episode_id.clone())
                            .or_default()
                            .steps
                            .push(s);
                    }
                }
                Some(Body::EpisodeEnd(end)) => {
                    if self.config.score_each_episode {
                        replies.push(TrainerMessage {
                            body: Some(trainer_message::Body::Feedback(Feedback {
                                id: format!("score-{}", end.episode_id),
                                rater: "otrashi-test".into(),
                                rater_kind: RaterKind::Ai as i32,
                                value: Some(otrashi_proto::v1::feedback::Value::Score(
                                    ScoreFeedback {
                                        episode_id: end.episode_id.clone(),
                                        score: end.reward_total,
                                    },
                                )),
                            })),
                        });
                    }
                    if self.config.credit_per_episode > 0 {
                        replies.push(TrainerMessage {
                            body: Some(trainer_message::Body::Credit(Credit {
                                episodes: self.config.credit_per_episode,
                            })),
                        });
                    }
                    let id = end.episode_id.clone();
                    r.episodes.entry(id).or_default().end = Some(end);
                }
                Some(Body::FeedbackReceived(f)) => r.feedback_receipts.push(f),
                None => {}
            }
        }
        let crash = match self.config.crash_after_messages {
            Some(n) if total >= n => match self.crashed_once.lock() {
                Ok(mut done) if !*done => {
                    *done = true;
                    true
                }
                _ => false,
            },
            _ => false,
        };
        (replies, ack, crash)
    }
}

type Outbound = Pin<Box<dyn Stream<Item = Result<TrainerMessage, Status>> + Send>>;

#[tonic::async_trait]
impl TrainerExchange for CollectingTrainer {
    type ExchangeStream = Outbound;

    async fn exchange(
        &self,
        request: Request<Streaming<GymFrame>>,
    ) -> Result<Response<Self::ExchangeStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel::<Result<TrainerMessage, Status>>(64);
        let me = self.clone();
        let mut control = self.control.subscribe();
        let mut crash = self.crash.subscribe();
        crash.borrow_and_update();
        if let Ok(mut r) = self.received.lock() {
            r.streams += 1;
        }
        tokio::spawn(async move {
            let mut hello = Vec::new();
            if let Some(v) = &me.config.policy_version {
                hello.push(trainer_message::Body::PolicyVersion(PolicyVersion {
                    version: v.clone(),
                }));
            }
            if me.config.initial_credit > 0 {
                hello.push(trainer_message::Body::Credit(Credit {
                    episodes: me.config.initial_credit,
                }));
            }
            for body in hello {
                if tx
                    .send(Ok(TrainerMessage { body: Some(body) }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            loop {
                tokio::select! {
                    frame = inbound.message() => {
                        let frame = match frame {
                            Ok(Some(f)) => f,
                            _ => return,
                        };
                        let (replies, ack, crash_now) = me.take(frame);
                        if crash_now {
                            let _ = tx.send(Err(Status::unavailable("trainer crashed (simulated)"))).await;
                            return;
                        }
                        for m in replies {
                            if tx.send(Ok(m)).await.is_err() {
                                return;
                            }
                        }
                        if let (true, Some(up_to_seq)) = (me.config.ack, ack) {
                            let msg = TrainerMessage { body: Some(trainer_message::Body::Ack(Ack { up_to_seq })) };
                            if tx.send(Ok(msg)).await.is_err() {
                                return;
                            }
                        }
                    }
                    c = control.recv() => match c {
                        Ok(Control::Send(m)) => {
                            if tx.send(Ok(m)).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = crash.changed() => {
                        let _ = tx.send(Err(Status::unavailable("trainer crashed (simulated)"))).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
