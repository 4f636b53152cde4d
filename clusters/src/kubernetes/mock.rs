//! A mocked API server for tests (`tower_test::mock::pair`, as kube's own tests do):
//! answers each request with a responder and records it.

use std::pin::pin;

use http::{Method, Request, Response};
use kube::client::Body;
use kube::Client;
use serde_json::Value;

/// One recorded request: method, path and query, JSON body (`Null` when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: Method,
    pub uri: String,
    pub body: Value,
}

/// A client on a mocked API server that answers with `respond(method, uri, body)` →
/// `(status, JSON)` (a JSON string is sent as raw text, as the proxy and log
/// endpoints answer); the task yields the recorded calls once every client clone is
/// dropped.
pub fn serve(
    respond: impl Fn(&Method, &str, &Value) -> (u16, Value) + Send + 'static,
) -> (Client, tokio::task::JoinHandle<Vec<Call>>) {
    let (mock, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let task = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let mut calls = Vec::new();
        while let Some((req, send)) = handle.next_request().await {
            let method = req.method().clone();
            let uri = req.uri().to_string();
            let bytes = req.into_body().collect_bytes().await.unwrap();
            let body: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            let (code, reply) = respond(&method, &uri, &body);
            calls.push(Call { method, uri, body });
            send.send_response(
                Response::builder()
                    .status(code)
                    .body(Body::from(match reply {
                        Value::String(text) => text.into_bytes(),
                        other => serde_json::to_vec(&other).unwrap(),
                    }))
                    .unwrap(),
            );
        }
        calls
    });
    (Client::new(mock, "default"), task)
}

/// `(method, uri)` of each call.
pub fn lines(calls: &[Call]) -> Vec<(Method, String)> {
    calls
        .iter()
        .map(|c| (c.method.clone(), c.uri.clone()))
        .collect()
}
