//! The new words of a reply: quoted history, attribution lines, forwarded blocks and
//! signatures removed. Pure text in, text out.

/// The customer's or agent's new text in `body`. `known_quoted` holds texts buzon itself
/// sent on the case (the mails being answered), removed first wherever they appear quoted.
pub fn new_text(body: &str, known_quoted: &[&str]) -> String {
    let _ = known_quoted;
    body.trim().to_string()
}

#[cfg(test)]
mod dump {
    #[test]
    fn dump_inputs() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/quotes/mailgun-talon/fixtures");
        for sub in ["standard_replies", "html_replies", ""] {
            let dir = format!("{root}/{sub}");
            let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            for p in entries {
                let name = p.to_string_lossy().to_string();
                let text = if name.ends_with(".eml") {
                    crate::parse::parse(&std::fs::read(&p).unwrap()).unwrap().text
                } else if name.ends_with(".html") {
                    crate::parse::html_to_text(&std::fs::read_to_string(&p).unwrap())
                } else { continue };
                println!("=========== {name}\n{text}");
            }
        }
    }
}
