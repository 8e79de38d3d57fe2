//! A linear pre-scan that bounds how deep the MIME tree goes before mail-parser sees it.
//!
//! mail-parser 0.11 parses nested `message/rfc822` parts without recursion, but the
//! [`mail_parser::Message`] it builds holds each nested message inside its parent, so
//! dropping (or cloning, or comparing) one recurses once per level: 40,000 levels in a
//! 3.3 MB mail overflow any thread's stack and abort the process. It has no depth option.
//! No real mail nests containers (multipart or message) more than a dozen deep, so a
//! container at [`MAX_DEPTH`] is relabelled `application/octet-stream`: everything below
//! it becomes one opaque attachment, its bytes kept, never parsed.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;

/// Containers (multipart or message parts) above a part; one at this depth is cut.
pub const MAX_DEPTH: usize = 32;

/// How many base64/quoted-printable `message/rfc822` layers mail-parser decodes and
/// parses (its `MAX_NESTED_ENCODED`); deeper ones it keeps as bytes.
const ENCODED_LEVELS: usize = 3;

/// The attachment a cut container turns into.
const CUT_TYPE: &[u8] = b"Content-Type: application/octet-stream; name=\"parte-anidada.bin\"\r\n";
/// Put in front of the cut container's own Content-Type, which stays as an `X-` header.
const RENAME: &[u8] = b"X-Buzon-Original-";

/// Where a relabel goes: in front of the container's Content-Type header, or (a digest's
/// part, a message without one) in front of the blank line that ends its headers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Cut {
    at: usize,
    before_content_type: bool,
}

/// The mail with every container at [`MAX_DEPTH`] made opaque, or `None` when nothing is
/// that deep (nearly always: then nothing is copied).
pub fn flatten(raw: &[u8]) -> Option<Vec<u8>> {
    flatten_at(raw, MAX_DEPTH)
}

/// The mail with every container at `depth` made opaque (`None` when nothing is that
/// deep). At depth 1 only the top level's own parts stay parts: what `parse` falls back
/// to when mail-parser cannot build the whole tree.
pub fn flatten_at(raw: &[u8], depth: usize) -> Option<Vec<u8>> {
    let cuts = Scanner::new(raw, depth, ENCODED_LEVELS).run();
    if cuts.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + cuts.len() * (CUT_TYPE.len() + RENAME.len()));
    let mut from = 0;
    for cut in cuts {
        out.extend_from_slice(&raw[from..cut.at]);
        out.extend_from_slice(CUT_TYPE);
        if cut.before_content_type {
            out.extend_from_slice(RENAME);
        }
        from = cut.at;
    }
    out.extend_from_slice(&raw[from..]);
    Some(out)
}

/// Drop a parsed mail without recursion: nested messages are taken out of their parents
/// first, so each is dropped with no message inside it. mail-parser finds a boundary
/// anywhere, even mid-line, where this scan looks at the starts of lines only (and takes
/// a multipart whose boundary never comes for one); a mail crafted on such a difference
/// gets a tree deeper than the cut, which still costs no stack here.
pub fn drop_flat(message: mail_parser::Message<'_>) {
    let mut todo = vec![message];
    while let Some(mut message) = todo.pop() {
        for part in &mut message.parts {
            if matches!(part.body, mail_parser::PartType::Message(_)) {
                if let mail_parser::PartType::Message(inner) = std::mem::take(&mut part.body) {
                    todo.push(inner);
                }
            }
        }
    }
}

/// How deep `message/rfc822` parts nest in a parsed mail (the nesting that recurses when
/// the tree is dropped), measured without recursion.
#[cfg(test)]
fn message_depth(message: &mail_parser::Message<'_>) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(message, 0)];
    while let Some((message, depth)) = todo.pop() {
        deepest = deepest.max(depth);
        for part in &message.parts {
            if let mail_parser::PartType::Message(inner) = &part.body {
                todo.push((inner, depth + 1));
            }
        }
    }
    deepest
}

/// A container the scan is inside of.
enum Frame {
    /// Ends at `--boundary--`; its parts start after `--boundary`. In a digest a part
    /// without a Content-Type is a message.
    Multipart { boundary: Vec<u8>, digest: bool },
    /// A `message/rfc822` part: ends where its enclosing multipart's boundary comes.
    Message,
}

/// What a header block says about its entity.
#[derive(Default)]
struct Headers {
    /// Where the `Content-Type` header starts, if there is one.
    content_type_at: Option<usize>,
    /// Its value, unfolded (bounded: a header is not a book).
    content_type: Vec<u8>,
    encoding: Encoding,
    /// The last header line was Content-Type (so a folded line continues it).
    in_content_type: bool,
}

/// The transfer encodings mail-parser decodes before parsing a nested message.
#[derive(Default, Clone, Copy, PartialEq)]
enum Encoding {
    #[default]
    Identity,
    Base64,
    QuotedPrintable,
}

/// A body the scan does not descend into: a cut container, or an encoded message whose
/// decoded bytes are checked once its end is known.
struct Opaque {
    start: usize,
    /// The Content-Type to relabel if the decoded message nests too deep, and how to
    /// decode it.
    check: Option<(Cut, Encoding)>,
}

struct Scanner<'a> {
    raw: &'a [u8],
    max_depth: usize,
    encoded_levels: usize,
    stack: Vec<Frame>,
    /// Reading the header block of the entity at depth `stack.len()`.
    headers: Option<Headers>,
    opaque: Option<Opaque>,
    cuts: Vec<Cut>,
}

impl<'a> Scanner<'a> {
    fn new(raw: &'a [u8], max_depth: usize, encoded_levels: usize) -> Self {
        Scanner {
            raw,
            max_depth,
            encoded_levels,
            stack: Vec::new(),
            headers: Some(Headers::default()),
            opaque: None,
            cuts: Vec::new(),
        }
    }

    /// One pass over the lines; each line is compared with one boundary at most.
    fn run(mut self) -> Vec<Cut> {
        let mut at = 0;
        while at < self.raw.len() {
            let end = self.raw[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(self.raw.len(), |i| at + i + 1);
            let line = &self.raw[at..end];
            if !self.boundary_line(at, line) && self.headers.is_some() {
                self.header_line(at, line);
            }
            at = end;
        }
        self.end_opaque(self.raw.len());
        self.cuts.sort_unstable();
        self.cuts.dedup();
        self.cuts
    }

    /// A line that starts with `--` and the innermost multipart's boundary ends the part
    /// (or, followed by `--`, the multipart) and whatever messages it holds. As in
    /// mail-parser, only the innermost boundary counts, and as a prefix (`--b3` ends a
    /// part at `--b31`): a scan stricter than the parser would leave the cut while the
    /// parser reads on into what the cut should have hidden. True when `line` was one.
    fn boundary_line(&mut self, at: usize, line: &[u8]) -> bool {
        let Some(rest) = line.strip_prefix(b"--") else {
            return false;
        };
        let innermost = self
            .stack
            .iter()
            .rposition(|frame| matches!(frame, Frame::Multipart { .. }));
        let Some(k) = innermost else {
            return false;
        };
        let Frame::Multipart { boundary, .. } = &self.stack[k] else {
            return false;
        };
        let Some(after) = rest.strip_prefix(boundary.as_slice()) else {
            return false;
        };
        let closing = after.starts_with(b"--");
        self.end_opaque(at);
        self.stack.truncate(k + 1);
        if closing {
            self.stack.pop();
            self.headers = None;
        } else {
            self.headers = Some(Headers::default());
        }
        true
    }

    fn header_line(&mut self, at: usize, line: &[u8]) {
        let Some(headers) = self.headers.as_mut() else {
            return;
        };
        let trimmed = trim_eol(line);
        if trimmed.is_empty() {
            let headers = self.headers.take().unwrap_or_default();
            self.body_starts(at, at + line.len(), headers);
            return;
        }
        if trimmed[0] == b' ' || trimmed[0] == b'\t' {
            if headers.in_content_type {
                extend_bounded(&mut headers.content_type, trimmed);
            }
            return;
        }
        headers.in_content_type = false;
        let Some(colon) = trimmed.iter().position(|b| *b == b':') else {
            return;
        };
        let (name, value) = (trim(&trimmed[..colon]), &trimmed[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-type") && headers.content_type_at.is_none() {
            headers.content_type_at = Some(at);
            headers.in_content_type = true;
            extend_bounded(&mut headers.content_type, value);
        } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            let value = trim(value).to_ascii_lowercase();
            headers.encoding = match value.as_slice() {
                b"base64" => Encoding::Base64,
                b"quoted-printable" => Encoding::QuotedPrintable,
                _ => Encoding::Identity,
            };
        }
    }

    /// The blank line at `blank` ends a header block: decide what the body is.
    fn body_starts(&mut self, blank: usize, body: usize, headers: Headers) {
        let ctype = trim(&headers.content_type).to_ascii_lowercase();
        let in_digest = matches!(
            self.stack.last(),
            Some(Frame::Multipart { digest: true, .. })
        );
        let is_message = ctype.starts_with(b"message/rfc822")
            || ctype.starts_with(b"message/global")
            || (headers.content_type_at.is_none() && in_digest);
        let boundary = ctype
            .starts_with(b"multipart/")
            .then(|| boundary(&headers.content_type))
            .flatten();
        if (boundary.is_some() || is_message) && self.stack.len() >= self.max_depth {
            self.cuts.push(cut_at(&headers, blank));
            self.opaque = Some(Opaque {
                start: body,
                check: None,
            });
        } else if let Some(boundary) = boundary {
            let digest = ctype.starts_with(b"multipart/digest");
            self.stack.push(Frame::Multipart { boundary, digest });
        } else if is_message && headers.encoding != Encoding::Identity {
            let check = Some((cut_at(&headers, blank), headers.encoding));
            self.opaque = Some(Opaque { start: body, check });
        } else if is_message {
            self.stack.push(Frame::Message);
            self.headers = Some(Headers::default());
        }
    }

    /// An encoded message part ends at `end`: mail-parser will decode and parse it, so
    /// its decoded bytes get the same scan with the depth that is left.
    fn end_opaque(&mut self, end: usize) {
        let Some(Opaque {
            start,
            check: Some((content_type, encoding)),
        }) = self.opaque.take()
        else {
            return;
        };
        if self.encoded_levels == 0 {
            return;
        }
        let encoded = &self.raw[start..end.max(start)];
        let decoded = match encoding {
            Encoding::Base64 => base64_decode(encoded),
            Encoding::QuotedPrintable => quoted_printable_decode(encoded),
            Encoding::Identity => None,
        };
        let Some(decoded) = decoded else {
            return;
        };
        let left = self.max_depth.saturating_sub(self.stack.len() + 1);
        let too_deep = !Scanner::new(&decoded, left, self.encoded_levels - 1)
            .run()
            .is_empty();
        if too_deep {
            self.cuts.push(content_type);
        }
    }
}

fn cut_at(headers: &Headers, blank: usize) -> Cut {
    Cut {
        at: headers.content_type_at.unwrap_or(blank),
        before_content_type: headers.content_type_at.is_some(),
    }
}

/// The `boundary` parameter of a Content-Type value, unquoted.
fn boundary(value: &[u8]) -> Option<Vec<u8>> {
    let lower = value.to_ascii_lowercase();
    let at = lower.windows(9).position(|w| w == b"boundary=")? + 9;
    let rest = &value[at..];
    let found = match rest.strip_prefix(b"\"") {
        Some(quoted) => {
            &quoted[..quoted
                .iter()
                .position(|b| *b == b'"')
                .unwrap_or(quoted.len())]
        }
        None => {
            let end = rest
                .iter()
                .position(|b| *b == b';' || b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            &rest[..end]
        }
    };
    (!found.is_empty()).then(|| found.to_vec())
}

/// Content-Type values longer than this are junk; the boundary is near the start.
const HEADER_BOUND: usize = 4096;

fn extend_bounded(into: &mut Vec<u8>, more: &[u8]) {
    let room = HEADER_BOUND.saturating_sub(into.len());
    into.extend_from_slice(&more[..more.len().min(room)]);
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(test)]
mod tests;
