//! X-Hub-Signature-256 (and, when allowed, the legacy X-Hub-Signature) over the raw body.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No usable signature header.
    #[error("missing signature header")]
    Missing,
    /// A header that is not `sha256=<hex>` (or `sha1=<hex>`).
    #[error("malformed signature header")]
    Malformed,
    /// The HMAC does not match.
    #[error("signature does not match")]
    Mismatch,
}

/// Checks the signature headers against `body`, in constant time.
///
/// `sha256` is the value of X-Hub-Signature-256, `sha1` that of X-Hub-Signature; the latter
/// counts only when `accept_sha1` is set and the former is absent.
pub fn verify(
    secret: &[u8],
    body: &[u8],
    sha256: Option<&[u8]>,
    sha1: Option<&[u8]>,
    accept_sha1: bool,
) -> Result<(), SignatureError> {
    if let Some(header) = sha256 {
        let digest = parse(header, b"sha256=")?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
        mac.update(body);
        // verify_slice compares in constant time.
        return mac
            .verify_slice(&digest)
            .map_err(|_| SignatureError::Mismatch);
    }
    match sha1 {
        Some(header) if accept_sha1 => {
            let digest = parse(header, b"sha1=")?;
            let mut mac =
                Hmac::<Sha1>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
            mac.update(body);
            mac.verify_slice(&digest)
                .map_err(|_| SignatureError::Mismatch)
        }
        _ => Err(SignatureError::Missing),
    }
}

fn parse(header: &[u8], prefix: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let hex_digest = header
        .strip_prefix(prefix)
        .ok_or(SignatureError::Malformed)?;
    hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)
}

/// `sha256=<hex>` for `body`: what Facebook sends, for tests and tools that sign bodies.
pub fn sign_sha256(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"pagebot-test-secret";

    #[test]
    fn accepts_its_own_signature_and_refuses_a_changed_body() {
        let sig = sign_sha256(SECRET, b"{}");
        assert_eq!(
            verify(SECRET, b"{}", Some(sig.as_bytes()), None, false),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, b"{ }", Some(sig.as_bytes()), None, false),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", b"{}", Some(sig.as_bytes()), None, false),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_and_missing_headers_are_refused() {
        assert_eq!(
            verify(SECRET, b"{}", Some(b"sha256=zz"), None, false),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, b"{}", Some(b"md5=00"), None, false),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, b"{}", None, None, false),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn sha1_counts_only_when_allowed() {
        let mut mac = Hmac::<Sha1>::new_from_slice(SECRET).unwrap();
        mac.update(b"{}");
        let sig = format!("sha1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(
            verify(SECRET, b"{}", None, Some(sig.as_bytes()), false),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, b"{}", None, Some(sig.as_bytes()), true),
            Ok(())
        );
    }
}
