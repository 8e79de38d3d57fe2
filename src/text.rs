//! Text helpers shared by the pure stages: folding for accent- and case-blind matching.

use unicode_normalization::UnicodeNormalization;

/// Lowercase and strip combining accents, so "Producción Caída" matches "produccion caida".
pub fn fold(input: &str) -> String {
    input
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Fold and collapse every run of whitespace to one space, trimming the ends.
pub fn fold_words(input: &str) -> String {
    fold(input).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Remove characters that could break a header or a terminal (CR, LF, other controls).
pub fn single_line(input: &str) -> String {
    let cleaned: String = input
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The invisible characters that reorder text (explicit embeddings, overrides, isolates
/// and marks): in a name they make `factura\u{202E}fdp.exe` read as `factura` + `exe.pdf`.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// The text without [bidi controls](is_bidi_control).
pub fn without_bidi_controls(input: &str) -> String {
    input.chars().filter(|c| !is_bidi_control(*c)).collect()
}

/// `2026-11-28 12:00` (UTC) from Unix milliseconds, for lists and histories.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = crate::compose::mime::civil_from_days(secs.div_euclid(86_400));
    let day_secs = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        day_secs / 3600,
        day_secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_strips_accents_and_case() {
        assert_eq!(fold("Producción CAÍDA"), "produccion caida");
        assert_eq!(fold("Ñandú"), "nandu");
        assert_eq!(
            fold_words("  Mis   Casos \t abiertos "),
            "mis casos abiertos"
        );
    }

    #[test]
    fn single_line_removes_header_breakers() {
        assert_eq!(single_line("a\r\nBcc: x@y\tz"), "a Bcc: x@y z");
    }
}
