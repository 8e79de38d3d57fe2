//! SPEC.md "Mail in → 8": a new mail is a request only when its body holds nothing but what
//! a mail client or good manners add: quoted text, a signature, a greeting, thanks, a name to
//! sign with, and the request's own lines (`Nombre:`/`Idioma:` for `perfil`). Any other line
//! is a description, and a description makes the mail a new case however its subject begins
//! ("Buscar clientes no funciona" over an error report).

use crate::text::fold_words;

/// Whether `body` says nothing beyond the request. `own_keys` are the field names the
/// request itself reads (folded, without the colon).
pub(super) fn is_bare(body: &str, own_keys: &[&str]) -> bool {
    // Everything below a signature delimiter is signature, even with nothing above it.
    let above_signature = body
        .lines()
        .take_while(|l| !matches!(l.trim_end_matches('\r'), "-- " | "--"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = crate::quotes::new_text(&above_signature, &[]);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !is_own_line(l, own_keys))
        .filter(|l| !is_courtesy_line(l))
        .collect();
    match lines.as_slice() {
        [] => true,
        // "Carla" or "Carla Gómez" under the request: a name signing, not a description.
        [only] => is_signing_name(only),
        _ => false,
    }
}

fn is_own_line(line: &str, own_keys: &[&str]) -> bool {
    line.split_once(':')
        .is_some_and(|(key, _)| own_keys.contains(&fold_words(key).as_str()))
}

/// Greetings, thanks and sign-offs, alone or with a word or two ("Hola equipo,", "Un
/// saludo", "Thanks in advance").
fn is_courtesy_line(line: &str) -> bool {
    const OPENERS: [&str; 24] = [
        "hola",
        "buenas",
        "buenos dias",
        "buenas tardes",
        "buenas noches",
        "hi",
        "hello",
        "hey",
        "dear",
        "gracias",
        "muchas gracias",
        "thanks",
        "thank you",
        "saludos",
        "un saludo",
        "cordialmente",
        "atentamente",
        "regards",
        "best regards",
        "kind regards",
        "best",
        "cheers",
        "un abrazo",
        "por favor",
    ];
    let folded = fold_words(line);
    let words: String = folded
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    OPENERS.iter().any(|o| {
        words == *o
            || words
                .strip_prefix(o)
                .is_some_and(|rest| rest.starts_with(' ') && rest.split_whitespace().count() <= 2)
    })
}

/// One to three capitalised words of letters: how people sign ("Carla", "Ana M. Pérez").
fn is_signing_name(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    (1..=3).contains(&words.len())
        && words.iter().all(|w| {
            let w = w.trim_end_matches(['.', ',']);
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars()
                    .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
        })
}
