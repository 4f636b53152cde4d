//! Running an agent under test as a child process.
//!
//! The agent gets the alert (JSON) on stdin and the tool API on a loopback HTTP port
//! whose URL is in `$OTRASHI_API`. It submits its report over HTTP (`POST
//! /tools/submit_report`) or prints it on stdout. It runs in its own process group with
//! a wall-clock limit; on expiry, or on Ctrl-C, the whole group is killed and reaped, so
//! an agent that forks helpers cannot leave them behind.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How much of the agent's stdout and stderr is kept.
const OUTPUT_LIMIT: usize = 1 << 20;

/// What the HTTP API calls into: the episode's tools.
pub trait ToolHost: Send + 'static {
    /// The tool specs to show on `GET /tools`.
    fn tools(&self) -> Value;
    /// Runs one tool call; returns the reply body and whether the episode has ended.
    fn call(&mut self, tool: &str, args: Value) -> ToolReply;
    /// Whether the episode has ended (a report was taken or the budget ran out).
    fn is_done(&self) -> bool;
}

/// The reply to one tool call.
pub struct ToolReply {
    /// The JSON body returned to the agent.
    pub body: Value,
    /// True once the episode has ended; later calls are refused.
    pub done: bool,
}

/// How the agent's run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentExit {
    /// The agent exited (with this status) after the episode ended through the API.
    Finished { status: Option<i32> },
    /// The agent exited without ending the episode; its stdout is kept for a report.
    ExitedEarly { status: Option<i32> },
    /// The time limit ran out; the agent was killed.
    TimedOut { after: Duration },
    /// The user interrupted the run (Ctrl-C); the agent was killed.
    Interrupted,
}

/// The result of running an agent process.
#[derive(Debug, Clone)]
pub struct AgentRun {
    /// How it ended.
    pub exit: AgentExit,
    /// Its stdout (bounded).
    pub stdout: String,
    /// Its stderr (bounded).
    pub stderr: String,
}

/// Serves the tool API on `127.0.0.1:0`, runs `command` through `sh -c`, and waits for
/// it to end, for the time limit, or for `cancel`.
pub async fn run<H: ToolHost>(
    command: &str,
    alert: &Value,
    host: Arc<Mutex<H>>,
    timeout: Duration,
    cancel: CancellationToken,
    extra_env: &[(String, String)],
) -> anyhow::Result<AgentRun> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let server_stop = CancellationToken::new();
    let app = router(host.clone());
    let stop = server_stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });

    let mut child = tokio::process::Command::new("sh");
    child
        .arg("-c")
        .arg(command)
        .env("OTRASHI_API", format!("http://{addr}"))
        .envs(extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = child
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start agent command `{command}`: {e}"))?;
    let pgid = child.id();

    if let Some(mut stdin) = child.stdin.take() {
        let mut text = serde_json::to_vec(alert)?;
        text.push(b'\n');
        // An agent that does not read stdin closes it early; that is its right.
        let _ = stdin.write_all(&text).await;
    }
    let stdout = child.stdout.take().map(read_bounded);
    let stderr = child.stderr.take().map(read_bounded);

    let exit = tokio::select! {
        status = child.wait() => {
            let status = status?.code();
            if host.lock().map(|h| h.is_done()).unwrap_or(false) {
                AgentExit::Finished { status }
            } else {
                AgentExit::ExitedEarly { status }
            }
        }
        () = tokio::time::sleep(timeout) => {
            kill_group(pgid);
            let _ = child.wait().await;
            AgentExit::TimedOut { after: timeout }
        }
        () = cancel.cancelled() => {
            kill_group(pgid);
            let _ = child.wait().await;
            AgentExit::Interrupted
        }
    };
    // Children of the agent may still hold the group; the episode is over for them too.
    kill_group(pgid);
    server_stop.cancel();
    let _ = server.await;
    let stdout = match stdout {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    let stderr = match stderr {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    Ok(AgentRun {
        exit,
        stdout,
        stderr,
    })
}

fn kill_group(pgid: Option<u32>) {
    let Some(pid) = pgid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    // SAFETY: killpg is a plain syscall taking two integers; the group is the one we
    // created with process_group(0). A group that is already gone returns ESRCH.
    #[allow(unsafe_code)]
    unsafe {
        libc::killpg(pid, libc::SIGKILL);
    }
}

fn read_bounded<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut reader: R,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

fn router<H: ToolHost>(host: Arc<Mutex<H>>) -> Router {
    Router::new()
        .route("/", get(index::<H>))
        .route("/tools", get(list_tools::<H>))
        .route("/tools/{name}", post(call_tool::<H>))
        .route("/step", post(step::<H>))
        .with_state(host)
}

async fn index<H: ToolHost>(State(host): State<Arc<Mutex<H>>>) -> Json<Value> {
    let done = host.lock().map(|h| h.is_done()).unwrap_or(true);
    Json(json!({
        "api": "otrashi tool API v1",
        "episode_done": done,
        "usage": {
            "GET /tools": "the tool specs (function-calling format)",
            "POST /tools/<name>": "call a tool; the body is its JSON arguments",
            "POST /step": "call a tool with {\"tool\": name, \"args\": {...}}",
        }
    }))
}

async fn list_tools<H: ToolHost>(State(host): State<Arc<Mutex<H>>>) -> Json<Value> {
    Json(host.lock().map(|h| h.tools()).unwrap_or(Value::Null))
}

async fn call_tool<H: ToolHost>(
    State(host): State<Arc<Mutex<H>>>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let args = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => v,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(
                        json!({"error": format!("the request body is not JSON: {e}; send the tool's arguments as a JSON object")}),
                    ),
                )
            }
        }
    };
    dispatch(&host, &name, args)
}

async fn step<H: ToolHost>(
    State(host): State<Arc<Mutex<H>>>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let Ok(value) = parsed else {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": "the request body is not JSON; send {\"tool\": name, \"args\": {...}}"}),
            ),
        );
    };
    let tool = value
        .get("tool")
        .or_else(|| value.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let args = value
        .get("args")
        .or_else(|| value.get("arguments"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    dispatch(&host, &tool, args)
}

fn dispatch<H: ToolHost>(host: &Mutex<H>, tool: &str, args: Value) -> (StatusCode, Json<Value>) {
    let Ok(mut host) = host.lock() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "the episode state is unavailable"})),
        );
    };
    if host.is_done() {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "the episode has ended; exit now", "done": true})),
        );
    }
    let reply = host.call(tool, args);
    let mut body = reply.body;
    if let Value::Object(map) = &mut body {
        map.insert("done".to_owned(), Value::Bool(reply.done));
    }
    (StatusCode::OK, Json(body))
}

/// Finds a report in an agent's stdout: the last top-level JSON object in it (a
/// fenced ```json block counts), or `None`.
pub fn report_from_stdout(stdout: &str) -> Option<Value> {
    let mut found = None;
    let bytes = stdout.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            let mut stream = serde_json::Deserializer::from_str(&stdout[i..]).into_iter::<Value>();
            if let Some(Ok(value)) = stream.next() {
                if value.is_object() {
                    found = Some(value);
                }
                i += stream.byte_offset().max(1);
                continue;
            }
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    struct CountingHost {
        calls: Vec<String>,
        done: bool,
    }

    impl ToolHost for CountingHost {
        fn tools(&self) -> Value {
            json!([{"name": "list_services"}, {"name": "submit_report"}])
        }
        fn call(&mut self, tool: &str, _args: Value) -> ToolReply {
            self.calls.push(tool.to_owned());
            self.done = tool == "submit_report";
            ToolReply {
                body: json!({"ok": true, "tool": tool}),
                done: self.done,
            }
        }
        fn is_done(&self) -> bool {
            self.done
        }
    }

    fn host() -> Arc<Mutex<CountingHost>> {
        Arc::new(Mutex::new(CountingHost {
            calls: vec![],
            done: false,
        }))
    }

    const PY_AGENT: &str = r#"python3 -c '
import json, os, sys, urllib.request
alert = json.loads(sys.stdin.readline())
api = os.environ["OTRASHI_API"]
def call(name, args):
    req = urllib.request.Request(api + "/tools/" + name, data=json.dumps(args).encode(), headers={"content-type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())
assert call("list_services", {})["ok"]
call("submit_report", {"alert": alert["alert"]})
'"#;

    #[tokio::test]
    async fn agent_calls_tools_over_http_and_submits() {
        let host = host();
        let run = run(
            PY_AGENT,
            &json!({"alert": "HighErrorRate on frontend"}),
            host.clone(),
            Duration::from_secs(30),
            CancellationToken::new(),
            &[],
        )
        .await
        .unwrap();
        assert_eq!(run.exit, AgentExit::Finished { status: Some(0) }, "{run:?}");
        let calls = host.lock().unwrap().calls.clone();
        assert_eq!(calls, ["list_services", "submit_report"]);
    }

    #[tokio::test]
    async fn a_hanging_agent_and_its_children_are_killed_at_the_limit() {
        let host = host();
        let marker = std::env::temp_dir().join(format!("otrashi-child-{}", std::process::id()));
        // The agent forks a grandchild that would write the marker after 3 s.
        let cmd = format!("(sleep 3; touch {}) & sleep 60", marker.display());
        let run = run(
            &cmd,
            &json!({}),
            host,
            Duration::from_millis(300),
            CancellationToken::new(),
            &[],
        )
        .await
        .unwrap();
        assert!(matches!(run.exit, AgentExit::TimedOut { .. }), "{run:?}");
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(
            !marker.exists(),
            "the agent's child survived the kill and wrote {}",
            marker.display()
        );
    }

    #[tokio::test]
    async fn an_agent_that_prints_its_report_is_read_from_stdout() {
        let run = run(
            r#"echo 'thinking...'; echo '{"root_causes": [{"component": "cart"}]}'"#,
            &json!({}),
            host(),
            Duration::from_secs(10),
            CancellationToken::new(),
            &[],
        )
        .await
        .unwrap();
        assert_eq!(run.exit, AgentExit::ExitedEarly { status: Some(0) });
        let report = report_from_stdout(&run.stdout).unwrap();
        assert_eq!(report["root_causes"][0]["component"], "cart");
    }

    #[test]
    fn report_from_stdout_takes_the_last_object_and_survives_garbage() {
        let out = "garbage { not json\n```json\n{\"a\": 1}\n```\nthen {\"b\": {\"c\": 2}} tail }";
        assert_eq!(report_from_stdout(out), Some(json!({"b": {"c": 2}})));
        assert_eq!(report_from_stdout("\u{0}\u{1} binary {{{{"), None);
        assert_eq!(report_from_stdout(""), None);
    }
}
