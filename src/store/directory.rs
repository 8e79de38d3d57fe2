//! Who may write: customers, their organisations (whole domains) and agents.

use serde::Serialize;

use super::{get, now_ms, Result, Store, StoreError};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CustomerRow {
    pub email: String,
    pub name: Option<String>,
    pub org_domain: Option<String>,
    pub language: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrgRow {
    pub domain: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgentRow {
    pub email: String,
    pub name: Option<String>,
}

pub(super) fn customer_row(r: &sqlx::any::AnyRow) -> Result<CustomerRow> {
    Ok(CustomerRow {
        email: get(r, "email")?,
        name: get(r, "name")?,
        org_domain: get(r, "org_domain")?,
        language: get(r, "language")?,
    })
}

impl Store {
    pub async fn add_customer(&self, c: &CustomerRow) -> Result<()> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "INSERT INTO customers (email, name, org_domain, language, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&c.email)
        .bind(c.name.clone())
        .bind(c.org_domain.clone())
        .bind(c.language.clone())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!(
                "customer {} already exists",
                c.email
            )));
        }
        Ok(())
    }

    /// Change the fields given (`Some`), keep the others.
    pub async fn edit_customer(
        &self,
        email: &str,
        name: Option<&str>,
        org_domain: Option<&str>,
        language: Option<&str>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE customers SET name = COALESCE($1, name), org_domain = COALESCE($2, org_domain),
                                  language = COALESCE($3, language)
             WHERE email = $4",
        )
        .bind(name)
        .bind(org_domain)
        .bind(language)
        .bind(email)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("no customer {email}")));
        }
        Ok(())
    }

    pub(crate) async fn customers(&self) -> Result<Vec<CustomerRow>> {
        let rows =
            sqlx::query("SELECT email, name, org_domain, language FROM customers ORDER BY email")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(customer_row).collect()
    }

    pub async fn customer(&self, email: &str) -> Result<Option<CustomerRow>> {
        customer(&self.pool, email).await
    }

    pub async fn remove_customer(&self, email: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query("DELETE FROM customers WHERE email = $1")
            .bind(email)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn add_org(&self, domain: &str, name: Option<&str>) -> Result<()> {
        let _turn = self.write_turn().await;
        let done = sqlx::query("INSERT INTO organizations (domain, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (domain) DO NOTHING")
            .bind(domain)
            .bind(name)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!(
                "organisation {domain} already exists"
            )));
        }
        Ok(())
    }

    pub(crate) async fn orgs(&self) -> Result<Vec<OrgRow>> {
        let rows = sqlx::query("SELECT domain, name FROM organizations ORDER BY domain")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OrgRow {
                    domain: get(r, "domain")?,
                    name: get(r, "name")?,
                })
            })
            .collect()
    }

    pub async fn remove_org(&self, domain: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query("DELETE FROM organizations WHERE domain = $1")
            .bind(domain)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn add_agent(&self, email: &str, name: Option<&str>) -> Result<()> {
        let _turn = self.write_turn().await;
        let done = sqlx::query("INSERT INTO agents (email, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING")
            .bind(email)
            .bind(name)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Invalid(format!("agent {email} already exists")));
        }
        Ok(())
    }

    pub async fn agents(&self) -> Result<Vec<AgentRow>> {
        agents(&self.pool).await
    }

    pub async fn remove_agent(&self, email: &str) -> Result<bool> {
        let _turn = self.write_turn().await;
        let done = sqlx::query("DELETE FROM agents WHERE email = $1")
            .bind(email)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Registered customer, or at a registered organisation's domain.
    pub async fn is_provisioned(&self, email: &str) -> Result<bool> {
        Ok(self.customer(email).await?.is_some() || at_organisation(&self.pool, email).await?)
    }
}

/// Whether the address's domain is a registered organisation.
async fn at_organisation<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    email: &str,
) -> Result<bool> {
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let row = sqlx::query("SELECT 1 AS hit FROM organizations WHERE domain = $1")
        .bind(domain)
        .fetch_optional(e)
        .await?;
    Ok(row.is_some())
}

pub(super) async fn agents<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
) -> Result<Vec<AgentRow>> {
    let rows = sqlx::query("SELECT email, name FROM agents ORDER BY email")
        .fetch_all(e)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AgentRow {
                email: get(r, "email")?,
                name: get(r, "name")?,
            })
        })
        .collect()
}

pub(super) async fn customer<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    email: &str,
) -> Result<Option<CustomerRow>> {
    let row =
        sqlx::query("SELECT email, name, org_domain, language FROM customers WHERE email = $1")
            .bind(email)
            .fetch_optional(e)
            .await?;
    row.as_ref().map(customer_row).transpose()
}

impl super::ApplyTx {
    /// A customer's row, read once per batch (a profile change forgets it).
    pub async fn customer(&mut self, email: &str) -> Result<Option<CustomerRow>> {
        if let Some(known) = self.cache.customers.get(email) {
            return Ok(known.clone());
        }
        let read = customer(self.conn(), email).await?;
        self.cache.customers.insert(email.to_string(), read.clone());
        Ok(read)
    }

    /// A registered customer (the row the mail will need anyway), or at a registered
    /// organisation's domain.
    pub async fn is_provisioned(&mut self, email: &str) -> Result<bool> {
        Ok(self.customer(email).await?.is_some() || at_organisation(self.conn(), email).await?)
    }

    /// The organisation (its domain) an address belongs to: its customer row's
    /// `org_domain`, else its own domain when that is a registered organisation.
    pub async fn organisation_of(&mut self, email: &str) -> Result<Option<String>> {
        let row = self.customer(email).await?;
        if let Some(org) = row.and_then(|c| c.org_domain) {
            return Ok(Some(org.trim().trim_start_matches('@').to_lowercase()));
        }
        if at_organisation(self.conn(), email).await? {
            let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            return Ok(Some(domain.to_string()));
        }
        Ok(None)
    }

    pub async fn agents(&mut self) -> Result<Vec<AgentRow>> {
        if let Some(known) = &self.cache.agents {
            return Ok(known.clone());
        }
        let read = agents(self.conn()).await?;
        self.cache.agents = Some(read.clone());
        Ok(read)
    }
}
