//! SPEC.md "Mail in → 5": customers list, search and read their cases and edit their
//! profile by mail, in both languages, and see nothing of anyone else's.

use crate::support::*;

/// A desk where `ana` (Spanish) and `bob` (English) have cases; returns the desk and both.
async fn desk_with_cases(test: &str, extra: &str) -> (Desk, String, String) {
    let mut desk = Desk::with(
        test,
        DeskOptions {
            extra: extra.into(),
            ..Default::default()
        },
    )
    .await;
    let ana = desk.names.addr("ana");
    let bob = desk.names.addr("bob");
    desk.customer(&ana, None).await;
    desk.customer(&bob, Some("en")).await;
    desk.start();
    for (who, subject, id) in [
        (&ana, "Error de conexión con SAP", "s1"),
        (&ana, "Factura duplicada", "s2"),
        (&bob, "SAP connection timeout", "s3"),
    ] {
        send_mail(
            who,
            &[&desk.names.support()],
            &plain_mail(
                who,
                &desk.names.support(),
                subject,
                &format!("{id}-{}@x.test", desk.names.tag),
                "Detalle del problema.",
            ),
        )
        .await;
        wait_for_mail(who, if id == "s2" { 2 } else { 1 }).await;
    }
    // Ana closes her invoice case.
    let acks = mailbox(&ana).await;
    let invoice = acks
        .iter()
        .find(|m| parsed(m).subject.contains("Factura"))
        .unwrap()
        .clone();
    send_mail(
        &ana,
        &[&desk.names.support()],
        &reply_to(
            &invoice,
            &ana,
            &desk.names.support(),
            &format!("c-{}@x.test", desk.names.tag),
            "cerrar",
        ),
    )
    .await;
    wait_for_mail(&ana, 3).await;
    (desk, ana, bob)
}

async fn ask(
    desk: &Desk,
    who: &str,
    subject: &str,
    body: &str,
    expect_total: usize,
) -> buzon::parse::InboundMessage {
    let id = format!("{}-{}@x.test", fastrand::u64(..), desk.names.tag);
    send_mail(
        who,
        &[&desk.names.support()],
        &plain_mail(who, &desk.names.support(), subject, &id, body),
    )
    .await;
    let mails = wait_for_mail(who, expect_total).await;
    let answer = parsed(mails.last().unwrap());
    assert_eq!(
        answer.in_reply_to,
        vec![id],
        "answers thread under the request"
    );
    answer
}

#[tokio::test]
async fn my_cases_and_search_in_both_languages_without_leaks() {
    let (mut desk, ana, bob) = desk_with_cases("list", "").await;
    let all = ask(&desk, &ana, "mis casos", "", 4).await;
    assert!(all.subject.starts_with("Sus casos: 2"), "{}", all.subject);
    assert!(
        all.text.contains("Caso #1") && all.text.contains("Caso #2"),
        "{}",
        all.text
    );
    assert!(
        !all.text.contains("SAP connection timeout"),
        "no other customer's case"
    );
    let open = ask(&desk, &ana, "Mis casos abiertos", "", 5).await;
    assert!(
        open.subject.starts_with("Sus casos abiertos: 1"),
        "{}",
        open.subject
    );
    assert!(open.text.contains("Error de conexión con SAP") && !open.text.contains("Factura"));
    let closed = ask(&desk, &ana, "mis casos cerrados", "", 6).await;
    assert!(
        closed.text.contains("Factura duplicada") && closed.text.contains("cerrado"),
        "{}",
        closed.text
    );

    let search = ask(&desk, &ana, "buscar CONEXION sap", "", 7).await;
    assert!(
        search.text.contains("Error de conexión con SAP"),
        "{}",
        search.text
    );
    assert!(
        !search.text.contains("timeout"),
        "bob's SAP case does not leak: {}",
        search.text
    );
    let en = ask(&desk, &bob, "my cases open", "", 2).await;
    assert!(
        en.subject.starts_with("Your open cases: 1"),
        "{}",
        en.subject
    );
    assert!(en.text.contains("Case #3") && !en.text.contains("SAP\n"));
    let en_search = ask(&desk, &bob, "search sap", "", 3).await;
    assert!(
        en_search.text.contains("SAP connection timeout")
            && !en_search.text.contains("Error de conexión")
    );
    desk.stop().await;
    assert_eq!(
        desk.store().cases(&Default::default()).await.unwrap().len(),
        3,
        "requests open no case"
    );
}

#[tokio::test]
async fn history_attaches_the_real_mails_and_refuses_strangers() {
    let (mut desk, ana, bob) =
        desk_with_cases("history", "[limits]\nhistory_mail_bytes = 8000\n").await;
    let answer = ask(&desk, &ana, "historial #2", "", 4).await;
    // Small cap: the history comes in parts; collect them all.
    let parts: usize = answer
        .subject
        .split(" de ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let mails = wait_for_mail(&ana, 3 + parts).await;
    let mut history: Vec<_> = mails[3..].iter().map(|m| parsed(m)).collect();
    // The parts go out in parallel: put them in order.
    history.sort_by_key(|h| {
        h.subject
            .split("(parte ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
    });
    assert!(parts >= 2, "split under the size cap: {}", answer.subject);
    assert!(
        history
            .iter()
            .all(|h| h.subject.contains("[Caso #2] Historial")),
        "{:?}",
        history.iter().map(|h| &h.subject).collect::<Vec<_>>()
    );
    let attached: Vec<_> = history.iter().flat_map(|h| h.attachments.clone()).collect();
    let case = desk.store().case_by_number(2).await.unwrap().unwrap();
    let stored = desk.store().case_emails(case.id).await.unwrap();
    let visible: Vec<_> = stored
        .iter()
        .filter(|e| e.kind != "agent_new_case" && e.kind != "agent_comment")
        .collect();
    assert_eq!(
        attached.len(),
        visible.len(),
        "every mail the customer may see, nothing else"
    );
    for (a, e) in attached.iter().zip(&visible) {
        assert!(a.filename.ends_with("-caso-2.eml"), "{}", a.filename);
        assert_eq!(
            a.content_type, "message/rfc822",
            "mail clients open it as a message"
        );
        assert!(
            a.bytes == desk.app.blobs.get(&e.raw_hash).await.unwrap(),
            "{} is the real mail",
            a.filename
        );
    }
    assert!(history[0].text.contains("Factura duplicada"));

    let refused = ask(&desk, &bob, "history #2", "", 2).await;
    assert!(
        refused
            .text
            .contains("We could not find Case #2 among your cases"),
        "{}",
        refused.text
    );
    assert!(refused.attachments.is_empty());
    assert!(
        !refused.text.contains("did not understand"),
        "one answer, not two contradictory ones: {}",
        refused.text
    );
    let missing = ask(&desk, &bob, "history #99", "", 3).await;
    assert_eq!(
        missing.text,
        refused.text.replace("#2", "#99"),
        "a missing case looks the same as someone else's"
    );
    desk.stop().await;
}

#[tokio::test]
async fn profile_changes_name_and_language() {
    let (mut desk, ana, _bob) = desk_with_cases("profile", "").await;
    // A new mail proves nothing about its sender: the change waits for a round trip.
    let confirm = ask(&desk, &ana, "perfil", "Nombre: Ana Pérez\nIdioma: en\n", 4).await;
    assert_eq!(confirm.subject, "Confirme el cambio de su perfil");
    assert!(
        confirm.text.contains("Nombre: Ana Pérez") && confirm.text.contains("Idioma: en"),
        "{}",
        confirm.text
    );
    let unchanged = desk.store().customer(&ana).await.unwrap().unwrap();
    assert_eq!((unchanged.name, unchanged.language), (None, None));
    let mails = wait_for_mail(&ana, 4).await;
    let support = desk.names.support();
    let answer = reply_to(&mails[3], &ana, &support, "confirm-1@x.test", "Sí");
    send_mail(&ana, &[&support], &answer).await;
    let mails = wait_for_mail(&ana, 5).await;
    let shown = parsed(&mails[4]);
    assert_eq!(
        shown.subject, "Your profile",
        "answered in the new language"
    );
    assert!(
        shown.text.contains("Hello Ana Pérez") && shown.text.contains("English (en)"),
        "{}",
        shown.text
    );
    let stored = desk.store().customer(&ana).await.unwrap().unwrap();
    assert_eq!(
        (stored.name.as_deref(), stored.language.as_deref()),
        (Some("Ana Pérez"), Some("en"))
    );
    let next = ask(&desk, &ana, "A new problem", "It fails.", 6).await;
    assert!(
        next.subject.starts_with("[Case #4]"),
        "from now on in English: {}",
        next.subject
    );
    assert!(next.text.contains("Hello Ana Pérez"));
    desk.stop().await;
}

#[tokio::test]
async fn near_misses_get_help_and_problems_stay_problems() {
    let (mut desk, ana, bob) = desk_with_cases("help", "").await;
    let help = ask(&desk, &ana, "mis casos pendientes", "", 4).await;
    assert_eq!(help.subject, "Cómo usar el soporte por correo");
    assert!(
        help.text.contains("historial #N") && help.text.contains("mis casos pendientes"),
        "{}",
        help.text
    );
    let en = ask(&desk, &bob, "help", "", 2).await;
    assert_eq!(en.subject, "How to use email support");
    let problem = ask(
        &desk,
        &ana,
        "No puedo ver mis casos en el portal",
        "Desde ayer.",
        5,
    )
    .await;
    assert!(
        problem.subject.starts_with("[Caso #4]"),
        "a problem is a case: {}",
        problem.subject
    );
    desk.stop().await;
}

/// SPEC.md "Mail in → 8": a problem report whose subject opens like a request, with a
/// description in its body, is a case the agents hear of, never an answer to a search.
#[tokio::test]
async fn problem_reports_that_open_like_requests_are_cases() {
    let (mut desk, ana, bob) = desk_with_cases("request-or-case", "").await;
    let agent = desk.names.addr("agente");
    let body = "Producto: API Manager\n\nDesde esta mañana la búsqueda de clientes devuelve un error 500.\nEl registro muestra un timeout contra la base de datos.\nAfecta a todos los usuarios.";
    let ack = ask(
        &desk,
        &ana,
        "Buscar clientes no funciona en API Manager",
        body,
        4,
    )
    .await;
    assert!(ack.subject.starts_with("[Caso #4]"), "{}", ack.subject);
    let en = ask(
        &desk,
        &bob,
        "Search API returns 500",
        "Since this morning every call to /search returns HTTP 500.",
        2,
    )
    .await;
    assert!(en.subject.starts_with("[Case #5]"), "{}", en.subject);
    // The same subject alone is still the request it names.
    let search = ask(&desk, &ana, "buscar factura", "Gracias,\nAna", 5).await;
    assert!(search.text.contains("Factura duplicada"), "{}", search.text);
    let notes = wait_for_mail(&agent, 6).await;
    assert!(notes
        .iter()
        .any(|n| parsed(n).subject.contains("Buscar clientes no funciona")));
    desk.stop().await;
    let case = desk.store().case_by_number(4).await.unwrap().unwrap();
    assert_eq!(case.product.as_deref(), Some("API Manager"));
}

/// No history answer passes `limits.history_mail_bytes`: a mail too large for any answer is
/// listed with its size and the answer says how to get it.
#[tokio::test]
async fn a_history_never_passes_its_size_cap() {
    let cap = 40_000;
    let (mut desk, ana, _bob) = desk_with_cases(
        "history-cap",
        &format!("[limits]\nhistory_mail_bytes = {cap}\n"),
    )
    .await;
    let acks = mailbox(&ana).await;
    let factura = acks
        .iter()
        .find(|m| parsed(m).subject.contains("Error de conexi"))
        .unwrap()
        .clone();
    let support = desk.names.support();
    let big: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    let comment = with_attachment(
        &reply_to(
            &factura,
            &ana,
            &support,
            "big@x.test",
            "Adjunto el volcado.",
        ),
        "volcado.bin",
        &big,
    );
    send_mail(&ana, &[&support], &comment).await;
    wait_for_mail(&desk.names.addr("agente"), 5).await;
    let answer = ask(&desk, &ana, "historial #1", "", 4).await;
    let mails = wait_for_mail(&ana, 4).await;
    let sizes: Vec<usize> = mails[3..].iter().map(Vec::len).collect();
    assert!(sizes.iter().all(|s| *s <= cap), "{sizes:?}");
    assert!(
        answer.text.contains("demasiado grande para adjuntarlo"),
        "{}",
        answer.text
    );
    assert!(answer.text.contains("responda a este correo indicando"));
    assert!(
        answer
            .attachments
            .iter()
            .all(|a| a.content_type == "message/rfc822"),
        "the mails that fit are attached as messages"
    );
    desk.stop().await;
}
