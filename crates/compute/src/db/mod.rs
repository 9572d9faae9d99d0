//! The compute service's tables and the only SQL of the crate, one file per
//! resource group, written once for SQLite, PostgreSQL and MySQL (see the
//! `store` crate for the dialect rules). Timestamps are microseconds since
//! the epoch.

pub mod actions;
pub mod aggregates;
pub mod block_devices;
pub mod flavors;
pub mod info_cache;
pub mod keypairs;
pub mod migrations;
pub mod quotas;
pub mod server_groups;
pub mod servers;
pub mod services;
pub mod task_logs;
pub mod usage;

use store::{Db, Migration};

/// Flavors, keypairs, quotas, aggregates, services and compute nodes,
/// and the hosts' periodic task logs.
pub const RESOURCE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "flavors, keypairs, services, compute nodes, aggregates",
        sql: include_str!("schema_resources.sql"),
    },
    Migration {
        version: 2,
        description: "task logs (the instance usage audit)",
        sql: include_str!("schema_task_logs.sql"),
    },
];

/// Instances and everything hanging off them (metadata, tags, actions,
/// faults, server groups).
pub const SERVER_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "instances, metadata, tags, actions, server groups, quotas",
        sql: include_str!("schema_servers.sql"),
    },
    Migration {
        version: 2,
        description: "block device mappings (attached volumes)",
        sql: include_str!("schema_block_devices.sql"),
    },
    Migration {
        version: 3,
        description: "migration records of resizes and cold migrations",
        sql: include_str!("schema_migrations.sql"),
    },
];

/// The network info caches of instances (a set of its own, so that it
/// numbers its versions apart from the servers' tables).
pub const NETWORK_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "instance network info caches",
    sql: include_str!("schema_network.sql"),
}];

pub async fn migrate(db: &Db) -> Result<(), store::StoreError> {
    db.migrate("compute_resources", RESOURCE_MIGRATIONS).await?;
    db.migrate("compute_servers", SERVER_MIGRATIONS).await?;
    db.migrate("compute_network", NETWORK_MIGRATIONS).await
}

/// Microseconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
