//! buzon's integration tests, one binary: real Dovecot + Postfix, real SQLite and
//! PostgreSQL. See support.rs for the harness.

mod agent_commands;
mod agent_desk;
mod agent_html;
mod answers;
mod answers_cli;
mod blobs;
mod cli;
mod cluster;
mod conversation;
mod crash_only;
mod customer_mail;
mod damaged;
mod digest;
mod durability;
mod fanout;
mod forgery;
mod guards;
mod health;
mod hostile;
/// Hostile mail, generated: shared with the benchmarks and the parser's unit tests.
#[path = "../fixtures/hostile.rs"]
#[allow(dead_code)]
mod hostile_mail;
mod mailboxes;
mod new_case;
mod oauth2;
mod oauth_server;
mod open_internet;
mod reminder_storm;
mod scheduler;
mod secrets;
mod self_service;
mod service;
mod stalls;
mod store;
mod support;
