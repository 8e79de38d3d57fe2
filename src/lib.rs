//! buzon: a support-case desk whose whole interface is email.
//!
//! The code follows the journey of a mail, one module a stage:
//!
//! ```text
//! fetch    IMAP: connect, IDLE/poll, UID cursor; stores raw mail, commits  (I/O)
//! parse    bytes -> InboundMessage                                          (pure)
//! classify new case / stranger / automatic mail                             (pure)
//! apply    case, history, attachments, outbox rows: one transaction         (store)
//! compose  templates + MIME -> the exact bytes of each outgoing mail         (pure)
//! send     outbox -> SMTP, leases, retries with backoff                     (I/O)
//! ```
//!
//! `oauth2` gives `fetch` and `send` their access tokens when the mailbox logs in with OAuth2
//! (XOAUTH2), refreshing them from the sealed refresh token `buzon auth login` stored.
//!
//! Stages hand work to each other as committed database rows, so a crash at any instant
//! loses nothing. Only `fetch` imports async-imap, only `send` imports lettre, only `store`
//! speaks SQL, and only `parse` knows mail-parser.

pub mod apply;
pub mod auth;
pub mod backoff;
pub mod blobs;
pub mod classify;
pub mod cli;
pub mod commands;
pub mod compose;
pub mod config;
pub mod crash;
pub mod daemon;
pub mod deadline;
pub mod domain;
pub mod fetch;
pub mod health;
pub mod import;
pub mod logging;
pub mod oauth2;
pub mod parse;
pub mod private_files;
pub mod quotes;
pub mod requests;
pub mod schedule;
pub mod send;
pub mod sla;
pub mod store;
pub mod text;
pub mod thread;
pub mod tls;
