//! What buzon itself sent on the case, found again in a reply. Clients re-wrap quoted text at
//! other widths, nest it (`> >`), drop the `>` from a wrapped tail or paste it without
//! markers under an attribution, so lines are useless for finding it; words are not. Both
//! texts become streams of folded words, and runs they share are found through an index of
//! four-word shingles, in time linear in the reply.

use std::collections::HashMap;

use super::{Kind, Line};
use crate::text::fold;

/// Words in a shingle: long enough that shared runs are not chance, short enough to catch
/// a quoted fragment between two inline answers.
const SHINGLE: usize = 4;
/// A line without `>` is taken as quoted only inside a shared run this long (or the whole
/// sent text): a customer repeating one of our sentences in their own words keeps it.
const MIN_UNMARKED_RUN: usize = 12;
/// Positions tried per shingle, so repetitive text cannot make the search quadratic.
const MAX_CANDIDATES: usize = 8;

/// Re-classify as quoted the unmarked lines that lie inside text buzon sent. Lines already
/// marked `>` are removed anyway; this finds the ones a client left unmarked.
pub(super) fn mark_quoted(lines: &mut [Line<'_>], known: &[&str]) {
    if known.iter().all(|k| k.trim().is_empty()) {
        return;
    }
    let mut body = Vec::new();
    let mut line_of = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        for word in words(line.raw) {
            body.push(word);
            line_of.push(index);
        }
    }
    let mut run = vec![0usize; body.len()];
    for text in known {
        let sent = words(text);
        if sent.len() >= SHINGLE {
            cover(&body, &sent, MIN_UNMARKED_RUN.min(sent.len()), &mut run);
        }
    }
    let mut first = 0;
    while first < body.len() {
        let index = line_of[first];
        let last = (first..body.len())
            .find(|&w| line_of[w] != index)
            .unwrap_or(body.len());
        if lines[index].kind == Kind::Text && run[first..last].iter().all(|&r| r > 0) {
            lines[index].kind = Kind::Quote;
        }
        first = last;
    }
}

fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Mark in `run` the body words inside a run of at least `min_run` words shared with `sent`.
fn cover(body: &[String], sent: &[String], min_run: usize, run: &mut [usize]) {
    let mut index: HashMap<&[String], Vec<usize>> = HashMap::new();
    for (p, shingle) in sent.windows(SHINGLE).enumerate() {
        let positions = index.entry(shingle).or_default();
        if positions.len() < MAX_CANDIDATES {
            positions.push(p);
        }
    }
    let mut i = 0;
    while i + SHINGLE <= body.len() {
        let longest = index
            .get(&body[i..i + SHINGLE])
            .into_iter()
            .flatten()
            .map(|&p| shared_len(&body[i..], &sent[p..]))
            .max()
            .unwrap_or(0);
        if longest >= min_run {
            run[i..i + longest]
                .iter_mut()
                .for_each(|r| *r = (*r).max(longest));
            i += longest;
        } else {
            i += 1;
        }
    }
}

fn shared_len(a: &[String], b: &[String]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
