//! Issue 13 item 8: the command line says what is stored and keeps quiet on a closed pipe.

use std::process::{Command, Stdio};

use crate::support::*;

/// A desk with case #1 (Carla's problem) and Carla's reply on it; returns the desk.
async fn desk_with_a_reply(test: &str) -> Desk {
    let mut desk = Desk::new(test).await;
    let carla = desk.names.addr("carla");
    desk.customer(&carla, Some("es")).await;
    desk.start();
    desk.write(
        &carla,
        "La impresora no imprime",
        &format!("p1-{}@x.test", desk.names.tag),
        "No imprime nada desde ayer.",
    )
    .await;
    let ack = wait_for_mail(&carla, 1).await.remove(0);
    let support = desk.names.support();
    let reply = reply_to(
        &ack,
        &carla,
        &support,
        &format!("p2-{}@x.test", desk.names.tag),
        "Sigue sin imprimir tras reiniciar.",
    );
    send_mail(&carla, &[&support], &reply).await;
    eventually("the reply is a comment", || async {
        desk.store()
            .case_emails(desk.store().case_by_number(1).await.unwrap().unwrap().id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "comment")
    })
    .await;
    desk.stop().await;
    desk
}

#[tokio::test]
async fn case_shows_each_entrys_new_text_and_email_its_headers() {
    let desk = desk_with_a_reply("cli-text").await;
    let case = desk.cli(&["case", "1"]);
    assert!(case.status.success());
    let shown = String::from_utf8_lossy(&case.stdout).to_string();
    let line = shown
        .lines()
        .position(|l| l.contains(" comment "))
        .expect("the comment's history line");
    let under: Vec<&str> = shown.lines().skip(line + 1).take(2).collect();
    assert!(
        under[0].contains("Sigue sin imprimir tras reiniciar."),
        "the stripped comment under its line:\n{shown}"
    );
    assert!(
        !under[1].contains("escribió"),
        "the quote is not shown:\n{shown}"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&desk.cli(&["case", "1", "--json"]).stdout).unwrap();
    let comment = json["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "comment")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let email = desk.cli(&["email", &comment.to_string()]);
    let text = String::from_utf8_lossy(&email.stdout).to_string();
    assert!(
        text.contains("In-Reply-To: <"),
        "the mail's headers:\n{text}"
    );
    assert!(text.contains("MIME-Version: 1.0"), "{text}");
    assert!(
        text.contains("Sigue sin imprimir tras reiniciar."),
        "{text}"
    );
    assert!(
        !text.contains("> No imprime"),
        "the stored text, not the quoted mail:\n{text}"
    );
}

#[tokio::test]
async fn every_view_exits_quietly_on_a_closed_pipe() {
    let desk = desk_with_a_reply("cli-pipe").await;
    let config = desk.config_path.clone();
    for args in [
        &["case", "1", "--json"][..],
        &["case", "1"],
        &["cases"],
        &["cases", "--json"],
        &["email", "1"],
        &["email", "1", "--raw"],
        &["customer", "list"],
        &["migrate"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_buzon"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("BUZON_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before buzon writes a byte (`| head -0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}

/// `buzon` with `support.timezone` set through the environment.
fn in_zone(desk: &Desk, zone: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(args)
        .arg("--config")
        .arg(&desk.config_path)
        .env("BUZON_LOG", "warn")
        .env("BUZON_SUPPORT__TIMEZONE", zone)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test]
async fn times_are_shown_in_the_desks_zone_and_a_bad_zone_is_a_config_error() {
    let desk = desk_with_a_reply("cli-zone").await;
    let shown = in_zone(&desk, "Europe/Madrid", &["case", "1"]);
    let text = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(text.contains("  opened:     2026-"), "{text}");
    assert!(text.contains(" (Europe/Madrid)"), "{text}");
    let default = String::from_utf8_lossy(&desk.cli(&["cases"]).stdout).to_string();
    assert!(default.contains(" (UTC) "), "{default}");

    let bad = in_zone(&desk, "Europe/Madird", &["cases"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("support.timezone: 'Europe/Madird'"),
        "{stderr}"
    );
}
