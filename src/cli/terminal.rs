//! Mail text on the admin's terminal. A subject or body is written by strangers and a
//! terminal obeys what it prints: OSC 52 writes the clipboard, OSC 8 hides a link, CSI
//! clears the screen or fakes lines, bidi overrides make `exe.pdf` read `fdp.exe`. Every
//! view except `--raw` (which promises the exact bytes) shows such characters as visible
//! escapes instead.

use std::borrow::Cow;
use std::io::{self, Write};

/// Characters a terminal may act on: C0 controls but newline and tab, DEL, C1 controls,
/// and the bidi controls.
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || crate::text::is_bidi_control(c)
}

/// `\x1b` for the one-byte-wide ones (C0, DEL, C1), `\u{202e}` for the others.
fn visible(c: char, out: &mut String) {
    let n = u32::from(c);
    if n < 0x100 {
        out.push_str(&format!("\\x{n:02x}"));
    } else {
        out.push_str(&format!("\\u{{{n:x}}}"));
    }
}

/// The text with every [unsafe](is_unsafe) character shown as an escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            visible(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// JSON as serde_json writes it escapes C0 controls but not DEL, C1 or bidi controls:
/// those become `\u` escapes (four hex digits) too, so the document means the same and
/// prints safely.
pub fn json(document: &str) -> String {
    let mut out = String::with_capacity(document.len());
    for c in document.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A writer that escapes what passes through it; the views write to it as to stdout.
/// Bytes that are not UTF-8 show as `\xNN`; a character split across two writes is held
/// until its end arrives.
pub struct Safe<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

/// Standard output, escaped.
pub fn stdout() -> Safe<io::StdoutLock<'static>> {
    Safe {
        inner: io::stdout().lock(),
        pending: Vec::new(),
    }
}

impl<W: Write> Safe<W> {
    /// Write out the complete characters in `pending`; keep an unfinished one if `more`
    /// may come.
    fn drain(&mut self, more: bool) -> io::Result<()> {
        let mut shown = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    shown.push_str(&escape(text));
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    shown.push_str(&escape(std::str::from_utf8(good).unwrap_or_default()));
                    match e.error_len() {
                        None if more => {
                            rest = bad;
                            break;
                        }
                        len => {
                            let len = len.unwrap_or(bad.len());
                            for b in &bad[..len] {
                                shown.push_str(&format!("\\x{b:02x}"));
                            }
                            rest = &bad[len..];
                        }
                    }
                }
            }
        }
        let kept = rest.to_vec();
        self.pending = kept;
        self.inner.write_all(shown.as_bytes())
    }
}

impl<W: Write> Write for Safe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.drain(true)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain(false)?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Safe<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_become_visible() {
        assert_eq!(escape("a\nb\tc"), "a\nb\tc");
        assert_eq!(escape("\x1b]52;c;eA==\x07"), "\\x1b]52;c;eA==\\x07");
        assert_eq!(escape("\u{9b}2J\x7f\r"), "\\x9b2J\\x7f\\x0d");
        assert_eq!(
            escape("a\u{202e}fdp.exe\u{2066}"),
            "a\\u{202e}fdp.exe\\u{2066}"
        );
    }

    #[test]
    fn json_stays_json() {
        let doc = serde_json::to_string(&"x\u{1b}\u{9b}\u{202e}\u{7f}").unwrap();
        let safe = json(&doc);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "x\u{1b}\u{9b}\u{202e}\u{7f}");
    }

    #[test]
    fn the_writer_escapes_across_split_writes() {
        let mut out = Vec::new();
        {
            let mut safe = Safe {
                inner: &mut out,
                pending: Vec::new(),
            };
            let bytes = "é\u{202e}\x1b".as_bytes();
            for b in bytes {
                safe.write_all(&[*b]).unwrap();
            }
            safe.write_all(b"\xff ok").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "é\\u{202e}\\x1b\\xff ok");
    }
}
