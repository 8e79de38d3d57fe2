//! The text a walk over an HTML tree writes: words with their white space collapsed as a
//! browser shows them, line and paragraph breaks asked for by the blocks around them, and
//! quoted history marked `> ` per level, as a client's text/plain alternative marks it.

/// A break between blocks; the stronger of two pending breaks wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Break {
    None,
    Line,
    Paragraph,
}

#[derive(Default)]
pub(super) struct Writer {
    out: String,
    line: String,
    /// Quote level of the line being built (the level when its first word was written).
    line_depth: usize,
    /// Quote level of what is written next.
    pub depth: usize,
    /// Inside `<pre>`: white space and line ends are kept.
    pub pre: usize,
    pending: Option<Break>,
    space: bool,
    last_blank: bool,
    /// Quote level of the last line written.
    last_depth: usize,
    /// Whether anything with letters or digits was written outside quotes.
    pub wrote_words: bool,
}

/// Characters that take no room and only confuse matching (zero-width space, BOM, joiners).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}' | '\u{200c}' | '\u{2060}' | '\u{feff}')
}

impl Writer {
    pub fn block(&mut self, brk: Break) {
        if brk > self.pending.unwrap_or(Break::None) {
            self.pending = Some(brk);
        }
        self.space = false;
    }

    /// `<br>`: ends the line; a second one in a row leaves a blank line.
    pub fn line_break(&mut self) {
        self.apply_pending();
        if self.line.is_empty() {
            self.blank_line();
        } else {
            self.flush_line();
        }
        self.space = false;
    }

    /// Text of a text node: runs of white space become one space, unless inside `<pre>`.
    pub fn text(&mut self, text: &str) {
        if self.pre > 0 {
            return self.preformatted(text);
        }
        for c in text.chars().filter(|c| !is_invisible(*c)) {
            if c.is_whitespace() {
                self.space = true;
                continue;
            }
            self.push_char(c);
        }
    }

    /// Words written as they are (a list marker, a link's address): never split.
    pub fn word(&mut self, word: &str) {
        word.chars().for_each(|c| self.push_char(c));
        self.space = false;
    }

    pub fn space(&mut self) {
        self.space = true;
    }

    pub fn line_is_empty(&self) -> bool {
        self.line.is_empty() && self.pending.is_none_or(|p| p == Break::None)
    }

    pub fn line_ends_with(&self, c: char) -> bool {
        self.line.ends_with(c)
    }

    pub fn finish(mut self) -> String {
        if !self.line.is_empty() {
            self.flush_line();
        }
        let end = self.out.trim_end_matches(['\n', '>', ' ']).len();
        self.out.truncate(end);
        self.out
    }

    fn preformatted(&mut self, text: &str) {
        for c in text.chars().filter(|c| !is_invisible(*c) && *c != '\r') {
            if c == '\n' {
                self.line_break();
            } else {
                self.push_char(if c == '\u{a0}' { ' ' } else { c });
            }
        }
    }

    fn push_char(&mut self, c: char) {
        self.apply_pending();
        if self.line.is_empty() {
            self.line_depth = self.depth;
        } else if self.space {
            self.line.push(' ');
        }
        self.space = false;
        self.line.push(c);
        self.wrote_words |= self.depth == 0 && c.is_alphanumeric();
    }

    fn apply_pending(&mut self) {
        let Some(brk) = self.pending.take() else {
            return;
        };
        if !self.line.is_empty() && brk >= Break::Line {
            self.flush_line();
        }
        if brk == Break::Paragraph && !self.out.is_empty() {
            self.blank_line();
        }
    }

    fn flush_line(&mut self) {
        for _ in 0..self.line_depth {
            self.out.push_str("> ");
        }
        self.out.push_str(self.line.trim_end());
        self.out.push('\n');
        self.line.clear();
        self.last_blank = false;
        self.last_depth = self.line_depth;
    }

    /// One blank line at most in a row, marked `>` inside a quote so the quote stays one
    /// block; between two levels, it belongs to the outer one.
    fn blank_line(&mut self) {
        if self.last_blank || self.out.is_empty() {
            return;
        }
        let depth = self.depth.min(self.last_depth);
        self.out.push_str("> ".repeat(depth).trim_end());
        self.out.push('\n');
        self.last_blank = true;
    }
}
