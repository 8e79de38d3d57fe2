//! buzon's integration tests, one binary: real Dovecot + Postfix, real SQLite and
//! PostgreSQL. See support.rs for the harness.

mod answers;
mod answers_cli;
mod cli;
mod conversation;
mod crash_only;
mod customer_mail;
mod durability;
mod fanout;
mod forgery;
mod guards;
mod health;
mod hostile;
mod new_case;
mod open_internet;
mod secrets;
mod self_service;
mod service;
mod stalls;
mod store;
mod support;
