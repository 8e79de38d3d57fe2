//! Signatures and debris, cut from the kept lines once the quoted history is gone: what is
//! left at the bottom of a reply is the sender's signature, their phone's advert or the
//! mailing list's footer, none of which is part of the comment.

use std::sync::LazyLock;

use regex::Regex;

use super::{has_words, Kept, Output};
use crate::text::fold;

/// Lines after a `____` rule that still make a footer or signature, not more of the reply.
const MAX_FOOTER_LINES: usize = 8;
/// A phone's or app's signature is a short phrase; "Sent from my desk, is much easier
/// then my mobile phone." is a sentence.
const MAX_APP_SIGNATURE_WORDS: usize = 7;

/// "Sent from my iPhone", "Get Outlook for iOS", "Enviado desde mi iPhone", "Von meinem
/// iPhone gesendet", "Envoyé de mon iPhone" and kin, folded.
static APP_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:sent (?:from|with|via|using)|get outlook for|enviado (?:desde|con|do|a partir d)|envoye (?:de|depuis)|von meinem|gesendet von|inviato da|verstuurd vanaf|verzonden met|skickat fran|sendt fra|wysłane z|отправлено с)\b",
    )
    .expect("static regex")
});

/// A dash and a name closing the text: "-Abhishek Kona", "—Ryan".
static SIGN_OFF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-—–~]\s?\p{Lu}[\p{L}.'’ -]{0,30}$").expect("static regex"));

/// Links and addresses inside an app signature ("Sent from Outlook Mobile<https://…>").
static LINKS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[^>]*>|\([^)]*\)|\S+://\S+").expect("static regex"));

pub(super) fn strip(kept: &mut Output<'_>) {
    if let Some(cut) = signature_start(kept) {
        kept.truncate(cut);
        kept.push(None);
    }
    trim_tail(kept);
    trim_head(kept);
}

/// The first line of the signature. "-- " (RFC 3676) and a bare "--" start one, as does an
/// app's signature; a `____` rule does when only a footer-sized tail follows it. Code
/// blocks are never cut, and a delimiter with nothing of the sender's above it is not one.
fn signature_start(kept: &Output<'_>) -> Option<usize> {
    let lines_after = non_blank_lines_after(kept);
    let mut text_above = false;
    for (i, entry) in kept.iter().enumerate() {
        let Some(Kept { text, code: false }) = entry else {
            text_above |= entry.is_some_and(|k| has_words(k.text));
            continue;
        };
        let t = text.trim();
        if t.len() > super::MAX_MARKER_LINE {
            text_above = true;
            continue;
        }
        if is_app_signature(t) {
            return Some(i);
        }
        let footer = is_rule(t, '_') && lines_after[i] <= MAX_FOOTER_LINES;
        if text_above && (text.trim_end() == "--" || footer) {
            return Some(i);
        }
        text_above |= has_words(t);
    }
    None
}

fn is_app_signature(t: &str) -> bool {
    let folded = fold(t);
    APP_SIGNATURE.is_match(&folded)
        && LINKS.replace_all(&folded, " ").split_whitespace().count() <= MAX_APP_SIGNATURE_WORDS
}

/// For each line, how many non-blank lines follow it (one pass, so the check stays linear).
fn non_blank_lines_after(kept: &Output<'_>) -> Vec<usize> {
    let mut after = vec![0; kept.len()];
    for i in (0..kept.len().saturating_sub(1)).rev() {
        let next_counts = kept[i + 1].is_some_and(|k| !k.text.trim().is_empty());
        after[i] = after[i + 1] + usize::from(next_counts);
    }
    after
}

/// A line of one repeated punctuation mark ("-----", "_____", "*****", "=====", "####").
fn is_rule(t: &str, mark: char) -> bool {
    t.chars().count() >= 3 && t.chars().all(|c| c == mark)
}

fn is_delimiter(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| "-_=*~#+—–".contains(c) && is_rule(t, c))
}

/// Debris at an end: delimiter lines and lone symbols (Gmail's "ᐧ" tracking mark); a lone
/// emoji is an answer, not debris.
fn is_debris(t: &str) -> bool {
    let mut chars = t.chars();
    let lone = matches!((chars.next(), chars.next()),
        (Some(c), None) if !c.is_ascii_alphanumeric() && !crate::text::is_pictograph(c));
    lone || t == "--" || is_delimiter(t)
}

/// Remove trailing blanks, debris and a dash-and-name sign-off (when something remains).
fn trim_tail(kept: &mut Output<'_>) {
    while let Some(last) = kept.last().copied() {
        let removable = match last {
            None => true,
            Some(k) if k.code => false,
            Some(k) => {
                let t = k.text.trim();
                t.is_empty() || is_debris(t) || is_sign_off(t, &kept[..kept.len() - 1])
            }
        };
        if !removable {
            break;
        }
        kept.pop();
    }
}

fn is_sign_off(t: &str, above: &[Option<Kept<'_>>]) -> bool {
    SIGN_OFF.is_match(t)
        && t.split_whitespace().count() <= 3
        && above.iter().flatten().any(|k| has_words(k.text))
}

/// A rule or separator left at the top once the header block below it went.
fn trim_head(kept: &mut Output<'_>) {
    let debris = kept
        .iter()
        .take_while(|e| {
            e.is_none_or(|k| !k.code && (k.text.trim().is_empty() || is_debris(k.text.trim())))
        })
        .count();
    kept.drain(..debris);
}
