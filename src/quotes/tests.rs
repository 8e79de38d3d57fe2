//! Focused cases for each rule; the corpora are scored in `corpus_tests`.

use super::{new_text, MAX_SCANNED_BYTES};

fn trimmed(body: &str) -> String {
    new_text(body, &[])
}

#[test]
fn spanish_gmail_attribution() {
    let body = "Sí, ya funciona.\n\nEl lun., 3 nov. 2025 a las 10:00, Ana (<ana@x.com>) escribió:\n\n> ¿Puede probar de nuevo?\n";
    assert_eq!(trimmed(body), "Sí, ya funciona.");
}

#[test]
fn spanish_gmail_attribution_wrapped_over_lines() {
    let body = "Gracias\n\nEl lun., 3 nov. 2025 a las 10:00, Ana Pérez (<\nana@x.com>) escribió:\n\nHola, ¿puede probar de nuevo?\n";
    assert_eq!(trimmed(body), "Gracias");
}

#[test]
fn outlook_spanish_header_block() {
    let body = "Sigue fallando.\n\n________________________________\nDe: Soporte <soporte@x.com>\nEnviado: lunes, 3 de noviembre de 2025 10:00\nPara: Ana <ana@x.com>\nAsunto: RE: [#12] Caída\n\nHola Ana, ¿puede probar de nuevo?\n";
    assert_eq!(trimmed(body), "Sigue fallando.");
    let original = "Sigue fallando.\n\n-----Mensaje original-----\nDe: Soporte\nEnviado: lunes\nPara: Ana\nAsunto: RE\n\nHola";
    assert_eq!(trimmed(original), "Sigue fallando.");
}

#[test]
fn known_quoted_removed_when_rewrapped() {
    let sent = "Hello Ana, we restarted the export service and the nightly report should arrive \
                again tomorrow morning. Please tell us if it does not, and attach the log file.";
    let body = "It arrived, thanks!\n\n\
                Support wrote:\n\
                > Hello Ana, we restarted the export service and the\n\
                > nightly report should arrive again tomorrow morning. Please\n\
                tell us if it does not, and attach\n\
                > > the log file.\n";
    assert_eq!(new_text(body, &[sent]), "It arrived, thanks!");
}

#[test]
fn known_quoted_removed_without_markers_and_reply_below_kept() {
    let sent = "Your case 12 is waiting for your answer: did the restart fix the nightly export \
                of the sales report?";
    let body = "Your case 12 is waiting for your answer: did the restart fix the nightly\n\
                export of the sales report?\n\nYes, it did.\n";
    assert_eq!(new_text(body, &[sent]), "Yes, it did.");
    // The customer repeating a few of our words is their text.
    assert_eq!(
        new_text("did the restart fix it? no", &[sent]),
        "did the restart fix it? no"
    );
}

#[test]
fn plain_negative_answer_kept() {
    assert_eq!(trimmed("No, no quiero cerrar"), "No, no quiero cerrar");
    assert_eq!(
        trimmed("No, no quiero cerrar\n\n> ¿Cerramos el caso?"),
        "No, no quiero cerrar"
    );
}

#[test]
fn greater_than_inside_a_line_kept() {
    assert_eq!(trimmed("5 > 3\nand 2 < 4"), "5 > 3\nand 2 < 4");
    assert_eq!(
        trimmed("Please re-install the app"),
        "Please re-install the app"
    );
}

#[test]
fn inline_replies_between_quotes_kept() {
    let body = "On Mon, 3 Nov 2025 at 10:00, Support <s@x.com> wrote:\n\
                > Which version do you run?\n\n\
                4.2\n\n\
                > Does it fail every time?\n\n\
                Only on Mondays.\n";
    assert_eq!(trimmed(body), "4.2\n\nOnly on Mondays.");
}

#[test]
fn everything_quoted_gives_empty() {
    assert_eq!(trimmed("> all\n> quoted\n>\n"), "");
    assert_eq!(
        trimmed("On Mon, 3 Nov 2025, Bob <b@x.com> wrote:\n> hi"),
        ""
    );
    assert_eq!(trimmed(""), "");
}

#[test]
fn dash_dash_space_signature_removed() {
    assert_eq!(
        trimmed("Thanks, fixed.\n\n-- \nAna Pérez\nACME"),
        "Thanks, fixed."
    );
}

#[test]
fn lone_dashes_in_code_fence_kept() {
    let body = "Run this:\n\n```\nfoo --\n--\nbar\n```\n\nThanks";
    assert_eq!(trimmed(body), body);
}

#[test]
fn mobile_signatures_removed() {
    assert_eq!(trimmed("Ya está.\n\nEnviado desde mi iPhone"), "Ya está.");
    assert_eq!(
        trimmed("Done\n\nGet Outlook for iOS<https://aka.ms/o0ukef>"),
        "Done"
    );
    assert_eq!(
        trimmed("Erledigt\n\nVon meinem iPhone gesendet"),
        "Erledigt"
    );
    assert_eq!(trimmed("Fait\n\nEnvoyé de mon iPhone"), "Fait");
    let sentence = "Here\n\nSent from my desk, is much easier then my mobile phone.";
    assert_eq!(trimmed(sentence), sentence);
}

#[test]
fn attributions_in_other_languages() {
    for attribution in [
        "Em seg., 3 de nov. de 2025 às 10:00, Ana <ana@x.com> escreveu:",
        "Le lun. 3 nov. 2025 à 10:00, Ana <ana@x.com> a écrit :",
        "Am Mo., 3. Nov. 2025 um 10:00 Uhr schrieb Ana <ana@x.com>:",
        "Op ma 3 nov. 2025 om 10:00 schreef Ana <ana@x.com>:",
        "Il giorno lun 3 nov 2025 alle ore 10:00 Ana <ana@x.com> ha scritto:",
        "Den mån 3 nov. 2025 kl 10:00 skrev Ana <ana@x.com>:",
        "W dniu 3.11.2025 o 10:00, Ana <ana@x.com> napisał:",
    ] {
        let body = format!("Nuevo texto\n\n{attribution}\n\n> viejo\n");
        assert_eq!(trimmed(&body), "Nuevo texto", "{attribution}");
    }
}

#[test]
fn prose_that_looks_like_markers_kept() {
    let body =
        "On your remote host you can run:\n\n    telnet 127.0.0.1 52698\n\nOn this day I wrote:";
    assert_eq!(trimmed(body), body);
    let heading = "Steps\n=====\n\nFrom: Madrid\nTo: Barcelona\n\nThanks";
    assert_eq!(trimmed(heading), heading);
}

#[test]
fn huge_input_is_fast() {
    let body = format!("Hi\n{}\n{}\n", ">".repeat(500_000), "word ".repeat(100_000));
    let started = std::time::Instant::now();
    let _ = new_text(&body, &[&"word ".repeat(50_000)]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn outlook_header_blocks_in_other_languages() {
    for block in [
        "De : Support <s@x.com>\nEnvoyé : lundi 3 novembre 2025 10:00\nÀ : Ana\nObjet : RE: panne",
        "Von: Support <s@x.com>\nGesendet: Montag, 3. November 2025 10:00\nAn: Ana\nBetreff: AW: Ausfall",
        "*From:* Support [mailto:s@x.com]\n*Sent:* Monday, November 3, 2025 10:00 AM\n*To:* Ana\n*Subject:* RE: outage",
    ] {
        let body = format!("Still broken.\n\n{block}\n\nOld text\n");
        assert_eq!(trimmed(&body), "Still broken.", "{block}");
    }
}

#[test]
fn forward_with_nothing_above_keeps_the_forwarded_text() {
    let body = "---------- Forwarded message ---------\nFrom: Bob <b@x.com>\nDate: Mon, 3 Nov 2025\nSubject: Invoice\nTo: <a@x.com>\n\n\nThe invoice is wrong.\n";
    assert_eq!(trimmed(body), "The invoice is wrong.");
    let noted = format!("FYI, see below.\n\n{body}");
    assert_eq!(trimmed(&noted), "FYI, see below.");
}

#[test]
fn mobile_signature_above_gmail_attribution() {
    let body =
        "Ok\n\nSent from my iPhone\n\nOn Nov 3, 2025, at 10:00, Support <s@x.com> wrote:\n\n> Hi\n";
    assert_eq!(trimmed(body), "Ok");
}

#[test]
fn a_text_past_the_scanned_bytes_keeps_its_tail_as_written() {
    let body = format!(
        "Nuevo problema\n{}> citado al final\nfin",
        "una línea del registro\n".repeat(MAX_SCANNED_BYTES / 20)
    );
    let text = new_text(&body, &[]);
    assert!(text.starts_with("Nuevo problema\n"));
    assert!(
        text.ends_with("> citado al final\nfin"),
        "the tail as written"
    );
    assert_eq!(
        text.matches("una línea del registro").count(),
        MAX_SCANNED_BYTES / 20
    );
}
