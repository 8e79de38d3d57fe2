//! The command line as an admin uses it: the real binary against a real desk.

use crate::support::*;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test]
async fn email_raw_is_byte_identical_to_the_imap_copy() {
    let mut desk = Desk::new("raw").await;
    let customer = desk.names.addr("carla");
    assert!(desk
        .cli(&[
            "customer",
            "add",
            &customer,
            "--name",
            "Carla",
            "--language",
            "es"
        ])
        .status
        .success());
    let raw = plain_mail(
        &customer,
        &desk.names.support(),
        "Bytes exactos",
        "raw@cliente.test",
        "línea con acentos\r\n\tcon tabulador  ",
    );
    send_mail(&customer, &[&desk.names.support()], &raw).await;
    desk.start();
    let acks = wait_for_mail(&customer, 1).await;
    desk.stop().await;
    let in_imap = mailbox(&desk.names.support()).await;
    assert_eq!(in_imap.len(), 1);

    let case = desk.cli(&["case", "1", "--json"]);
    assert!(case.status.success(), "{}", stderr(&case));
    let value: serde_json::Value = serde_json::from_slice(&case.stdout).unwrap();
    let history = value["history"].as_array().unwrap();
    let incoming = history.iter().find(|e| e["direction"] == "in").unwrap()["id"]
        .as_i64()
        .unwrap();
    let ack_id = history
        .iter()
        .find(|e| e["kind"] == "case_created")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    let fetched = desk.cli(&["email", &incoming.to_string(), "--raw"]);
    assert!(fetched.status.success());
    assert_eq!(
        fetched.stdout, in_imap[0],
        "the exact bytes fetched from IMAP"
    );

    // Outgoing mail is stored exactly as handed to SMTP; the delivered copy is those bytes
    // plus the headers the servers prepend.
    let sent = desk.cli(&["email", &ack_id.to_string(), "--raw"]);
    assert!(
        acks[0].ends_with(&sent.stdout),
        "delivered ack ends with the stored bytes:\n{}\n---\n{}",
        String::from_utf8_lossy(&acks[0]),
        String::from_utf8_lossy(&sent.stdout)
    );

    let shown = desk.cli(&["email", &incoming.to_string()]);
    assert!(stdout(&shown).contains("línea con acentos"));
}

#[tokio::test]
async fn cases_lists_filters_and_searches() {
    let mut desk = Desk::new("list").await;
    let ana = desk.names.addr("ana");
    let luis = desk.names.addr("luis");
    desk.customer(&ana, None).await;
    desk.customer(&luis, None).await;
    for (who, subject, id) in [
        (&ana, "Error de conexión SAP", "l1"),
        (&luis, "Conexion lenta", "l2"),
        (&ana, "Factura duplicada", "l3"),
    ] {
        send_mail(
            who,
            &[&desk.names.support()],
            &plain_mail(
                who,
                &desk.names.support(),
                subject,
                &format!("{id}@x.test"),
                "x",
            ),
        )
        .await;
    }
    desk.start();
    wait_for_mail(&ana, 2).await;
    wait_for_mail(&luis, 1).await;
    desk.stop().await;

    let all = stdout(&desk.cli(&["cases"]));
    assert_eq!(all.lines().count(), 3, "{all}");
    let search = stdout(&desk.cli(&["cases", "--search", "CONEXIÓN"]));
    assert_eq!(
        search.lines().count(),
        2,
        "accent- and case-blind: {search}"
    );
    let both_words = stdout(&desk.cli(&["cases", "--search", "sap conexion"]));
    assert_eq!(both_words.lines().count(), 1, "{both_words}");
    let anas = desk.cli(&["cases", "--customer", &ana.to_uppercase(), "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&anas.stdout).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|c| c["requester"] == ana.as_str()));
    let closed = desk.cli(&["cases", "--status", "closed"]);
    assert!(closed.status.success() && closed.stdout.is_empty());
    let missing = desk.cli(&["case", "99"]);
    assert_eq!(missing.status.code(), Some(1));
    let bad = desk.cli(&["cases", "--status", "maybe"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn provisioning_commands() {
    let desk = Desk::new("admin").await;
    let c = desk.names.addr("cliente");
    assert!(desk
        .cli(&[
            "customer",
            "add",
            &c,
            "--name",
            "Cli",
            "--org",
            "acme.test",
            "--language",
            "en"
        ])
        .status
        .success());
    assert_eq!(
        desk.cli(&["customer", "add", &c]).status.code(),
        Some(1),
        "already exists"
    );
    assert_eq!(
        desk.cli(&["customer", "add", "not-an-address"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        desk.cli(&["customer", "add", "x@y.test", "--language", "fr"])
            .status
            .code(),
        Some(2)
    );
    assert!(desk
        .cli(&["customer", "edit", &c, "--language", "es"])
        .status
        .success());
    let list = stdout(&desk.cli(&["customer", "list"]));
    assert!(list.contains(&format!("{c}\tCli\tacme.test\tes")), "{list}");
    assert!(desk
        .cli(&["org", "add", "@ACME.test", "--name", "Acme"])
        .status
        .success());
    assert!(stdout(&desk.cli(&["org", "list"])).contains("acme.test\tAcme"));
    assert!(desk
        .store()
        .is_provisioned("anyone@acme.test")
        .await
        .unwrap());
    assert!(desk
        .cli(&["agent", "add", &desk.names.addr("pepe"), "--name", "Pepe"])
        .status
        .success());
    let agents = stdout(&desk.cli(&["agent", "list"]));
    assert!(
        agents.contains("(configuration)") && agents.contains("Pepe"),
        "{agents}"
    );
    assert!(desk.cli(&["customer", "remove", &c]).status.success());
    assert_eq!(desk.cli(&["customer", "remove", &c]).status.code(), Some(1));
    assert!(desk.cli(&["org", "remove", "acme.test"]).status.success());
    assert!(!desk
        .store()
        .is_provisioned("anyone@acme.test")
        .await
        .unwrap());
}

#[tokio::test]
async fn check_reports_what_works() {
    let desk = Desk::with(
        "check",
        DeskOptions {
            imap_security: "starttls",
            smtp_security: "starttls",
            ..Default::default()
        },
    )
    .await;
    let out = desk.cli(&["check"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    for line in [
        "configuration: ok",
        "database: ok",
        "imap: ok",
        "smtp: ok (127.0.0.1",
        "encrypted",
    ] {
        assert!(text.contains(line), "missing {line}: {text}");
    }
}

#[tokio::test]
async fn check_reports_an_unreachable_server() {
    let desk = Desk::new("check-down").await;
    let text = std::fs::read_to_string(&desk.config_path)
        .unwrap()
        .replace(&format!("port = {}", mail_server().imap()), "port = 1");
    std::fs::write(&desk.config_path, text).unwrap();
    let out = desk.cli(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("imap: FAILED: cannot reach 127.0.0.1:1"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn bad_configuration_is_one_line_per_problem_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[imap]\nhost = \"h\"\nusername = \"u\"\n[smtp]\nhost = \"h\"\nusername = \"u\"\n[support]\naddress = \"nope\"\nsecret = \"short\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["cases", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let lines: Vec<_> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("buzon: ") && l.contains("bad.toml")),
        "{err}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["cases", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"));
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        include_str!("../../config/buzon.example.toml")
            .replace("[storage]", "[storage]\ncolour = \"blue\""),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["check", "--config"])
        .arg(&unknown)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("colour"), "{}", stderr(&out));
}

#[tokio::test]
async fn import_feeds_an_archive_through_the_pipeline_once() {
    let desk = Desk::new("import").await;
    let customer = desk.names.addr("historico");
    assert!(desk.cli(&["customer", "add", &customer]).status.success());
    let mut mbox = Vec::new();
    for i in 0..3 {
        mbox.extend_from_slice(format!("From {customer} Sat Nov 28 12:00:00 2026\n").as_bytes());
        let body = format!("Viejo problema {i}\n>From the archive\n");
        mbox.extend_from_slice(&plain_mail(
            &customer,
            &desk.names.support(),
            &format!("Antiguo {i}"),
            &format!("old{i}@x.test"),
            &body,
        ));
        mbox.extend_from_slice(b"\n");
    }
    let path = desk.path("archivo.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let out = desk.cli(&["import", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("imported 3 mails") && stdout(&out).contains("case_created: 3"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("3/3"),
        "progress bar: {}",
        stderr(&out)
    );
    let again = desk.cli(&["import", path.to_str().unwrap()]);
    assert!(
        stdout(&again).contains("imported 0 mails"),
        "{}",
        stdout(&again)
    );
    let cases = stdout(&desk.cli(&["cases"]));
    assert_eq!(cases.lines().count(), 3, "{cases}");
    let case = desk.store().case_by_number(1).await.unwrap().unwrap();
    assert!(
        case.description.contains("From the archive"),
        "mboxrd unescaped: {}",
        case.description
    );
    assert!(
        desk.store()
            .outbox_by_state("pending")
            .await
            .unwrap()
            .is_empty(),
        "an archive sends nothing"
    );
    assert!(
        desk.store()
            .outbox_by_state("suppressed")
            .await
            .unwrap()
            .len()
            >= 3
    );
    assert!(mailbox(&customer).await.is_empty());
}
