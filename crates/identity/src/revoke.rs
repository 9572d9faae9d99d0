//! Token revocation, as Keystone models it: an event names attributes
//! (a user, a project, a domain, an audit id, …) and a time; every token
//! issued no later than that time whose attributes match all of the named
//! ones is revoked. Events live in the database (a restart keeps them) and in
//! memory, where every validation — cached or not — is checked against them.

use std::sync::RwLock;

use store::Db;

use crate::db;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevokeEvent {
    pub id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    /// Matches the token's user domain, project domain or domain scope.
    pub domain_id: Option<String>,
    /// Matches the token's own audit id, or its audit chain (the audit id of
    /// the token it was rescoped from): revoking a token revokes its rescopes.
    pub audit_id: Option<String>,
    pub trust_id: Option<String>,
    pub role_id: Option<String>,
    pub application_credential_id: Option<String>,
    /// Seconds since the epoch; tokens issued at or before are revoked.
    pub issued_before: i64,
    pub revoked_at: i64,
}

/// What of a token revocation events are matched against.
#[derive(Clone, Debug, Default)]
pub struct TokenFacts<'a> {
    pub user_id: &'a str,
    pub user_domain_id: &'a str,
    pub project_id: Option<&'a str>,
    pub project_domain_id: Option<&'a str>,
    pub domain_id: Option<&'a str>,
    pub audit_ids: &'a [String],
    pub trust_id: Option<&'a str>,
    pub application_credential_id: Option<&'a str>,
    pub role_ids: &'a [String],
    pub issued_at: i64,
}

impl RevokeEvent {
    pub fn new(issued_before: i64) -> Self {
        RevokeEvent {
            id: uuid::Uuid::new_v4().simple().to_string(),
            issued_before,
            revoked_at: db::now(),
            ..Default::default()
        }
    }

    pub fn matches(&self, t: &TokenFacts<'_>) -> bool {
        fn eq(want: &Option<String>, have: Option<&str>) -> bool {
            want.as_deref().is_none_or(|w| have == Some(w))
        }
        if let Some(audit) = &self.audit_id {
            // A token's own audit id is unique to it, so time does not matter.
            return t.audit_ids.iter().any(|a| a == audit);
        }
        t.issued_at <= self.issued_before
            && eq(&self.user_id, Some(t.user_id))
            && eq(&self.project_id, t.project_id)
            && eq(&self.trust_id, t.trust_id)
            && eq(&self.application_credential_id, t.application_credential_id)
            && self.role_id.as_ref().is_none_or(|r| t.role_ids.contains(r))
            && self
                .domain_id
                .as_deref()
                .is_none_or(|d| t.user_domain_id == d || t.project_domain_id == Some(d) || t.domain_id == Some(d))
    }
}

/// The in-memory set of live events, loaded at start.
#[derive(Default)]
pub struct Revocations {
    events: RwLock<Vec<RevokeEvent>>,
}

impl Revocations {
    pub async fn load(db: &Db, max_token_age_secs: i64) -> Result<Self, store::sqlx::Error> {
        let since = db::now() - max_token_age_secs;
        Ok(Revocations {
            events: RwLock::new(db::revocations::all(db, since).await?),
        })
    }

    pub fn is_revoked(&self, t: &TokenFacts<'_>) -> bool {
        self.events
            .read()
            .expect("revocations lock")
            .iter()
            .any(|e| e.matches(t))
    }

    /// Records an event (database first, so nothing is only in memory).
    pub async fn add(&self, db: &Db, e: RevokeEvent) -> Result<(), store::StoreError> {
        db::revocations::insert(db, &e).await?;
        self.events.write().expect("revocations lock").push(e);
        Ok(())
    }

    /// Forgets events older than any live token.
    pub async fn prune(&self, db: &Db, max_token_age_secs: i64) -> Result<(), store::StoreError> {
        let before = db::now() - max_token_age_secs;
        db::revocations::prune(db, before).await?;
        self.events
            .write()
            .expect("revocations lock")
            .retain(|e| e.revoked_at >= before);
        Ok(())
    }

    pub fn snapshot(&self) -> Vec<RevokeEvent> {
        self.events.read().expect("revocations lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(audit: &'a [String]) -> TokenFacts<'a> {
        TokenFacts {
            user_id: "u",
            user_domain_id: "default",
            project_id: Some("p"),
            project_domain_id: Some("d2"),
            audit_ids: audit,
            issued_at: 100,
            ..Default::default()
        }
    }

    #[test]
    fn events_match_on_every_named_attribute() {
        let audit = vec!["a1".to_string()];
        let t = facts(&audit);
        let mut e = RevokeEvent::new(100);
        e.user_id = Some("u".into());
        assert!(e.matches(&t));
        e.project_id = Some("other".into());
        assert!(!e.matches(&t), "project differs");
        let mut e = RevokeEvent::new(99);
        e.user_id = Some("u".into());
        assert!(!e.matches(&t), "token issued after the event");
        let mut e = RevokeEvent::new(0);
        e.audit_id = Some("a1".into());
        assert!(e.matches(&t), "audit ids match regardless of time");
        let mut e = RevokeEvent::new(200);
        e.domain_id = Some("d2".into());
        assert!(e.matches(&t), "project domain");
        e.domain_id = Some("d3".into());
        assert!(!e.matches(&t));
    }
}
