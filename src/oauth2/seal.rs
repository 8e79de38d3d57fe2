//! Sealing the refresh token before it goes into the database: ChaCha20-Poly1305 with a
//! key derived by HKDF-SHA256 from `support.secret`, and the account as associated data,
//! so a stolen database (or backup) alone logs nobody in, and a sealed token copied to
//! another account's row does not open.

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use super::RefreshToken;
use crate::config::Secret;

/// Names this use of the secret, so the derived key is good for nothing else (the same
/// secret also signs Message-IDs).
const INFO: &[u8] = b"buzon oauth2 refresh token v1";
const NONCE_LEN: usize = 12;

fn cipher(secret: &str) -> ChaCha20Poly1305 {
    let mut key = Key::default();
    Hkdf::<Sha256>::new(None, secret.as_bytes())
        .expand(INFO, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    ChaCha20Poly1305::new(&key)
}

/// The token, sealed with the current secret: base64 of a random nonce and the ciphertext.
pub fn seal(token: &RefreshToken, account: &str, secret: &Secret) -> String {
    // From the operating system's generator: a nonce must never repeat under one key.
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher(secret.expose())
        .encrypt(
            &nonce,
            Payload {
                msg: token.expose().as_bytes(),
                aad: account.as_bytes(),
            },
        )
        .expect("ChaCha20-Poly1305 seals any message of this size");
    let mut out = nonce.to_vec();
    out.extend(sealed);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// The token, opened with the first of `secrets` that sealed it (the current secret, then
/// retired ones, so rotating `support.secret` keeps the login).
pub fn open(sealed: &str, account: &str, secrets: &[&str]) -> Option<RefreshToken> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .ok()?;
    if bytes.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    secrets.iter().find_map(|secret| {
        let plain = cipher(secret)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: account.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok().map(RefreshToken::new)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_only_with_their_secret_and_account() {
        let token = RefreshToken::new("M.R3_BAY.refresh-token-value");
        let secret = Secret::new("0123456789abcdef0123");
        let sealed = seal(&token, "soporte@example.test", &secret);
        assert!(!sealed.contains("refresh-token-value"));
        let opened = open(&sealed, "soporte@example.test", &["other", secret.expose()]);
        assert_eq!(opened.unwrap().expose(), token.expose());
        assert!(open(&sealed, "ventas@example.test", &[secret.expose()]).is_none());
        assert!(open(&sealed, "soporte@example.test", &["another secret"]).is_none());
        assert!(open("not base64!", "soporte@example.test", &[secret.expose()]).is_none());
        // A fresh nonce each time: the same token never seals to the same text.
        assert_ne!(seal(&token, "soporte@example.test", &secret), sealed);
    }
}
