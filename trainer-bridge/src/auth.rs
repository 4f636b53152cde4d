//! Bearer-token authentication for the gRPC services.

use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Checks `authorization: Bearer <token>` on every request; without a token it lets
/// everything through (loopback use).
#[derive(Clone, Default)]
pub struct BearerAuth {
    expected: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("BearerAuth")
            .field("enabled", &self.expected.is_some())
            .finish()
    }
}

impl BearerAuth {
    /// Requires `token` (surrounding whitespace, as a token file's newline, is
    /// trimmed); `None` or an empty token disables the check.
    pub fn new(token: Option<&str>) -> BearerAuth {
        let expected = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| Arc::from(format!("Bearer {t}").into_bytes()));
        BearerAuth { expected }
    }

    /// Whether a token is required.
    pub fn is_enabled(&self) -> bool {
        self.expected.is_some()
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a
/// guessed token was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        match request.metadata().get("authorization") {
            Some(v) if same(v.as_bytes(), expected) => Ok(request),
            Some(_) => Err(Status::unauthenticated("bad bearer token")),
            None => Err(Status::unauthenticated(
                "missing `authorization: Bearer <token>` metadata; this server requires a token",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(auth: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(a) = auth {
            r.metadata_mut().insert("authorization", a.parse().unwrap());
        }
        r
    }

    #[test]
    fn only_the_right_token_passes() {
        let mut auth = BearerAuth::new(Some("s3cret\n"));
        assert!(auth.call(req(Some("Bearer s3cret"))).is_ok());
        assert_eq!(
            auth.call(req(Some("Bearer s3cres"))).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            auth.call(req(None)).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(BearerAuth::new(Some("  ")).call(req(None)).is_ok());
    }
}
