//! The HTML alternative of every mail, made from its text so that the two never disagree.

/// Plain text as a small HTML document that every client shows as the text reads: each run
/// of lines between blank lines a paragraph (its lines kept apart with `<br>`), indented
/// lines (aligned fields, quoted requests) a `<pre>` block, `- ` items a list. No
/// `white-space` styling: Outlook ignores it and text browsers join such lines into one.
/// Everything is escaped, so nothing in a value can become markup.
pub fn html_of(text: &str) -> String {
    let mut body = String::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut start = 0;
        while start < lines.len() {
            let shape = LineShape::of(lines[start]);
            let end = lines[start..]
                .iter()
                .position(|l| LineShape::of(l) != shape)
                .map_or(lines.len(), |n| start + n);
            shape.push_html(&mut body, &lines[start..end]);
            start = end;
        }
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family: sans-serif; font-size: 14px\">\n{body}</body></html>\n"
    )
}

/// How a line of a template's text is laid out, and so which HTML element holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineShape {
    Plain,
    /// `- item` or `  - item`.
    Item,
    /// Starts with two spaces: aligned columns or a quoted block.
    Indented,
}

impl LineShape {
    fn of(line: &str) -> LineShape {
        let trimmed = line.trim_start();
        if trimmed.starts_with("- ") {
            LineShape::Item
        } else if line.starts_with("  ") {
            LineShape::Indented
        } else {
            LineShape::Plain
        }
    }

    fn push_html(self, out: &mut String, lines: &[&str]) {
        match self {
            LineShape::Plain => {
                // Runs of spaces line up dates and names: kept, not collapsed.
                let joined: Vec<String> = lines
                    .iter()
                    .map(|l| escape_html(l).replace("  ", "&nbsp; "))
                    .collect();
                out.push_str(&format!("<p>{}</p>\n", joined.join("<br>\n")));
            }
            LineShape::Item => {
                out.push_str("<ul>\n");
                for line in lines {
                    let item = line.trim_start().trim_start_matches("- ");
                    out.push_str(&format!("<li>{}</li>\n", escape_html(item)));
                }
                out.push_str("</ul>\n");
            }
            LineShape::Indented => {
                let joined: Vec<String> = lines.iter().map(|l| escape_html(l)).collect();
                out.push_str(&format!("<pre>{}</pre>\n", joined.join("\n")));
            }
        }
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
