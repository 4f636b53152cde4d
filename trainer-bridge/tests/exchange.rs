//! The trainer exchange end to end on 127.0.0.1: crashes, restarts, credit, feedback.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use otrashi_bridge::feedback::{FeedbackStore, FeedbackValue};
use otrashi_bridge::proto::v1::{feedback, Feedback, RaterKind, ScoreFeedback};
use otrashi_bridge::trainer::{CollectingTrainer, TrainerConfig};
use otrashi_bridge::{EpisodeMeta, TrainerLink};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_episode_arrives_once_across_a_trainer_crash_and_restart() {
    let spool = tempfile::tempdir().unwrap();
    let first = CollectingTrainer::new(TrainerConfig {
        initial_credit: 2,
        // Breaks the stream after taking (but before acknowledging) a frame, so the gym
        // must send that frame again and the dedupe must drop it.
        crash_after_messages: Some(40),
        ..TrainerConfig::default()
    });
    let (addr, server) = start_trainer(first.clone(), any_port()).await;
    let link = std::sync::Arc::new(link(addr, spool.path()));
    let ids: Vec<String> = (0..10).map(|i| format!("ep-{i}")).collect();
    let producer = {
        let link = link.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            for id in &ids {
                send_episode(&link, id, 10).await;
            }
        })
    };
    assert!(
        eventually(10, || first.has_crashed()).await,
        "the trainer never crashed"
    );
    first.crash();
    // Kill the whole server, listener included, then start a new one on the same port
    // that kept its dedupe state (a trainer persisting (worker, seq)).
    server.abort();
    let _ = server.await;
    let second = first.restarted(TrainerConfig {
        initial_credit: 2,
        ..TrainerConfig::default()
    });
    let (_, server) = start_trainer(second.clone(), addr).await;
    tokio::time::timeout(Duration::from_secs(20), producer)
        .await
        .unwrap()
        .unwrap();
    assert!(
        link.wait_acked(Duration::from_secs(10)).await.unwrap(),
        "not everything was acknowledged"
    );
    assert_complete(&second, &ids, 10);
    second.with_received(|r| {
        assert!(
            r.duplicates > 0,
            "the crash should have caused a re-delivery"
        );
        assert!(r.streams >= 2, "the gym should have reconnected");
        assert_eq!(r.messages, 10 * 12, "every message taken exactly once");
    });
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spool_survives_a_gym_restart_and_resends_what_was_not_acknowledged() {
    let spool = tempfile::tempdir().unwrap();
    let silent = CollectingTrainer::new(TrainerConfig {
        initial_credit: 10,
        ack: false,
        ..TrainerConfig::default()
    });
    let (addr, server) = start_trainer(silent.clone(), any_port()).await;
    let ids: Vec<String> = (0..3).map(|i| format!("old-{i}")).collect();
    {
        let link = link(addr, spool.path());
        for id in &ids {
            send_episode(&link, id, 5).await;
        }
        assert!(eventually(5, || silent.with_received(|r| r.messages) == 21).await);
        let status = link.close(Duration::from_millis(100)).await.unwrap();
        assert_eq!(
            status.unacked, 21,
            "nothing was acknowledged, everything stays"
        );
    }
    silent.crash();
    server.abort();
    let _ = server.await;

    // A new gym process on the same spool, against a trainer that knows nothing.
    let fresh = CollectingTrainer::new(TrainerConfig::default());
    let (addr, server) = start_trainer(fresh.clone(), any_port()).await;
    let link = link(addr, spool.path());
    assert_eq!(link.status().unwrap().unacked, 21);
    send_episode(&link, "new-0", 5).await;
    assert!(link.wait_acked(Duration::from_secs(10)).await.unwrap());
    let mut all = ids.clone();
    all.push("new-0".into());
    assert_complete(&fresh, &all, 5);
    // Sequence numbers continue across the restart; none is reused.
    fresh.with_received(|r| assert_eq!(r.last_seq["worker-1"], 28));
    let status = link.close(Duration::from_secs(1)).await.unwrap();
    assert_eq!(status.unacked, 0);
    assert_eq!(
        status.spool_bytes, 0,
        "acknowledged segments are compacted away"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_episode_starts_without_credit() {
    let spool = tempfile::tempdir().unwrap();
    let stingy = CollectingTrainer::new(TrainerConfig {
        initial_credit: 0,
        ..TrainerConfig::default()
    });
    let (addr, server) = start_trainer(stingy.clone(), any_port()).await;
    let link = link(addr, spool.path());
    assert!(eventually(5, || link.status().unwrap().connected).await);
    let blocked = tokio::time::timeout(Duration::from_millis(300), link.acquire_episode()).await;
    assert!(blocked.is_err(), "an episode started without credit");
    stingy.grant(1);
    let permit = tokio::time::timeout(Duration::from_secs(5), link.acquire_episode()).await;
    assert!(
        permit.is_ok(),
        "the granted credit did not let an episode start"
    );
    let again = tokio::time::timeout(Duration::from_millis(200), link.acquire_episode()).await;
    assert!(again.is_err(), "one credit started two episodes");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_makes_the_gym_wait_and_drops_nothing() {
    let spool = tempfile::tempdir().unwrap();
    let silent = CollectingTrainer::new(TrainerConfig {
        initial_credit: 100,
        ack: false,
        ..TrainerConfig::default()
    });
    let (addr, server) = start_trainer(silent.clone(), any_port()).await;
    let mut cfg = config(addr, spool.path());
    cfg.spool_max_bytes = 1 << 16;
    let link = std::sync::Arc::new(TrainerLink::start(cfg).unwrap());
    let producer = {
        let link = link.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                send_episode(&link, &format!("big-{i}"), 100).await;
            }
        })
    };
    // 64 KiB hold a few hundred small steps: the producer must stall.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !producer.is_finished(),
        "the producer should wait on the full spool"
    );
    let before = silent.with_received(|r| r.messages);
    assert!(before < 20 * 102);
    // A trainer that acknowledges frees the spool; everything arrives. (A crash closes
    // the open streams, as a dying process closes its sockets; aborting the server task
    // alone would leave established connections running.)
    silent.crash();
    server.abort();
    let _ = server.await;
    let acking = silent.restarted(TrainerConfig {
        initial_credit: 100,
        ..TrainerConfig::default()
    });
    let (_, server) = start_trainer(acking.clone(), addr).await;
    tokio::time::timeout(Duration::from_secs(30), producer)
        .await
        .unwrap()
        .unwrap();
    assert!(link.wait_acked(Duration::from_secs(10)).await.unwrap());
    let ids: Vec<String> = (0..20).map(|i| format!("big-{i}")).collect();
    assert_complete(&acking, &ids, 100);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_stored_once_with_its_episode_and_policy_versions_are_stamped() {
    let spool = tempfile::tempdir().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(FeedbackStore::open(store_dir.path()).unwrap());
    let trainer = CollectingTrainer::new(TrainerConfig {
        score_each_episode: true,
        policy_version: Some("policy-v7".into()),
        ..TrainerConfig::default()
    });
    let (addr, server) = start_trainer(trainer.clone(), any_port()).await;
    let mut cfg = config(addr, spool.path());
    cfg.store = Some(store.clone());
    let link = TrainerLink::start(cfg).unwrap();

    let result = real_episode(3).await;
    let permit = link.acquire_episode().await.unwrap();
    assert_eq!(permit.policy_version, "policy-v7");
    let meta = EpisodeMeta {
        backend: "sim".into(),
    };
    link.stream_episode(permit, &result, &meta, Some(&store))
        .await
        .unwrap();
    assert!(
        eventually(10, || trainer
            .with_received(|r| !r.feedback_receipts.is_empty()))
        .await
    );

    // The same feedback again (a trainer retrying) is stored once.
    trainer.send_feedback(Feedback {
        id: format!("score-{}", result.episode_id),
        rater: "otrashi-test".into(),
        rater_kind: RaterKind::Ai as i32,
        value: Some(feedback::Value::Score(ScoreFeedback {
            episode_id: result.episode_id.clone(),
            score: 0.0,
        })),
    });
    assert!(
        eventually(10, || trainer
            .with_received(|r| r.feedback_receipts.len() == 2))
        .await
    );
    trainer.with_received(|r| {
        assert!(r.feedback_receipts[0].stored && !r.feedback_receipts[0].duplicate);
        assert!(r.feedback_receipts[1].stored && r.feedback_receipts[1].duplicate);
        let ep = &r.episodes[&result.episode_id];
        assert_eq!(ep.start.as_ref().unwrap().policy_version, "policy-v7");
        assert_eq!(ep.steps.len(), result.trajectory.len());
        let last = ep.steps.last().unwrap();
        assert!(
            !(last.terminated && last.truncated),
            "terminated and truncated are never merged"
        );
        assert!(!ep.end.as_ref().unwrap().ground_truth_json.is_empty());
    });
    let stored = store.for_episode(&result.episode_id).unwrap();
    assert_eq!(stored.len(), 1);
    let reward = result.reward.as_ref().unwrap().total;
    assert!(matches!(stored[0].value, FeedbackValue::Score { score, .. } if score == reward));
    assert!(store.episode(&result.episode_id).unwrap().is_some());
    assert!(link.wait_acked(Duration::from_secs(5)).await.unwrap());
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_behind_a_token_takes_only_the_gym_that_has_it() {
    let trainer = CollectingTrainer::new(TrainerConfig::default());
    let (addr, server) = start_trainer_with_token(trainer.clone(), "t0ken").await;

    let wrong_spool = tempfile::tempdir().unwrap();
    let mut wrong = config(addr, wrong_spool.path());
    wrong.token = Some("guess".into());
    let wrong = TrainerLink::start(wrong).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = wrong.status().unwrap();
    assert!(
        !status.connected && status.connections == 0,
        "a bad token was let in"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(100), wrong.acquire_episode())
            .await
            .is_err()
    );

    let spool = tempfile::tempdir().unwrap();
    let mut right = config(addr, spool.path());
    right.token = Some("t0ken".into());
    let right = TrainerLink::start(right).unwrap();
    send_episode(&right, "authorized", 2).await;
    assert!(right.wait_acked(Duration::from_secs(5)).await.unwrap());
    assert_complete(&trainer, &["authorized".to_owned()], 2);
    server.abort();
}
