//! The background task of a [`super::TrainerLink`]: connect, send, apply replies,
//! reconnect with backoff.

use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::Streaming;

use otrashi_proto::v1::trainer_exchange_client::TrainerExchangeClient;
use otrashi_proto::v1::{
    gym_message::Body, trainer_message, FeedbackReceived, GymFrame, TrainerMessage,
};

use super::{LinkConfig, LinkError, Shared};
use crate::feedback::FeedbackRecord;

/// Soft cap of a frame's encoded size (one larger message still goes alone).
const MAX_FRAME_BYTES: usize = 1 << 20;

/// Builds the endpoint for the trainer URL (checked once, up front).
pub(super) fn endpoint(config: &LinkConfig) -> Result<Endpoint, LinkError> {
    let bad = || LinkError::BadUrl {
        url: config.url.clone(),
    };
    if !(config.url.starts_with("http://") || config.url.starts_with("https://")) {
        return Err(bad());
    }
    let ep = Endpoint::from_shared(config.url.clone())
        .map_err(|_| bad())?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        // A trainer that vanished without closing the connection is noticed.
        .http2_keep_alive_interval(Duration::from_secs(15))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    tls(ep, config)
}

#[cfg(feature = "tls")]
fn tls(ep: Endpoint, config: &LinkConfig) -> Result<Endpoint, LinkError> {
    if !config.url.starts_with("https://") {
        return Ok(ep);
    }
    let mut tls = tonic::transport::ClientTlsConfig::new();
    if let Some(pem) = &config.ca_cert_pem {
        tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
    }
    ep.tls_config(tls).map_err(|_| LinkError::BadUrl {
        url: config.url.clone(),
    })
}

#[cfg(not(feature = "tls"))]
fn tls(ep: Endpoint, config: &LinkConfig) -> Result<Endpoint, LinkError> {
    if config.url.starts_with("https://") || config.ca_cert_pem.is_some() {
        return Err(LinkError::TlsUnavailable {
            url: config.url.clone(),
        });
    }
    Ok(ep)
}

/// Why one connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("cannot connect: {0}")]
    Connect(#[source] tonic::transport::Error),
    #[error("the trainer refused the stream: {0}")]
    Refused(#[source] tonic::Status),
    #[error("the stream broke: {0}")]
    Broken(#[source] tonic::Status),
    #[error("the trainer closed the stream")]
    Ended,
    #[error("the request stream closed")]
    SendClosed,
    #[error(transparent)]
    Link(#[from] LinkError),
}

pub(super) async fn run(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    token: Option<MetadataValue<Ascii>>,
    config: LinkConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = config.backoff_min;
    let mut failures = 0u64;
    let mut last_warned = tokio::time::Instant::now();
    loop {
        let attempt = connect_once(&shared, &endpoint, token.as_ref(), &config);
        let outcome = tokio::select! {
            r = attempt => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (opened, err) = outcome;
        let _ = shared.update(|st| {
            st.connected = false;
            // Credit belongs to a connection: the next one starts from what its
            // trainer grants.
            st.credit = 0;
        });
        let error = chain(&err);
        let retry_in_ms = backoff.as_millis() as u64;
        if opened {
            backoff = config.backoff_min;
            failures = 0;
            tracing::warn!(url = %config.url, worker = %shared.worker_id, %error, retry_in_ms,
                "trainer link: connection lost; unacknowledged messages stay spooled and are re-sent");
        } else {
            failures += 1;
            // The first failure and then about every 30 s at warn; the retries between
            // at debug, so a trainer that is down does not flood the log.
            if failures == 1 || last_warned.elapsed() >= Duration::from_secs(30) {
                last_warned = tokio::time::Instant::now();
                tracing::warn!(url = %config.url, worker = %shared.worker_id, %error, failures, retry_in_ms,
                    "trainer link: cannot reach the trainer; retrying (episodes wait for its credit, nothing is lost)");
            } else {
                tracing::debug!(url = %config.url, %error, failures, "trainer link: retry failed");
            }
        }
        // Jitter spreads reconnects of many workers after a trainer restart.
        let jitter = Duration::from_millis(u64::from(std::process::id() % 50));
        tokio::select! {
            _ = tokio::time::sleep(backoff + jitter) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        backoff = (backoff * 2).min(config.backoff_max);
    }
    let _ = shared.update(|st| {
        st.connected = false;
        st.stopped = true;
    });
}

/// An error with its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cur = s.source();
    }
    text
}

/// One connection; returns whether the stream opened, and why it ended.
async fn connect_once(
    shared: &Arc<Shared>,
    endpoint: &Endpoint,
    token: Option<&MetadataValue<Ascii>>,
    config: &LinkConfig,
) -> (bool, ConnError) {
    let channel: Channel = match endpoint.connect().await {
        Ok(c) => c,
        Err(e) => return (false, ConnError::Connect(e)),
    };
    let mut client = TrainerExchangeClient::new(channel)
        .max_decoding_message_size(16 << 20)
        .max_encoding_message_size(64 << 20);
    let (tx, rx) = mpsc::channel::<GymFrame>(4);
    // Everything unacknowledged goes again on the new stream.
    if let Err(e) = shared.update(|st| st.sent = st.acked) {
        return (false, e.into());
    }
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    if let Some(t) = token {
        request.metadata_mut().insert("authorization", t.clone());
    }
    // The trainer sends its response headers only when it has accepted the stream, so
    // the sender starts before waiting for them.
    let sender = send_loop(shared, tx, config.max_frame_messages);
    tokio::pin!(sender);
    let open = client.exchange(request);
    let inbound = tokio::select! {
        r = open => match r {
            Ok(resp) => resp.into_inner(),
            Err(status) => return (false, ConnError::Refused(status)),
        },
        e = &mut sender => return (false, e),
    };
    let _ = shared.update(|st| {
        st.connected = true;
        st.connections += 1;
    });
    tracing::info!(url = %config.url, worker = %shared.worker_id, "trainer link: connected");
    let err = tokio::select! {
        e = &mut sender => e,
        e = receive_loop(shared, inbound, config) => e,
    };
    (true, err)
}

async fn send_loop(shared: &Arc<Shared>, tx: mpsc::Sender<GymFrame>, max: usize) -> ConnError {
    let mut rx = shared.changed.subscribe();
    loop {
        let frame = {
            let mut st = match shared.lock() {
                Ok(st) => st,
                Err(e) => return e.into(),
            };
            st.sent = st.sent.max(st.acked);
            let first = st.pending.front().map_or(st.last_seq + 1, |m| m.seq);
            let skip = (st.sent + 1).saturating_sub(first) as usize;
            // Frames stay well under gRPC's default 4 MiB message limit of trainers.
            let mut bytes = 0usize;
            let messages: Vec<_> = st
                .pending
                .iter()
                .skip(skip)
                .take(max)
                .take_while(|m| {
                    let first = bytes == 0;
                    bytes += m.encoded_len();
                    first || bytes <= MAX_FRAME_BYTES
                })
                .cloned()
                .collect();
            if let Some(last) = messages.last() {
                st.sent = last.seq;
            }
            messages
        };
        if frame.is_empty() {
            if rx.changed().await.is_err() {
                return ConnError::SendClosed;
            }
            continue;
        }
        if tx.send(GymFrame { messages: frame }).await.is_err() {
            return ConnError::SendClosed;
        }
    }
}

async fn receive_loop(
    shared: &Arc<Shared>,
    mut inbound: Streaming<TrainerMessage>,
    config: &LinkConfig,
) -> ConnError {
    loop {
        let msg = match inbound.message().await {
            Ok(Some(m)) => m,
            Ok(None) => return ConnError::Ended,
            Err(status) => return ConnError::Broken(status),
        };
        if let Err(e) = apply(shared, msg, config) {
            return e.into();
        }
    }
}

fn apply(shared: &Arc<Shared>, msg: TrainerMessage, config: &LinkConfig) -> Result<(), LinkError> {
    match msg.body {
        Some(trainer_message::Body::Ack(ack)) => shared.update(|st| {
            let up_to = if ack.up_to_seq > st.last_seq {
                tracing::warn!(ack = ack.up_to_seq, last = st.last_seq,
                    "the trainer acknowledged messages this worker never sent; is another worker using the same id?");
                st.last_seq
            } else {
                ack.up_to_seq
            };
            if up_to <= st.acked {
                return Ok(());
            }
            st.acked = up_to;
            while st.pending.front().is_some_and(|m| m.seq <= up_to) {
                st.pending.pop_front();
            }
            st.spool.ack(up_to)
        })??,
        Some(trainer_message::Body::Credit(c)) => {
            shared.update(|st| st.credit = st.credit.saturating_add(u64::from(c.episodes)))?
        }
        Some(trainer_message::Body::PolicyVersion(v)) => shared.update(|st| st.policy_version = v.version)?,
        Some(trainer_message::Body::Feedback(fb)) => {
            let receipt = store_feedback(&fb, config);
            shared.update(|st| shared.push(st, Body::FeedbackReceived(receipt)))??;
        }
        None => {}
    }
    Ok(())
}

fn store_feedback(fb: &otrashi_proto::v1::Feedback, config: &LinkConfig) -> FeedbackReceived {
    let mut receipt = FeedbackReceived {
        feedback_id: fb.id.clone(),
        ..FeedbackReceived::default()
    };
    let Some(store) = &config.store else {
        receipt.error = "this gym has no feedback store".into();
        return receipt;
    };
    match FeedbackRecord::from_proto(fb) {
        Err(why) => receipt.error = why,
        Ok(record) => match store.insert(record) {
            Ok(new) => {
                receipt.stored = true;
                receipt.duplicate = !new;
            }
            Err(e) => {
                tracing::warn!(error = %e, feedback = %fb.id, "cannot store feedback");
                receipt.error = e.to_string();
            }
        },
    }
    receipt
}
