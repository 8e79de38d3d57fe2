//! Is the sender who the From header says? Read from the `Authentication-Results` headers
//! (RFC 8601) that our own receiving server wrote — identified by its authserv-id, since
//! anyone can add such a header before the mail reaches us. Pure.

mod results;

pub use results::{Method, MethodResult, Outcome, ResultsHeader};

/// The outcome for one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// DMARC passed for the From domain, or SPF or DKIM passed for a domain aligned with it.
    Pass(&'static str),
    /// Our server checked and nothing aligned passed, or something failed.
    Fail(String),
    /// Our server wrote no results.
    Missing,
}

/// `results` are the header values topmost first, as the mail arrived.
///
/// Which headers are trusted: the first contiguous run of headers with our authserv-id.
/// Our receiving server prepends its headers above everything that came with the mail
/// (and RFC 8601 §5 has it remove look-alikes), so a header of ours written below a
/// foreign one came from upstream: forged. Foreign headers above the run were added after
/// our server (an internal filter) and are ignored, as are all foreign headers. Several
/// headers of ours are normal (a milter for each method), so a forger who appends one
/// more right under them is not caught by position; hence, within the run, a DMARC fail,
/// or an SPF or DKIM fail for an aligned domain, beats any pass.
pub fn verdict(results: &[String], authserv_id: &str, from_domain: &str) -> AuthVerdict {
    // An unreadable header is not ours either: it ends the run like a foreign one.
    let ours: Vec<ResultsHeader> = results
        .iter()
        .map(|value| {
            results::parse(value).filter(|h| h.authserv_id.eq_ignore_ascii_case(authserv_id))
        })
        .skip_while(Option::is_none)
        .map_while(|h| h)
        .collect();
    if ours.is_empty() {
        return AuthVerdict::Missing;
    }
    let all: Vec<&MethodResult> = ours.iter().flat_map(|h| &h.results).collect();
    let failed = || {
        let seen: Vec<String> = all.iter().map(ToString::to_string).collect();
        AuthVerdict::Fail(if seen.is_empty() {
            "no results".into()
        } else {
            seen.join(" ")
        })
    };
    let dmarc = |outcome: Outcome| {
        all.iter()
            .filter(move |r| r.method == Method::Dmarc && r.outcome == outcome)
    };
    if dmarc(Outcome::Fail).next().is_some() {
        return failed();
    }
    let from = from_domain.trim_end_matches('.').to_lowercase();
    if dmarc(Outcome::Pass).any(|r| r.domain("header.from").as_deref() == Some(&from)) {
        return AuthVerdict::Pass("dmarc");
    }
    if aligned_pass(&all, Method::Spf, &from) {
        return AuthVerdict::Pass("spf");
    }
    if aligned_pass(&all, Method::Dkim, &from) {
        return AuthVerdict::Pass("dkim");
    }
    failed()
}

/// An SPF or DKIM pass for a domain aligned with From, and no fail for one.
fn aligned_pass(all: &[&MethodResult], method: Method, from: &str) -> bool {
    let domain = |r: &MethodResult| match r.method {
        Method::Spf => r.domain("smtp.mailfrom"),
        _ => r.domain("header.d").or_else(|| r.domain("header.i")),
    };
    let aligned_with = |outcome: Outcome| {
        all.iter().any(|r| {
            r.method == method
                && r.outcome == outcome
                && domain(r).is_some_and(|d| aligned(&d, from))
        })
    };
    aligned_with(Outcome::Pass) && !aligned_with(Outcome::Fail)
}

/// Relaxed alignment (RFC 7489 §3.1): the same organizational domain, by the Public Suffix
/// List. A public suffix itself (`co.uk`, or a bare TLD such as `test`) has none, so it
/// aligns with nothing.
fn aligned(a: &str, b: &str) -> bool {
    match (organizational(a), organizational(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn organizational(domain: &str) -> Option<String> {
    let domain = domain.trim_end_matches('.').to_lowercase();
    psl::domain_str(&domain).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(headers: &[&str], from: &str) -> AuthVerdict {
        let results: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        verdict(&results, "mx.soporte.test", from)
    }

    #[test]
    fn dmarc_pass_from_our_server_passes() {
        assert_eq!(
            v(
                &["mx.soporte.test; dmarc=pass header.from=cliente.test"],
                "cliente.test"
            ),
            AuthVerdict::Pass("dmarc")
        );
        assert_eq!(
            v(
                &["MX.soporte.test 1; spf=fail; dmarc=pass header.from=cliente.test"],
                "cliente.test"
            ),
            AuthVerdict::Pass("dmarc")
        );
    }

    #[test]
    fn aligned_spf_or_dkim_pass() {
        assert_eq!(
            v(
                &["mx.soporte.test; spf=pass smtp.mailfrom=bounces@mail.cliente.test"],
                "cliente.test"
            ),
            AuthVerdict::Pass("spf")
        );
        assert_eq!(
            v(
                &["mx.soporte.test; dkim=pass (2048-bit key) header.d=cliente.test header.s=s1"],
                "cliente.test"
            ),
            AuthVerdict::Pass("dkim")
        );
        assert!(
            matches!(
                v(
                    &["mx.soporte.test; spf=pass smtp.mailfrom=x@mailer.test"],
                    "cliente.test"
                ),
                AuthVerdict::Fail(_)
            ),
            "not aligned"
        );
        assert!(matches!(
            v(
                &["mx.soporte.test; dkim=pass header.d=other.test"],
                "cliente.test"
            ),
            AuthVerdict::Fail(_)
        ));
    }

    #[test]
    fn results_from_other_servers_are_ignored() {
        assert_eq!(
            v(&["evil.test; dmarc=pass"], "cliente.test"),
            AuthVerdict::Missing
        );
        let forged_then_ours = [
            "evil.test; dmarc=pass",
            "mx.soporte.test; dmarc=fail header.from=cliente.test",
        ];
        assert_eq!(
            v(&forged_then_ours, "cliente.test"),
            AuthVerdict::Fail("dmarc=fail".into())
        );
    }

    #[test]
    fn none_and_garbage_fail() {
        assert_eq!(
            v(&["mx.soporte.test; none"], "cliente.test"),
            AuthVerdict::Fail("no results".into())
        );
        assert_eq!(v(&[], "cliente.test"), AuthVerdict::Missing);
    }
    fn ours(headers: &[&str], from: &str) -> AuthVerdict {
        let results: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        verdict(&results, "mx.example.test", from)
    }

    fn fails(verdict: AuthVerdict) -> bool {
        matches!(verdict, AuthVerdict::Fail(_) | AuthVerdict::Missing)
    }

    #[test]
    fn a_fail_in_our_headers_beats_a_pass_further_down() {
        let stacked = [
            "mx.example.test; dmarc=fail header.from=example.test",
            "mx.example.test; dmarc=pass header.from=example.test",
        ];
        assert!(fails(ours(&stacked, "example.test")));
        let below_a_foreign_one = [
            "mx.example.test; spf=none",
            "relay.evil.test; spf=pass",
            "mx.example.test; dmarc=pass header.from=example.test",
        ];
        assert!(fails(ours(&below_a_foreign_one, "example.test")));
    }

    #[test]
    fn an_unreadable_header_ends_the_trusted_run() {
        for unreadable in ["", "(only a comment)", "; dmarc=pass"] {
            let headers = [
                "mx.example.test; spf=none",
                unreadable,
                "mx.example.test; dmarc=pass header.from=example.test",
            ];
            assert!(fails(ours(&headers, "example.test")), "{unreadable:?}");
        }
    }

    #[test]
    fn dmarc_must_name_the_from_domain() {
        let other = ["mx.example.test; dmarc=pass header.from=evil.test"];
        assert!(fails(ours(&other, "example.test")));
        let unnamed = ["mx.example.test; dmarc=pass"];
        assert!(fails(ours(&unnamed, "example.test")));
        let named = ["mx.example.test; dmarc=pass header.from=Example.TEST"];
        assert_eq!(ours(&named, "example.test"), AuthVerdict::Pass("dmarc"));
    }

    #[test]
    fn separators_inside_quotes_and_comments_are_not_separators() {
        let quoted = [r#"mx.example.test; spf=fail smtp.mailfrom="x; dmarc=pass "@evil.test"#];
        assert!(fails(ours(&quoted, "example.test")));
        let commented =
            ["mx.example.test; spf=fail (x; (nested; dmarc=pass) ) smtp.mailfrom=evil.test"];
        assert!(fails(ours(&commented, "example.test")));
        let escaped = [r#"mx.example.test; spf=fail smtp.mailfrom="a\"; dmarc=pass"@evil.test"#];
        assert!(fails(ours(&escaped, "example.test")));
    }

    #[test]
    fn alignment_is_by_organizational_domain() {
        let bare = ["mx.example.test; dkim=pass header.d=test"];
        assert!(fails(ours(&bare, "example.test")));
        let suffix = ["mx.example.test; dkim=pass header.d=co.uk"];
        assert!(fails(ours(&suffix, "cliente.co.uk")));
        let sibling = ["mx.example.test; spf=pass smtp.mailfrom=a@otro.co.uk"];
        assert!(fails(ours(&sibling, "cliente.co.uk")));
        let sub = ["mx.example.test; dkim=pass header.d=mail.cliente.co.uk"];
        assert_eq!(ours(&sub, "cliente.co.uk"), AuthVerdict::Pass("dkim"));
        let versioned = ["mx.example.test 1; dkim/1=pass (ok) reason=\"x\" header.d=example.test"];
        assert_eq!(ours(&versioned, "example.test"), AuthVerdict::Pass("dkim"));
    }
}
