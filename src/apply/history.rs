//! `historial #N`: a case's activity history as text, with every mail the customer may see
//! attached as itself (`message/rfc822`, so mail clients open it as a message), split over
//! as many answers as `limits.history_mail_bytes` needs. No answer passes that size: a mail
//! too large for any answer is listed with its size, and the answer says how to get it.

use serde_json::{json, Value};

use super::outgoing::Outgoing;
use super::{ApplyError, Processor};
use crate::apply::Batch;
use crate::compose::{mime, MailKind};
use crate::domain::{CaseNumber, Language, Mailbox};
use crate::store::EmailRow;
use crate::text::{format_time, local_time};

use jiff::tz::TimeZone as Zone;

/// Room kept in each answer for its own headers and text: an eighth of the cap, at most
/// 64 KiB.
fn answer_overhead(cap: usize) -> usize {
    (cap / 8).min(64 * 1024)
}

/// One answer's entries and the mails attached to it.
type Part = Vec<(Value, Option<mime::Part>)>;

impl Processor {
    pub(super) async fn history(
        &self,
        tx: &mut Batch,
        sender: &Mailbox,
        number: CaseNumber,
        mut data: Value,
        language: Language,
    ) -> Result<Vec<Outgoing>, ApplyError> {
        let Some(case) = tx.case_by_number(number.0).await? else {
            return Ok(vec![self.not_yours(sender, number, data, language)]);
        };
        let participants = tx.case_participants(case.id).await?;
        if !participants
            .iter()
            .any(|(e, _)| e == sender.address.as_str())
        {
            // The same answer whether the case exists or not: nothing leaks.
            return Ok(vec![self.not_yours(sender, number, data, language)]);
        }
        let history: Vec<EmailRow> = tx
            .case_emails(case.id)
            .await?
            .into_iter()
            .filter(customer_visible)
            .collect();
        let cap = self.config.limits.history_mail_bytes;
        let mut packer = Packer::new(cap.saturating_sub(answer_overhead(cap)));
        let zone = &self.config.support.timezone;
        for (i, e) in history.iter().enumerate() {
            match self.attachable(tx, e, packer.room).await? {
                Some((bytes, encoded)) => {
                    let file = file_name(i + 1, e, number, zone, language);
                    let entry = entry(e, Some(&file), zone);
                    let attached = mime::Part {
                        filename: file,
                        content_type: "message/rfc822".into(),
                        bytes,
                    };
                    packer.attach(entry, attached, encoded);
                }
                None => packer.list_only(entry(e, None, zone)),
            }
        }
        let facts = super::outgoing::facts_of(&case, &[], vec![]);
        data["case"] = self.case_data(tx, &facts, language)["case"].clone();
        data["too_large"] = json!(packer.too_large);
        Ok(answers(packer.parts, data, sender, language))
    }

    /// The mail's bytes and what they add to an answer, when they fit in one at all. Only
    /// what may fit is read: the least a mail can take is its own size.
    async fn attachable(
        &self,
        tx: &mut Batch,
        e: &EmailRow,
        room: usize,
    ) -> Result<Option<(Vec<u8>, usize)>, ApplyError> {
        if attached_size(e.raw_size as usize, true) > room {
            return Ok(None);
        }
        let bytes = tx.read_blob(&e.raw_hash).await?;
        let encoded = attached_size(bytes.len(), mime::travels_as_is(&bytes));
        Ok((encoded <= room).then_some((bytes, encoded)))
    }

    /// "No case #N among yours": for a case of someone else's and for none at all.
    fn not_yours(
        &self,
        sender: &Mailbox,
        number: CaseNumber,
        mut data: Value,
        language: Language,
    ) -> Outgoing {
        data["error"] = json!(match language {
            Language::Es => format!("No encontramos el Caso #{number} entre sus casos."),
            Language::En => format!("We could not find Case #{number} among your cases."),
        });
        Outgoing::new(
            MailKind::CommandHelp,
            language,
            data,
            vec![sender.clone()],
            None,
        )
    }
}

/// Entries and attached mails filled into answers of at most `room` bytes each.
struct Packer {
    room: usize,
    parts: Vec<Part>,
    size: usize,
    too_large: bool,
}

impl Packer {
    fn new(room: usize) -> Self {
        Packer {
            room,
            parts: vec![Vec::new()],
            size: 0,
            too_large: false,
        }
    }

    /// A mail too large for any answer: listed, not attached.
    fn list_only(&mut self, entry: Value) {
        self.too_large = true;
        self.current().push((entry, None));
    }

    /// A mail attached, in a new answer when this one has no room left for it.
    fn attach(&mut self, entry: Value, attached: mime::Part, encoded: usize) {
        if self.size + encoded > self.room && !self.current().is_empty() {
            self.parts.push(Vec::new());
            self.size = 0;
        }
        self.size += encoded;
        self.current().push((entry, Some(attached)));
    }

    fn current(&mut self) -> &mut Part {
        self.parts.last_mut().expect("a packer has a part")
    }
}

/// One `case_history` mail per part, numbered.
fn answers(parts: Vec<Part>, data: Value, sender: &Mailbox, language: Language) -> Vec<Outgoing> {
    let total = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let mut d = data.clone();
            d["part"] = json!(i + 1);
            d["parts"] = json!(total);
            let (entries, files): (Vec<Value>, Vec<Option<mime::Part>>) = part.into_iter().unzip();
            d["entries"] = json!(entries);
            let mut mail = Outgoing::new(
                MailKind::CaseHistory,
                language,
                d,
                vec![sender.clone()],
                None,
            );
            mail.attachments = files.into_iter().flatten().collect();
            mail
        })
        .collect()
}

/// What an attached mail adds to an answer: itself and a few headers, or a third more
/// and line ends when it must go base64 as a plain file.
fn attached_size(raw: usize, as_is: bool) -> usize {
    let body = if as_is {
        raw + raw / 40
    } else {
        raw.div_ceil(3) * 4 + raw / 57 * 2
    };
    body + 256
}

/// `03-2026-11-30-0828-caso-1.eml`: the order, the date, and the case, readable.
fn file_name(
    position: usize,
    e: &EmailRow,
    number: CaseNumber,
    zone: &Zone,
    language: Language,
) -> String {
    let when = local_time(e.created_at, zone)
        .replace(' ', "-")
        .replace(':', "");
    let case = match language {
        Language::Es => "caso",
        Language::En => "case",
    };
    format!("{position:02}-{when}-{case}-{number}.eml")
}

/// History entries a customer may see: their side of the conversation and what was sent
/// to them; never agents' raw mail, internal notes or notifications.
fn customer_visible(e: &EmailRow) -> bool {
    match e.direction.as_str() {
        "in" => matches!(e.kind.as_str(), "new_case" | "comment" | "courtesy"),
        _ => matches!(
            e.kind.as_str(),
            "case_created"
                | "case_reopened_as_new"
                | "agent_reply"
                | "case_closed"
                | "case_updated"
                | "attachments_refused"
        ),
    }
}

fn entry(e: &EmailRow, file: Option<&str>, zone: &Zone) -> Value {
    let text = e.body_text.as_deref().map(|t| {
        t.lines()
            .take(15)
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    json!({
        "date": format_time(e.created_at, zone),
        "direction": e.direction,
        "from": e.from_addr,
        "to": e.to_addrs,
        "subject": e.subject,
        "text": text,
        "file": file,
        "too_large": file.is_none(),
        "size_mb": format!("{:.1}", e.raw_size as f64 / 1_048_576.0),
    })
}
