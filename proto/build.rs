//! Compiles the `.proto` files with protox (a Rust protobuf compiler), so building
//! needs no system `protoc`: `otrashi/v1/*.proto` under the `trainer` feature, the
//! vendored OTLP trace schema (`opentelemetry/proto/...`) under `otlp`, with the
//! `TraceService` server stubs under `otlp-grpc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let feature = |name: &str| std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    if feature("TRAINER") {
        let files = ["otrashi/v1/trainer.proto", "otrashi/v1/gym.proto"];
        for f in files {
            println!("cargo:rerun-if-changed={f}");
        }
        let descriptors = protox::compile(files, ["."])?;
        tonic_prost_build::configure()
            .build_transport(false)
            .compile_fds(descriptors)?;
    }
    if feature("OTLP") {
        let files = [
            "opentelemetry/proto/common/v1/common.proto",
            "opentelemetry/proto/resource/v1/resource.proto",
            "opentelemetry/proto/trace/v1/trace.proto",
            "opentelemetry/proto/collector/trace/v1/trace_service.proto",
        ];
        for f in files {
            println!("cargo:rerun-if-changed={f}");
        }
        let descriptors = protox::compile(files, ["."])?;
        // Messages only unless `otlp-grpc`: the OTLP/HTTP exporter and receiver need no
        // gRPC stubs, and leaving them out keeps tonic out of the workload.
        let mut config = tonic_prost_build::Config::new();
        // Its upstream comment has an indented JSON example that rustdoc would run as
        // a doctest.
        config.disable_comments([".opentelemetry.proto.trace.v1.Span.attributes"]);
        tonic_prost_build::configure()
            .build_client(false)
            .build_server(feature("OTLP_GRPC"))
            .build_transport(false)
            .compile_fds_with_config(descriptors, config)?;
    }
    Ok(())
}
