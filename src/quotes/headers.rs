//! Header blocks of a quoted or forwarded mail ("From: … Sent: … To: … Subject: …" in the
//! clients' languages, bold or not) and the separators clients put above them
//! ("-----Original Message-----", "---------- Forwarded message ---------").

use std::sync::LazyLock;

use regex::Regex;

use super::{Kind, Line};
use crate::text::fold;

/// Header names a client writes above the mail it quotes, folded: English, Spanish,
/// Portuguese, French, German, Italian, Dutch, Scandinavian, Polish, Russian.
const HEADER_KEYS: &[&str] = &[
    "from",
    "sent",
    "date",
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to", // English
    "de",
    "enviado",
    "enviada",
    "fecha",
    "para",
    "asunto",
    "assunto",
    "cco", // es, pt
    "envoye",
    "a",
    "objet",
    "cci", // fr
    "von",
    "gesendet",
    "datum",
    "an",
    "betreff",
    "kopie", // de
    "da",
    "inviato",
    "data",
    "oggetto", // it
    "van",
    "verzonden",
    "aan",
    "onderwerp", // nl
    "fra",
    "sendt",
    "til",
    "emne",
    "fran",
    "skickat",
    "till",
    "amne",
    "kopia", // da, no, sv
    "od",
    "wysłano",
    "do",
    "temat",
    "dw", // pl
    "от",
    "отправлено",
    "дата",
    "кому",
    "тема",
    "копия",
    "от кого",
    "дата отправки", // ru
    "від",
    "надіслано",
    "копія", // uk
    "sujet",
    "copie a",
    "envoye le",
    "message du",
    "date d'envoi", // fr
    "kopi",
    "dato", // da, no
    "kimden",
    "gonderildi",
    "gonderen",
    "kime",
    "konu",
    "tarih", // tr
    "lahettaja",
    "lahetetty",
    "vastaanottaja",
    "aihe",
    "paivamaara", // fi
    "felado",
    "elkuldve",
    "cimzett",
    "targy",
    "datum", // hu
    "odeslano",
    "komu",
    "predmet", // cs, sk
    "de la",
    "trimis",
    "catre",
    "subiect", // ro
    "发件人",
    "发送时间",
    "收件人",
    "抄送",
    "主题",
    "日期", // zh
    "寄件者",
    "寄件日期",
    "收件者",
    "主旨", // zh-Hant
    "差出人",
    "送信日時",
    "宛先",
    "件名", // ja
    "보낸 사람",
    "받는 사람",
    "보낸 날짜",
    "제목", // ko
];

/// The line a client puts above the quoted mail it answers, folded, without its dashes.
const ORIGINAL_TITLES: &[&str] = &[
    "original message",
    "reply message",
    "mensaje original",
    "mensagem original",
    "message d'origine",
    "message original",
    "ursprungliche nachricht",
    "antwort nachricht",
    "messaggio originale",
    "oorspronkelijk bericht",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "ursprungligt meddelande",
    "wiadomosc oryginalna",
    "исходное сообщение",
    "oprindelig besked",
    "alkuperainen viesti",
    "eredeti uzenet",
    "puvodni zprava",
    "orijinal mesaj",
    "原始邮件",
    "元のメッセージ",
];

/// The line a client puts above a forwarded mail, folded, without its dashes.
const FORWARD_TITLES: &[&str] = &[
    "forwarded message",
    "begin forwarded message",
    "mensaje reenviado",
    "inicio del mensaje reenviado",
    "mensagem encaminhada",
    "comeco da mensagem encaminhada",
    "message transfere",
    "debut du message reexpedie",
    "weitergeleitete nachricht",
    "anfang der weitergeleiteten nachricht",
    "messaggio inoltrato",
    "inizio messaggio inoltrato",
    "doorgestuurd bericht",
    "videresendt meddelelse",
    "vidarebefordrat meddelande",
    "пересылаемое сообщение",
    "videresendt besked",
    "valitetty viesti",
    "转发的邮件",
];

/// Lines a header block may span: a dozen headers, some wrapped.
const MAX_BLOCK: usize = 14;

/// "Bob **From: **bob@x": an HTML conversion can glue the header block to the line above.
static FROM_INSIDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s\**(?:From|De|Von|Fra|Från|Da|Van|Od|От)\s*\**\s*:").expect("static regex")
});

/// A separator or header block starting at line `i`: what to keep of that line, and where
/// the block ends.
pub(super) fn find<'a>(lines: &[Line<'a>], i: usize) -> Option<(Option<&'a str>, usize)> {
    let raw = lines[i].raw;
    if raw.len() > super::MAX_MARKER_LINE {
        return None;
    }
    if is_separator(raw) {
        let next = super::next_non_blank(lines, i + 1);
        let block = next.and_then(|k| block_end(lines, k, 0));
        let quote_follows = next.is_some_and(|k| lines[k].kind == Kind::Quote);
        if block.is_none() && !quote_follows && !is_ruled(raw) {
            return None;
        }
        return Some((None, block.unwrap_or(i + 1)));
    }
    if is_dashed_title(raw) {
        let block = super::next_non_blank(lines, i + 1).and_then(|k| block_end(lines, k, 0))?;
        return Some((None, block));
    }
    if starts_block(raw) {
        return Some((None, block_end(lines, i, 0)?));
    }
    let glued = FROM_INSIDE.find(raw)?;
    let prefix = super::trim_joiner(&raw[..glued.start()]);
    if !super::has_words(prefix) {
        return None;
    }
    Some((Some(prefix), block_end(lines, i + 1, 1)?))
}

/// "-----Original Message-----", "*-------- Forwarded message --------*", "Begin forwarded
/// message:" and their translations.
fn is_separator(raw: &str) -> bool {
    title_of(raw).is_some_and(|t| {
        ORIGINAL_TITLES.contains(&t.as_str()) || FORWARD_TITLES.contains(&t.as_str())
    })
}

/// A title drawn as a separator ("-----Original Message-----", "==== Forwarded ===="):
/// a separator on its own. The same words written plainly ("Original message") can be the
/// sender's, so they count only above a header block or a quote.
fn is_ruled(raw: &str) -> bool {
    ["--", "==", "__"].iter().any(|rule| raw.contains(rule))
}

/// "Begin forwarded message:", "---------- Forwarded message ---------" and kin.
pub(super) fn is_forward_title(raw: &str) -> bool {
    title_of(raw).is_some_and(|t| FORWARD_TITLES.contains(&t.as_str()))
}

/// A separator line's words, folded, without dashes, stars and colons.
fn title_of(raw: &str) -> Option<String> {
    let folded = fold(raw.trim());
    let core = folded.trim_matches(|c: char| "-_=*: ".contains(c));
    (core.len() < 48).then(|| core.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Words in a dashed title ("-------- Oprindelig besked --------") of any language.
const MAX_TITLE_WORDS: usize = 5;

/// A few words between runs of dashes or equal signs: in any language, a separator when a
/// header block follows it.
fn is_dashed_title(raw: &str) -> bool {
    let t = raw.trim().trim_matches('*');
    let rule = |s: &str| s.starts_with("---") || s.starts_with("===");
    let core = t.trim_matches(|c: char| c == '-' || c == '=' || c.is_whitespace());
    rule(t)
        && rule(&t.chars().rev().collect::<String>())
        && !core.is_empty()
        && !core.contains(|c: char| c.is_ascii_digit())
        && core.split_whitespace().count() <= MAX_TITLE_WORDS
}

/// A header line's name, folded, if the line has the shape "Name: value" (either colon).
fn header_key(raw: &str) -> Option<String> {
    let t = raw.trim().trim_start_matches(['*', '_']);
    let (key, _) = t.split_once([':', '：'])?;
    let key = key.trim_end_matches(['*', '_']).trim();
    let shaped = key.len() <= 24
        && key.split_whitespace().count() <= 3
        && key.chars().any(char::is_alphabetic)
        && key.chars().all(|c| c.is_alphabetic() || " '-.".contains(c));
    shaped.then(|| fold(key).split_whitespace().collect::<Vec<_>>().join(" "))
}

fn is_header(raw: &str) -> bool {
    header_key(raw).is_some_and(|key| HEADER_KEYS.contains(&key.as_str()))
}

/// Where a block may start: a known header, or a header-shaped line carrying a date or an
/// address ("Message du : 12/12/2016 13:20") when known headers follow.
fn starts_block(raw: &str) -> bool {
    is_header(raw)
        || (header_key(raw).is_some() && raw.contains(|c: char| c.is_ascii_digit() || c == '@'))
}

/// End of a header block starting at `i` (`counted` header lines already seen above it):
/// consecutive header lines, each possibly wrapped once or twice. Three known headers, or
/// two with an address, make a block; fewer could be the sender's own "To: …" line. A
/// header-shaped line of a name not in the list ("Copia oculta:") is part of the block
/// but does not count towards it.
fn block_end(lines: &[Line<'_>], i: usize, counted: usize) -> Option<usize> {
    let mut headers = counted;
    let mut address = false;
    let mut wrapped = 0;
    let mut k = i;
    while k < lines.len() && k - i < MAX_BLOCK && lines[k].kind == Kind::Text {
        let raw = lines[k].raw;
        if is_header(raw) {
            headers += 1;
            wrapped = 0;
        } else if header_key(raw).is_some() && (headers > 0 || k == i) {
            wrapped = 0;
        } else if headers == 0 || wrapped == 2 {
            break;
        } else {
            wrapped += 1;
        }
        address |= raw.contains('@');
        k += 1;
    }
    (headers >= 3 || (headers >= 2 && address)).then_some(k)
}
