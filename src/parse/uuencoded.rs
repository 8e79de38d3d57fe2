//! Files uuencoded into the text of a mail (`begin 644 name` … `end`), as old clients and
//! scripts still send them: each becomes an attachment with its decoded bytes, and the text
//! around it stays the mail's text. One pass over the lines, so linear in the text.

use super::InboundAttachment;

/// Characters a uuencoded line holds at most: the length character and 60 of data.
const MAX_UU_LINE: usize = 61;
const CONTENT_TYPE: &str = "application/octet-stream";

/// Takes every complete uuencoded block out of `text` and returns its files. A `begin`
/// line not followed by uuencode lines up to an `end` line is the sender's text, kept.
pub(super) fn extract(text: &mut String) -> Vec<InboundAttachment> {
    if !text.contains("begin ") {
        return Vec::new();
    }
    let mut files = Vec::new();
    let mut kept = String::with_capacity(text.len());
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        if let Some(name) = begin_name(lines[i]) {
            if let Some(end) = block_end(&lines, i + 1) {
                let block = lines[i..=end].join("\n");
                files.push(InboundAttachment {
                    filename: super::sanitize_filename(name, CONTENT_TYPE),
                    content_type: CONTENT_TYPE.to_string(),
                    bytes: super::transfer::uudecode(block.as_bytes()),
                    inline: false,
                    content_id: None,
                    stored_as: None,
                    damaged: false,
                });
                i = end + 1;
                continue;
            }
        }
        kept.push_str(lines[i]);
        kept.push('\n');
        i += 1;
    }
    if !files.is_empty() {
        *text = kept.trim().to_string();
    }
    files
}

/// The file name of a `begin <mode> <name>` line (mode: three or four octal digits).
fn begin_name(line: &str) -> Option<&str> {
    let rest = line.trim_end_matches('\r').strip_prefix("begin ")?;
    let (mode, name) = rest.split_once(' ')?;
    let octal = (3..=4).contains(&mode.len()) && mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
    (octal && !name.trim().is_empty()).then(|| name.trim())
}

/// The index of the `end` line closing a block whose data starts at `from`, when every line
/// before it is uuencode.
fn block_end(lines: &[&str], from: usize) -> Option<usize> {
    for (k, line) in lines.iter().enumerate().skip(from) {
        let line = line.trim_end_matches('\r');
        if line == "end" {
            return Some(k);
        }
        let shaped = line.len() <= MAX_UU_LINE && line.bytes().all(|b| (b' '..=b'`').contains(&b));
        if !shaped || line.is_empty() {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::extract;

    #[test]
    fn a_uuencoded_file_becomes_an_attachment_and_the_text_stays() {
        let mut text = "Adjunto el registro.\n\nbegin 644 cat.txt\n#0V%T\n*:&]L82!M=6YD;P``\n`\nend\n\nUn saludo,\nAna".to_string();
        let files = extract(&mut text);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].filename, "cat.txt");
        assert_eq!(files[0].bytes, b"Cathola mundo");
        assert_eq!(text, "Adjunto el registro.\n\n\nUn saludo,\nAna");
    }

    #[test]
    fn a_begin_line_of_prose_or_an_unclosed_block_is_kept() {
        let prose = "begin 644 is the mode we use\nfor the files.\n";
        let mut text = prose.to_string();
        assert!(extract(&mut text).is_empty());
        assert_eq!(text, prose);
        let unclosed = "begin 644 a.bin\n#0V%T\n";
        let mut text = unclosed.to_string();
        assert!(extract(&mut text).is_empty());
        assert_eq!(text, unclosed);
    }

    #[test]
    fn many_blocks_cost_one_pass() {
        let block = "begin 644 a.bin\n#0V%T\n`\nend\n";
        let mut text = block.repeat(20_000);
        let started = std::time::Instant::now();
        assert_eq!(extract(&mut text).len(), 20_000);
        assert!(started.elapsed().as_secs_f64() < 1.0);
    }

    #[test]
    fn a_mail_with_uuencode_in_its_text_part_gets_the_file() {
        let raw = b"From: a@b.test\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nVer adjunto.\r\n\r\nbegin 600 ../../cat.txt\r\n#0V%T\r\n`\r\nend\r\n";
        let m = crate::parse::parse(raw).unwrap();
        assert_eq!(m.text, "Ver adjunto.");
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(
            (
                m.attachments[0].filename.as_str(),
                m.attachments[0].bytes.as_slice()
            ),
            ("cat.txt", &b"Cat"[..])
        );
    }
}
