//! One SMTP transaction's envelope — MAIL FROM, a RCPT TO per recipient, DATA — with every
//! recipient's answer kept apart. A server may take some recipients and not others: RFC 5321
//! 4.5.3.1.10 says a `452` on RCPT means "too many recipients" — send the message to the
//! accepted ones and the rest in a later transaction — and a 5xx refuses that one address
//! for good. lettre's own `send` fails the whole message on the first negative answer.

use lettre::address::Envelope;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
use lettre::Address;

use super::{SendError, Session};
use crate::store::OutboxJob;

/// What the server said to each recipient of one transaction.
#[derive(Debug, Default)]
pub(super) struct Rcpts {
    /// Taken: once any is, the server waits for the content (DATA's 354).
    pub accepted: Vec<Address>,
    /// 4xx: try again in a later transaction (452: this one has enough recipients).
    pub deferred: Vec<(Address, String)>,
    /// 5xx: that address is refused for good.
    pub refused: Vec<(Address, String)>,
}

/// The MAIL FROM parameters lettre's own `send` gives: SMTPUTF8 for non-ASCII addresses,
/// 8BITMIME for non-ASCII content; an error when the server lacks what the message needs.
pub(super) fn mail_options(
    session: &Session,
    envelope: &Envelope,
    raw: &[u8],
) -> Result<Vec<MailParameter>, SendError> {
    let info = session.conn.server_info();
    let mut options = vec![];
    let non_ascii = |a: &Address| !AsRef::<str>::as_ref(a).is_ascii();
    if envelope.from().is_some_and(non_ascii) || envelope.to().iter().any(non_ascii) {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            return Err(SendError::Invalid(
                "non-ASCII address and the server lacks SMTPUTF8".into(),
            ));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !raw.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            return Err(SendError::Invalid(
                "8-bit message and the server lacks 8BITMIME".into(),
            ));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    Ok(options)
}

impl Session {
    /// MAIL FROM, RCPT TO each of `to`, DATA. Pipelined (RFC 2920) they cost one round trip,
    /// and every answer is read even after a refusal, so the session stays in step. When no
    /// recipient was taken, the transaction is reset and the session stays usable.
    pub(super) async fn envelope(
        &mut self,
        from: Option<&Address>,
        to: &[Address],
        options: Vec<MailParameter>,
    ) -> Result<Rcpts, SendError> {
        let mail = Mail::new(from.cloned(), options).to_string();
        let rcpts: Vec<String> = to
            .iter()
            .map(|a| Rcpt::new(a.clone(), vec![]).to_string())
            .collect();
        let mut answers = Vec::with_capacity(to.len());
        if self.pipelining {
            let all = [mail].into_iter().chain(rcpts).chain([Data.to_string()]);
            let first = self.conn.command(all.collect::<String>()).await;
            if let Err(e) = &first {
                stop_unless_answered(e)?;
            }
            for _ in 0..=to.len() {
                let answer = self.conn.read_response().await;
                if let Err(e) = &answer {
                    // A lost or silent connection: no point waiting out every other answer.
                    stop_unless_answered(e)?;
                }
                answers.push(answer);
            }
            let data = answers.pop().expect("DATA's answer");
            first?;
            let taken = classify(to, answers)?;
            if !taken.accepted.is_empty() {
                data?;
            } else if data.is_ok() {
                return Err(SendError::Invalid(
                    "server wants content for no recipient".into(),
                ));
            } else {
                self.conn.command(Rset).await?;
            }
            return Ok(taken);
        }
        self.conn.command(mail).await?;
        for rcpt in rcpts {
            answers.push(self.conn.command(rcpt).await);
        }
        let taken = classify(to, answers)?;
        if taken.accepted.is_empty() {
            self.conn.command(Rset).await?;
        } else {
            self.conn.command(Data).await?;
        }
        Ok(taken)
    }
}

/// An error that is not the server's answer (4xx/5xx) ends the attempt at once.
fn stop_unless_answered(e: &lettre::transport::smtp::Error) -> Result<(), SendError> {
    match e.is_transient() || e.is_permanent() {
        true => Ok(()),
        false => Err(SendError::Network(
            "SMTP server".into(),
            std::io::Error::other(e.to_string()),
        )),
    }
}

/// Each recipient's answer: taken, deferred (4xx) or refused (5xx). Anything else (a lost
/// connection, an unreadable answer) fails the whole attempt.
fn classify(
    to: &[Address],
    answers: Vec<
        Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error>,
    >,
) -> Result<Rcpts, SendError> {
    let mut taken = Rcpts::default();
    for (address, answer) in to.iter().zip(answers) {
        match answer {
            Ok(_) => taken.accepted.push(address.clone()),
            Err(e) if e.is_transient() => taken.deferred.push((address.clone(), e.to_string())),
            Err(e) if e.is_permanent() => taken.refused.push((address.clone(), e.to_string())),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(taken)
}

/// The envelope of an outbox row: its sender and every recipient still owed the message.
pub(super) fn envelope(job: &OutboxJob) -> Result<Envelope, SendError> {
    let parse = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| SendError::Invalid(format!("address {a}: {e}")))
    };
    let from = parse(&job.envelope_from)?;
    let to = job
        .recipients
        .iter()
        .map(|r| parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| SendError::Invalid(e.to_string()))
}
