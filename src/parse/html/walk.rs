//! A walk over a parsed HTML tree that writes what a careful reader of the mail would
//! copy: text without markdown, links as `text <url>`, images as their alt text, table
//! rows as lines, and the quoted history that clients mark by structure (`blockquote`,
//! Gmail's `gmail_quote`, Thunderbird's `moz-cite-prefix`, Yahoo's `yahoo_quoted`,
//! ProtonMail's `protonmail_quote`, Outlook's `divRplyFwdMsg`, `appendonsend` and the
//! border-top rule above its header block) marked `> `, so the quote stripper removes it
//! as it removes a text client's quotes. A forwarded mail is content, not a quote.
//!
//! The walk keeps its own stack, so a deep tree costs memory, not recursion.

use markup5ever_rcdom::{Handle, NodeData};

use super::writer::{Break, Writer};

/// What to do when an element's children are done.
enum Closing {
    Block(Break),
    Quote(Break),
    Pre,
    Link(String),
    List,
}

enum Step {
    Enter(Handle),
    Close(Closing),
}

/// Elements whose content is never shown.
const HIDDEN: &[&str] = &[
    "head", "script", "style", "title", "template", "noscript", "iframe", "object", "svg", "math",
    "select", "meta", "link",
];
/// Blocks set apart by a blank line.
const PARAGRAPHS: &[&str] = &[
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre", "hr", "dl", "figure", "ul", "ol",
];
/// Blocks that start on a line of their own.
const LINES: &[&str] = &[
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "address",
    "center",
    "form",
    "fieldset",
    "caption",
    "main",
    "details",
    "summary",
    "figcaption",
    "tbody",
    "thead",
    "tfoot",
];
/// Classes clients put on the quoted mail (or on the attribution above it).
pub(super) const QUOTE_CLASSES: &[&str] = &[
    "gmail_quote",
    "gmail_quote_container",
    "yahoo_quoted",
    "protonmail_quote",
    "moz-cite-prefix",
    "zmail_extra",
];
/// Ids Outlook puts where the quoted history starts: everything after is history.
const HISTORY_IDS: &[&str] = &[
    "divrplyfwdmsg",
    "x_divrplyfwdmsg",
    "appendonsend",
    "olk_src_body_section",
    "mail-editor-reference-message-container",
    "stopspelling",
];
/// Nodes looked at to read the first words of an element (a link's text, a quote's title).
const MAX_PEEK_NODES: usize = 200;
const MAX_PEEK_CHARS: usize = 300;

pub(super) fn render(document: &Handle) -> String {
    let mut walk = Walk::default();
    let mut stack = vec![Step::Enter(document.clone())];
    while let Some(step) = stack.pop() {
        match step {
            Step::Close(closing) => walk.close(closing),
            Step::Enter(node) => walk.enter(&node, &mut stack),
        }
    }
    walk.writer.finish()
}

#[derive(Default)]
struct Walk {
    writer: Writer,
    /// Open lists: `None` for bullets, the next number for an ordered list.
    lists: Vec<Option<usize>>,
    /// Cells written in the current table row.
    row_cells: usize,
    /// Set once Outlook's history marker was met after the sender's words.
    rest_is_history: bool,
}

impl Walk {
    fn enter(&mut self, node: &Handle, stack: &mut Vec<Step>) {
        match &node.data {
            NodeData::Text { contents } => self.writer.text(&contents.borrow()),
            NodeData::Document => push_children(node, stack),
            NodeData::Element { name, .. } => {
                let tag = name.local.to_ascii_lowercase();
                if HIDDEN.contains(&tag.as_str()) || is_hidden(node) {
                    return;
                }
                if let Some(closing) = self.open(node, &tag) {
                    stack.push(Step::Close(closing));
                }
                push_children(node, stack);
            }
            _ => {}
        }
    }

    /// Writes what an element shows before its children; returns what its end does.
    fn open(&mut self, node: &Handle, tag: &str) -> Option<Closing> {
        if !self.rest_is_history && starts_history(node, tag) && self.writer.wrote_words {
            self.rest_is_history = true;
            self.writer.block(Break::Paragraph);
            self.writer.depth += 1;
        }
        if tag == "blockquote" || has_class(node, QUOTE_CLASSES) {
            let brk = if tag == "blockquote" {
                Break::Paragraph
            } else {
                Break::Line
            };
            self.writer.block(brk);
            if is_forward(node) {
                return Some(Closing::Block(brk));
            }
            self.writer.depth += 1;
            return Some(Closing::Quote(brk));
        }
        match tag {
            "br" => self.writer.line_break(),
            "img" => self.image(node),
            "a" => return self.link(node),
            "pre" => {
                self.writer.block(Break::Paragraph);
                self.writer.pre += 1;
                return Some(Closing::Pre);
            }
            "ul" | "ol" => {
                self.writer.block(Break::Line);
                self.lists.push((tag == "ol").then_some(1));
                return Some(Closing::List);
            }
            "li" => {
                self.list_item();
                return Some(Closing::Block(Break::Line));
            }
            "tr" => self.row_cells = 0,
            "td" | "th" => self.cell(),
            _ => {}
        }
        let brk = if PARAGRAPHS.contains(&tag) {
            Break::Paragraph
        } else if LINES.contains(&tag) {
            Break::Line
        } else {
            return None;
        };
        self.writer.block(brk);
        Some(Closing::Block(brk))
    }

    fn close(&mut self, closing: Closing) {
        match closing {
            Closing::Block(brk) => self.writer.block(brk),
            Closing::Quote(brk) => {
                self.writer.block(brk);
                self.writer.depth -= 1;
            }
            Closing::Pre => {
                self.writer.pre -= 1;
                self.writer.block(Break::Paragraph);
            }
            Closing::Link(target) => {
                self.writer.space();
                self.writer.word(&target);
            }
            Closing::List => {
                self.lists.pop();
                self.writer.block(Break::Line);
            }
        }
    }

    fn image(&mut self, node: &Handle) {
        if let Some(alt) = attr(node, "alt").filter(|a| !a.trim().is_empty()) {
            self.writer.text(&format!(" {alt} "));
        }
    }

    /// `text <url>` for a web or mail link whose text does not already show its address.
    fn link(&mut self, node: &Handle) -> Option<Closing> {
        let href = attr(node, "href")?;
        let href = href.trim();
        let lower = href.to_ascii_lowercase();
        let target = if let Some(address) = lower.strip_prefix("mailto:") {
            href[href.len() - address.len()..]
                .split('?')
                .next()?
                .to_string()
        } else if ["http://", "https://", "ftp://"]
            .iter()
            .any(|s| lower.starts_with(s))
        {
            href.to_string()
        } else {
            return None;
        };
        let text = peek_text(node, false);
        let bare = |s: &str| {
            let s = s.trim_end_matches('/');
            s.split_once("://")
                .map_or(s, |(_, rest)| rest)
                .to_ascii_lowercase()
        };
        let shows_target = text.to_ascii_lowercase().contains(&bare(&target));
        (!text.is_empty() && !shows_target).then(|| Closing::Link(format!("<{target}>")))
    }

    fn list_item(&mut self) {
        self.writer.block(Break::Line);
        let level = self.lists.len().max(1);
        let marker = match self.lists.last_mut() {
            Some(Some(n)) => {
                *n += 1;
                format!("{}.", *n - 1)
            }
            _ => "-".to_string(),
        };
        self.writer
            .word(&format!("{}{marker}", "  ".repeat(level - 1)));
        self.writer.space();
    }

    /// Cells of a row on one line, apart by " | "; a label cell ending in a colon ("Producto:")
    /// reads on into its value.
    fn cell(&mut self) {
        if self.row_cells > 0 && !self.writer.line_is_empty() && !self.writer.line_ends_with(':') {
            self.writer.space();
            self.writer.word("|");
        }
        self.writer.space();
        self.row_cells += 1;
    }
}

fn push_children(node: &Handle, stack: &mut Vec<Step>) {
    let children = node.children.borrow();
    stack.extend(children.iter().rev().map(|c| Step::Enter(c.clone())));
}

fn attr(node: &Handle, name: &str) -> Option<String> {
    let NodeData::Element { attrs, .. } = &node.data else {
        return None;
    };
    let attrs = attrs.borrow();
    let found = attrs.iter().find(|a| &*a.name.local == name);
    found.map(|a| a.value.to_string())
}

pub(super) fn has_class(node: &Handle, classes: &[&str]) -> bool {
    attr(node, "class").is_some_and(|c| c.split_whitespace().any(|c| classes.contains(&c)))
        || attr(node, "type").is_some_and(|t| t.eq_ignore_ascii_case("cite"))
}

/// `display:none`, Outlook's `mso-hide:all` and the `hidden` attribute: never shown.
fn is_hidden(node: &Handle) -> bool {
    let style = attr(node, "style").map(|s| s.to_ascii_lowercase().replace(' ', ""));
    attr(node, "hidden").is_some()
        || style.is_some_and(|s| s.contains("display:none") || s.contains("mso-hide:all"))
}

/// Outlook's and Hotmail's marks of where the quoted history starts: an id, the rule they
/// draw above the header block (`<hr tabindex=-1>`, `<hr id=stopSpelling>`), or that rule
/// drawn as a top border ("border:none;border-top:solid #E1E1E1 1.0pt").
pub(super) fn starts_history(node: &Handle, tag: &str) -> bool {
    let id = attr(node, "id").map(|i| i.to_ascii_lowercase());
    if id.is_some_and(|i| HISTORY_IDS.contains(&i.as_str())) {
        return true;
    }
    if tag == "hr" && attr(node, "tabindex").is_some_and(|t| t.trim() == "-1") {
        return true;
    }
    let style = attr(node, "style").map(|s| s.to_ascii_lowercase().replace(' ', ""));
    (tag == "div" || tag == "p")
        && style.is_some_and(|s| s.contains("border:none") && s.contains("border-top:solid"))
}

/// A quote block that holds a forwarded mail ("Begin forwarded message:", "---------- Forwarded
/// message ---------"): the forward is the sender's content, not history they answer.
pub(super) fn is_forward(node: &Handle) -> bool {
    crate::quotes::is_forward_title(&peek_text(node, true))
}

/// The first words under `node`, white space collapsed: up to the first line break when
/// `first_line`. Looks at a bounded number of nodes and characters.
fn peek_text(node: &Handle, first_line: bool) -> String {
    let mut text = String::new();
    let mut stack = vec![node.clone()];
    let mut visited = 0;
    while let Some(n) = stack.pop() {
        visited += 1;
        if visited > MAX_PEEK_NODES || text.len() > MAX_PEEK_CHARS {
            break;
        }
        match &n.data {
            NodeData::Text { contents } => {
                text.push_str(&contents.borrow());
                text.push(' ');
            }
            NodeData::Element { name, .. } => {
                let tag = &*name.local;
                let breaks = tag == "br" || PARAGRAPHS.contains(&tag) || LINES.contains(&tag);
                if first_line && breaks && !text.trim().is_empty() {
                    break;
                }
                if !HIDDEN.contains(&tag) {
                    n.children
                        .borrow()
                        .iter()
                        .rev()
                        .for_each(|c| stack.push(c.clone()));
                }
            }
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
