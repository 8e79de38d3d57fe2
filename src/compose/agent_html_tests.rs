//! Issue 15: an agent's HTML answer reaches the customer with its own formatting in the
//! HTML part (quote removed, sanitised), while the text part stays buzon's plain text; both
//! read the same in a text-mode browser, with no markdown anywhere.

use super::html_render_tests::w3m_dump;
use super::{sample_context, Composer, MailKind, Request, Templates, Threading};
use crate::domain::{CaseNumber, EmailAddress, Language, Mailbox};

const AGENT_HTML: &str = r#"<html><head><style>b{color:red}</style></head><body>
<div dir="ltr">Hola Ana, el <b>job nocturno</b> ya corre.<br>Vea <a href="https://docs.example.test/jobs">la documentación</a>.</div>
<div class="gmail_quote"><div class="gmail_attr">El lun, 3 nov 2025 a las 10:00, Soporte escribió:</div>
<blockquote class="gmail_quote">[Caso #1042] ¿Cuándo vuelve el job?</blockquote></div>
<script>alert(1)</script></body></html>"#;

fn composer() -> Composer {
    let secret = [(
        "BUZON_SUPPORT__SECRET".into(),
        "5e884898da28047151d0e56f".into(),
    )];
    let example = include_str!("../../config/buzon.example.toml");
    let config = crate::config::from_toml(example, &secret).unwrap();
    Composer::new(Templates::load().unwrap(), &config.support)
}

#[test]
fn the_agents_html_is_the_html_part_and_the_text_part_is_plain() {
    let fragment = crate::parse::answer_html(AGENT_HTML).expect("an answer");
    let mut data = sample_context("Job nocturno");
    let comment = crate::quotes::new_text(&crate::parse::html_to_text(AGENT_HTML), &[]);
    data["comment"] = serde_json::json!(comment);
    let to = [Mailbox {
        name: Some("Ana".into()),
        address: EmailAddress::parse("ana@cliente.test").unwrap(),
    }];
    let mail = composer()
        .compose(
            Request {
                kind: MailKind::AgentReply,
                language: Language::Es,
                data: &data,
                to: &to,
                case: Some(CaseNumber(1042)),
                threading: &Threading::default(),
                urgent: false,
                attachments: &[],
                html_comment: Some(&fragment),
            },
            1_796_000_000,
        )
        .unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(&mail.raw)
        .unwrap();
    let html = parsed.body_html(0).unwrap().to_string();
    let text = parsed.body_text(0).unwrap().to_string();
    assert!(html.contains("<b>job nocturno</b>"), "{html}");
    assert!(
        html.contains("href=\"https://docs.example.test/jobs\""),
        "{html}"
    );
    for gone in ["script", "alert", "color:red", "escribió", "¿Cuándo vuelve"] {
        assert!(!html.contains(gone), "{gone} in {html}");
    }
    assert!(text.contains("el job nocturno ya corre."), "{text}");
    assert!(
        text.contains("la documentación <https://docs.example.test/jobs>"),
        "{text}"
    );
    let shown = w3m_dump(&html);
    for seen in [&shown, &text] {
        assert!(!seen.contains("**") && !seen.contains("[1]"), "{seen}");
        assert!(!seen.contains("¿Cuándo vuelve"), "{seen}");
    }
    assert!(
        shown.contains("Hola Ana, el job nocturno ya corre."),
        "{shown}"
    );
    assert!(shown.contains("Vea la documentación."), "{shown}");
    assert!(
        shown.contains("Para responder"),
        "the template's footer: {shown}"
    );
}
