//! A small OAuth2 authorization server on loopback, standing in for Microsoft's or Google's:
//! the device-code endpoint (RFC 8628), the authorization endpoint of the browser flow
//! (RFC 6749 4.1, PKCE S256 required as Google requires it of installed apps), the token
//! endpoint (device code, authorization code and refresh grants,
//! rotating the refresh token each time) and token introspection (RFC 7662), which the
//! real Dovecot under test calls to validate every XOAUTH2 login. A tiny HTTP/1.1 handler
//! on tokio: one request per connection, answered with `Connection: close`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server saw, for the tests' assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A refresh grant: accepted, or refused (revoked or unknown token).
    Refresh {
        accepted: bool,
    },
    /// Dovecot asked about an access token: active or not.
    Introspection {
        active: bool,
    },
    DeviceCode {
        client_id: String,
        scope: String,
    },
    /// The browser came to the authorization endpoint.
    Authorize {
        client_id: String,
        scope: String,
    },
    /// A code exchanged: accepted, or refused (a wrong PKCE verifier or redirect).
    CodeExchange {
        accepted: bool,
    },
}

/// An authorization code given out: for whom, the PKCE challenge and the redirect it was
/// issued for.
struct Grant {
    account: String,
    challenge: String,
    redirect: String,
}

#[derive(Default)]
struct State {
    /// Issued access tokens: whose, and until when they are good.
    access: HashMap<String, (String, Instant)>,
    /// Refresh tokens still good, and whose.
    refresh: HashMap<String, String>,
    /// Device codes: (user code, approved by this account).
    devices: HashMap<String, (String, Option<String>)>,
    /// Who signs in at the authorization endpoint next (the person at the browser).
    signing_in: Option<String>,
    codes: HashMap<String, Grant>,
    seen: Vec<(Instant, Seen)>,
    serial: u64,
}

#[derive(Clone)]
pub struct OAuthServer {
    pub port: u16,
    lifetime: Duration,
    state: Arc<Mutex<State>>,
}

impl OAuthServer {
    /// Access tokens it issues live `lifetime`.
    pub async fn start(lifetime: Duration) -> OAuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = OAuthServer {
            port: listener.local_addr().unwrap().port(),
            lifetime,
            state: Arc::default(),
        };
        let this = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let this = this.clone();
                tokio::spawn(async move { this.serve(stream).await });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The person signs in on the verification page and types `user_code`.
    pub fn approve(&self, user_code: &str, account: &str) {
        let mut state = self.state.lock().unwrap();
        let device = state
            .devices
            .values_mut()
            .find(|(code, _)| code == user_code)
            .expect("a user code the server gave out");
        device.1 = Some(account.to_string());
    }

    /// The person at the browser will sign in as `account` at the authorization endpoint.
    pub fn sign_in_as(&self, account: &str) {
        self.state.lock().unwrap().signing_in = Some(account.to_string());
    }

    /// The admin revokes the app's consent (or the password changed): every refresh token
    /// dies; access tokens already issued live on until they expire, as at Microsoft.
    pub fn revoke_refresh_tokens(&self) {
        self.state.lock().unwrap().refresh.clear();
    }

    /// Access tokens end early (a provider may revoke them): the next login is refused.
    pub fn revoke_access_tokens(&self) {
        self.state.lock().unwrap().access.clear();
    }

    pub fn seen(&self) -> Vec<(Instant, Seen)> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn count(&self, what: &Seen) -> usize {
        self.seen().iter().filter(|(_, s)| s == what).count()
    }

    async fn serve(&self, mut stream: TcpStream) {
        let Some((path, body)) = read_request(&mut stream).await else {
            return;
        };
        if let Some(query) = path.strip_prefix("/authorize?") {
            let response = self.authorize(&parse_form(query));
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
            return;
        }
        let form = parse_form(&body);
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        let (status, json) = match path.as_str() {
            "/device" => self.device(field("client_id"), field("scope")),
            "/token" => self.token(&field("grant_type"), &form),
            "/introspect" => self.introspect(&field("token")),
            _ => (404, r#"{"error":"not_found"}"#.to_string()),
        };
        let reason = if status == 200 { "OK" } else { "Bad Request" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    fn device(&self, client_id: String, scope: String) -> (u16, String) {
        let mut state = self.state.lock().unwrap();
        state.serial += 1;
        let (device_code, user_code) = (
            format!("dc-{}", state.serial),
            format!("CODE-{:04}", state.serial),
        );
        state
            .devices
            .insert(device_code.clone(), (user_code.clone(), None));
        state
            .seen
            .push((Instant::now(), Seen::DeviceCode { client_id, scope }));
        let verify = self.url("/verify");
        (
            200,
            format!(
                r#"{{"device_code":"{device_code}","user_code":"{user_code}","verification_uri":"{verify}","expires_in":600,"interval":1}}"#
            ),
        )
    }

    /// The sign-in page: the person signs in (as `sign_in_as` said) and the browser is sent
    /// back to the client's loopback address with a code, or with an error.
    fn authorize(&self, query: &HashMap<String, String>) -> String {
        let mut state = self.state.lock().unwrap();
        let key = |k: &str| query.get(k).cloned().unwrap_or_default();
        state.seen.push((
            Instant::now(),
            Seen::Authorize {
                client_id: key("client_id"),
                scope: key("scope"),
            },
        ));
        let redirect = key("redirect_uri");
        let back = match (
            state.signing_in.clone(),
            key("code_challenge_method").as_str(),
        ) {
            (Some(account), "S256") if redirect.starts_with("http://127.0.0.1:") => {
                state.serial += 1;
                let code = format!("ac-{}-{:016x}", state.serial, fastrand::u64(..));
                let challenge = key("code_challenge");
                state.codes.insert(
                    code.clone(),
                    Grant {
                        account,
                        challenge,
                        redirect: redirect.clone(),
                    },
                );
                format!("code={code}")
            }
            (None, _) => "error=access_denied".to_string(),
            _ => "error=invalid_request".to_string(),
        };
        let state_param = urlencode(&key("state"));
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {redirect}?{back}&state={state_param}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    }

    /// RFC 7636 4.6: the verifier must hash to the challenge, and the redirect must be the
    /// one the code was issued for.
    fn exchange_code(state: &mut State, form: &HashMap<String, String>) -> Option<String> {
        let key = |k: &str| form.get(k).cloned().unwrap_or_default();
        let grant = state.codes.remove(&key("code"))?;
        let digest = sha2::Sha256::digest(key("code_verifier").as_bytes());
        let hashed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        (hashed == grant.challenge && key("redirect_uri") == grant.redirect)
            .then_some(grant.account)
    }

    fn token(&self, grant: &str, form: &HashMap<String, String>) -> (u16, String) {
        let mut state = self.state.lock().unwrap();
        let key = |k: &str| form.get(k).cloned().unwrap_or_default();
        let account = match grant {
            "urn:ietf:params:oauth:grant-type:device_code" => {
                match state.devices.get(&key("device_code")) {
                    Some((_, Some(account))) => account.clone(),
                    Some((_, None)) => return error("authorization_pending"),
                    None => return error("invalid_grant"),
                }
            }
            "authorization_code" => {
                let account = Self::exchange_code(&mut state, form);
                let accepted = account.is_some();
                state
                    .seen
                    .push((Instant::now(), Seen::CodeExchange { accepted }));
                match account {
                    Some(account) => account,
                    None => return error("invalid_grant"),
                }
            }
            "refresh_token" => {
                // Rotation: a refresh token is good for one refresh only.
                let account = state.refresh.remove(&key("refresh_token"));
                let accepted = account.is_some();
                state
                    .seen
                    .push((Instant::now(), Seen::Refresh { accepted }));
                match account {
                    Some(account) => account,
                    None => return error("invalid_grant"),
                }
            }
            _ => return error("unsupported_grant_type"),
        };
        state.serial += 1;
        let access = format!("at-{}-{:016x}", state.serial, fastrand::u64(..));
        let refresh = format!("rt-{}-{:016x}", state.serial, fastrand::u64(..));
        let expires = Instant::now() + self.lifetime;
        state
            .access
            .insert(access.clone(), (account.clone(), expires));
        state.refresh.insert(refresh.clone(), account);
        (
            200,
            format!(
                r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":{},"refresh_token":"{refresh}"}}"#,
                self.lifetime.as_secs()
            ),
        )
    }

    fn introspect(&self, token: &str) -> (u16, String) {
        let mut state = self.state.lock().unwrap();
        let owner = state
            .access
            .get(token)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(account, _)| account.clone());
        state.seen.push((
            Instant::now(),
            Seen::Introspection {
                active: owner.is_some(),
            },
        ));
        match owner {
            Some(account) => (
                200,
                format!(r#"{{"active":"true","username":"{account}"}}"#),
            ),
            None => (200, r#"{"active":"false"}"#.to_string()),
        }
    }
}

fn error(code: &str) -> (u16, String) {
    (400, format!(r#"{{"error":"{code}"}}"#))
}

/// The path and body of one request (Content-Length bodies only, as every client here
/// sends).
async fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    Some((path, body))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// application/x-www-form-urlencoded, decoded.
fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}
