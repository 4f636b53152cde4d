//! TLS on `otrashi serve` (only with the `tls` feature; needs the `openssl` command to
//! make a throwaway CA and server certificate).
#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use otrashi_bridge::proto::v1::gym_service_client::GymServiceClient;
use otrashi_bridge::proto::v1::{create_env_request, CreateEnvRequest};
use otrashi_bridge::serve::{bind, serve_on, ServeConfig, TlsPem};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for localhost and 127.0.0.1.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=otrashi-test-ca",
    ]);
    openssl(dir, &ca);
    let mut leaf = vec!["req"];
    leaf.extend(ec);
    leaf.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &leaf);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gym_service_speaks_tls_and_refuses_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap());
    config.tls = Some(TlsPem {
        cert: read("leaf.pem"),
        key: read("leaf.key"),
    });
    let listener = bind(&config).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { serve_on(listener, &config, std::future::pending()).await });

    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem")))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let request = CreateEnvRequest {
        scenario: Some(create_env_request::Scenario::Name(
            otrashi_scenarios::library::scenarios()[0].name.to_owned(),
        )),
        options: None,
    };
    GymServiceClient::new(channel)
        .create_env(request.clone())
        .await
        .unwrap();

    let plain = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        assert!(GymServiceClient::new(channel)
            .create_env(request)
            .await
            .is_err());
    }
}
