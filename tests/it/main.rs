//! buzon's integration tests, one binary: real Dovecot + Postfix, real SQLite and
//! PostgreSQL. See support.rs for the harness.

mod answers;
mod answers_cli;
mod cli;
mod conversation;
mod durability;
mod forgery;
mod guards;
mod hostile;
mod new_case;
mod open_internet;
mod self_service;
mod store;
mod support;
