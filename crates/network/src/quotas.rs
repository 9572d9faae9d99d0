//! Quotas: per-project limits on how many of each resource a project may
//! own (Neutron's `DbQuotaNoLockDriver`): the configured defaults, the
//! limits an admin set, and the check made when a resource is created.
//! -1 is unlimited. The check counts inside the creating transaction; two
//! creations racing for the last unit may both pass, as with Neutron's
//! no-lock driver.

use crate::Network;
use crate::db::{self, Conn};
use crate::error::{NetworkError, Result};

/// Neutron's defaults (`[quotas] quota_network` …), in its order.
pub const NEUTRON_DEFAULTS: &[(&str, i64)] = &[
    ("network", 100),
    ("subnet", 100),
    ("port", 500),
    ("router", 10),
    ("floatingip", 50),
    ("security_group", 10),
    ("security_group_rule", 100),
];

/// The table a resource's usage is counted in; `None` for a resource
/// this service does not offer (its usage is zero).
fn table(resource: &str) -> Option<&'static str> {
    match resource {
        "network" => Some("networks"),
        "subnet" => Some("subnets"),
        "port" => Some("ports"),
        "security_group" => Some("security_groups"),
        "security_group_rule" => Some("security_group_rules"),
        "router" => Some("routers"),
        "floatingip" => Some("floatingips"),
        _ => None,
    }
}

pub fn is_resource(n: &Network, resource: &str) -> bool {
    n.config.default_quotas.iter().any(|(r, _)| *r == resource)
}

/// The defaults, as configured.
pub fn defaults(n: &Network) -> Vec<(String, i64)> {
    n.config
        .default_quotas
        .iter()
        .map(|(r, l)| ((*r).to_owned(), *l))
        .collect()
}

async fn limits_on(n: &Network, c: &mut Conn, project_id: &str) -> Result<Vec<(String, i64)>> {
    let set = db::quotas::of_project(&n.db, c, project_id).await?;
    Ok(defaults(n)
        .into_iter()
        .map(|(r, l)| {
            let limit = set.iter().find(|(sr, _)| *sr == r).map_or(l, |(_, sl)| *sl);
            (r, limit)
        })
        .collect())
}

/// A project's limits: the defaults overlaid with what was set.
pub async fn limits(n: &Network, project_id: &str) -> Result<Vec<(String, i64)>> {
    let mut c = n.reader().await?;
    limits_on(n, &mut c, project_id).await
}

/// A project's limits with its usage: `(resource, limit, used)`.
pub async fn details(n: &Network, project_id: &str) -> Result<Vec<(String, i64, i64)>> {
    let mut c = n.reader().await?;
    let mut out = Vec::new();
    for (r, limit) in limits_on(n, &mut c, project_id).await? {
        let used = match table(&r) {
            Some(t) => db::count_owned(&n.db, &mut c, t, project_id).await?,
            None => 0,
        };
        out.push((r, limit, used));
    }
    Ok(out)
}

/// The projects with limits set, with all their limits.
pub async fn list_set(n: &Network) -> Result<Vec<(String, Vec<(String, i64)>)>> {
    let mut c = n.reader().await?;
    let rows = db::quotas::all(&n.db, &mut c).await?;
    let mut projects: Vec<String> = rows.iter().map(|(p, _, _)| p.clone()).collect();
    projects.dedup();
    let mut out = Vec::new();
    for p in projects {
        let limits = limits_on(n, &mut c, &p).await?;
        out.push((p, limits));
    }
    Ok(out)
}

/// Sets some of a project's limits; returns all of them. With
/// `check_limit`, a limit below what the project already uses is refused.
pub async fn update(
    n: &Network,
    project_id: &str,
    changes: &[(String, i64)],
    check_limit: bool,
) -> Result<Vec<(String, i64)>> {
    let mut tx = n.begin().await?;
    for (r, l) in changes {
        if check_limit
            && *l >= 0
            && let Some(t) = table(r)
        {
            let used = db::count_owned(&n.db, &mut tx, t, project_id).await?;
            if used > *l {
                return Err(NetworkError::http_bad_request(format!(
                    "Quota limit {l} for {r} must be greater than or equal to already used {used}"
                )));
            }
        }
        db::quotas::set(&n.db, &mut tx, project_id, r, *l).await?;
    }
    let out = limits_on(n, &mut tx, project_id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Returns a project to the defaults.
pub async fn reset(n: &Network, project_id: &str) -> Result<()> {
    let mut tx = n.begin().await?;
    db::quotas::delete(&n.db, &mut tx, project_id).await?;
    tx.commit().await?;
    Ok(())
}

/// `OverQuota` unless `project_id` may own `adding` more of `resource`.
pub(crate) async fn check(n: &Network, c: &mut Conn, project_id: &str, resource: &str, adding: i64) -> Result<()> {
    let limit = limits_on(n, c, project_id)
        .await?
        .into_iter()
        .find(|(r, _)| r == resource)
        .map_or(-1, |(_, l)| l);
    if limit < 0 {
        return Ok(());
    }
    let used = match table(resource) {
        Some(t) => db::count_owned(&n.db, c, t, project_id).await?,
        None => 0,
    };
    if used + adding > limit {
        return Err(NetworkError::over_quota(resource));
    }
    Ok(())
}
