//! The new words of a reply: quoted history, attribution lines, forwarded blocks and
//! signatures removed. Pure text in, text out.
//!
//! The policy is Discourse's email_reply_trimmer's: a case comment holds only what the sender
//! wrote this time; the raw mail keeps everything else. The work is line by line:
//!
//! 1. classify every line as blank, text, quoted (`>`) or code (inside a ``` fence);
//! 2. mark as quoted whatever buzon itself sent on the case ([`known`]), however re-wrapped;
//! 3. walk down removing quoted history: `>` lines, attributions ([`attribution`]), header
//!    blocks and "Original Message" markers ([`headers`]);
//! 4. cut the signature and tidy the ends ([`signature`]).
//!
//! Every rule looks at a line and a few neighbours, so the whole is linear in the input.

mod attribution;
mod headers;
mod known;
mod signature;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod extra_corpus_tests;
#[cfg(test)]
mod shape_tests;
#[cfg(test)]
mod tests;

/// The customer's or agent's new text in `body`. `known_quoted` holds texts buzon itself
/// sent on the case (the mails being answered), removed first wherever they appear quoted.
/// Text this far into a mail is looked at for quotes; what follows is kept as written.
/// Linear is not cheap enough: the rules cost about 100 ns and 10 bytes of memory per
/// byte of text, so a 12 MB text took 1.4 s and 136 MB (issue 12's 14 MB HTML mail). New
/// words come first in a reply, so a reply's history that long is kept, not lost.
pub const MAX_SCANNED_BYTES: usize = 1024 * 1024;

pub fn new_text(body: &str, known_quoted: &[&str]) -> String {
    if body.len() > MAX_SCANNED_BYTES {
        let mut cut = MAX_SCANNED_BYTES;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = body[..cut].rfind('\n').map_or(cut, |i| i + 1);
        let (head, tail) = body.split_at(cut);
        let mut text = new_text_bounded(head, known_quoted);
        text.reserve(tail.len() + 1);
        text.push('\n');
        text.push_str(tail.trim_end());
        return text;
    }
    new_text_bounded(body, known_quoted)
}

/// Whether a line is the title clients put above a forwarded mail: HTML conversion keeps
/// a forward as content, not as a quote.
pub fn is_forward_title(line: &str) -> bool {
    headers::is_forward_title(line)
}

fn new_text_bounded(body: &str, known_quoted: &[&str]) -> String {
    let normalised = body.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines = classify(&normalised);
    known::mark_quoted(&mut lines, known_quoted);
    let mut kept = strip_history(&lines);
    signature::strip(&mut kept);
    tidy(&kept)
}

/// Markers (attributions, headers, separators, signatures) are short lines; longer ones are
/// the sender's text, and skipping them keeps a huge line from costing regex passes.
const MAX_MARKER_LINE: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Blank,
    Text,
    /// Quoted by a mail client (`>`), or known to be text buzon sent.
    Quote,
    /// Inside a ``` or ~~~ fence: kept verbatim and never taken for a marker.
    Code,
}

#[derive(Clone, Copy, Debug)]
struct Line<'a> {
    raw: &'a str,
    kind: Kind,
}

/// A line that survives, or `None` where something was removed (so blank runs around a
/// removal can be collapsed without touching the sender's own spacing).
#[derive(Clone, Copy, Debug)]
struct Kept<'a> {
    text: &'a str,
    code: bool,
}

type Output<'a> = Vec<Option<Kept<'a>>>;

fn classify(text: &str) -> Vec<Line<'_>> {
    let raws: Vec<&str> = text.split('\n').collect();
    let fenced = fenced_lines(&raws);
    let mut lines: Vec<Line> = raws
        .iter()
        .zip(fenced)
        .map(|(raw, code)| Line {
            raw,
            kind: match raw.trim() {
                _ if code => Kind::Code,
                "" => Kind::Blank,
                t if is_quoted(t) => Kind::Quote,
                _ => Kind::Text,
            },
        })
        .collect();
    join_broken_quote_lines(&mut lines);
    lines
}

/// Lines inside a closed code fence. An unclosed fence protects nothing: a stray ``` must
/// not shield the quoted history below it.
fn fenced_lines(raws: &[&str]) -> Vec<bool> {
    let mut fenced = vec![false; raws.len()];
    let mut open: Option<usize> = None;
    for (i, raw) in raws.iter().enumerate() {
        let t = raw.trim_start();
        if !(t.starts_with("```") || t.starts_with("~~~")) {
            continue;
        }
        match open.take() {
            Some(start) => fenced[start..=i].iter_mut().for_each(|f| *f = true),
            None => open = Some(i),
        }
    }
    fenced
}

/// `>` at the start of a line is a quote marker (any depth), as is Supercite's "JD>". Not
/// quotes: a `>` inside the line ("5 > 3"), and arrow decorations such as ">>> see <<<".
fn is_quoted(trimmed: &str) -> bool {
    if trimmed.starts_with('>') {
        return !(trimmed.starts_with(">>") && trimmed.ends_with("<<"));
    }
    let initials = trimmed.bytes().take_while(u8::is_ascii_uppercase).count();
    (1..=3).contains(&initials)
        && trimmed[initials..].starts_with('>')
        && trimmed[initials + 1..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
}

/// Clients re-wrap quoted text and can leave a wrapped tail without its `>` marker: a
/// long link's tail, or the rest of a sentence ("> … Nullam pharetra d" / "ignissim odio?").
/// Such a fragment sits tight between two quoted lines and either looks like a link or
/// carries on the quoted line above it (it starts in lower case, or the quoted line above
/// was cut at the wrap width mid-sentence). A terse inline answer between quotes ("Yes.",
/// "Only on Mondays.") starts a sentence of its own and stays the sender's.
fn join_broken_quote_lines(lines: &mut [Line<'_>]) {
    for i in 1..lines.len().saturating_sub(1) {
        let sandwiched = lines[i].kind == Kind::Text
            && lines[i - 1].kind == Kind::Quote
            && lines[i + 1].kind == Kind::Quote;
        if sandwiched && is_quote_tail(lines[i - 1].raw, lines[i].raw.trim()) {
            lines[i].kind = Kind::Quote;
        }
    }
}

/// Characters of a quoted line that was wrapped by width, not ended by its writer.
const WRAPPED_QUOTE_MIN_CHARS: usize = 60;

fn is_quote_tail(quoted_above: &str, t: &str) -> bool {
    let above = quoted_above.trim_end();
    let cut_mid_sentence =
        above.chars().count() >= WRAPPED_QUOTE_MIN_CHARS && !above.ends_with(['.', '!', '?', ':']);
    is_link_fragment(t) || t.starts_with(char::is_lowercase) || cut_mid_sentence
}

fn is_link_fragment(t: &str) -> bool {
    t.contains("://")
        || (!t.contains(char::is_whitespace) && t.contains(['=', '/', '_', '%', '&', '#']))
}

/// Something that starts quoted history, found at a line: what to keep of its first line,
/// where it ends, and whether it is an attribution (which may sit above a bottom-posted reply).
struct Marker<'a> {
    prefix: Option<&'a str>,
    end: usize,
    attribution: bool,
}

/// Top-down walk. Quoted lines go. At an attribution, header block or "Original Message"
/// marker: if the sender already wrote something above, everything from there on is history
/// (top-posting), unless an attribution introduces a `>` block, which is then removed alone
/// so replies below or between the quotes survive. With nothing above, only the marker goes:
/// the new text is below it (bottom-posting, or a plain forward).
fn strip_history<'a>(lines: &[Line<'a>]) -> Output<'a> {
    let attributions = attribution::find(lines);
    let mut out = Vec::with_capacity(lines.len());
    let mut text_above = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.kind == Kind::Text {
            if let Some(marker) = history_marker(lines, i, &attributions) {
                if let Some(prefix) = marker.prefix {
                    out.push(Some(Kept {
                        text: prefix,
                        code: false,
                    }));
                    text_above = true;
                }
                out.push(None);
                let quote_follows =
                    next_non_blank(lines, marker.end).is_some_and(|k| lines[k].kind == Kind::Quote);
                if text_above && !(marker.attribution && quote_follows) {
                    break;
                }
                i = marker.end;
                continue;
            }
        }
        out.push(match line.kind {
            Kind::Quote => None,
            kind => Some(Kept {
                text: line.raw,
                code: kind == Kind::Code,
            }),
        });
        text_above |= line.kind != Kind::Quote && has_words(line.raw);
        i += 1;
    }
    out
}

fn history_marker<'a>(
    lines: &[Line<'a>],
    i: usize,
    attributions: &[Option<attribution::Found>],
) -> Option<Marker<'a>> {
    if let Some(found) = &attributions[i] {
        let prefix = found.prefix_len.map(|n| trim_joiner(&lines[i].raw[..n]));
        return Some(Marker {
            prefix,
            end: found.end,
            attribution: true,
        });
    }
    let (prefix, end) = headers::find(lines, i)?;
    Some(Marker {
        prefix,
        end,
        attribution: false,
    })
}

/// What precedes a marker sharing its line ("reply--- On …"): spaces, dashes and bold stars.
fn trim_joiner(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || c == '-' || c == '*')
}

fn next_non_blank(lines: &[Line<'_>], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&k| lines[k].kind != Kind::Blank)
}

/// Whether a line says something: letters, digits or a pictograph (a reply of "🎉" alone
/// is the sender's text, not debris).
fn has_words(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_alphanumeric() || crate::text::is_pictograph(c))
}

/// Blank runs that touch a removal shrink to one blank line; the sender's own spacing
/// elsewhere is kept. Link footnotes ("[1]: mailto:…", from HTML conversion) whose marker no
/// longer appears in the kept text pointed into the removed quote, so they go too.
fn tidy(kept: &Output<'_>) -> String {
    let texts: Vec<&str> = kept.iter().flatten().map(|k| k.text).collect();
    let mut out: Vec<&str> = Vec::new();
    let mut gap = false;
    let mut blanks = 0;
    for entry in kept {
        match entry {
            None => gap = true,
            Some(k) if k.text.trim().is_empty() => blanks += 1,
            Some(k) if !k.code && is_orphan_footnote(k.text, &texts) => gap = true,
            Some(k) => {
                if !out.is_empty() {
                    let n = if gap { 1 } else { blanks };
                    out.extend(std::iter::repeat_n("", n));
                }
                out.push(k.text.trim_end());
                gap = false;
                blanks = 0;
            }
        }
    }
    out.join("\n")
}

fn is_orphan_footnote(line: &str, texts: &[&str]) -> bool {
    let t = line.trim();
    let Some(rest) = t.strip_prefix('[') else {
        return false;
    };
    let Some((number, url)) = rest.split_once("]: ") else {
        return false;
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || url.contains(' ') {
        return false;
    }
    let marker = format!("[{number}]");
    !texts
        .iter()
        .any(|other| other.contains(&marker) && !other.trim_start().starts_with(&marker))
}
