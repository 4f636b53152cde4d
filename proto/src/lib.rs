//! The protobuf schemas otrashi speaks, compiled with prost (and tonic for services).
//!
//! Feature `trainer` (default): the `otrashi.v1` package, two services:
//! - `TrainerExchange`: one bidirectional stream per gym worker that carries episodes,
//!   steps and rewards to a trainer, and acknowledgements, credit, policy versions and
//!   human/AI feedback back (`otrashi/v1/trainer.proto` states the delivery contract).
//! - `GymService`: a trainer drives episodes remotely (create, reset, step, close).
//!
//! The `.proto` files are the contract for other languages; they ship in this crate
//! under `otrashi/v1/`.
//!
//! Feature `otlp`: the OpenTelemetry trace messages ([`opentelemetry::proto`]), vendored
//! from opentelemetry-proto under `opentelemetry/` (see its README for the upstream
//! version). Messages only, no tonic: the workload exports spans with them over
//! OTLP/HTTP and the gym's receiver decodes them. Feature `otlp-grpc` adds the
//! `TraceService` server (`trace_service_server`), for a receiver that also speaks
//! OTLP/gRPC.

/// Version 1 of the protocol. Additions keep field numbers; breaking changes go to `v2`.
#[cfg(feature = "trainer")]
pub mod v1 {
    #![allow(missing_docs, clippy::all, rust_2018_idioms)]
    tonic::include_proto!("otrashi.v1");
}

/// The OTLP trace schema (`opentelemetry.proto.*`), as upstream names its packages.
#[cfg(feature = "otlp")]
pub mod opentelemetry {
    /// `opentelemetry.proto`.
    pub mod proto {
        /// `opentelemetry.proto.common.v1`: attribute values and key-value pairs.
        pub mod common {
            /// Version 1.
            pub mod v1 {
                #![allow(missing_docs, clippy::all, rust_2018_idioms, rustdoc::all)]
                include!(concat!(
                    env!("OUT_DIR"),
                    "/opentelemetry.proto.common.v1.rs"
                ));
            }
        }
        /// `opentelemetry.proto.resource.v1`: the entity that produced telemetry.
        pub mod resource {
            /// Version 1.
            pub mod v1 {
                #![allow(missing_docs, clippy::all, rust_2018_idioms, rustdoc::all)]
                include!(concat!(
                    env!("OUT_DIR"),
                    "/opentelemetry.proto.resource.v1.rs"
                ));
            }
        }
        /// `opentelemetry.proto.trace.v1`: spans.
        pub mod trace {
            /// Version 1.
            pub mod v1 {
                #![allow(missing_docs, clippy::all, rust_2018_idioms, rustdoc::all)]
                include!(concat!(env!("OUT_DIR"), "/opentelemetry.proto.trace.v1.rs"));
            }
        }
        /// `opentelemetry.proto.collector.*`: the export requests and responses.
        pub mod collector {
            /// `opentelemetry.proto.collector.trace`.
            pub mod trace {
                /// Version 1: `ExportTraceServiceRequest` / `ExportTraceServiceResponse`.
                pub mod v1 {
                    #![allow(missing_docs, clippy::all, rust_2018_idioms, rustdoc::all)]
                    include!(concat!(
                        env!("OUT_DIR"),
                        "/opentelemetry.proto.collector.trace.v1.rs"
                    ));
                }
            }
        }
    }
}

/// The `.proto` sources, for tools that want to hand them to another language's
/// generator (the Python example generates its stubs from the files on disk).
#[cfg(feature = "trainer")]
pub const PROTO_FILES: [(&str, &str); 2] = [
    (
        "otrashi/v1/trainer.proto",
        include_str!("../otrashi/v1/trainer.proto"),
    ),
    (
        "otrashi/v1/gym.proto",
        include_str!("../otrashi/v1/gym.proto"),
    ),
];

#[cfg(all(test, feature = "otlp"))]
mod tests {
    use super::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
    use super::opentelemetry::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    /// Field numbers are the wire contract: a span with a known id and name encodes to
    /// the bytes any OTLP implementation produces (field 1 of the request, 2 of
    /// ResourceSpans, 2 of ScopeSpans, then `span_id` = field 2, `name` = field 5).
    #[test]
    fn otlp_field_numbers_match_upstream() {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        span_id: vec![0xAB; 8],
                        name: "GET".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let bytes = req.encode_to_vec();
        let span = [&[0x12, 0x08][..], &[0xAB; 8], &[0x2A, 0x03], b"GET"].concat();
        let scope = [&[0x12, span.len() as u8][..], &span].concat();
        let resource = [&[0x12, scope.len() as u8][..], &scope].concat();
        let expected = [&[0x0A, resource.len() as u8][..], &resource].concat();
        assert_eq!(bytes, expected);
        assert_eq!(ExportTraceServiceRequest::decode(&*bytes).unwrap(), req);
    }
}
