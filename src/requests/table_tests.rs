//! SPEC.md "Mail in → 8" as a table: subject and body in, request or not out. Problem
//! reports that open with a request's words are the point: they must become cases.

use super::*;

/// What the table expects of one mail.
#[derive(Debug, PartialEq)]
enum Is {
    /// One of the request forms (which one is checked by the unit tests above).
    Request,
    /// Looked like a request but was none: `command_help`.
    Help,
    /// A new case.
    Case,
}

fn verdict(subject: &str, body: &str) -> Is {
    match parse(subject, body) {
        Some(SelfService::Help) => Is::Help,
        Some(_) => Is::Request,
        None => Is::Case,
    }
}

const ERROR_500: &str = "Producto: API Manager\n\nDesde esta mañana la búsqueda de clientes devuelve un error 500.\nEl registro muestra un timeout contra la base de datos.\nAfecta a todos los usuarios.";

#[test]
fn requests_help_and_problems_in_both_languages() {
    let table: &[(&str, &str, Is)] = &[
        // Real requests, bare or with what clients and manners add.
        ("mis casos", "", Is::Request),
        ("Mis casos abiertos", "Hola,\n\nGracias\nCarla", Is::Request),
        ("my cases", "Thanks,\nJohn Smith", Is::Request),
        (
            "my closed cases",
            "\n-- \nJohn Smith\nACME Corp | +1 555 0100\n",
            Is::Request,
        ),
        ("buscar conector SAP", "", Is::Request),
        ("search timeout", "Hi team,\nCheers", Is::Request),
        ("historial #12", "Un saludo,\nAna Pérez", Is::Request),
        ("History of case #7", "", Is::Request),
        ("RE: mis casos cerrados", "> mis casos\n> Ana", Is::Request),
        ("perfil", "Nombre: Ana Pérez\nIdioma: en", Is::Request),
        (
            "profile",
            "Hello,\nName: John Smith\nLanguage: es\nRegards",
            Is::Request,
        ),
        ("mi perfil", "", Is::Request),
        ("buscar factura", "Enviado desde mi iPhone", Is::Request),
        ("mis casos", "Gracias de antemano", Is::Request),
        // Near misses: help.
        ("mis casos pendientes", "", Is::Help),
        ("historial 12", "", Is::Help),
        ("buscar", "", Is::Help),
        ("ayuda", "", Is::Help),
        ("help", "Thanks", Is::Help),
        ("history #x", "", Is::Help),
        ("comandos", "Hola", Is::Help),
        ("my cases please", "", Is::Help),
        // Problem reports that open with a request's words: cases.
        (
            "Buscar clientes no funciona en API Manager",
            ERROR_500,
            Is::Case,
        ),
        (
            "Search API returns 500",
            "Since this morning every call to /search returns HTTP 500.\nLogs attached.",
            Is::Case,
        ),
        (
            "Mis casos no se actualizan",
            "En el portal mis casos siguen como abiertos aunque los cerré.",
            Is::Case,
        ),
        (
            "Historial de pedidos vacío",
            "El historial de pedidos aparece vacío desde la actualización.",
            Is::Case,
        ),
        (
            "Perfil bloqueado",
            "Mi perfil de usuario está bloqueado tras tres intentos.",
            Is::Case,
        ),
        (
            "Buscar no funciona",
            "Al buscar cualquier cliente la pantalla se queda en blanco.",
            Is::Case,
        ),
        (
            "Ayuda con la API",
            "Necesito ayuda para autenticar contra la API REST.",
            Is::Case,
        ),
        (
            "Search is slow",
            "Searching takes 40 s since the upgrade to 5.2.",
            Is::Case,
        ),
        (
            "Ayuda",
            "El conector de SAP deja de responder cada noche a las 2:00 y hay que reiniciarlo.",
            Is::Case,
        ),
        (
            "help",
            "Our nightly job fails with OutOfMemoryError.",
            Is::Case,
        ),
        (
            "buscar pedidos",
            "Producto: Harmony\nSeveridad: 2\nLa búsqueda de pedidos tarda minutos.",
            Is::Case,
        ),
        (
            "historial #3",
            "El historial del caso 3 no muestra mi último correo, ¿pueden revisarlo?",
            Is::Case,
        ),
        (
            "perfil",
            "Nombre: Ana\nAdemás, el portal no me deja cambiar la contraseña.",
            Is::Case,
        ),
        (
            "my cases",
            "My cases page shows an error since Monday.\nScreenshot attached.",
            Is::Case,
        ),
        ("Profile picture upload fails", "", Is::Case),
        ("No puedo ver mis casos en el portal", "", Is::Case),
        ("Error al buscar clientes en Harmony", "", Is::Case),
        ("El historial de ejecuciones no carga", "", Is::Case),
        ("Help! Production is down", "", Is::Case),
        ("Ayuda con el conector", "", Is::Case),
        ("Producción Caída", "", Is::Case),
        (
            "search results are wrong",
            "Searching for 'ACME' returns other customers' orders.",
            Is::Case,
        ),
    ];
    assert!(table.len() >= 40);
    let wrong: Vec<String> = table
        .iter()
        .filter(|(subject, body, want)| verdict(subject, body) != *want)
        .map(|(subject, body, want)| {
            format!(
                "{subject:?} / {body:?}: want {want:?}, got {:?}",
                verdict(subject, body)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
