//! Opening an authenticated IMAP session: plaintext, STARTTLS or implicit TLS.

use std::fmt::Debug;
use std::time::Duration;

use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::config::{AuthMethod, ImapConfig, Security};
use crate::deadline::{Deadline, DeadlineHandle};
use crate::oauth2::{AccessToken, OAuthError, TokenSource};

/// Any byte stream an IMAP session can run over.
pub trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapIo for T {}

pub type ImapSession = Session<Box<dyn ImapIo>>;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach {0}: {1}")]
    Network(String, std::io::Error),
    #[error("timed out connecting to {0}")]
    Timeout(String),
    #[error("TLS with {0}: {1}")]
    Tls(String, String),
    #[error("IMAP greeting from {0}: {1}")]
    Greeting(String, String),
    #[error("login as {0} refused: {1}")]
    Login(String, String),
    #[error("OAuth2: {0}")]
    Token(#[from] OAuthError),
}

impl ConnectError {
    /// A wrong password or certificate is not fixed by waiting; an outage is.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ConnectError::Login(..) | ConnectError::Tls(..))
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A session logged in with the configured password.
pub async fn connect(config: &ImapConfig) -> Result<ImapSession, ConnectError> {
    Ok(connect_with_deadline(config, None).await?.0)
}

/// A session whose every read and write fails after `imap.timeout` without progress, and
/// the handle that pauses that limit (for IDLE). `tokens` logs in when `imap.auth` is
/// `"oauth2"`.
pub async fn connect_with_deadline(
    config: &ImapConfig,
    tokens: Option<&TokenSource>,
) -> Result<(ImapSession, DeadlineHandle), ConnectError> {
    tokio::time::timeout(CONNECT_TIMEOUT, connect_inner(config, tokens))
        .await
        .map_err(|_| ConnectError::Timeout(endpoint(config)))?
}

fn endpoint(config: &ImapConfig) -> String {
    format!("{}:{}", config.host, config.port)
}

async fn connect_inner(
    config: &ImapConfig,
    tokens: Option<&TokenSource>,
) -> Result<(ImapSession, DeadlineHandle), ConnectError> {
    let where_ = endpoint(config);
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|e| ConnectError::Network(where_.clone(), e))?;
    let _ = tcp.set_nodelay(true);
    let tcp = Deadline::new(tcp, config.timeout);
    let deadline = tcp.handle();
    let client: Client<Box<dyn ImapIo>> = match config.security {
        Security::Tls => {
            let tls = wrap_tls(config, tcp).await?;
            let mut client = Client::new(tls);
            read_greeting(&mut client, &where_).await?;
            client
        }
        Security::Starttls => {
            let mut plain = Client::new(tcp);
            read_greeting(&mut plain, &where_).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ConnectError::Tls(where_.clone(), format!("STARTTLS refused: {e}")))?;
            let tls = wrap_tls(config, plain.into_inner()).await?;
            Client::new(tls)
        }
        Security::None => {
            let mut client: Client<Box<dyn ImapIo>> = Client::new(Box::new(tcp));
            read_greeting(&mut client, &where_).await?;
            client
        }
    };
    let refused = |e: async_imap::error::Error| match e {
        // A stalled server is an outage, not a refusal.
        async_imap::error::Error::Io(e) => ConnectError::Network(where_.clone(), e),
        e => ConnectError::Login(config.username.clone(), e.to_string()),
    };
    let session = match (config.auth, tokens) {
        (AuthMethod::Password, _) => client
            .login(&config.username, config.password.expose())
            .await
            .map_err(|(e, _)| refused(e))?,
        (AuthMethod::OAuth2, Some(tokens)) => oauth2_login(client, tokens, refused).await?,
        (AuthMethod::OAuth2, None) => {
            return Err(ConnectError::Login(
                config.username.clone(),
                "imap.auth is oauth2 but no OAuth2 login was set up".into(),
            ))
        }
    };
    Ok((session, deadline))
}

/// AUTHENTICATE XOAUTH2 with the access token in hand; when the server refuses it (revoked,
/// or expired early), once more on the same connection with a fresh one.
async fn oauth2_login(
    client: Client<Box<dyn ImapIo>>,
    tokens: &TokenSource,
    refused: impl Fn(async_imap::error::Error) -> ConnectError,
) -> Result<ImapSession, ConnectError> {
    let token = tokens.access_token().await?;
    match authenticate(client, tokens, &token).await {
        Ok(session) => Ok(session),
        Err((async_imap::error::Error::No(_), client)) => {
            tokens.refused(&token).await;
            let fresh = tokens.access_token().await?;
            authenticate(client, tokens, &fresh)
                .await
                .map_err(|(e, _)| refused(e))
        }
        Err((e, _)) => Err(refused(e)),
    }
}

async fn authenticate(
    client: Client<Box<dyn ImapIo>>,
    tokens: &TokenSource,
    token: &AccessToken,
) -> Result<ImapSession, (async_imap::error::Error, Client<Box<dyn ImapIo>>)> {
    let sasl = XOAuth2 {
        response: Some(crate::oauth2::xoauth2_response(tokens.account(), token)),
    };
    client.authenticate("XOAUTH2", sasl).await
}

/// The XOAUTH2 exchange: the initial response, then (after a refusal the server explains
/// in a JSON challenge) the empty line that ends it.
struct XOAuth2 {
    response: Option<String>,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        self.response.take().unwrap_or_default()
    }
}

async fn read_greeting<T: ImapIo>(
    client: &mut Client<T>,
    where_: &str,
) -> Result<(), ConnectError> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ConnectError::Greeting(
            where_.into(),
            "connection closed".into(),
        )),
        Err(e) => Err(ConnectError::Greeting(where_.into(), e.to_string())),
    }
}

async fn wrap_tls(
    config: &ImapConfig,
    tcp: Deadline<TcpStream>,
) -> Result<Box<dyn ImapIo>, ConnectError> {
    let where_ = endpoint(config);
    let tls_config = crate::tls::client_config(config.ca_file.as_deref())
        .map_err(|e| ConnectError::Tls(where_.clone(), e))?;
    let name = ServerName::try_from(config.host.clone())
        .map_err(|e| ConnectError::Tls(where_.clone(), e.to_string()))?;
    let stream = TlsConnector::from(tls_config)
        .connect(name, tcp)
        .await
        .map_err(|e| ConnectError::Tls(where_, e.to_string()))?;
    Ok(Box::new(stream))
}
