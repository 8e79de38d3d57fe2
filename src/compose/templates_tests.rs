//! Templates: strict loading, data never code, golden files, admin overrides.
use super::*;

#[test]
fn shipped_templates_load_in_strict_mode() {
    Templates::load().expect("templates must compile");
}

#[test]
fn missing_variables_are_errors() {
    let t = Templates::load().unwrap();
    let err = t.render(MailKind::AccessDenied, Language::Es, &serde_json::json!({}));
    assert!(err.is_err());
}

#[test]
fn values_are_data_not_templates() {
    let t = Templates::load().unwrap();
    let data = crate::compose::sample_context("{{support.name}}\r\nBcc: x@y.test");
    let r = t
        .render(MailKind::CaseCreated, Language::Es, &data)
        .unwrap();
    assert!(r.subject.contains("{{support.name}}"), "{}", r.subject);
    assert!(!r.subject.contains('\n'));
}

/// Golden files: every template rendered with the sample context, checked in under
/// `tests/fixtures/templates/`. `BUZON_BLESS=1 cargo test` rewrites them after a change.
#[test]
fn rendered_templates_match_their_golden_files() {
    let t = Templates::load().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates");
    let bless = std::env::var_os("BUZON_BLESS").is_some();
    let mut stale = Vec::new();
    for language in Language::ALL {
        for kind in MailKind::ALL {
            let r = t
                .render(
                    kind,
                    language,
                    &crate::compose::sample_context("No arranca el conector"),
                )
                .unwrap();
            let text = format!("Subject: {}\n\n{}", r.subject, r.text);
            let path = dir
                .join(language.code())
                .join(format!("{}.txt", kind.name()));
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(stale.is_empty(), "rendered output differs from (or lacks) its golden file: {stale:?}; review and run with BUZON_BLESS=1");
}

#[test]
fn admin_overrides_replace_a_template_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("es")).unwrap();
    std::fs::write(
        dir.path().join("es/case_created.hbs"),
        "Subject: Recibido #{{case.number}}\n\nGracias.\n",
    )
    .unwrap();
    let t = Templates::load_with(Some(dir.path())).unwrap();
    let r = t
        .render(
            MailKind::CaseCreated,
            Language::Es,
            &crate::compose::sample_context("x"),
        )
        .unwrap();
    assert_eq!(r.subject, "Recibido #1042");
    let en = t
        .render(
            MailKind::CaseCreated,
            Language::En,
            &crate::compose::sample_context("x"),
        )
        .unwrap();
    assert!(
        en.subject.starts_with("[Case #1042]"),
        "others keep the shipped text"
    );
    std::fs::write(
        dir.path().join("es/case_created.hbs"),
        "Subject: {{case.numbr}}\n\nx\n",
    )
    .unwrap();
    assert!(
        Templates::load_with(Some(dir.path())).is_err(),
        "a misspelt variable fails at load"
    );
}

#[test]
fn blank_runs_collapse() {
    assert_eq!(tidy("a\n\n\n\nb\n\n"), "a\n\nb\n");
}
