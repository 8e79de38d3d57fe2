//! Malformed mail of the kinds real servers deliver, generated on demand: for the fuzzer's
//! seeds and for the tests that push them through the whole pipeline.

/// (name, bytes) of each hostile sample.
pub fn samples() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("truncated-mime", truncated_mime()),
        ("iso-2022-jp-no-charset", iso_2022_jp_without_charset()),
        ("gb2312-labelled-latin1", mislabelled_gb2312()),
        ("8bit-headers", eight_bit_headers()),
        ("missing-from", missing_from()),
        ("deep-nesting-10000", deep_nesting(10_000)),
        ("binary-garbage", binary_garbage()),
        (
            "header-only",
            b"From: a@example.test\r\nSubject: solo cabeceras".to_vec(),
        ),
        ("bad-base64", bad_base64()),
    ]
}

fn truncated_mime() -> Vec<u8> {
    b"From: ana@example.test\r\nSubject: Cortado\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nEmpieza bien\r\n--XX\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJc".to_vec()
}

fn iso_2022_jp_without_charset() -> Vec<u8> {
    let mut m = b"From: taro@example.test\r\nSubject: \x1b$B$3$s$K$A$O\x1b(B\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    m.extend_from_slice(b"\x1b$B$3$s$K$A$O!\"@$3&\x1b(B\r\n");
    m
}

fn mislabelled_gb2312() -> Vec<u8> {
    b"From: li@example.test\r\nSubject: =?gb2312?B?1tDOxA==?=\r\nContent-Type: text/plain; charset=gb2312\r\n\r\nCaf\xe9 cr\xe8me \xff\xfe\r\n".to_vec()
}

fn eight_bit_headers() -> Vec<u8> {
    b"From: Jos\xe9 P\xe9rez <jose@example.test>\r\nSubject: Producci\xf3n ca\xedda \xc3\xb1 mezcla\r\n\r\nCuerpo \xe1\xe9\xed\r\n".to_vec()
}

fn missing_from() -> Vec<u8> {
    b"To: soporte@example.test\r\nSubject: sin remitente\r\nMessage-ID: <nofrom@x>\r\n\r\nhola\r\n"
        .to_vec()
}

/// `depth` multiparts inside each other: parsers that recurse blow their stack here.
pub fn deep_nesting(depth: usize) -> Vec<u8> {
    let mut m = b"From: nido@example.test\r\nSubject: Nido\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n".to_vec();
    for i in 1..depth {
        m.extend_from_slice(
            format!(
                "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n",
                i - 1
            )
            .as_bytes(),
        );
    }
    m.extend_from_slice(
        format!(
            "--b{}\r\nContent-Type: text/plain\r\n\r\nfondo\r\n",
            depth - 1
        )
        .as_bytes(),
    );
    for i in (0..depth).rev() {
        m.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    }
    m
}

fn binary_garbage() -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..4096).map(|_| rng.u8(..)).collect()
}

fn bad_base64() -> Vec<u8> {
    b"From: b@example.test\r\nSubject: base64 roto\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not base64 at all====\r\n".to_vec()
}

/// Makes one sample's bytes.
pub type MakeSample = fn() -> Vec<u8>;

/// The mail that once crash-looped buzon and the ones that stalled it (issue 12), large,
/// so generated only when asked for: (name, generator). Every one must cost less than
/// 1 s of CPU and 100 MB of memory to parse (`benches/hostile.rs` measures it).
pub fn bombs() -> Vec<(&'static str, MakeSample)> {
    vec![
        ("message-nesting-40000", || message_nesting(40_000)),
        ("multipart-nesting-100000", || deep_nesting(100_000)),
        ("encoded-message-nesting", encoded_message_nesting),
        ("div-depth-100000", || {
            html_mail(&nested_html("div", 100_000))
        }),
        ("div-depth-50000", || html_mail(&nested_html("div", 50_000))),
        ("table-depth-10000", || html_mail(&nested_tables(10_000))),
        ("simple-html-14mb", || {
            html_mail(&long_html(14 * 1024 * 1024))
        }),
    ]
}

/// `depth` message/rfc822 parts inside each other, in a multipart/mixed after a line of
/// text (3.5 MB at 40,000): each level nests the parsed tree one level deeper.
pub fn message_nesting(depth: usize) -> Vec<u8> {
    let mut m = b"From: matrioska@example.test\r\nSubject: Matrioska\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\narriba\r\n--m\r\nContent-Type: message/rfc822\r\n\r\n".to_vec();
    for i in 0..depth {
        m.extend_from_slice(
            format!("From: capa@example.test\r\nSubject: capa {i}\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes(),
        );
    }
    m.extend_from_slice(b"From: fondo@example.test\r\nSubject: fondo\r\n\r\nfondo\r\n--m--\r\n");
    m
}

/// A message/rfc822 part in base64 whose decoded message holds another such part, three
/// layers (as deep as mail-parser decodes), the last one a nesting bomb of its own.
fn encoded_message_nesting() -> Vec<u8> {
    use base64::Engine;
    let mut inner = message_nesting(20_000);
    for layer in 0..3 {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&inner);
        let mut outer = format!("From: capa@example.test\r\nSubject: Capa cifrada {layer}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"e{layer}\"\r\n\r\n--e{layer}\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n").into_bytes();
        for line in encoded.as_bytes().chunks(76) {
            outer.extend_from_slice(line);
            outer.extend_from_slice(b"\r\n");
        }
        outer.extend_from_slice(format!("--e{layer}--\r\n").as_bytes());
        inner = outer;
    }
    inner
}

/// An HTML-only mail.
pub fn html_mail(html: &str) -> Vec<u8> {
    let mut m = b"From: html@example.test\r\nSubject: HTML hostil\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n".to_vec();
    m.extend_from_slice(html.as_bytes());
    m
}

/// `<tag>` nested `depth` deep around the word "fondo", after a paragraph "arriba".
pub fn nested_html(tag: &str, depth: usize) -> String {
    let mut h = String::from("<html><body><p>arriba</p>");
    h.push_str(&format!("<{tag}>").repeat(depth));
    h.push_str("fondo");
    h.push_str(&format!("</{tag}>").repeat(depth));
    h.push_str("</body></html>");
    h
}

/// Tables nested in each other's cells `depth` deep.
fn nested_tables(depth: usize) -> String {
    let mut h = String::from("<html><body><p>arriba</p>");
    h.push_str(&"<table border=1><tr><td>".repeat(depth));
    h.push_str("fondo");
    h.push_str(&"</td></tr></table>".repeat(depth));
    h.push_str("</body></html>");
    h
}

/// Plain paragraphs up to about `bytes`, the last one saying "final".
fn long_html(bytes: usize) -> String {
    let line = "<p>Una línea corriente de un correo largo, con <b>algo</b> de formato.</p>\r\n";
    let mut h = String::with_capacity(bytes + 64);
    h.push_str("<html><body><p>arriba</p>");
    while h.len() < bytes {
        h.push_str(line);
    }
    h.push_str("<p>final del correo</p></body></html>");
    h
}

/// A mail of random structure for the fuzzer: multipart (mixed, alternative, digest),
/// message/rfc822 (sometimes base64-encoded) and HTML elements nested at random depths,
/// up to far past every bound buzon sets, with text at the bottom.
pub fn random_nesting(rng: &mut fastrand::Rng) -> Vec<u8> {
    let depth = match rng.u8(..4) {
        0 => rng.usize(..64),
        1 => rng.usize(..2_000),
        _ => rng.usize(..50_000),
    };
    // Built inside out as heads and tails (linear), joined whenever a base64 layer needs
    // the whole of what it wraps (at most three of them, as deep as mail-parser decodes).
    let mut body = random_leaf(rng);
    let (mut heads, mut tails): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    let mut encoded_layers = 0;
    for level in (0..depth).rev() {
        match rng.u8(..16) {
            0..=7 => {
                let (head, tail) = multipart_shell(rng, level);
                heads.push(head);
                tails.push(tail);
            }
            15 if encoded_layers < 3 => {
                encoded_layers += 1;
                body = wrap_encoded(&joined(&mut heads, body, &mut tails));
            }
            _ => heads.push(b"Subject: capa\r\nContent-Type: message/rfc822\r\n\r\n".to_vec()),
        }
    }
    heads.push(b"From: ana@example.test\r\nSubject: Generado\r\nMIME-Version: 1.0\r\n".to_vec());
    joined(&mut heads, body, &mut tails)
}

/// The heads (innermost first) around `body` followed by the tails, innermost first.
fn joined(heads: &mut Vec<Vec<u8>>, body: Vec<u8>, tails: &mut Vec<Vec<u8>>) -> Vec<u8> {
    let mut out: Vec<u8> = heads.drain(..).rev().flatten().collect();
    out.extend_from_slice(&body);
    out.extend(tails.drain(..).flatten());
    out
}

/// The innermost part: text, or HTML nested at a random depth.
fn random_leaf(rng: &mut fastrand::Rng) -> Vec<u8> {
    if rng.bool() {
        return b"Content-Type: text/plain\r\n\r\nfondo\r\n".to_vec();
    }
    const TAGS: [&str; 8] = ["div", "table", "td", "span", "p", "ul", "li", "blockquote"];
    let depth = rng.usize(..30_000);
    let tags: Vec<&str> = (0..depth).map(|_| TAGS[rng.usize(..TAGS.len())]).collect();
    let mut html = String::from("Content-Type: text/html\r\n\r\n");
    for tag in &tags {
        html.push_str(&format!("<{tag}>"));
    }
    html.push_str("fondo");
    // Sometimes the closing tags are missing, as in sloppy HTML.
    if rng.bool() {
        for tag in tags.iter().rev() {
            html.push_str(&format!("</{tag}>"));
        }
    }
    html.into_bytes()
}

/// The start and end of a multipart of random subtype around one part.
fn multipart_shell(rng: &mut fastrand::Rng, level: usize) -> (Vec<u8>, Vec<u8>) {
    const SUBTYPES: [&str; 4] = ["mixed", "alternative", "digest", "related"];
    let subtype = SUBTYPES[rng.usize(..SUBTYPES.len())];
    let head =
        format!("Content-Type: multipart/{subtype}; boundary=\"g{level}\"\r\n\r\n--g{level}\r\n");
    (
        head.into_bytes(),
        format!("\r\n--g{level}--\r\n").into_bytes(),
    )
}

fn wrap_encoded(inner: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(inner);
    let mut m =
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    for line in encoded.as_bytes().chunks(76) {
        m.extend_from_slice(line);
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// Forged `Authentication-Results` header blocks of issue 12, as (name, headers to put on
/// top of a mail from `from_domain`), for a desk whose MTA writes `authserv_id`: a real fail
/// with a forged pass below it, a pass for another domain, a `;` hidden in a quoted string
/// and in a comment, a bare top-level domain, and a second `From:`.
pub fn forged_authentication_results(
    authserv_id: &str,
    from_domain: &str,
) -> Vec<(&'static str, String)> {
    let ar = format!("Authentication-Results: {authserv_id};");
    vec![
        ("stacked", format!("{ar} dmarc=fail header.from={from_domain}\r\n{ar} dmarc=pass header.from={from_domain}\r\n")),
        ("other-domain", format!("{ar} dmarc=pass header.from=evil.test\r\n")),
        ("quoted", format!("{ar} spf=fail smtp.mailfrom=\"x; dmarc=pass \"@evil.test\r\n")),
        ("commented", format!("{ar} spf=fail (x; dmarc=pass ) smtp.mailfrom=evil.test\r\n")),
        ("bare-tld", format!("{ar} dkim=pass header.d={}\r\n", from_domain.rsplit('.').next().unwrap_or(from_domain))),
        ("two-from", format!("{ar} dmarc=pass header.from={from_domain}\r\nFrom: someone@evil.test\r\n")),
    ]
}

/// A forged delivery status notification (RFC 3464) to `support` saying `failed` is
/// undeliverable (5.1.1) and returning a mail with `returned_id`: it must silence nobody
/// unless buzon signed that id and sent that mail to `failed`.
pub fn forged_dsn(support: &str, failed: &str, returned_id: &str) -> Vec<u8> {
    let n = fastrand::u32(..);
    format!(
        "From: MAILER-DAEMON@mx.evil.test\r\nTo: {support}\r\nSubject: Undelivered Mail\r\nMessage-ID: <dsn-{n}@mx.evil.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.evil.test\r\n\r\nFinal-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n--R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {support}\r\nTo: {failed}\r\nSubject: x\r\nMessage-ID: <{returned_id}>\r\n--R--\r\n"
    )
    .into_bytes()
}
