//! Text helpers shared by the pure stages: folding for accent- and case-blind matching.

use jiff::{tz::TimeZone, Timestamp};
use unicode_normalization::UnicodeNormalization;

/// Lowercase and strip combining accents, so "Producción Caída" matches "produccion caida".
pub fn fold(input: &str) -> String {
    input
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Emoji and other pictographs: symbols a person types as a whole answer ("👍", "🎉").
pub fn is_pictograph(c: char) -> bool {
    matches!(
        c as u32,
        0x2190..=0x21FF | 0x2300..=0x23FF | 0x2460..=0x27BF | 0x2B00..=0x2BFF | 0x1F000..=0x1FAFF
    )
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

/// Longest name a customer may give themselves: it goes into greetings and `To:` headers.
pub const MAX_PERSON_NAME: usize = 64;

/// A name a customer gave for their profile, made safe to put in every later mail's greeting
/// and `To:` display name: one line, no control or bidirectional-override characters, at most
/// [`MAX_PERSON_NAME`] characters. `None` when it carries a link or an address (a name is
/// never one, and a phishing text that rides on it usually is) or nothing remains.
pub fn person_name(input: &str) -> Option<String> {
    let line = single_line(&without_bidi_controls(input));
    let lowered = line.to_lowercase();
    let has_link = lowered.contains("://")
        || lowered.contains("www.")
        || line.contains('@')
        || line.split_whitespace().any(looks_like_domain);
    if has_link {
        return None;
    }
    let name: String = line.chars().take(MAX_PERSON_NAME).collect();
    let name = name.trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// `evil.test`, `bit.ly/x`: a word of two dot-separated runs of letters or digits, the last
/// at least two long. "Sr. Pérez" and initials ("J.R.") are not.
fn looks_like_domain(word: &str) -> bool {
    let word = word.trim_end_matches(['.', ',', ';', ':', ')', '!', '?']);
    let host = word.split('/').next().unwrap_or("");
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(char::is_alphanumeric))
        && labels.last().is_some_and(|l| l.chars().count() >= 2)
        && labels.iter().any(|l| l.chars().count() >= 2)
        && !labels.iter().all(|l| l.chars().count() == 1)
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

/// `2026-11-30 09:28 (Europe/Madrid)` from Unix milliseconds, for lists and histories: the
/// time in the desk's `support.timezone`, with the zone named so that nobody has to guess
/// which clock it is.
pub fn format_time(ms: i64, zone: &TimeZone) -> String {
    format!(
        "{} ({})",
        local_time(ms, zone),
        zone.iana_name().unwrap_or("UTC")
    )
}

/// `2026-11-30 09:28`: the wall-clock time in `zone`, to the minute, without the zone's
/// name (for file names; people reading it elsewhere need [`format_time`]).
pub fn local_time(ms: i64, zone: &TimeZone) -> String {
    let when = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    zone.to_datetime(when)
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_the_desks_zone_and_name_it() {
        // 2026-11-30 08:28:00 UTC.
        let ms = 1_796_027_280_000;
        let madrid = TimeZone::get("Europe/Madrid").unwrap();
        assert_eq!(format_time(ms, &madrid), "2026-11-30 09:28 (Europe/Madrid)");
        assert_eq!(format_time(ms, &TimeZone::UTC), "2026-11-30 08:28 (UTC)");
        assert_eq!(local_time(ms, &madrid), "2026-11-30 09:28");
        // Summer time: the same zone, another offset.
        assert_eq!(
            format_time(ms - 124 * 86_400_000, &madrid),
            "2026-07-29 10:28 (Europe/Madrid)"
        );
    }

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

#[cfg(test)]
mod person_name_tests {
    use super::*;

    #[test]
    fn names_are_bounded_plain_and_never_links() {
        assert_eq!(person_name("  Carla   Gómez "), Some("Carla Gómez".into()));
        assert_eq!(person_name("Sr. J.R. Pérez"), Some("Sr. J.R. Pérez".into()));
        assert_eq!(
            person_name("Carla. AVISO: su cuenta caduca http://evil.test/login"),
            None
        );
        assert_eq!(person_name("Carla visite evil.test ya"), None);
        assert_eq!(person_name("carla@evil.test"), None);
        assert_eq!(person_name("www.evil.test"), None);
        assert_eq!(person_name("Ana\u{202E}lortnoc"), Some("Analortnoc".into()));
        assert_eq!(person_name("Ana\r\nBcc: x"), Some("Ana Bcc: x".into()));
        assert_eq!(person_name("\u{202E}"), None);
        let long = "a".repeat(500);
        assert_eq!(person_name(&long).unwrap().chars().count(), MAX_PERSON_NAME);
    }
}
