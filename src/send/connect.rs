//! Opening an authenticated SMTP connection of our own (TCP_NODELAY, a read/write
//! timeout under TLS) for lettre to drive: plaintext, STARTTLS or implicit TLS.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::commands::Ehlo;
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

use super::{SendError, CONNECT_TIMEOUT};
use crate::config::{AuthMethod, Security, SmtpConfig};
use crate::deadline::Deadline;
use crate::oauth2::TokenSource;

/// An SMTP connection logged in with the configured password (if any), ready for MAIL FROM.
pub async fn open(
    config: &SmtpConfig,
    hello_domain: &str,
) -> Result<AsyncSmtpConnection, SendError> {
    Ok(connect(config, hello_domain).await?.0)
}

/// An SMTP connection logged in with the configured password (if any), and whether the
/// server announced PIPELINING.
pub async fn connect(
    config: &SmtpConfig,
    hello_domain: &str,
) -> Result<(AsyncSmtpConnection, bool), SendError> {
    connect_with(config, hello_domain, None).await
}

/// [`connect`], logging in with an OAuth2 access token from `tokens` when `smtp.auth` is
/// `"oauth2"`. A refused token is refreshed and tried once more, on a new connection
/// (after a failed AUTH the SMTP dialogue is in no state to go on).
pub async fn connect_with(
    config: &SmtpConfig,
    hello_domain: &str,
    tokens: Option<&TokenSource>,
) -> Result<(AsyncSmtpConnection, bool), SendError> {
    match connect_once(config, hello_domain, tokens).await {
        Err(SendError::LoginRefused(..)) if tokens.is_some() => {
            connect_once(config, hello_domain, tokens).await
        }
        result => result,
    }
}

async fn connect_once(
    config: &SmtpConfig,
    hello_domain: &str,
    tokens: Option<&TokenSource>,
) -> Result<(AsyncSmtpConnection, bool), SendError> {
    let where_ = format!("{}:{}", config.host, config.port);
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((config.host.as_str(), config.port)),
    )
    .await
    .map_err(|_| SendError::Network(where_.clone(), io::ErrorKind::TimedOut.into()))?
    .map_err(|e| SendError::Network(where_.clone(), e))?;
    tcp.set_nodelay(true)
        .map_err(|e| SendError::Network(where_.clone(), e))?;
    // Every read and write of the session, TLS handshake included, within smtp.timeout.
    let tcp = Deadline::new(tcp, config.timeout);
    let hello = ClientId::Domain(hello_domain.to_string());
    let stream: Box<dyn AsyncTokioStream> = match config.security {
        Security::Tls => Box::new(implicit_tls(config, tcp).await?),
        _ => Box::new(tcp),
    };
    let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &hello).await?;
    if config.security == Security::Starttls {
        conn.starttls(starttls_parameters(config)?, &hello).await?;
    }
    // lettre keeps only the extensions it uses: ask once more, before AUTH, to learn
    // whether the server pipelines.
    let pipelining = conn
        .command(Ehlo::new(hello))
        .await?
        .message()
        .any(|line| line.eq_ignore_ascii_case("PIPELINING"));
    match (config.auth, tokens) {
        (AuthMethod::OAuth2, Some(tokens)) => xoauth2(&mut conn, tokens).await?,
        (AuthMethod::OAuth2, None) => {
            return Err(SendError::Invalid(
                "smtp.auth is oauth2 but no OAuth2 login was set up".into(),
            ))
        }
        (AuthMethod::Password, _) => {
            if let (Some(user), Some(password)) = (&config.username, &config.password) {
                let credentials = Credentials::new(user.clone(), password.expose().to_string());
                conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                    .await
                    .map_err(|e| SendError::LoginRefused(user.clone(), e.to_string()))?;
            }
        }
    }
    Ok((conn, pipelining))
}

/// AUTH XOAUTH2 (lettre's mechanism) with the access token in hand. A server that refuses
/// the token answers with a JSON challenge that lettre reports as a client error: either
/// way the token source hears of it and refreshes next time.
async fn xoauth2(conn: &mut AsyncSmtpConnection, tokens: &TokenSource) -> Result<(), SendError> {
    let token = tokens
        .access_token()
        .await
        .map_err(|e| SendError::Token(e.to_string()))?;
    let credentials = Credentials::new(tokens.account().to_string(), token.expose().to_string());
    match conn.auth(&[Mechanism::Xoauth2], &credentials).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() || e.is_client() => {
            tokens.refused(&token).await;
            Err(SendError::LoginRefused(
                tokens.account().to_string(),
                e.to_string(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

fn starttls_parameters(config: &SmtpConfig) -> Result<TlsParameters, SendError> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem =
            std::fs::read(path).map_err(|e| SendError::Tls(format!("{}: {e}", path.display())))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| SendError::Tls(e.to_string()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| SendError::Tls(e.to_string()))
}

async fn implicit_tls(config: &SmtpConfig, tcp: Deadline<TcpStream>) -> Result<TlsTcp, SendError> {
    let tls = crate::tls::client_config(config.ca_file.as_deref()).map_err(SendError::Tls)?;
    let name =
        ServerName::try_from(config.host.clone()).map_err(|e| SendError::Tls(e.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| SendError::Tls(e.to_string()))?;
    Ok(TlsTcp(stream))
}

/// A TLS stream lettre can drive, so implicit TLS keeps TCP_NODELAY too.
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<Deadline<TcpStream>>);

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.get_ref().peer_addr()
    }
}

impl AsyncTokioStream for Deadline<TcpStream> {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.get_ref().peer_addr()
    }
}

impl AsyncRead for TlsTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
