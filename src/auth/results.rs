//! One `Authentication-Results` header value, parsed as RFC 8601 writes it. A forger
//! controls most of the text (a quoted local part, a comment), so separators count only
//! outside quoted strings and comments: `smtp.mailfrom="x; dmarc=pass"@evil` is one value.

use std::fmt;

/// The authentication methods buzon reads; the others are kept for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Dmarc,
    Spf,
    Dkim,
    Other(String),
}

/// A method's result (RFC 8601 §2.7); unknown words are kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Other(String),
}

/// `method[/version]=result reason=... ptype.property=value ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    pub method: Method,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// (`ptype.property` lowercased, value as written).
    pub properties: Vec<(String, String)>,
}

/// A whole header: who wrote it and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsHeader {
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

impl MethodResult {
    /// The value of `ptype.property`, compared without case.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The domain a property names: of an address (`local@domain`, `@domain`) or the
    /// value itself; lowercased, without a trailing dot.
    pub fn domain(&self, key: &str) -> Option<String> {
        let value = self.property(key)?;
        let domain = value.rsplit('@').next().unwrap_or(value);
        let domain = domain.trim_end_matches('.').to_lowercase();
        (!domain.is_empty()).then_some(domain)
    }
}

impl fmt::Display for MethodResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match &self.method {
            Method::Dmarc => "dmarc",
            Method::Spf => "spf",
            Method::Dkim => "dkim",
            Method::Other(m) => m,
        };
        let outcome = match &self.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Other(o) => o,
        };
        write!(f, "{method}={outcome}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Atoms and quoted strings written next to each other (`"a b"@c` is one word).
    Word(String),
    Semicolon,
    Equals,
}

/// Words, `;` and `=`; comments (nested, with `\` escapes) and whitespace separate words
/// and are dropped. An unclosed quote or comment runs to the end of the header.
fn tokens(value: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = value.chars();
    let flush = |word: &mut Option<String>, out: &mut Vec<Token>| {
        if let Some(w) = word.take() {
            out.push(Token::Word(w));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                skip_comment(&mut chars);
            }
            '"' => word
                .get_or_insert_with(String::new)
                .push_str(&quoted(&mut chars)),
            ';' | '=' => {
                flush(&mut word, &mut out);
                out.push(if c == ';' {
                    Token::Semicolon
                } else {
                    Token::Equals
                });
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// After `(`: up to its matching `)`.
fn skip_comment(chars: &mut std::str::Chars<'_>) {
    let mut depth = 1;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// After `"`: the content up to the closing `"`, escapes resolved.
fn quoted(chars: &mut std::str::Chars<'_>) -> String {
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.extend(chars.next()),
            '"' => break,
            c => text.push(c),
        }
    }
    text
}

/// `authserv-id [version] ( "none" / 1*( ";" resinfo ) )`; `None` without an authserv-id.
/// A malformed resinfo is left out; the others still count.
pub fn parse(value: &str) -> Option<ResultsHeader> {
    let tokens = tokens(value);
    let mut groups = tokens.split(|t| *t == Token::Semicolon);
    let head = groups.next()?;
    let Some(Token::Word(authserv_id)) = head.first() else {
        return None;
    };
    Some(ResultsHeader {
        authserv_id: authserv_id.clone(),
        results: groups.filter_map(resinfo).collect(),
    })
}

/// `method[/version]=result [reason=value] *(ptype.property=value)`
fn resinfo(group: &[Token]) -> Option<MethodResult> {
    let [Token::Word(method), Token::Equals, Token::Word(outcome), rest @ ..] = group else {
        return None;
    };
    let name = method.split('/').next().unwrap_or("").to_ascii_lowercase();
    let method = match name.as_str() {
        "dmarc" => Method::Dmarc,
        "spf" => Method::Spf,
        "dkim" => Method::Dkim,
        _ => Method::Other(name),
    };
    let outcome = match outcome.to_ascii_lowercase().as_str() {
        "pass" => Outcome::Pass,
        "fail" => Outcome::Fail,
        other => Outcome::Other(other.to_string()),
    };
    let mut result = MethodResult {
        method,
        outcome,
        reason: None,
        properties: Vec::new(),
    };
    let mut i = 0;
    while i < rest.len() {
        if let [Token::Word(key), Token::Equals, Token::Word(value), ..] = &rest[i..] {
            if key.eq_ignore_ascii_case("reason") {
                result.reason = Some(value.clone());
            } else if key.contains('.') {
                result
                    .properties
                    .push((key.to_ascii_lowercase(), value.clone()));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_of_rfc_8601() {
        let h = parse(
            r#"mx.example.test 1; dkim/1=pass (2048-bit (nested) key) reason="signature ok; good" header.d=example.test header.b=AbC/1+x; spf=fail smtp.mailfrom="a; b"@evil.test"#,
        )
        .unwrap();
        assert_eq!(h.authserv_id, "mx.example.test");
        assert_eq!(h.results.len(), 2, "{h:?}");
        let dkim = &h.results[0];
        assert_eq!(
            (&dkim.method, &dkim.outcome),
            (&Method::Dkim, &Outcome::Pass)
        );
        assert_eq!(dkim.reason.as_deref(), Some("signature ok; good"));
        assert_eq!(dkim.property("Header.D"), Some("example.test"));
        assert_eq!(dkim.property("header.b"), Some("AbC/1+x"));
        let spf = &h.results[1];
        assert_eq!(spf.property("smtp.mailfrom"), Some("a; b@evil.test"));
        assert_eq!(spf.domain("smtp.mailfrom").as_deref(), Some("evil.test"));
        assert_eq!(spf.to_string(), "spf=fail");
    }

    #[test]
    fn none_and_garbage() {
        assert_eq!(parse("mx.example.test; none").unwrap().results, vec![]);
        assert_eq!(parse(""), None);
        assert_eq!(parse("; dmarc=pass"), None);
        let broken = parse("mx.example.test; dmarc pass; (unclosed; spf=pass").unwrap();
        assert_eq!(broken.results, vec![]);
        let open_quote = parse("mx.example.test; spf=fail smtp.mailfrom=\"x; dmarc=pass").unwrap();
        assert_eq!(open_quote.results.len(), 1);
    }
}
