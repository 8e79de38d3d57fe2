//! Is a signing secret guessable? The support secret signs the Message-IDs that route
//! replies to cases; whoever knows it can write into any case. Judged by shape (length,
//! variety of characters, the shipped placeholder), not by a list of bad passwords.

use std::collections::HashMap;

/// The value in `config/buzon.example.toml`, which a copied configuration still carries.
pub const PLACEHOLDER: &str = "change-me-to-a-long-random-string";

const MIN_BYTES: usize = 16;
const MIN_DISTINCT: usize = 6;
/// 16 random hex digits score about 53 by this estimate; `passwordpassword` 44.
const MIN_BITS: f64 = 48.0;

const HOW: &str = "generate one with `openssl rand -hex 32`";

/// One line naming the problem with `secret` (reported as `what`), if it is weak.
pub fn problem(what: &str, secret: &str) -> Option<String> {
    let s = secret.trim();
    let why = if s.is_empty() {
        "empty: it would let anyone sign Message-IDs".to_string()
    } else if s == PLACEHOLDER {
        "still the example configuration's placeholder".to_string()
    } else if s.len() < MIN_BYTES {
        format!("too short ({} bytes; use at least {MIN_BYTES})", s.len())
    } else if distinct(s) < MIN_DISTINCT {
        format!("too weak (only {} distinct characters)", distinct(s))
    } else if bits(s) < MIN_BITS {
        format!("too weak (about {:.0} bits by its shape)", bits(s))
    } else {
        return None;
    };
    Some(format!("{what}: {why}; {HOW}"))
}

fn distinct(s: &str) -> usize {
    let mut chars: Vec<char> = s.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    chars.len()
}

/// Shannon entropy of the character frequencies times the length: a rough upper bound of
/// what a guesser faces, low for repeats and small alphabets.
fn bits(s: &str) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let n = s.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_shapes_are_refused_with_advice() {
        for (secret, why) in [
            ("", "empty"),
            ("   ", "empty"),
            (PLACEHOLDER, "placeholder"),
            ("short", "too short"),
            ("  0123456789abcde  ", "too short"),
            ("aaaaaaaaaaaaaaaa", "too weak"),
            ("abababababababababababab", "too weak"),
            ("passwordpassword", "too weak"),
        ] {
            let line = problem("support.secret", secret).unwrap_or_default();
            assert!(line.starts_with("support.secret: "), "{secret:?}: {line}");
            assert!(line.contains(why), "{secret:?}: {line}");
            assert!(line.contains("openssl rand -hex 32"), "{line}");
        }
    }

    #[test]
    fn random_looking_secrets_pass() {
        for secret in [
            "0123456789abcdef0123",
            "test-secret-0123456789abcdef",
            "9f86d081884c7d65",
            "5e884898da28047151d0e56f8dc62927",
        ] {
            assert_eq!(problem("s", secret), None, "{secret}");
        }
    }

    #[test]
    fn the_placeholder_is_the_shipped_one() {
        let example = include_str!("../../config/buzon.example.toml");
        assert!(example.contains(&format!("secret = \"{PLACEHOLDER}\"")));
    }
}
