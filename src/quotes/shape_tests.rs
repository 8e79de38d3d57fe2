//! Attributions, header blocks and broken quotes recognised by their shape (issue 15): each
//! case is written here in words of its own, so a rule passes by shape, not by a string
//! copied from a corpus.

use super::new_text;

fn trimmed(body: &str) -> String {
    new_text(body, &[])
}

const QUOTE: &str = "> ¿Puede enviarnos el registro del servidor?\n> Gracias.\n";

fn reply_above(attribution: &str) -> String {
    format!("Adjunto el registro.\n\n{attribution}\n{QUOTE}")
}

#[test]
fn attributions_that_start_with_a_time_or_date() {
    for attribution in [
        "9:40 PM, March 3, 2024, \"Ana - Globex\" <ana@globex.test>:",
        "2019-07-01 08:05 GMT+02:00 Ana Ruiz <ana@globex.test>:",
        "2023年5月2日(火) 14:30 佐藤花子 <hanako@globex.test>:",
        "пн, 12 февр. 2024 г. в 09:15, Иван Петров <ivan@globex.test>:",
        "Tuesday, 4 June 2024, 11:02 +03:00 from ivan@globex.test <ivan@globex.test>:",
    ] {
        assert_eq!(
            trimmed(&reply_above(attribution)),
            "Adjunto el registro.",
            "{attribution}"
        );
    }
}

#[test]
fn attributions_wrapped_with_the_date_on_the_first_line() {
    for attribution in [
        "ti 3. syyskuuta 2024 klo 8.15 Matti Virtanen\n<matti@globex.test> kirjoitti:",
        "Matti Virtanen <matti@globex.test> schrieb am Di., 3. Sept. 2024 um\n08:15 Uhr:",
        "вт, 3 сент. 2024 г., 08:15 пользователь Матвей\n<matvey@globex.test> написал:",
    ] {
        assert_eq!(
            trimmed(&reply_above(attribution)),
            "Adjunto el registro.",
            "{attribution}"
        );
    }
}

#[test]
fn a_line_of_the_sender_with_a_time_above_an_attribution_stays() {
    let body = "Le llamo mañana a las 10:30\nOn Mon, 3 Nov 2025 at 10:00, Ana <ana@x.test> wrote:\n> ¿Cuándo?\n";
    assert_eq!(trimmed(body), "Le llamo mañana a las 10:30");
}

#[test]
fn header_blocks_under_titles_and_keys_of_other_languages() {
    let danish = "Tak, det virker.\n\n-------- Oprindelig besked --------\nFra: Support <s@x.test>\nSendt: 3. september 2024 08:15\nTil: Anders\nEmne: Sag 12\n\nPrøv igen.\n";
    assert_eq!(trimmed(danish), "Tak, det virker.");
    let any_title = "Done.\n\n------ Ursprüngliches Schreiben ------\nVon: Support <s@x.test>\nAn: Anders <a@x.test>\n\nTry again.\n";
    assert_eq!(trimmed(any_title), "Done.");
    let french = "C'est réglé.\n\n=============\n\nMessage du : 03/09/2024 08:15\nDe : \"Support\" <s@x.test>\nA : client@x.test\nCopie à :\nSujet : Cas 12\n\nMerci de réessayer.\n";
    assert_eq!(trimmed(french), "C'est réglé.");
    let chinese = "好的，谢谢。\n\n发件人: 支持 <s@x.test>\n发送时间: 2024年9月3日 8:15\n收件人: 王伟\n主题: 案例 12\n\n请再试一次。\n";
    assert_eq!(trimmed(chinese), "好的，谢谢。");
}

#[test]
fn wrapped_tails_that_lost_their_marker_go_with_the_quote() {
    let body = "Funciona.\n\nOn Mon, 3 Nov 2025 at 10:00, Ana <ana@x.test> wrote:\n\
                > Reiniciamos el servicio de exportación y el informe nocturno debería lleg\n\
                ar mañana.\n>\n> El equipo de soporte revisará los registros del servidor\n\
                durante la noche.\n>\n";
    assert_eq!(trimmed(body), "Funciona.");
}

#[test]
fn an_inline_answer_after_a_long_question_stays() {
    let body = "> Could you tell us which version of the desktop client you are running today?\n\
                Version 4.2, updated last week.\n\
                > And does it fail every time?\n";
    assert_eq!(trimmed(body), "Version 4.2, updated last week.");
}

#[test]
fn an_emoji_alone_is_new_text() {
    let body = "🎉\n\nOn Mon, 3 Nov 2025 at 10:00, Ana <ana@x.test> wrote:\n> Ya está resuelto.\n";
    assert_eq!(trimmed(body), "🎉");
    assert_eq!(trimmed("Gracias\n\n👍\n"), "Gracias\n\n👍");
}

#[test]
fn attributions_with_a_quoted_name_and_no_address_or_known_verb() {
    for attribution in [
        "2024.09.03. 8:15 keltezéssel, \"Kovács Anna\" írta:",
        "3.9.2024 klo 8.15 \"Matti Virtanen\" kirjutas:",
        "Dne 3. 9. 2024 v 8:15 Jana Nováková napsala:",
    ] {
        assert_eq!(
            trimmed(&reply_above(attribution)),
            "Adjunto el registro.",
            "{attribution}"
        );
    }
}

#[test]
fn a_line_of_the_sender_with_a_time_and_colon_above_a_quote_stays() {
    let body = "A las 9:15 ejecuté \"make test\" y salió:\n> error: timeout\n";
    assert_eq!(trimmed(body), "A las 9:15 ejecuté \"make test\" y salió:");
    let body =
        "Esta mañana a las 9:15 probé lo que decían:\n> Reinicie el servicio.\nY sigue fallando.\n";
    assert_eq!(
        trimmed(body),
        "Esta mañana a las 9:15 probé lo que decían:\n\nY sigue fallando."
    );
}

#[test]
fn the_words_original_message_in_the_senders_text_are_not_a_separator() {
    let body = "Original message\n\nLes reenvío el pedido tal como lo recibimos, sin cambios.\n";
    assert_eq!(trimmed(body), body.trim_end());
    let body = "Gracias.\n\nOriginal message:\nel pedido 4411 llegó incompleto.\n";
    assert_eq!(trimmed(body), body.trim_end());
    let separated = "Gracias.\n\nOriginal Message\nFrom: Ana <ana@x.test>\nSent: 3 September 2024 08:15\nTo: Soporte\nSubject: Pedido\n\nEl pedido llegó incompleto.\n";
    assert_eq!(trimmed(separated), "Gracias.");
}
