//! The drain benchmarks' backlog (`pipeline.rs`, `cluster.rs`): the mix of mail,
//! put straight into the support mailbox.

use crate::support::*;

/// One mail of the mix: 70 % plain, 15 % HTML multipart/alternative, 10 % with a
/// 50–500 KB attachment, 5 % replies to an earlier mail of the backlog. Returns the mail
/// and whether it is a reply (buzon sends one message for a reply, two for a new case).
pub fn mixed_mail(
    i: usize,
    customers: &[String],
    support: &str,
    tag: &str,
    noise: &[u8],
) -> (Vec<u8>, bool) {
    let customer = &customers[i % customers.len()];
    let id = format!("mix{i}-{tag}@b");
    let body = format!("Producto: Harmony\nSeveridad: 2\nEl proceso {i} falla con un error de conexión al servidor de integración.\n");
    match i % 20 {
        19 => {
            // A reply to mail i - 7, a new case of a customer (i - 7 is never a reply).
            let parent = i - 7;
            let raw = format!(
                "From: {c}\r\nTo: {support}\r\nSubject: Re: Incidencia {parent}\r\nMessage-ID: <{id}>\r\nIn-Reply-To: <mix{parent}-{tag}@b>\r\nReferences: <mix{parent}-{tag}@b>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nAdjunto más datos: sigue fallando tras reiniciar.\r\n",
                c = customers[parent % customers.len()]
            );
            (raw.into_bytes(), true)
        }
        0..=2 => {
            let raw = format!(
                "From: {customer}\r\nTo: {support}\r\nSubject: Incidencia {i}\r\nMessage-ID: <{id}>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<html><body><p>Producto: Harmony<br>Severidad: 2</p><p>El proceso <b>{i}</b> falla con un error de <i>conexión</i> al servidor de integración.</p></body></html>\r\n--alt--\r\n"
            );
            (raw.into_bytes(), false)
        }
        5 | 15 => {
            let size = 50_000 + (i * 7919) % 450_000;
            let raw = plain_mail(customer, support, &format!("Incidencia {i}"), &id, &body);
            (with_attachment(&raw, "registro.bin", &noise[..size]), false)
        }
        _ => (
            plain_mail(customer, support, &format!("Incidencia {i}"), &id, &body),
            false,
        ),
    }
}

/// Put the backlog straight into the support mailbox (IMAP APPEND on one session).
pub async fn load_backlog(desk: &Desk, n: usize, customers: &[String]) -> usize {
    let noise: Vec<u8> = (0..500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let support = desk.names.support();
    let mut session = buzon::fetch::connect(&imap_config(mail_server(), &support))
        .await
        .unwrap();
    let mut replies = 0;
    for i in 0..n {
        let (raw, reply) = mixed_mail(i, customers, &support, &desk.names.tag, &noise);
        replies += usize::from(reply);
        session
            .append("INBOX", None, None, &raw)
            .await
            .expect("APPEND");
    }
    let _ = session.logout().await;
    2 * n - replies
}
