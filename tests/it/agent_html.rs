//! Issue 15: an agent who answers in HTML reaches the customer with their formatting — the
//! relayed mail's HTML part is the agent's HTML, its quoted history gone and sanitised —
//! while its text part is buzon's plain text; through real Postfix and Dovecot, and read
//! by a real text-mode browser (w3m), as a terminal mail client shows it.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::*;

/// The agent's client's answer: a text alternative and the HTML one, Gmail-style, quoting
/// the notification it answers.
fn html_answer(notification: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(reply_to(notification, from, to, "html1@example.test", "Hola Ana, el *job nocturno* ya corre.\r\nVea la documentación <https://docs.example.test/jobs>."))
        .unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head: String = head
        .lines()
        .filter(|l| !l.starts_with("Content-Type") && !l.starts_with("Content-Transfer-Encoding"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let html = "<div dir=\"ltr\">Hola Ana, el <b>job nocturno</b> ya corre.<br>Vea <a href=\"https://docs.example.test/jobs\" onclick=\"x()\">la documentación</a>.</div>\r\n\
<div class=\"gmail_quote\"><div class=\"gmail_attr\">El sáb, 28 nov 2026 a las 12:00, Soporte escribió:</div>\r\n\
<blockquote class=\"gmail_quote\">Nuevo caso de Ana. La sincronización falla.</blockquote></div>\r\n<script>alert(1)</script>";
    format!(
        "{head}Content-Type: multipart/alternative; boundary=\"AA\"\r\n\r\n--AA\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n--AA\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n--AA--\r\n"
    )
    .into_bytes()
}

fn w3m_dump(html: &str) -> String {
    let mut child = Command::new("w3m")
        .args([
            "-dump",
            "-T",
            "text/html",
            "-cols",
            "2000",
            "-O",
            "UTF-8",
            "-I",
            "UTF-8",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("w3m");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(html.as_bytes())
        .unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agents_html_answer_keeps_its_formatting_for_the_customer() {
    let mut desk = Desk::new("agent-html").await;
    let customer = desk.names.addr("ana");
    let agent = desk.names.addr("agente");
    let support = desk.names.support();
    desk.customer(&customer, None).await;
    desk.start();
    let first = plain_mail(
        &customer,
        &support,
        "Job nocturno",
        "h0@cliente.test",
        "La sincronización falla.",
    );
    send_mail(&customer, &[&support], &first).await;
    let notification = wait_for_mail(&agent, 1).await.remove(0);
    send_mail(
        &agent,
        &[&support],
        &html_answer(&notification, &agent, &support),
    )
    .await;

    let relayed = wait_for_mail(&customer, 2).await.remove(1);
    desk.stop().await;
    let parsed = mail_parser::MessageParser::default()
        .parse(&relayed)
        .unwrap();
    let html = parsed.body_html(0).unwrap().to_string();
    let text = parsed.body_text(0).unwrap().to_string();
    assert!(html.contains("<b>job nocturno</b>"), "{html}");
    for gone in ["<script", "onclick", "escribió", "La sincronización falla"] {
        assert!(!html.contains(gone), "{gone} in {html}");
    }
    assert!(
        text.contains("el *job nocturno* ya corre."),
        "the text part is the text: {text}"
    );
    let shown = w3m_dump(&html);
    assert!(
        shown.contains("Hola Ana, el job nocturno ya corre."),
        "{shown}"
    );
    assert!(shown.contains("Vea la documentación."), "{shown}");
    assert!(!shown.contains("**") && !shown.contains("[1]"), "{shown}");
}
