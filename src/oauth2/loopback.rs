//! The loopback redirect of a browser sign-in (RFC 8252 section 7.3): buzon listens on
//! 127.0.0.1 for the one request the provider sends the browser back with. Nothing listens
//! beyond this machine and nothing outlives the login, so no public web server and no
//! registered web address are needed (FreeScout#4031's complaint). On a server without a
//! browser, `ssh -L PORT:127.0.0.1:PORT` carries the redirect from the admin's machine.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::OAuthError;

/// How long the admin has to sign in before `buzon auth login` gives up.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(600);

const PAGE: &str = "<!doctype html><meta charset=utf-8><title>buzon</title>\
<p>buzon received the answer of the sign-in. You can close this tab and go back to the terminal.</p>";

pub struct Loopback {
    listener: TcpListener,
    /// The redirect address to register and to send: `http://127.0.0.1:PORT/`.
    pub redirect: String,
    pub port: u16,
}

/// What the browser brought back: the provider's query parameters.
type Answer = HashMap<String, String>;

impl Loopback {
    /// Port 0 takes any free port (Google and Microsoft accept any port on loopback for
    /// installed/desktop clients); a fixed port suits an SSH tunnel.
    pub async fn bind(port: u16) -> Result<Loopback, OAuthError> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| OAuthError::Unreachable(format!("listening on 127.0.0.1:{port}: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| OAuthError::Unreachable(e.to_string()))?
            .port();
        Ok(Loopback {
            listener,
            redirect: format!("http://127.0.0.1:{port}/"),
            port,
        })
    }

    /// Waits for the redirect that carries `state` and returns its code. Requests with
    /// another state (a stale tab, a page forging one) are answered and ignored.
    pub async fn code(self, state: &str, timeout: Duration) -> Result<String, OAuthError> {
        let (tx, mut rx) = mpsc::channel::<Answer>(8);
        let app = Router::new().route("/", get(receive)).with_state(tx);
        let server = tokio::spawn(async move { axum::serve(self.listener, app).await });
        let waited = tokio::time::timeout(timeout, async {
            while let Some(answer) = rx.recv().await {
                if answer.get("state").map(String::as_str) == Some(state) {
                    return outcome(&answer);
                }
                tracing::warn!("a sign-in answer with another state was ignored");
            }
            Err(OAuthError::Unreachable(
                "the loopback listener stopped".into(),
            ))
        })
        .await;
        server.abort();
        waited.unwrap_or_else(|_| {
            Err(OAuthError::Refused(format!(
                "nobody signed in within {} minutes",
                timeout.as_secs() / 60
            )))
        })
    }
}

async fn receive(
    State(tx): State<mpsc::Sender<Answer>>,
    Query(answer): Query<Answer>,
) -> Html<&'static str> {
    let _ = tx.send(answer).await;
    Html(PAGE)
}

/// RFC 6749 section 4.1.2: a code, or an error the person or the provider chose.
fn outcome(answer: &Answer) -> Result<String, OAuthError> {
    if let Some(code) = answer.get("code").filter(|c| !c.is_empty()) {
        return Ok(code.clone());
    }
    let error = answer.get("error").map_or("no code", String::as_str);
    let detail = answer
        .get("error_description")
        .map(|d| format!(": {}", crate::text::single_line(d)))
        .unwrap_or_default();
    Err(OAuthError::Refused(format!("{error}{detail}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(pairs: &[(&str, &str)]) -> Answer {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_code_or_the_providers_refusal() {
        assert_eq!(
            outcome(&answer(&[("code", "c1"), ("state", "s")])),
            Ok("c1".into())
        );
        let refused = outcome(&answer(&[
            ("error", "access_denied"),
            ("error_description", "The user said no\nreally"),
        ]));
        assert!(
            matches!(&refused, Err(OAuthError::Refused(t)) if t.starts_with("access_denied: The user said no")),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn only_the_answer_with_our_state_counts() {
        let loopback = Loopback::bind(0).await.unwrap();
        let base = loopback.redirect.clone();
        let waiting =
            tokio::spawn(async move { loopback.code("ours", Duration::from_secs(10)).await });
        let http = reqwest::Client::new();
        for query in ["?state=forged&code=evil", "?state=ours&code=good"] {
            let page = http.get(format!("{base}{query}")).send().await.unwrap();
            assert_eq!(page.status(), 200);
        }
        assert_eq!(waiting.await.unwrap(), Ok("good".into()));
    }

    #[tokio::test]
    async fn nobody_signing_in_is_a_clear_error() {
        let loopback = Loopback::bind(0).await.unwrap();
        let err = loopback
            .code("s", Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nobody signed in"), "{err}");
    }
}
