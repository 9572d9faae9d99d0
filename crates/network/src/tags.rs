//! Tags (Neutron's `standard-attr-tag`): free-form labels on networks,
//! subnets, ports, security groups, routers and floating IPs; every
//! change is a new revision of the tagged resource.

use crate::Network;
use crate::db::{self, Conn};
use crate::error::{NetworkError, Result};

/// The taggable resources, by the collection name of their URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taggable {
    Network,
    Subnet,
    Port,
    SecurityGroup,
    Router,
    FloatingIp,
}

impl Taggable {
    /// The key of the tags table (the collection name).
    pub fn key(self) -> &'static str {
        match self {
            Taggable::Network => "networks",
            Taggable::Subnet => "subnets",
            Taggable::Port => "ports",
            Taggable::SecurityGroup => "security_groups",
            Taggable::Router => "routers",
            Taggable::FloatingIp => "floatingips",
        }
    }

    /// The singular, as Neutron names it in messages.
    pub fn singular(self) -> &'static str {
        match self {
            Taggable::Network => "network",
            Taggable::Subnet => "subnet",
            Taggable::Port => "port",
            Taggable::SecurityGroup => "security_group",
            Taggable::Router => "router",
            Taggable::FloatingIp => "floatingip",
        }
    }
}

/// The longest tag Neutron takes.
pub const MAX_TAG_LEN: usize = 255;

async fn bump(n: &Network, c: &mut Conn, kind: Taggable, id: &str) -> Result<()> {
    match kind {
        Taggable::Network => db::networks::bump_revision(&n.db, c, id).await,
        Taggable::Subnet => db::subnets::bump_revision(&n.db, c, id).await,
        Taggable::Port => db::ports::bump_revision(&n.db, c, id).await,
        Taggable::SecurityGroup => db::security_groups::bump_revision(&n.db, c, id).await,
        Taggable::Router => db::routers::bump_revision(&n.db, c, id).await.map(|_| ()),
        Taggable::FloatingIp => db::floating_ips::bump_revision(&n.db, c, id).await,
    }
}

pub async fn list(n: &Network, kind: Taggable, id: &str) -> Result<Vec<String>> {
    let mut c = n.reader().await?;
    db::tags::of(&n.db, &mut c, kind.key(), id).await
}

/// Adds a tag; adding one that is there changes nothing.
pub async fn add(n: &Network, kind: Taggable, id: &str, tag: &str) -> Result<()> {
    let mut tx = n.begin().await?;
    if db::tags::of(&n.db, &mut tx, kind.key(), id)
        .await?
        .iter()
        .any(|t| t == tag)
    {
        return Ok(());
    }
    match db::tags::add(&n.db, &mut tx, kind.key(), id, tag).await {
        // Another request added it first: the same end state.
        Err(NetworkError::Store(store::StoreError::Conflict(_))) => return Ok(()),
        other => other?,
    }
    bump(n, &mut tx, kind, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces all tags; returns them sorted.
pub async fn replace(n: &Network, kind: Taggable, id: &str, tags: &[String]) -> Result<Vec<String>> {
    let mut wanted: Vec<String> = tags.to_vec();
    wanted.sort();
    wanted.dedup();
    let mut tx = n.begin().await?;
    db::tags::remove_all(&n.db, &mut tx, kind.key(), id).await?;
    for t in &wanted {
        db::tags::add(&n.db, &mut tx, kind.key(), id, t).await?;
    }
    bump(n, &mut tx, kind, id).await?;
    tx.commit().await?;
    Ok(wanted)
}

pub async fn remove(n: &Network, kind: Taggable, id: &str, tag: &str) -> Result<()> {
    let mut tx = n.begin().await?;
    if !db::tags::remove(&n.db, &mut tx, kind.key(), id, tag).await? {
        return Err(NetworkError::not_found(
            "TagNotFound",
            format!("Tag {tag} could not be found for {} {id}.", kind.singular()),
        ));
    }
    bump(n, &mut tx, kind, id).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove_all(n: &Network, kind: Taggable, id: &str) -> Result<()> {
    let mut tx = n.begin().await?;
    db::tags::remove_all(&n.db, &mut tx, kind.key(), id).await?;
    bump(n, &mut tx, kind, id).await?;
    tx.commit().await?;
    Ok(())
}

/// The tags of every resource of a kind, by id, for rendering lists.
pub async fn all_of(n: &Network, kind: Taggable) -> Result<std::collections::HashMap<String, Vec<String>>> {
    let mut c = n.reader().await?;
    db::tags::all_of_type(&n.db, &mut c, kind.key()).await
}
