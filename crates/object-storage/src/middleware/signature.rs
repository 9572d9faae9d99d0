//! The HMAC signatures of TempURL and FormPost: which digest a signature
//! names (by its hex length, or a `sha256:` prefix before base64), and a
//! constant-time check against the keys.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};

/// The digests Swift allows by default (`allowed_digests`).
pub const ALLOWED_DIGESTS: &[&str] = &["sha1", "sha256", "sha512"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

/// The digest and raw bytes of a signature as a client sends it: hex
/// (40, 64 or 128 digits) or `<digest>:<base64>` (URL-safe or not, padding
/// optional).
pub fn parse(sig: &str) -> Option<(Digest, Vec<u8>)> {
    if let Some((name, b64)) = sig.split_once(':') {
        let digest = match name {
            "sha1" => Digest::Sha1,
            "sha256" => Digest::Sha256,
            "sha512" => Digest::Sha512,
            _ => return None,
        };
        let b64 = b64.trim_end_matches('=').replace('-', "+").replace('_', "/");
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64).ok()?;
        return Some((digest, raw));
    }
    let digest = match sig.len() {
        40 => Digest::Sha1,
        64 => Digest::Sha256,
        128 => Digest::Sha512,
        _ => return None,
    };
    Some((digest, hex::decode(sig).ok()?))
}

pub fn hmac(digest: Digest, key: &[u8], message: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length.
        let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
            return Vec::new();
        };
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }
    match digest {
        Digest::Sha1 => run::<Hmac<sha1::Sha1>>(key, message),
        Digest::Sha256 => run::<Hmac<sha2_011::Sha256>>(key, message),
        Digest::Sha512 => run::<Hmac<sha2_011::Sha512>>(key, message),
    }
}

/// Whether `sig` signs any of `messages` with any of `keys`.
pub fn valid(sig: &str, keys: &[String], messages: &[String]) -> bool {
    let Some((digest, raw)) = parse(sig) else {
        return false;
    };
    let mut ok = false;
    for key in keys.iter().filter(|k| !k.is_empty()) {
        for m in messages {
            ok |= constant_eq(&hmac(digest, key.as_bytes(), m.as_bytes()), &raw);
        }
    }
    ok
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        // RFC 2202 test case 2.
        let mac = hmac(Digest::Sha1, b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(&mac), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        let sig = hex::encode(&mac);
        assert!(valid(&sig, &["Jefe".into()], &["what do ya want for nothing?".into()]));
        assert!(!valid(&sig, &["jefe".into()], &["what do ya want for nothing?".into()]));
        let b64 = format!("sha1:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac));
        assert!(valid(&b64, &["Jefe".into()], &["what do ya want for nothing?".into()]));
        assert!(parse("abc").is_none());
        assert!(parse("md5:AAAA").is_none());
        let s512 = hex::encode(hmac(Digest::Sha512, b"k", b"m"));
        assert_eq!(parse(&s512).unwrap().0, Digest::Sha512);
    }
}
