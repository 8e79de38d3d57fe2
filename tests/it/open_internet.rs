//! Issue 12, "safe on the open internet": forged authentication results, look-alike
//! addresses, terminal escapes and file modes, each through the real servers.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn count(counts: &[(String, i64)], state: &str) -> i64 {
    counts
        .iter()
        .find(|(s, _)| s == state)
        .map(|(_, n)| *n)
        .unwrap_or(0)
}

#[tokio::test]
async fn forged_or_misaligned_authentication_results_are_quarantined() {
    let extra =
        "[security]\nauthserv_id = \"mx.example.test\"\nrequire_authentication = \"customers\"\n";
    let mut desk = Desk::with_extra("authres", extra).await;
    let carla = desk.names.addr("carla");
    desk.customer(&carla, None).await;
    let support = desk.names.support();
    let mail = |id: &str, prepended: &str| {
        let raw = plain_mail(
            &carla,
            &support,
            &format!("Auth {id}"),
            &format!("{id}@x.test"),
            "x",
        );
        [prepended.as_bytes(), &raw].concat()
    };
    let ar = "Authentication-Results: mx.example.test;";
    let attacks =
        crate::hostile_mail::forged_authentication_results("mx.example.test", "example.test");
    for (id, headers) in &attacks {
        send_mail(&carla, &[&support], &mail(id, headers)).await;
    }
    let good = format!("{ar} dkim=pass header.d=mail.example.test; dmarc=none\r\n");
    send_mail(&carla, &[&support], &mail("good", &good)).await;
    desk.start();
    let acks = wait_for_mail(&carla, 1).await;
    assert_eq!(parsed(&acks[0]).subject, "[Caso #1] Auth good");
    let counts = all_processed(&desk, attacks.len() as i64 + 1).await;
    desk.stop().await;
    let failed = stdout(&desk.cli(&["failed"]));
    assert_eq!(
        count(&counts, "quarantined"),
        attacks.len() as i64,
        "{counts:?}\n{failed}"
    );
    assert!(failed.contains("From headers"), "{failed}");
    assert_eq!(mailbox(&carla).await.len(), 1);
}

#[tokio::test]
async fn a_kelvin_sign_sender_is_not_the_provisioned_karla() {
    let mut desk = Desk::new("kelvin").await;
    let karla = desk.names.addr("karla");
    desk.customer(&karla, None).await;
    let support = desk.names.support();
    let lookalike = karla.replacen('k', "\u{212A}", 1);
    assert_ne!(lookalike, karla);
    let forged = plain_mail(&lookalike, &support, "Soy Karla", "kelvin@x.test", "x");
    send_mail(&desk.names.addr("kelvin"), &[&support], &forged).await;
    desk.start();
    all_processed(&desk, 1).await;
    let real = plain_mail(&karla, &support, "La verdadera", "karla@x.test", "x");
    send_mail(&karla, &[&support], &real).await;
    let acks = wait_for_mail(&karla, 1).await;
    all_processed(&desk, 2).await;
    desk.stop().await;
    assert_eq!(parsed(&acks[0]).subject, "[Caso #1] La verdadera");
    let cases = desk.cli(&["cases", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&cases.stdout).unwrap();
    assert_eq!(list.len(), 1, "only the real Karla has a case: {list:?}");
    assert_eq!(list[0]["requester"], karla.as_str());
    let denied = stdout(&desk.cli(&["denied"]));
    assert!(
        denied.contains("arla"),
        "the look-alike was refused: {denied}"
    );
}

/// What a terminal must never receive from a mail: ESC, BEL, a C1 CSI, a bidi override.
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{7f}'] {
        assert!(!text.contains(bad), "{what} prints {:?} raw:\n{text}", bad);
    }
}

#[tokio::test]
async fn terminal_escapes_in_mail_reach_the_admin_escaped() {
    let mut desk = Desk::new("escapes").await;
    let carla = desk.names.addr("carla");
    desk.customer(&carla, None).await;
    let support = desk.names.support();
    // OSC 52 (sets the clipboard) in the subject, as an encoded word.
    let subject = "=?utf-8?q?Factura_=1B]52;c;ZXZpbA=3D=3D=07_=C2=9B31m?=";
    let body =
        "Hola\r\n\x1b[2J\x1b]8;;http://evil.test\x1b\\pincha\x1b]8;;\x1b\\ \u{202e}fdp.exe\x7f";
    let raw = plain_mail(&carla, &support, subject, "esc@x.test", body);
    send_mail(&carla, &[&support], &raw).await;
    let stranger = desk.names.addr("extrano");
    let denied = plain_mail(
        &stranger,
        &support,
        "=?utf-8?q?Hola_=1B[2J?=",
        "esc2@x.test",
        "x",
    );
    send_mail(&stranger, &[&support], &denied).await;
    desk.start();
    wait_for_mail(&carla, 1).await;
    all_processed(&desk, 2).await;
    desk.stop().await;

    let case = desk.cli(&["case", "1", "--json"]);
    assert_inert("case --json", &case.stdout);
    let value: serde_json::Value = serde_json::from_slice(&case.stdout).unwrap();
    let incoming = value["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["direction"] == "in")
        .unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let shown = desk.cli(&["case", "1"]);
    assert_inert("case", &shown.stdout);
    assert!(stdout(&shown).contains("\\x1b[2J"), "{}", stdout(&shown));
    let email = desk.cli(&["email", &incoming]);
    assert_inert("email", &email.stdout);
    assert!(
        stdout(&email).contains("\\u{202e}fdp.exe"),
        "{}",
        stdout(&email)
    );
    assert_inert("cases", &desk.cli(&["cases"]).stdout);
    let denied = desk.cli(&["denied"]);
    assert_inert("denied", &denied.stdout);
    assert!(stdout(&denied).contains("Hola"), "{}", stdout(&denied));
    let exact = desk.cli(&["email", &incoming, "--raw"]);
    assert!(exact.stdout.contains(&0x1b), "--raw keeps the exact bytes");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every directory under `dir` (itself included) and every file, with its mode.
fn modes_under(dir: &Path, out: &mut Vec<(String, u32)>) {
    out.push((dir.display().to_string(), mode(dir)));
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            modes_under(&path, out);
        } else {
            out.push((path.display().to_string(), mode(&path)));
        }
    }
}

#[tokio::test]
async fn database_mail_and_attachments_are_private_files() {
    let mut desk = Desk::new("modes").await;
    let carla = desk.names.addr("carla");
    desk.customer(&carla, None).await;
    let support = desk.names.support();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let raw = with_attachment(
        &plain_mail(&carla, &support, "Adjunto", "modes@x.test", "x"),
        "log.bin",
        &big,
    );
    send_mail(&carla, &[&support], &raw).await;
    desk.start();
    wait_for_mail(&carla, 1).await;
    let mut files = Vec::new();
    modes_under(&desk.path("data"), &mut files);
    for name in ["buzon.db", "buzon.db-wal", "buzon.db-shm"] {
        let path = desk.path(name);
        if name == "buzon.db" || path.exists() {
            files.push((path.display().to_string(), mode(&path)));
        }
    }
    desk.stop().await;
    let plain_files = files.iter().filter(|(p, _)| !Path::new(p).is_dir()).count();
    assert!(
        plain_files >= 2,
        "a blob file and the database at least: {files:?}"
    );
    for (path, m) in &files {
        let is_dir = Path::new(path).is_dir();
        let expected = if is_dir { 0o700 } else { 0o600 };
        assert_eq!(*m, expected, "{path} is {m:o}: {files:?}");
    }
}

#[tokio::test]
async fn check_refuses_weak_support_secrets() {
    let desk = Desk::new("weak").await;
    let text = std::fs::read_to_string(&desk.config_path).unwrap();
    let good = "secret = \"test-secret-0123456789abcdef\"";
    assert!(text.contains(good));
    for (weak, why) in [
        (
            "secret = \"change-me-to-a-long-random-string\"",
            "placeholder",
        ),
        ("secret = \"aaaaaaaaaaaaaaaa\"", "weak"),
        (
            "secret = \"test-secret-0123456789abcdef\"\nprevious_secrets = [\"\"]",
            "previous_secrets",
        ),
    ] {
        std::fs::write(&desk.config_path, text.replace(good, weak)).unwrap();
        let out = desk.cli(&["check"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{weak}: {err}");
        let lines: Vec<_> = err.lines().filter(|l| l.contains("secret")).collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(lines[0].contains(why), "{err}");
        assert!(lines[0].contains("openssl rand -hex 32"), "{err}");
    }
}
