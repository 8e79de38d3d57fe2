//! HTML → text as a careful reader would copy it (issue 15): no markdown, links as
//! `text <url>`, paragraphs, rows and alt text kept, clients' quote structure marked `> `.

use super::to_text;

#[test]
fn no_markdown_for_emphasis_headings_or_rules() {
    let html = "<h2>Resumen</h2><p>El <b>job nocturno</b> falló <i>otra vez</i>.</p><hr><p>Fin</p>";
    assert_eq!(
        to_text(html),
        "Resumen\n\nEl job nocturno falló otra vez.\n\nFin"
    );
}

#[test]
fn links_read_as_text_then_address() {
    let html = "<p>Vea <a href=\"https://docs.example.test/export\">la documentación</a> y \
                <a href=\"https://docs.example.test/\">docs.example.test</a> o escriba a \
                <a href=\"mailto:soporte@example.test?subject=x\">soporte</a>.</p>";
    assert_eq!(
        to_text(html),
        "Vea la documentación <https://docs.example.test/export> y docs.example.test o \
         escriba a soporte <soporte@example.test>."
    );
}

#[test]
fn paragraphs_line_breaks_lists_and_preformatted_text_kept() {
    let html = "<div>Hola,</div><div><br></div><div>línea uno<br>línea dos</div>\
                <ul><li>primero</li><li>segundo</li></ul><ol><li>a</li><li>b</li></ol>\
                <pre>  col1   col2\n  1      2</pre>";
    assert_eq!(
        to_text(html),
        "Hola,\n\nlínea uno\nlínea dos\n- primero\n- segundo\n1. a\n2. b\n\n  col1   col2\n  1      2"
    );
}

#[test]
fn tables_are_rows_and_images_their_alt_text() {
    let html = "<table><tr><th>Producto:</th><td>Harmony</td></tr>\
                <tr><td>Error</td><td>E42</td><td><img src=\"x.png\" alt=\"captura\"></td></tr></table>\
                <img src=\"https://t.example/pixel.gif\">";
    assert_eq!(to_text(html), "Producto: Harmony\nError | E42 | captura");
}

#[test]
fn hidden_and_non_content_elements_are_not_text() {
    let html = "<html><head><title>t</title><style>p{}</style></head><body>\
                <div style=\"display: none\">preheader</div><script>x()</script>\
                <p>visible</p><span style=\"mso-hide:all\">oculto</span></body></html>";
    assert_eq!(to_text(html), "visible");
}

#[test]
fn client_quote_structures_are_marked_as_quotes() {
    let gmail = "<div>Listo</div><div class=\"gmail_quote\"><div class=\"gmail_attr\">El lun, Ana \
                 escribió:</div><blockquote class=\"gmail_quote\">¿Funciona?</blockquote></div>";
    assert_eq!(
        to_text(gmail),
        "Listo\n> El lun, Ana escribió:\n>\n> > ¿Funciona?"
    );
    let apple = "Sí<blockquote type=\"cite\"><div>On Mon, Ana wrote:</div>¿Funciona?</blockquote>";
    assert_eq!(to_text(apple), "Sí\n\n> On Mon, Ana wrote:\n> ¿Funciona?");
    let yahoo =
        "<div>Ok</div><div class=\"yahoo_quoted\"><div>Ana escribió:</div><div>antes</div></div>";
    assert_eq!(to_text(yahoo), "Ok\n> Ana escribió:\n> antes");
}

#[test]
fn outlook_history_marker_quotes_the_rest_after_the_senders_words() {
    let outlook = "<div>Gracias</div><div id=\"appendonsend\"></div><hr>\
                   <div id=\"divRplyFwdMsg\"><b>De:</b> Soporte<br><b>Enviado:</b> lunes</div>\
                   <div>Texto anterior</div>";
    assert_eq!(
        to_text(outlook),
        "Gracias\n\n> De: Soporte\n> Enviado: lunes\n> Texto anterior"
    );
    let border = "<p>Hecho</p><div style=\"border:none;border-top:solid #E1E1E1 1.0pt\">\
                  <p>From: A</p></div><p>viejo</p>";
    assert_eq!(to_text(border), "Hecho\n\n> From: A\n>\n> viejo");
    let nothing_above = "<div id=\"divRplyFwdMsg\">From: A</div><div>reenviado</div>";
    assert_eq!(to_text(nothing_above), "From: A\nreenviado");
}

#[test]
fn a_forward_inside_a_quote_block_is_content() {
    let html = "<div>FYI</div><blockquote type=\"cite\"><div>Begin forwarded message:</div>\
                <div>From: A</div><div>el error</div></blockquote>";
    assert_eq!(
        to_text(html),
        "FYI\n\nBegin forwarded message:\nFrom: A\nel error"
    );
}
