//! The agents' notifications say what happened in the support language only (SPEC "Agents
//! work from their mail client"): a case closed by its customer, a case that follows a
//! closed one, no English status words in Spanish text.

use serde_json::json;

use super::{sample_context, MailKind, Templates};
use crate::domain::Language;

const ENGLISH_STATUS: [&str; 5] = ["closed", "open", "critical", "major", "minor"];

#[test]
fn a_case_closed_by_its_customer_is_announced_as_such_in_spanish() {
    let mut data = sample_context("No arranca");
    data["closed_by_customer"] = json!(true);
    data["case"]["status"] = json!("closed");
    data["case"]["status_label"] = json!("cerrado");
    data["held_commands"] = json!([]);
    let mail = Templates::load()
        .unwrap()
        .render(MailKind::AgentComment, Language::Es, &data)
        .unwrap();
    assert_eq!(
        mail.subject,
        "[Caso #1042] Cerrado por el cliente Pepe Agente: No arranca"
    );
    assert!(
        mail.text
            .contains("ha cerrado el Caso #1042 (severidad 1, crítica) con este comentario:"),
        "{}",
        mail.text
    );
    let words: Vec<&str> = mail.text.split(|c: char| !c.is_alphabetic()).collect();
    for english in ENGLISH_STATUS {
        assert!(!words.contains(&english), "{english} in: {}", mail.text);
    }
}

#[test]
fn a_new_case_on_a_closed_one_names_it_in_subject_and_body() {
    let data = sample_context("No arranca");
    let mail = Templates::load()
        .unwrap()
        .render(MailKind::AgentNewCase, Language::Es, &data)
        .unwrap();
    assert!(
        mail.subject.contains("(relacionado con el Caso #1041)"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text.contains("Relacionado con: Caso #1041"),
        "{}",
        mail.text
    );
}
