//! A full template context with made-up values, for checking templates (the golden
//! files, `buzon check`'s rendering of admins' templates).

use serde_json::{json, Value};

/// The agents' desk's part of the sample (issue 16), apart: one `json!` of everything
/// passes the macro's recursion limit.
fn desk_sample(sample: &mut Value, subject: &str) {
    let desk = json!({
        "owner": "Pepe Agente <pepe@example.test>",
        "list": "open",
        "total": 201,
        "more": 200,
        "desk_cases": [{ "number": 1042, "subject": subject, "severity": 1, "production_down": true,
                         "owner": "Pepe Agente", "age": "2 d 3 h", "customer_wrote": "4 h 10 min",
                         "sla": "—", "waiting": false }],
        "events": ["Pepe (Soporte) ha tomado el caso."],
        "headline": "Pepe (Soporte) ha tomado el caso",
        "desk": { "owner": "Pepe Agente <pepe@example.test>", "age": "2 d 3 h", "customer_wrote": "4 h 10 min",
                  "sla": "—", "waiting_since": "2026-11-28 12:00 (UTC)", "merged_into": Value::Null,
                  "merged": [1040] },
        "activity": [{ "date": "2026-11-28 12:00", "case_number": 1040, "what": "caso nuevo",
                       "who": "ana@cliente.test", "text": "      No arranca." }],
        "activity_more": true,
        "activity_shown": 1,
        "activity_total": 7,
        "files": [{ "filename": "log.txt", "size": 12, "email_id": 31, "case_number": 1040 }],
        "merged_into": { "number": 1043, "subject": "El conector no arranca" },
    });
    if let (Some(all), Value::Object(more)) = (sample.as_object_mut(), desk) {
        all.extend(more);
    }
}

/// A full context with made-up values, for checking templates.
pub fn sample_context(subject: &str) -> Value {
    let mut sample = json!({
        "support": { "name": "Soporte", "address": "soporte@example.test" },
        "case": {
            "number": 1042, "subject": subject, "description": "No arranca.",
            "product": Value::Null, "severity": 1, "severity_label": "crítica",
            "production_down": true, "status": "open", "status_label": "abierto",
            "participants": ["luis@cliente.test"],
            "attachments": [{ "filename": "log.txt", "size": 12 }],
        },
        "products": ["Harmony", "API Manager"],
        "product_unknown": "Widget",
        "person": { "name": "Ana", "email": "ana@cliente.test" },
        "requester": { "name": "Ana", "email": "ana@cliente.test" },
        "original_subject": subject,
        "author": { "name": "Pepe Agente", "email": "pepe@example.test" },
        "comment": "Pruebe a reiniciar el conector.",
        "attachments": [{ "filename": "captura.png", "size": 2048 }],
        "changed_by": "Ana <ana@cliente.test>",
        "by_you": false,
        "closed_by_customer": false,
        "changes": [{ "field": "severidad", "before": "3", "after": "1" }],
        "related_case": 1041,
        "mentioned_case": 1040,
        "not_attached": [{ "filename": "volcado.zip", "size": 12_582_912 }],
        "damaged": [{ "filename": "factura.pdf", "size": 3000 }],
        "skipped": [{ "filename": "video.mp4", "size": 90_000_000, "reason": "attachment_too_large" }],
        "search": Value::Null,
        "filter": "open",
        "count": 1,
        "cases": [{ "number": 1042, "subject": subject, "status": "open", "severity": 1, "last_activity": "2026-11-28 12:00" }],
        "entries": [{ "date": "2026-11-28 12:00", "direction": "in", "from": "ana@cliente.test", "to": "soporte@example.test",
                      "subject": subject, "text": "No arranca.", "file": "01-2026-11-28-1200-caso-1042.eml",
                      "too_large": false, "size_mb": "0.1" },
                    { "date": "2026-11-28 12:05", "direction": "in", "from": "ana@cliente.test", "to": "soporte@example.test",
                      "subject": subject, "text": Value::Null, "file": Value::Null,
                      "too_large": true, "size_mb": "21.5" }],
        "too_large": true,
        "part": 1,
        "parts": 1,
        "profile": { "name": "Ana", "email": "ana@cliente.test", "language": "es", "organization": "cliente.test" },
        "updated": true,
        "error": Value::Null,
        "reason": "quarantined: no proof that the mail comes from agent pepe@example.test",
        "inbound_id": 7,
        "commands": ["cerrar"],
        "held_commands": ["cerrar"],
        "held_kind": "lista de casos",
        "limit": 20,
        "request": { "name": "Ana María", "language": "es" },
    });
    desk_sample(&mut sample, subject);
    sample_time_driven(&mut sample, subject);
    sample
}

/// The sample's parts for the scheduler's mail (SLA notices, reminders, the digest).
fn sample_time_driven(sample: &mut Value, subject: &str) {
    sample["sla"] = json!({ "target": "primera respuesta", "allowed": "4 h", "started": "2026-11-30 09:10 (Europe/Madrid)",
                 "due": "2026-11-30 13:10 (Europe/Madrid)", "owner": "pepe@example.test" });
    sample["waiting"] =
        json!({ "since": "2026-11-23 10:00 (Europe/Madrid)", "days": 5, "close_days": 5 });
    sample["digest"] = json!({
            "date": "2026-11-30", "zone": "Europe/Madrid", "open": 4,
            "by_severity": [{ "severity": 1, "label": "crítica", "count": 1 },
                            { "severity": 2, "label": "mayor", "count": 2 },
                            { "severity": 3, "label": "menor", "count": 1 }],
            "overdue": [{ "number": 1042, "subject": subject, "severity": 1, "owner": "pepe@example.test", "due": "2026-11-29 13:10 (Europe/Madrid)" }],
            "waiting": [{ "number": 1040, "subject": "Licencia caducada", "severity": 3, "owner": Value::Null, "since": "2026-11-25 16:00 (Europe/Madrid)" }],
            "opened_yesterday": 2, "closed_yesterday": 1, "more": 0,
    });
}
