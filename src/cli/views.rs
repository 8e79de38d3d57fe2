//! Read-only views for the admin: cases, one case with its history, one email, failures.
//! All of them print through [`terminal`], which escapes what a terminal would obey.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;

use super::{format_time, say, terminal};
use crate::daemon::App;
use crate::domain::Role;
use crate::store::{AttachmentRow, CaseFilter, CaseRow, CaseTiming, EmailRow};
use crate::text::fold_words;

/// What `buzon cases`' flags ask for.
pub fn case_filter(
    status: &str,
    search: Option<String>,
    customer: Option<String>,
    mailbox: Option<String>,
    limit: i64,
) -> CaseFilter {
    CaseFilter {
        status: (status != "all").then(|| status.to_string()),
        words: search
            .map(|s| {
                fold_words(&s)
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        customer: customer.map(|c| crate::domain::EmailAddress::canonical(&c)),
        mailbox,
        limit,
    }
}

pub async fn cases(app: &App, filter: CaseFilter, json: bool) -> anyhow::Result<()> {
    if let Some(name) = &filter.mailbox {
        if !app.config.mailboxes.iter().any(|m| m.name.as_str() == name) {
            // Its cases may outlive it in the configuration: still listed.
            eprintln!("buzon: note: no mailbox '{name}' is configured");
        }
    }
    let limit = filter.limit;
    let cases = app.store.cases(&filter).await?;
    if json {
        let listed = super::sla_view::cases_json(app, &cases).await?;
        say(format_args!(
            "{}",
            terminal::json(&serde_json::to_string_pretty(&listed)?)
        ))?;
        return Ok(());
    }
    let mut out = terminal::stdout();
    let zone = &app.config.support.timezone;
    let several = app.config.mailboxes.len() > 1;
    for c in &cases {
        writeln!(
            out,
            "#{:<6} {:<6} {}sev {}{} {}  {:<28} {}",
            c.number,
            c.status,
            // A desk of one mailbox has nothing to tell apart.
            match several {
                true => format!("{:<10} ", c.mailbox),
                false => String::new(),
            },
            c.severity,
            if c.production_down { "!" } else { " " },
            format_time(c.updated_at, zone),
            c.requester,
            c.subject
        )?;
    }
    if cases.is_empty() {
        eprintln!("no cases");
    } else if cases.len() as i64 == limit {
        eprintln!("(the {limit} most recently active; --limit 0 shows all)");
    }
    Ok(())
}

/// Everything `buzon case N` shows of a case, read once.
struct CaseView {
    case: CaseRow,
    participants: Vec<(String, Role)>,
    attachments: Vec<AttachmentRow>,
    history: Vec<EmailRow>,
    addresses: Vec<String>,
    merged_into: Option<i64>,
    timing: Option<CaseTiming>,
}

impl CaseView {
    async fn read(app: &App, number: i64) -> anyhow::Result<Option<CaseView>> {
        let Some(case) = app.store.case_by_number(number).await? else {
            return Ok(None);
        };
        let merged_into = match case.merged_into {
            Some(id) => app.store.case_number_of(id).await?,
            None => None,
        };
        Ok(Some(CaseView {
            participants: app.store.case_participants(case.id).await?,
            attachments: app.store.case_attachments(case.id).await?,
            history: app.store.case_emails(case.id).await?,
            addresses: app.store.case_addresses(case.id).await?,
            timing: app.store.case_timing(number).await?,
            merged_into,
            case,
        }))
    }
}

pub async fn case(app: &App, number: i64, as_json: bool) -> anyhow::Result<ExitCode> {
    let Some(view) = CaseView::read(app, number).await? else {
        eprintln!("buzon: no case #{number}");
        return Ok(ExitCode::from(1));
    };
    let now = app.clock.now();
    if as_json {
        let value = json!({
            "case": view.case,
            "addresses": view.addresses,
            "merged_into": view.merged_into,
            "sla": view.timing.as_ref().map(|t| super::sla_view::sla_json(t, now)),
            "participants": view.participants.iter().map(|(e, r)| json!({"email": e, "role": r})).collect::<Vec<_>>(),
            "attachments": view.attachments,
            "history": view.history,
        });
        say(format_args!(
            "{}",
            terminal::json(&serde_json::to_string_pretty(&value)?)
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = terminal::stdout();
    let zone = &app.config.support.timezone;
    print_card(&mut out, &view, zone)?;
    if let Some(timing) = &view.timing {
        super::sla_view::print_sla(&mut out, timing, now, zone)?;
    }
    for a in &view.attachments {
        writeln!(
            out,
            "  attachment: {} ({}, {} bytes) from email {}",
            a.filename, a.content_type, a.size, a.email_id
        )?;
    }
    writeln!(out, "\nDescription:\n{}\n\nHistory:", view.case.description)?;
    print_history(&mut out, &view.history, zone)?;
    Ok(ExitCode::SUCCESS)
}

/// The case's fields, one a line.
fn print_card(
    out: &mut impl Write,
    view: &CaseView,
    zone: &jiff::tz::TimeZone,
) -> std::io::Result<()> {
    let case = &view.case;
    writeln!(out, "Caso #{}  {}", case.number, case.subject)?;
    writeln!(out, "  status:     {}", case.status)?;
    writeln!(out, "  mailbox:    {}", case.mailbox)?;
    if !view.addresses.is_empty() {
        writeln!(out, "  written to: {}", view.addresses.join(", "))?;
    }
    let product = case.product.as_deref().unwrap_or("-");
    writeln!(out, "  product:    {product}")?;
    let down = if case.production_down {
        " (Producción Caída)"
    } else {
        ""
    };
    writeln!(out, "  severity:   {}{down}", case.severity)?;
    writeln!(out, "  requester:  {}", case.requester)?;
    writeln!(
        out,
        "  owner:      {}",
        case.owner.as_deref().unwrap_or("-")
    )?;
    if let Some(since) = case.waiting_since {
        let since = format_time(since, zone);
        writeln!(out, "  waiting:    on the customer since {since}")?;
    }
    if let Some(into) = view.merged_into {
        writeln!(out, "  merged:     into case #{into}")?;
    }
    for (email, role) in view
        .participants
        .iter()
        .filter(|(_, r)| *r != Role::Requester)
    {
        writeln!(out, "  {role}: {email}")?;
    }
    writeln!(out, "  opened:     {}", format_time(case.created_at, zone))?;
    writeln!(out, "  activity:   {}", format_time(case.updated_at, zone))
}

/// Each history entry on a line, with its stored text (the new words of a reply) under it.
fn print_history(
    out: &mut impl Write,
    history: &[EmailRow],
    zone: &jiff::tz::TimeZone,
) -> anyhow::Result<()> {
    for e in history {
        writeln!(
            out,
            "  [{}] {} {:<3} {:<16} {} -> {}: {}{}",
            e.id,
            format_time(e.created_at, zone),
            e.direction,
            e.kind,
            e.from_addr,
            e.to_addrs,
            e.subject,
            e.delivery
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )?;
        if let Some(text) = e.body_text.as_deref().filter(|t| !t.trim().is_empty()) {
            writeln!(out, "{}", indented(text))?;
        }
    }
    Ok(())
}

/// An entry's new text under its history line, set in so the next entry stands out.
fn indented(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("      | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The header section of a raw mail (up to the first empty line), as text.
fn header_block(raw: &[u8]) -> String {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).replace("\r\n", "\n")
}

pub async fn email(app: &App, id: i64, raw: bool) -> anyhow::Result<ExitCode> {
    let Some(email) = app.store.email(id).await? else {
        eprintln!("buzon: no email {id}");
        return Ok(ExitCode::from(1));
    };
    let bytes = app.blobs.get(&email.raw_hash).await?;
    if raw {
        std::io::stdout().lock().write_all(&bytes)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = terminal::stdout();
    let zone = &app.config.support.timezone;
    let case = match email.case_id {
        Some(case_id) => app.store.case_number_of(case_id).await?,
        None => None,
    };
    writeln!(
        out,
        "Email {}  ({} {}, {})",
        email.id,
        email.direction,
        email.kind,
        format_time(email.created_at, zone)
    )?;
    if let Some(n) = case {
        writeln!(out, "Case:       #{n}")?;
    }
    writeln!(out, "From:       {}", email.from_addr)?;
    writeln!(out, "To:         {}", email.to_addrs)?;
    writeln!(out, "Subject:    {}", email.subject)?;
    writeln!(
        out,
        "Message-ID: {}",
        email.message_id.as_deref().unwrap_or("-")
    )?;
    if let Some(d) = &email.delivery {
        writeln!(out, "Delivery:   {d}")?;
    }
    writeln!(
        out,
        "Size:       {} bytes (buzon email {} --raw prints them)\n",
        email.raw_size, email.id
    )?;
    writeln!(out, "{}\n", header_block(&bytes))?;
    writeln!(out, "{}", kept_text(email.body_text, &bytes))?;
    Ok(ExitCode::SUCCESS)
}

/// The text the desk kept (a reply's new words); the mail's own text when it kept none.
fn kept_text(stored: Option<String>, raw: &[u8]) -> String {
    match stored {
        Some(text) => text,
        None => match crate::parse::parse(raw) {
            Ok(m) => m.text,
            Err(e) => format!("(cannot parse: {e})"),
        },
    }
}

pub async fn failed(app: &App) -> anyhow::Result<()> {
    let inbound = app.store.failed_inbound().await?;
    let mut outbox = app.store.outbox_by_state("failed").await?;
    outbox.extend(app.store.outbox_by_state("held").await?);
    let mut out = terminal::stdout();
    let zone = &app.config.support.timezone;
    for m in &inbound {
        writeln!(
            out,
            "mail {}\t{}\tuid {}\t{}\t{}",
            m.id,
            format_time(m.fetched_at, zone),
            m.uid,
            m.message_id.as_deref().unwrap_or("-"),
            m.error.as_deref().unwrap_or("")
        )?;
    }
    for o in &outbox {
        writeln!(
            out,
            "outbox {}\temail {}\tto {}\t{}",
            o.id,
            o.email_id,
            o.recipients.join(","),
            match o.state.as_str() {
                "held" => "held back by a limit (buzon retry --outbox sends it)",
                _ => o.last_error.as_deref().unwrap_or(""),
            }
        )?;
    }
    let failing = app.store.failing_addresses().await?;
    for (address, reason, since) in &failing {
        writeln!(
            out,
            "bounced {address}\t{}\t{reason}",
            format_time(*since, zone)
        )?;
    }
    if inbound.is_empty() && outbox.is_empty() && failing.is_empty() {
        eprintln!("nothing failed");
    }
    Ok(())
}

pub async fn denied(app: &App) -> anyhow::Result<()> {
    let mut out = terminal::stdout();
    let zone = &app.config.support.timezone;
    for m in app.store.denied_inbound(200).await? {
        let from = app
            .store
            .emails_for_inbound(m.id)
            .await?
            .map(|e| (e.from_addr, e.subject))
            .unwrap_or_default();
        writeln!(
            out,
            "mail {}\t{}\t{}\t{}",
            m.id,
            format_time(m.fetched_at, zone),
            from.0,
            from.1
        )?;
    }
    Ok(())
}

pub async fn retry(app: &App, id: i64, outbox: bool) -> anyhow::Result<ExitCode> {
    let (found, what) = if outbox {
        (app.store.retry_outbox(id).await?, "refused outgoing mail")
    } else {
        (app.store.retry_inbound(id).await?, "failed mail")
    };
    if found {
        say(format_args!(
            "{what} {id} is queued again; a running buzon takes it within seconds"
        ))?;
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("buzon: no {what} {id}");
        Ok(ExitCode::from(1))
    }
}
