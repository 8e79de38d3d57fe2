//! buzon's integration tests, one binary: real Dovecot + Postfix, real SQLite and
//! PostgreSQL. See support.rs for the harness.

mod cli;
mod conversation;
mod crash_only;
mod durability;
mod guards;
mod hostile;
mod new_case;
mod self_service;
mod store;
mod support;
