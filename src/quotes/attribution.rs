//! Attribution lines: the "On <date>, <name> wrote:" a mail client puts above the text it
//! quotes, in the languages buzon's customers write, often wrapped over two to four lines.

use std::sync::LazyLock;

use regex::Regex;

use super::{Kind, Line};
use crate::text::fold;

/// Clients wrap an attribution over at most four lines (a few blank lines may sit between
/// them), and it is short: the caps keep a huge line from being scanned again and again.
const MAX_WORD_LINES: usize = 4;
const MAX_SPAN: usize = 6;
const MAX_CHARS: usize = 400;
/// Words in a bare "<name> wrote:", accepted without date or address when a quote follows.
const MAX_BARE_WORDS: usize = 6;

/// An attribution starting at the line this is stored at.
pub(super) struct Found {
    /// One past its last line.
    pub end: usize,
    /// Bytes of the first line that belong to the reply ("reply On Wed, … wrote:").
    pub prefix_len: Option<usize>,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

/// The verb closing an attribution, on folded text (lowercase, no accents): English,
/// Spanish, Portuguese, French, Italian, Dutch, Scandinavian, Polish, Czech, Finnish,
/// Turkish, Russian, Ukrainian, Vietnamese.
static VERB_AT_END: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?:wrote|writes|escribio|escreveu|a ecrit|ha scritto|scrisse|geschreven|skrev(?: folgende)?|napisał(?:\(a\))?|napisala|napsal(?:\(a\))?|kirjoitti|yazdı|написал(?:\(а\))?|написала|написав|пише|đa viet)\s*:?$",
    )
});

/// German, Dutch and Scandinavian clients can put the verb before the name ("Am … schrieb
/// Ana <…>:"), as does mail.ru with "от" (from).
static VERB_INSIDE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?:^|\s)(?:schrieb|schreef|skrev|от)\s.*:$"));

/// "On <date>, <name> sent:": only after an opener, as "… sent:" alone is ordinary prose.
static SENT_AT_END: LazyLock<Regex> = LazyLock::new(|| regex(r"\ssent\s*:$"));

/// Gmail's older and Yandex's form: a date, a name and an address, no verb.
static DATE_FIRST: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b.*@.*>\s*:?$"));

/// How an attribution opens (folded): On, Le, El, Am, Op, Em, Il, Den, På, W dniu, Vào,
/// Dne, or a date ("02.04.2012 14:20 …", "23 mar 2017 21:25 …").
static OPENER: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^(?:(?:on|le|el|am|op|em|il|den|pa|w dniu|vao|dne)\s|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b|\d{1,2}\.? \p{L}{3,}\.? \d{4}\b)",
    )
});

/// An opener in the middle of a line, after a reply that shares the line with it.
static OPENER_INSIDE: LazyLock<Regex> = LazyLock::new(|| regex(r"[\s-](?:On|Le|El|Am|Op|Em|Il)\s"));

/// A clock time ("10:00"), the date part of an attribution that has no opener word.
static TIME: LazyLock<Regex> = LazyLock::new(|| regex(r"\d:\d\d"));

/// A date or a time in any language's shape: "10:00", "17.50", a year ("2017", "2022年"),
/// "30/04/2025", "1月1日". Month and day names vary by language; these numbers do not.
static DATE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\d{1,2}[:.]\d\d(?:\D|$)|(?:^|\D)(?:19|20)\d\d(?:\D|$)|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d\s*[年月日]",
    )
});

/// Words in an attribution recognised by its shape alone (date, name or address, colon).
const MAX_SHAPED_WORDS: usize = 30;

/// Attributions by first line: `result[i]` is set when one starts at line `i`.
pub(super) fn find(lines: &[Line<'_>]) -> Vec<Option<Found>> {
    let mut found: Vec<Option<Found>> = lines.iter().map(|_| None).collect();
    for j in 0..lines.len() {
        if !could_end(lines[j].raw) {
            continue;
        }
        if let Some((start, prefix_len)) = window_ending_at(lines, j) {
            found[start].get_or_insert(Found {
                end: j + 1,
                prefix_len,
            });
        }
    }
    found
}

/// Cheap filter before any regex: attributions end in ':', "wrote", dashes or '>'.
fn could_end(raw: &str) -> bool {
    let t = raw.trim_end_matches(|c: char| c.is_whitespace() || c == '*');
    t.len() <= MAX_CHARS
        && (t.ends_with([':', '：', '-', '>']) || t.to_ascii_lowercase().ends_with("wrote"))
}

/// The attribution ending at line `j`, growing upwards one line at a time. A window whose
/// first line opens like an attribution ("On …", "Le …") wins, so a wrapped one is taken
/// whole; otherwise the smallest window, so the sender's line above is not swallowed,
/// unless that window has no date and the line above brings one ("pe 20. lokakuuta 2017
/// klo 17.50 John Coe" / "<john@…> kirjoitti:").
fn window_ending_at(lines: &[Line<'_>], j: usize) -> Option<(usize, Option<usize>)> {
    let mut parts: Vec<&str> = Vec::new();
    let mut best: Option<(usize, String, usize)> = None;
    let mut start = j + 1;
    while start > 0 && j + 1 - start < MAX_SPAN && parts.len() < MAX_WORD_LINES {
        start -= 1;
        let line = lines[start];
        match line.kind {
            Kind::Blank => continue,
            Kind::Code => break,
            // A wrapped tail can look quoted ("> wrote:", ">:"), but the start never is.
            Kind::Quote if start != j || word_count(line.raw) > 2 => break,
            // A line above ending a statement ("… you can run:") is the sender's.
            _ if start != j && ends_statement(line.raw) => break,
            _ => {}
        }
        parts.insert(0, line.raw.trim());
        let joined = parts.join(" ");
        if joined.len() > MAX_CHARS {
            break;
        }
        if line.kind == Kind::Quote {
            continue;
        }
        let opener = OPENER.is_match(&fold(clean(line.raw).trim_start_matches('-').trim()));
        let found = is_attribution(&joined, opener)
            || bare_above_quote(lines, j, &joined)
            || shaped_above_quote(lines, j, &joined);
        if !found {
            continue;
        }
        if opener {
            return Some((start, None));
        }
        let brings_date = best
            .as_ref()
            .is_some_and(|(_, below, _)| !DATE_TOKEN.is_match(below))
            && DATE_TOKEN.is_match(line.raw);
        if best.is_none() || brings_date {
            best = Some((start, joined, parts[0].len()));
        }
    }
    let (start, joined, first_len) = best?;
    let raw = lines[start].raw;
    let lead = raw.len() - raw.trim_start().len();
    let prefix = shared_line_prefix(&joined).filter(|&pos| pos <= first_len);
    Some((start, prefix.map(|pos| lead + pos)))
}

/// "reply On Wed, … wrote:": where, in the window's first line, an attribution starts after
/// the sender's own words.
fn shared_line_prefix(joined: &str) -> Option<usize> {
    OPENER_INSIDE
        .find_iter(joined)
        .map(|m| m.start() + 1)
        .find(|&pos| super::has_words(&joined[..pos]) && is_attribution(&joined[pos..], true))
}

fn is_attribution(joined: &str, opener: bool) -> bool {
    let cleaned = clean(joined);
    let dash_wrapped = cleaned.starts_with("--") && cleaned.ends_with("--");
    let folded = fold(cleaned.trim_matches(|c: char| c == '-' || c.is_whitespace()));
    let evidence = joined.contains('@')
        || dash_wrapped
        || if opener {
            joined.chars().any(|c| c.is_ascii_digit())
        } else {
            TIME.is_match(joined)
        };
    evidence
        && (VERB_AT_END.is_match(&folded)
            || VERB_INSIDE.is_match(&folded)
            || DATE_FIRST.is_match(&folded)
            || (opener && SENT_AT_END.is_match(&folded)))
}

/// Bold markers from HTML conversion ("*On …*") say nothing about the words.
fn clean(s: &str) -> String {
    s.replace('*', "").trim().to_string()
}

/// A line ending a sentence or a statement is the sender's prose, not a wrapped attribution.
fn ends_statement(raw: &str) -> bool {
    raw.trim_end().ends_with(['.', '!', '?', ':'])
}

fn word_count(raw: &str) -> usize {
    raw.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .count()
}

/// An attribution by its shape, in any language and with any verb or none, right above a
/// `>` block: it holds a date or time and an address, and ends in a colon
/// ("2022年1月1日(金) 9:00 田中太郎 <taro@…>:", "ср, 30 апр. 2025 г. в 15:19, John <…>:",
/// "11:00 AM, November 17, 2021, \"John - Acme\" <john@…>:").
fn shaped_above_quote(lines: &[Line<'_>], j: usize, joined: &str) -> bool {
    let cleaned = clean(joined);
    let quote_follows =
        super::next_non_blank(lines, j + 1).is_some_and(|k| lines[k].kind == Kind::Quote);
    quote_follows
        && cleaned.ends_with([':', '：'])
        && DATE_TOKEN.is_match(&cleaned)
        && (cleaned.contains('@') || cleaned.contains('<') || names_someone(&cleaned))
        && word_count(&cleaned) <= MAX_SHAPED_WORDS
}

/// A name written in quotes, capitalised ("\"Kovács Anna\"") or as two capitalised words after the
/// line's first word ("… 8:15 Jana Nováková napsala:"): with a date and a colon right above
/// a quote, an attribution whose verb is in no list. A sentence opening with a capital
/// ("Esta mañana a las 9:15 probé…:") names no one.
static NAME: LazyLock<Regex> =
    LazyLock::new(|| regex(r#""\p{Lu}[^"@<>]{0,60}"|\S\s+\p{Lu}\p{Ll}+\s+\p{Lu}\p{Ll}+"#));

fn names_someone(cleaned: &str) -> bool {
    NAME.is_match(cleaned)
}

/// "Support wrote:" right above a `>` block: no date or address, but nothing else it could be.
fn bare_above_quote(lines: &[Line<'_>], j: usize, joined: &str) -> bool {
    let quote_follows =
        super::next_non_blank(lines, j + 1).is_some_and(|k| lines[k].kind == Kind::Quote);
    quote_follows
        && word_count(joined) <= MAX_BARE_WORDS
        && VERB_AT_END.is_match(&fold(&clean(joined)))
}
