//! Content-transfer-encodings mail-parser leaves alone or gives up on: uuencode (old
//! clients, and gateways that still write `x-uuencode`) and base64 damaged on the way
//! (a truncated tail, stray characters), whose readable part is still worth keeping.

/// A part's transfer encoding, as far as these decoders care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transfer {
    Uuencode,
    Base64,
    Other,
}

impl Transfer {
    pub fn of(header: Option<&str>) -> Transfer {
        match header.map(|h| h.trim().to_ascii_lowercase()).as_deref() {
            Some("x-uuencode" | "x-uue" | "uuencode" | "uue") => Transfer::Uuencode,
            Some("base64") => Transfer::Base64,
            _ => Transfer::Other,
        }
    }
}

/// The bytes of a uuencoded body: the lines between `begin <mode> <name>` (when there is
/// one) and `end`, each led by its length character. Lines that are not uuencode are skipped.
pub(super) fn uudecode(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.len() * 3 / 4);
    let has_begin = encoded
        .split(|b| *b == b'\n')
        .any(|l| l.starts_with(b"begin "));
    let mut inside = !has_begin;
    for line in encoded.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !inside {
            inside = line.starts_with(b"begin ");
            continue;
        }
        if line == b"end" {
            break;
        }
        decode_uu_line(line, &mut out);
    }
    out
}

fn decode_uu_line(line: &[u8], out: &mut Vec<u8>) {
    let Some((&len_char, data)) = line.split_first() else {
        return;
    };
    let len = usize::from(len_char.wrapping_sub(b' ') & 0x3f);
    let six = |c: u8| u32::from(c.wrapping_sub(b' ') & 0x3f);
    let mut written = 0;
    for group in data.chunks(4) {
        let mut quad = [b'`'; 4];
        quad[..group.len()].copy_from_slice(group);
        let n = (six(quad[0]) << 18) | (six(quad[1]) << 12) | (six(quad[2]) << 6) | six(quad[3]);
        for byte in [(n >> 16) as u8, (n >> 8) as u8, n as u8] {
            if written < len {
                out.push(byte);
                written += 1;
            }
        }
    }
}

/// Base64 decoded the way RFC 2045 asks (characters outside the alphabet ignored), and
/// whether it was damaged: stray characters, data after the padding, or a truncated last
/// group. A damaged body keeps every byte its complete groups carry.
pub(super) fn base64_lenient(encoded: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(encoded.len() * 3 / 4);
    let (mut acc, mut count, mut damaged, mut padded) = (0u32, 0u8, false, false);
    for &c in encoded {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                flush_partial(&mut out, acc, count);
                (acc, count, padded) = (0, 0, true);
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => {
                damaged = true;
                continue;
            }
        };
        damaged |= padded;
        acc = (acc << 6) | u32::from(value);
        count += 1;
        if count == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            (acc, count) = (0, 0);
        }
    }
    damaged |= count == 1 || (count > 0 && padded);
    flush_partial(&mut out, acc, count);
    (out, damaged)
}

/// The bytes of a last group of two or three characters (one carries no whole byte).
fn flush_partial(out: &mut Vec<u8>, acc: u32, count: u8) {
    match count {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuencode_round_trip_of_a_known_text() {
        // "Cat" and "hola mundo" as uuencode writes them.
        let encoded = b"begin 644 cat.txt\n#0V%T\n*:&]L82!M=6YD;P``\n`\nend\n";
        assert_eq!(uudecode(encoded), b"Cathola mundo");
    }

    #[test]
    fn base64_valid_is_exact_and_damaged_keeps_what_decodes() {
        assert_eq!(base64_lenient(b"aG9sYQ==\r\n"), (b"hola".to_vec(), false));
        let (bytes, damaged) = base64_lenient(b"aG9s\r\nYSBt*dW5k\nbw");
        assert_eq!((bytes.as_slice(), damaged), (&b"hola mundo"[..], true));
        let (bytes, damaged) = base64_lenient(b"aG9sYSBtdW5kbw==\nZ");
        assert_eq!((bytes.as_slice(), damaged), (&b"hola mundo"[..], true));
    }
}
