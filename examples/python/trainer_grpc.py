#!/usr/bin/env python3
"""A trainer that receives otrashi episodes over gRPC and sends feedback back.

It implements the trainer side of `otrashi.v1.TrainerExchange`
(proto/otrashi/v1/trainer.proto): it takes the frames a gym streams, dedupes them by
(worker, seq), grants credit, acknowledges, and rates each finished episode (a score and
a critique, plus a pairwise preference when it has seen the same incident before).

Stubs are generated at start-up from the .proto files with grpcio-tools into a
temporary directory, so nothing generated is committed.

    pip install grpcio grpcio-tools
    python examples/python/trainer_grpc.py --port 50052 &
    otrashi eval --all --seeds 2 --trainer http://127.0.0.1:50052 --out runs/
    otrashi feedback export --format rm --store runs/ --out rm.jsonl

`--summary FILE` writes what was received as JSON after every frame (for tests).
"""

import argparse
import json
import os
import sys
import tempfile
import threading
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "proto", "otrashi", "v1"))


def load_stubs(proto_dir):
    """Compiles trainer.proto into a temp dir and imports the modules."""
    from grpc_tools import protoc
    import importlib.resources

    out = tempfile.mkdtemp(prefix="otrashi-stubs-")
    # The well-known types ship inside grpc_tools.
    include = str(importlib.resources.files("grpc_tools") / "_proto")
    code = protoc.main([
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        "trainer.proto",
    ])
    if code != 0:
        raise RuntimeError(f"protoc failed on {proto_dir}/trainer.proto (exit {code})")
    sys.path.insert(0, out)
    import trainer_pb2  # noqa: E402
    import trainer_pb2_grpc  # noqa: E402
    return trainer_pb2, trainer_pb2_grpc


class State:
    """What the trainer has taken in, after dedupe; shared by all streams."""

    def __init__(self, summary_path):
        self.lock = threading.Lock()
        self.summary_path = summary_path
        self.last_seq = {}
        self.duplicates = 0
        self.messages = 0
        self.episodes = {}
        self.receipts = []
        self.by_incident = {}
        self.streams = 0

    def write_summary(self):
        if not self.summary_path:
            return
        tmp = self.summary_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({
                "last_seq": self.last_seq,
                "duplicates": self.duplicates,
                "messages": self.messages,
                "streams": self.streams,
                "episodes": self.episodes,
                "feedback_receipts": self.receipts,
            }, f, indent=1)
        os.replace(tmp, self.summary_path)


def make_servicer(pb, pb_grpc, state, credit, policy_version):
    class Trainer(pb_grpc.TrainerExchangeServicer):
        def Exchange(self, request_iterator, context):
            with state.lock:
                state.streams += 1
            if policy_version:
                yield pb.TrainerMessage(policy_version=pb.PolicyVersion(version=policy_version))
            # Credit first: the gym starts no episode without it.
            yield pb.TrainerMessage(credit=pb.Credit(episodes=credit))
            for frame in request_iterator:
                replies, ack = self.take(frame)
                # Feedback goes before the ack of the episode end, so the gym is still
                # connected to store it.
                for r in replies:
                    yield r
                if ack is not None:
                    yield pb.TrainerMessage(ack=pb.Ack(up_to_seq=ack))

        def take(self, frame):
            replies = []
            ack = None
            with state.lock:
                for m in frame.messages:
                    last = state.last_seq.get(m.worker_id, 0)
                    if m.seq <= last:
                        state.duplicates += 1  # a re-delivery after a reconnect
                        ack = last
                        continue
                    state.last_seq[m.worker_id] = m.seq
                    ack = m.seq
                    state.messages += 1
                    kind = m.WhichOneof("body")
                    if kind == "episode_start":
                        s = m.episode_start
                        state.episodes[s.episode_id] = {
                            "scenario": s.scenario, "seed": s.seed, "worker": m.worker_id,
                            "policy_version": s.policy_version, "steps": [], "end": None,
                            "alert": json.loads(s.prompt_json).get("alert"),
                        }
                    elif kind == "step":
                        s = m.step
                        ep = state.episodes.setdefault(s.episode_id, {"steps": [], "end": None})
                        ep["steps"].append({"index": s.index, "tool": s.tool, "reward": s.reward,
                                            "terminated": s.terminated, "truncated": s.truncated})
                    elif kind == "episode_end":
                        e = m.episode_end
                        ep = state.episodes.setdefault(e.episode_id, {"steps": [], "end": None})
                        ep["end"] = {"reward_total": e.reward_total, "end_reason": e.end_reason,
                                     "components": {c.name: c.value for c in e.components},
                                     "steps": e.steps}
                        replies.extend(self.rate(e.episode_id, ep, e.reward_total))
                        replies.append(pb.TrainerMessage(credit=pb.Credit(episodes=1)))
                    elif kind == "feedback_received":
                        r = m.feedback_received
                        state.receipts.append({"id": r.feedback_id, "stored": r.stored,
                                               "duplicate": r.duplicate, "error": r.error})
                state.write_summary()
            return replies, ack

        def rate(self, episode_id, ep, reward):
            """An 'AI judge' that agrees with the gym's reward, for the example's sake."""
            out = [
                pb.TrainerMessage(feedback=pb.Feedback(
                    id=f"score-{episode_id}", rater="example-judge", rater_kind=pb.RATER_KIND_AI,
                    score=pb.ScoreFeedback(episode_id=episode_id, score=reward))),
                pb.TrainerMessage(feedback=pb.Feedback(
                    id=f"critique-{episode_id}", rater="example-judge", rater_kind=pb.RATER_KIND_AI,
                    critique=pb.CritiqueFeedback(
                        episode_id=episode_id,
                        text=f"{len(ep['steps'])} steps, gym reward {reward:.3f}"))),
            ]
            key = (ep.get("scenario"), ep.get("seed"))
            other = state.by_incident.get(key)
            if other is not None and other[0] != episode_id:
                other_id, other_reward = other
                chosen, rejected = (episode_id, other_id) if reward >= other_reward else (other_id, episode_id)
                out.append(pb.TrainerMessage(feedback=pb.Feedback(
                    id=f"pref-{chosen}-{rejected}", rater="example-judge", rater_kind=pb.RATER_KIND_AI,
                    preference=pb.PreferenceFeedback(chosen_episode_id=chosen, rejected_episode_id=rejected))))
            state.by_incident[key] = (episode_id, reward)
            return out

    return Trainer()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=50052, help="0 picks a free port (printed)")
    ap.add_argument("--credit", type=int, default=4, help="episodes granted when a gym connects")
    ap.add_argument("--policy-version", default="example-v1")
    ap.add_argument("--proto-dir", default=DEFAULT_PROTO_DIR)
    ap.add_argument("--summary", help="write what was received to this JSON file")
    args = ap.parse_args()

    import grpc

    pb, pb_grpc = load_stubs(args.proto_dir)
    state = State(args.summary)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    pb_grpc.add_TrainerExchangeServicer_to_server(
        make_servicer(pb, pb_grpc, state, args.credit, args.policy_version), server)
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    if port == 0:
        sys.exit(f"cannot listen on {args.host}:{args.port}")
    server.start()
    print(f"listening on {args.host}:{port}", flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(grace=1)


if __name__ == "__main__":
    main()
