//! OAuth1 consumers (`/v3/OS-OAUTH1/consumers`): the applications that may
//! ask users for delegated access. A consumer's secret is generated here and
//! shown once, in the answer to its creation.
//!
//! Left out: the OAuth1 flow itself (request tokens, authorization, access
//! tokens and the `oauth1` authentication method). The consumer store is what
//! tempest and the clients' admin commands use; the flow would need an
//! OAuth1 signature implementation and three more tables, and Keystone has
//! deprecated it in favour of application credentials.

use crate::Identity;
use crate::db::oauth::{self, ConsumerRow};
use crate::error::{IdentityError, Result, on_conflict};

/// A fresh consumer secret: 32 hexadecimal digits, as Keystone's
/// `uuid4().hex`, from the operating system's generator.
pub fn new_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Identity {
    pub async fn list_consumers(&self) -> Result<Vec<ConsumerRow>> {
        Ok(oauth::list(&self.db).await?)
    }

    pub async fn get_consumer(&self, id: &str) -> Result<ConsumerRow> {
        oauth::get(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("consumer", id))
    }

    /// Stores a new consumer; its secret is set here.
    pub async fn create_consumer(&self, mut c: ConsumerRow) -> Result<ConsumerRow> {
        c.secret = new_secret();
        oauth::insert(&self.db, &c)
            .await
            .map_err(on_conflict("consumer", format_args!("id {}", c.id)))?;
        Ok(c)
    }

    /// Stores a consumer's description and extras (the secret is kept).
    pub async fn update_consumer(&self, c: ConsumerRow) -> Result<ConsumerRow> {
        if !oauth::update(&self.db, &c).await? {
            return Err(IdentityError::not_found("consumer", c.id));
        }
        Ok(c)
    }

    pub async fn delete_consumer(&self, id: &str) -> Result<()> {
        if !oauth::delete(&self.db, id).await? {
            return Err(IdentityError::not_found("consumer", id));
        }
        Ok(())
    }
}
