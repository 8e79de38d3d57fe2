//! Opening an authenticated IMAP session: plaintext, STARTTLS or implicit TLS.

use std::fmt::Debug;
use std::time::Duration;

use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::config::{ImapConfig, Security};
use crate::deadline::{Deadline, DeadlineHandle};

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
}

impl ConnectError {
    /// A wrong password or certificate is not fixed by waiting; an outage is.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ConnectError::Login(..) | ConnectError::Tls(..))
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn connect(config: &ImapConfig) -> Result<ImapSession, ConnectError> {
    Ok(connect_with_deadline(config).await?.0)
}

/// A session whose every read and write fails after `imap.timeout` without progress, and
/// the handle that pauses that limit (for IDLE).
pub async fn connect_with_deadline(
    config: &ImapConfig,
) -> Result<(ImapSession, DeadlineHandle), ConnectError> {
    tokio::time::timeout(CONNECT_TIMEOUT, connect_inner(config))
        .await
        .map_err(|_| ConnectError::Timeout(endpoint(config)))?
}

fn endpoint(config: &ImapConfig) -> String {
    format!("{}:{}", config.host, config.port)
}

async fn connect_inner(config: &ImapConfig) -> Result<(ImapSession, DeadlineHandle), ConnectError> {
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
    let session = client
        .login(&config.username, config.password.expose())
        .await
        .map_err(|(e, _)| match e {
            // A stalled server is an outage, not a refusal.
            async_imap::error::Error::Io(e) => ConnectError::Network(where_.clone(), e),
            e => ConnectError::Login(config.username.clone(), e.to_string()),
        })?;
    Ok((session, deadline))
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
