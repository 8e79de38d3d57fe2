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
