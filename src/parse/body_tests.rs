//! Which parts become the mail's text (issue 15).

use super::parse;

fn alternative(plain: &str, htmls: &[&str]) -> Vec<u8> {
    let mut raw = String::from(
        "From: a@b.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    raw.push_str(plain);
    for html in htmls {
        raw.push_str("\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
        raw.push_str(html);
    }
    raw.push_str("\r\n--B--\r\n");
    raw.into_bytes()
}

const HTML: &str = "<p>El informe nocturno no llegó.</p><p>Adjunto el registro del servidor.</p>";

#[test]
fn a_text_part_that_says_the_same_is_preferred() {
    let plain = "El informe nocturno no llegó.\r\n\r\nAdjunto el registro del servidor.";
    let m = parse(&alternative(plain, &[HTML])).unwrap();
    assert_eq!(m.text, plain.replace("\r\n", "\n"));
}

#[test]
fn an_empty_or_placeholder_text_part_gives_way_to_the_html() {
    let expected = "El informe nocturno no llegó.\n\nAdjunto el registro del servidor.";
    for plain in [
        "",
        "  \r\n",
        "This is an HTML message. Please use an HTML capable mail program.",
    ] {
        let m = parse(&alternative(plain, &[HTML])).unwrap();
        assert_eq!(m.text, expected, "{plain:?}");
    }
}

#[test]
fn a_text_part_much_shorter_than_the_html_gives_way() {
    let m = parse(&alternative("Hola", &[HTML])).unwrap();
    assert!(m.text.contains("Adjunto el registro"), "{}", m.text);
}

#[test]
fn every_html_part_is_kept() {
    let second = "<p>Y una segunda parte con el <b>detalle</b> del fallo.</p>";
    let m = parse(&alternative("", &[HTML, second])).unwrap();
    assert!(m.text.contains("nocturno") && m.text.contains("segunda parte con el detalle"));
}

#[test]
fn uuencoded_text_and_attachments_are_decoded() {
    let raw = b"From: a@b.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
        --B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n\
        begin 644 body.txt\r\n*:&]L82!M=6YD;P``\r\n`\r\nend\r\n\
        --B\r\nContent-Type: application/octet-stream; name=\"cat.bin\"\r\n\
        Content-Disposition: attachment; filename=\"cat.bin\"\r\n\
        Content-Transfer-Encoding: x-uuencode\r\n\r\n\
        begin 644 cat.bin\r\n#0V%T\r\n`\r\nend\r\n--B--\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.text, "hola mundo");
    assert_eq!(m.attachments[0].bytes, b"Cat");
}

#[test]
fn a_damaged_base64_attachment_keeps_its_readable_part_and_says_so() {
    let attach = |body: &str| {
        format!(
            "From: a@b.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\nadjunto\r\n\
             --B\r\nContent-Type: application/pdf; name=\"f.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"f.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--B--\r\n"
        )
    };
    let good = parse(attach("aG9sYSBtdW5kbw==").as_bytes()).unwrap();
    assert_eq!(
        (
            good.attachments[0].bytes.as_slice(),
            good.attachments[0].damaged
        ),
        (&b"hola mundo"[..], false)
    );
    let bad = parse(attach("aG9sYSBt*dW5k\r\nbw").as_bytes()).unwrap();
    assert_eq!(
        (
            bad.attachments[0].bytes.as_slice(),
            bad.attachments[0].damaged
        ),
        (&b"hola mundo"[..], true)
    );
}
