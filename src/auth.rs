//! Is the sender who the From header says? Read from the `Authentication-Results` headers
//! (RFC 8601) that our own receiving server wrote — identified by its authserv-id, since
//! anyone can add such a header before the mail reaches us. Pure.

/// The outcome for one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// DMARC passed, or SPF or DKIM passed for a domain aligned with From.
    Pass(&'static str),
    /// Our server checked and nothing aligned passed.
    Fail(String),
    /// Our server wrote no results.
    Missing,
}

pub fn verdict(results: &[String], authserv_id: &str, from_domain: &str) -> AuthVerdict {
    let ours: Vec<&str> = results
        .iter()
        .filter(|r| server_of(r).eq_ignore_ascii_case(authserv_id))
        .map(String::as_str)
        .collect();
    if ours.is_empty() {
        return AuthVerdict::Missing;
    }
    let mut seen = Vec::new();
    for header in &ours {
        for method in header.split(';').skip(1) {
            let method = method.trim();
            let Some((name, rest)) = method.split_once('=') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let result = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            seen.push(format!("{name}={result}"));
            if result != "pass" {
                continue;
            }
            match name.as_str() {
                "dmarc" => return AuthVerdict::Pass("dmarc"),
                "spf"
                    if property(method, "smtp.mailfrom")
                        .is_some_and(|d| aligned(&d, from_domain)) =>
                {
                    return AuthVerdict::Pass("spf")
                }
                "dkim"
                    if property(method, "header.d")
                        .or_else(|| property(method, "header.i"))
                        .is_some_and(|d| aligned(&d, from_domain)) =>
                {
                    return AuthVerdict::Pass("dkim")
                }
                _ => {}
            }
        }
    }
    AuthVerdict::Fail(if seen.is_empty() {
        "no results".into()
    } else {
        seen.join(" ")
    })
}

/// The authserv-id: the first token, before any version number and the first `;`.
fn server_of(header: &str) -> &str {
    header
        .split(';')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("")
}

/// The domain in `ptype.property=value` (an address's domain, or the value itself).
fn property(method: &str, key: &str) -> Option<String> {
    method.split_whitespace().find_map(|token| {
        let (k, v) = token.split_once('=')?;
        k.eq_ignore_ascii_case(key).then(|| {
            let v = v.trim_matches(|c| c == '"' || c == ';' || c == '<' || c == '>');
            v.rsplit('@').next().unwrap_or(v).to_ascii_lowercase()
        })
    })
}

/// Relaxed alignment: the same domain, or one a subdomain of the other.
fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
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
            v(&["MX.soporte.test 1; spf=fail; dmarc=pass"], "cliente.test"),
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
}
