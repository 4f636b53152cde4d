//! The GymService over gRPC on 127.0.0.1: a round trip on the simulator, and the token.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::Value;
use tonic::transport::Channel;
use tonic::Code;

use otrashi_bridge::proto::v1::gym_service_client::GymServiceClient;
use otrashi_bridge::proto::v1::{
    create_env_request, CloseRequest, CreateEnvRequest, EnvOptions, ResetRequest, StepRequest,
};
use otrashi_bridge::serve::{bind, serve_on, ServeConfig};

async fn start(token: Option<&str>) -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap());
    config.token = token.map(str::to_owned);
    let listener = bind(&config).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        serve_on(listener, &config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (format!("http://{addr}"), stop)
}

async fn client(url: &str) -> GymServiceClient<Channel> {
    let channel = Channel::from_shared(url.to_owned())
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    GymServiceClient::new(channel)
}

fn by_name() -> CreateEnvRequest {
    CreateEnvRequest {
        scenario: Some(create_env_request::Scenario::Name(
            otrashi_scenarios::library::scenarios()[0].name.to_owned(),
        )),
        options: Some(EnvOptions {
            max_steps: 5,
            ..EnvOptions::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_reset_step_close_round_trip_on_the_simulator() {
    let (url, _stop) = start(None).await;
    let mut gym = client(&url).await;
    let created = gym.create_env(by_name()).await.unwrap().into_inner();
    let tools: Value = serde_json::from_str(&created.tool_specs_json).unwrap();
    assert!(tools.as_array().unwrap().len() >= 5);

    let reset = gym
        .reset(ResetRequest {
            env_id: created.env_id.clone(),
            seed: Some(3),
        })
        .await
        .unwrap()
        .into_inner();
    let obs: Value = serde_json::from_str(&reset.observation_json).unwrap();
    assert_eq!(obs["kind"], "start");
    assert!(obs["content"]["alert"]["service"].is_string());
    let info: Value = serde_json::from_str(&reset.info_json).unwrap();
    assert_eq!(info["seed"], 3);
    assert!(
        info.get("truth").is_none(),
        "the truth is hidden while the episode runs"
    );

    let step = gym
        .step(StepRequest {
            env_id: created.env_id.clone(),
            action_json: r#"{"tool": "list_services", "args": {}}"#.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!step.terminated && !step.truncated);
    let obs: Value = serde_json::from_str(&step.observation_json).unwrap();
    assert_eq!(obs["kind"], "tool_result");

    let service = serde_json::from_str::<Value>(&reset.observation_json).unwrap()["content"]
        ["alert"]["service"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = serde_json::json!({"tool": "submit_report", "args": {"root_causes": [
        {"component": service, "fault": "code.memory_leak", "level": "code", "confidence": 0.5,
         "evidence": [], "explanation": "a guess"}]}});
    let end = gym
        .step(StepRequest {
            env_id: created.env_id.clone(),
            action_json: report.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        end.terminated && !end.truncated,
        "a report terminates; it does not truncate"
    );
    let info: Value = serde_json::from_str(&end.info_json).unwrap();
    assert!(
        info["truth"].is_object(),
        "the truth is revealed at the end"
    );
    assert!((0.0..=1.0).contains(&end.reward));

    gym.close(CloseRequest {
        env_id: created.env_id.clone(),
    })
    .await
    .unwrap();
    let gone = gym
        .step(StepRequest {
            env_id: created.env_id,
            action_json: "{}".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_given_as_yaml_text_runs_and_a_bad_one_is_explained() {
    let (url, _stop) = start(None).await;
    let mut gym = client(&url).await;
    let yaml = otrashi_scenarios::library::scenarios()[0].source.to_owned();
    let created = gym
        .create_env(CreateEnvRequest {
            scenario: Some(create_env_request::Scenario::Yaml(yaml)),
            options: None,
        })
        .await
        .unwrap()
        .into_inner();
    gym.reset(ResetRequest {
        env_id: created.env_id,
        seed: None,
    })
    .await
    .unwrap();
    let bad = gym
        .create_env(CreateEnvRequest {
            scenario: Some(create_env_request::Scenario::Yaml(
                "kind: Nonsense\n".into(),
            )),
            options: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_required_when_set() {
    let (url, _stop) = start(Some("s3cret")).await;
    let mut gym = client(&url).await;
    let missing = gym.create_env(by_name()).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);

    let mut bad = tonic::Request::new(by_name());
    bad.metadata_mut()
        .insert("authorization", "Bearer wrong".parse().unwrap());
    assert_eq!(
        gym.create_env(bad).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    let mut good = tonic::Request::new(by_name());
    good.metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    assert!(gym.create_env(good).await.is_ok());
}
