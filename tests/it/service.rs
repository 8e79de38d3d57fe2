//! Issue 17, the service: a real `buzon run` tells systemd (a datagram socket of the test's
//! own, where systemd would listen) it is ready once the first sync is done and feeds the
//! watchdog; SIGHUP reloads products, templates and limits, names what changed, and
//! refuses a bad file line by line while the old configuration keeps working.

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// The notifications systemd would get from now until `until` holds: each `KEY=VALUE` line.
fn notifications(socket: &UnixDatagram, until: impl Fn(&[String]) -> bool) -> Vec<String> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !until(&got) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "systemd was told only {got:?}"
        );
        if let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            got.extend(text.lines().map(str::to_string));
        }
    }
    got
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -{name}");
}

#[tokio::test(flavor = "multi_thread")]
async fn systemd_hears_ready_after_the_first_sync_then_watchdog_pings_then_stopping() {
    let desk = Desk::new("sdnotify").await;
    let socket_path = desk.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = std::fs::File::create(desk.path("run.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_buzon"))
        .args(["run", "--config"])
        .arg(&desk.config_path)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn buzon run");
    let mailbox = format!("{}/INBOX", desk.names.support());
    let got = notifications(&socket, |got| got.iter().any(|l| l == "READY=1"));
    assert!(
        desk.store().last_sync(&mailbox).await.unwrap().is_some(),
        "READY=1 came before the first sync was recorded"
    );
    assert!(got.iter().any(|l| l.starts_with("STATUS=")), "{got:?}");
    // WATCHDOG_USEC = 1 s: a ping every half second while the processor is not stuck.
    let started = Instant::now();
    notifications(&socket, |got| {
        got.iter().filter(|l| *l == "WATCHDOG=1").count() >= 3
    });
    assert!(started.elapsed() < Duration::from_secs(3));
    signal(&child, "TERM");
    notifications(&socket, |got| got.iter().any(|l| l == "STOPPING=1"));
    assert!(child.wait().unwrap().success());
}

/// Wait until the log holds `count` lines containing `text`; the log.
fn log_shows(log: &std::path::Path, text: &str, count: usize) -> String {
    let started = Instant::now();
    loop {
        let content = std::fs::read_to_string(log).unwrap_or_default();
        if content.lines().filter(|l| l.contains(text)).count() >= count {
            return content;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {count} lines with '{text}' in:\n{content}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A customer writes naming `product`; the product the new case `number` got, and the
/// acknowledgement's text.
async fn new_case(
    desk: &Desk,
    customer: &str,
    number: i64,
    product: &str,
) -> (Option<String>, String) {
    let id = format!("reload-{number}@cliente.test");
    desk.write(
        customer,
        "Consulta",
        &id,
        &format!("Producto: {product}\n\nNo arranca."),
    )
    .await;
    let ack = wait_for_mail(customer, number as usize)
        .await
        .pop()
        .unwrap();
    let case = desk
        .store()
        .case_by_number(number)
        .await
        .unwrap()
        .expect("case");
    (case.product, parsed(&ack).text)
}

/// Write the configuration file anew and send SIGHUP.
fn reload_with(desk: &Desk, child: &Child, text: &str) {
    std::fs::write(&desk.config_path, text).unwrap();
    signal(child, "HUP");
}

/// The configuration with Nuevo among the products, templates of the test's own and a
/// tighter limit.
fn good_reload(desk: &Desk) -> String {
    let templates = desk.path("templates");
    std::fs::create_dir_all(templates.join("es")).unwrap();
    let shipped =
        std::fs::read_to_string(repo_root().join("templates/es/case_created.hbs")).unwrap();
    let custom = shipped.replacen("\n\n", "\n\nPlantilla recargada.\n\n", 1);
    std::fs::write(templates.join("es/case_created.hbs"), custom).unwrap();
    let products = "products = [\"Harmony\", \"Integration Studio\", \"API Manager\"]";
    std::fs::read_to_string(&desk.config_path)
        .unwrap()
        .replace(products, "products = [\"Harmony\", \"Nuevo\"]")
        .replace(
            "[support]\n",
            &format!("[support]\ntemplates_dir = \"{}\"\n", templates.display()),
        )
        + "\n[limits]\nauto_replies_per_hour = 7\n"
}

/// The log's `reload refused` lines.
fn refusals(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("reload refused"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_products_templates_and_limits_and_refuses_a_bad_file() {
    let desk = Desk::new("reload").await;
    let log = desk.path("run.log");
    let mut child = desk.spawn(None, &log);
    let customer = desk.names.addr("ana");
    desk.customer(&customer, None).await;
    let (product, _) = new_case(&desk, &customer, 1, "Nuevo").await;
    assert_eq!(product, None, "Nuevo is not a product yet");

    let reloaded = good_reload(&desk);
    reload_with(&desk, &child, &reloaded);
    let text = log_shows(&log, "configuration reloaded", 1);
    for change in [
        "support.products: added Nuevo; removed Integration Studio, API Manager",
        "limits.auto_replies_per_hour: 20 → 7",
        "templates: read again from",
    ] {
        assert!(text.contains(change), "no '{change}' in:\n{text}");
    }
    let (product, ack) = new_case(&desk, &customer, 2, "Nuevo").await;
    assert_eq!(product.as_deref(), Some("Nuevo"));
    assert!(ack.contains("Plantilla recargada."), "{ack}");

    let limit = "auto_replies_per_hour = 7";
    let unknown_key = "auto_replies_per_hour = 0\ncolor = \"rojo\"";
    reload_with(&desk, &child, &reloaded.replace(limit, unknown_key));
    let text = log_shows(&log, "keeping the running one", 1);
    let refused = refusals(&text);
    assert_eq!(
        refused.len(),
        1,
        "serde stops at the unknown key: {refused:?}"
    );
    assert!(refused[0].contains("color"), "{refused:?}");
    let two_bad_values = "auto_replies_per_hour = 0\nnew_cases_per_hour = 0";
    reload_with(&desk, &child, &reloaded.replace(limit, two_bad_values));
    let text = log_shows(&log, "keeping the running one", 2);
    assert_eq!(refusals(&text).len(), 3, "one line per problem:\n{text}");

    let (product, ack) = new_case(&desk, &customer, 3, "Nuevo").await;
    assert_eq!(
        product.as_deref(),
        Some("Nuevo"),
        "the running configuration stays"
    );
    assert!(ack.contains("Plantilla recargada."));
    assert!(
        child.try_wait().unwrap().is_none(),
        "buzon is still running"
    );
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
}
