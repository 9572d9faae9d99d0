//! Security groups and their rules. Every project has a `default` group,
//! made the first time the project lists groups or creates a port, as
//! Neutron makes it: egress to anywhere over IPv4 and IPv6, ingress from
//! members of the group itself. Rules are checked as Neutron checks them
//! (protocol names and numbers, port ranges or ICMP type/code, one remote
//! only, no duplicates).

use std::collections::HashMap;

use crate::db::security_groups::{self as q, GroupRow, RuleRow};
use crate::db::{self, Conn};
use crate::error::{NetworkError, Result};
use crate::ip::Cidr;
use crate::{Caller, Network, quotas, tags};

pub const DEFAULT_NAME: &str = "default";

/// Neutron's `IP_PROTOCOL_MAP` with the `icmpv6` alias.
pub const PROTOCOLS: &[(&str, u8)] = &[
    ("ah", 51),
    ("dccp", 33),
    ("egp", 8),
    ("esp", 50),
    ("gre", 47),
    ("hopopt", 0),
    ("icmp", 1),
    ("icmpv6", 58),
    ("igmp", 2),
    ("ip", 0),
    ("ipip", 4),
    ("ipv6-encap", 41),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ipv6-route", 43),
    ("ospf", 89),
    ("pgm", 113),
    ("rsvp", 46),
    ("sctp", 132),
    ("tcp", 6),
    ("udp", 17),
    ("udplite", 136),
    ("vrrp", 112),
];

/// Protocols whose rules take a port range.
const PORT_PROTOCOLS: &[u8] = &[6, 17, 33, 132, 136];
const ICMP_PROTOCOLS: &[u8] = &[1, 58];
/// Protocols that exist only over IPv6.
const IPV6_ONLY: &[u8] = &[41, 43, 44, 58, 59, 60];

#[derive(Clone, Debug, Default)]
pub struct NewRule {
    pub security_group_id: String,
    pub direction: String,
    pub ethertype: String,
    /// A name or a number 0–255, as given; `None` (or `any`) is any.
    pub protocol: Option<String>,
    pub port_range_min: Option<i64>,
    pub port_range_max: Option<i64>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
}

/// The number of a protocol given by name or number, `None` for "any".
pub fn protocol_number(p: &str) -> Result<Option<u8>> {
    if p.is_empty() || p.eq_ignore_ascii_case("any") {
        return Ok(None);
    }
    if let Some((_, n)) = PROTOCOLS.iter().find(|(name, _)| name.eq_ignore_ascii_case(p)) {
        return Ok(Some(*n));
    }
    if p.len() <= 3
        && p.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = p.parse::<u8>()
    {
        return Ok(Some(n));
    }
    let names: Vec<String> = PROTOCOLS.iter().map(|(n, _)| format!("'{n}'")).collect();
    Err(NetworkError::bad(
        "SecurityGroupRuleInvalidProtocol",
        format!(
            "Security group rule protocol {p} not supported. Only protocol values [None, {}] and integer \
             representations [0 to 255] are supported.",
            names.join(", ")
        ),
    ))
}

pub(crate) async fn load(n: &Network, c: &mut Conn, caller: &Caller, id: &str) -> Result<GroupRow> {
    match q::get(&n.db, c, id).await? {
        Some(g) if caller.owns(&g.project_id) => Ok(g),
        _ => Err(NetworkError::security_group_not_found(id)),
    }
}

fn rule_row(project_id: &str, group_id: &str, direction: &str, ethertype: &str, remote_group: Option<&str>) -> RuleRow {
    let now = db::now();
    RuleRow {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project_id.to_owned(),
        security_group_id: group_id.to_owned(),
        direction: direction.to_owned(),
        ethertype: ethertype.to_owned(),
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_group_id: remote_group.map(str::to_owned),
        description: String::new(),
        revision_number: 0,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts a group with its starting rules: egress anywhere, and for the
/// default group ingress from its own members.
async fn insert_group(n: &Network, c: &mut Conn, g: &GroupRow, is_default: bool) -> Result<()> {
    q::insert(&n.db, c, g).await?;
    for ethertype in ["IPv4", "IPv6"] {
        q::insert_rule(&n.db, c, &rule_row(&g.project_id, &g.id, "egress", ethertype, None)).await?;
        if is_default {
            q::insert_rule(
                &n.db,
                c,
                &rule_row(&g.project_id, &g.id, "ingress", ethertype, Some(&g.id)),
            )
            .await?;
        }
    }
    Ok(())
}

fn new_group(project_id: &str, name: &str, description: &str) -> GroupRow {
    let now = db::now();
    GroupRow {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project_id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        revision_number: 1,
        created_at: now,
        updated_at: now,
    }
}

/// The id of the project's `default` group, made now if the project has
/// none. Two requests racing to make it meet on the primary key of
/// `default_security_groups`: the loser rolls back and reads the winner's.
pub async fn ensure_default(n: &Network, project_id: &str) -> Result<String> {
    {
        let mut c = n.reader().await?;
        if let Some(id) = q::default_of(&n.db, &mut c, project_id).await? {
            return Ok(id);
        }
    }
    let mut tx = n.begin().await?;
    if let Some(id) = q::default_of(&n.db, &mut tx, project_id).await? {
        return Ok(id);
    }
    let g = new_group(project_id, DEFAULT_NAME, "Default security group");
    q::insert(&n.db, &mut tx, &g).await?;
    match q::insert_default(&n.db, &mut tx, project_id, &g.id).await {
        Err(NetworkError::Store(store::StoreError::Conflict(_))) => {
            drop(tx);
            let mut c = n.reader().await?;
            return q::default_of(&n.db, &mut c, project_id)
                .await?
                .ok_or(NetworkError::Retry("default security group"));
        }
        other => other?,
    }
    for ethertype in ["IPv4", "IPv6"] {
        q::insert_rule(&n.db, &mut tx, &rule_row(project_id, &g.id, "egress", ethertype, None)).await?;
        q::insert_rule(
            &n.db,
            &mut tx,
            &rule_row(project_id, &g.id, "ingress", ethertype, Some(&g.id)),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(g.id)
}

pub async fn get(n: &Network, caller: &Caller, id: &str) -> Result<(GroupRow, Vec<RuleRow>)> {
    ensure_default(n, &caller.project_id).await?;
    let mut c = n.reader().await?;
    let g = load(n, &mut c, caller, id).await?;
    let rules = q::rules_of(&n.db, &mut c, id).await?;
    Ok((g, rules))
}

/// The caller's groups (every group for admins), each with its rules.
pub async fn list(n: &Network, caller: &Caller) -> Result<Vec<(GroupRow, Vec<RuleRow>)>> {
    ensure_default(n, &caller.project_id).await?;
    let mut c = n.reader().await?;
    let visible = (!caller.all_projects).then_some(caller.project_id.as_str());
    let groups = q::list(&n.db, &mut c, visible).await?;
    let mut rules: HashMap<String, Vec<RuleRow>> = HashMap::new();
    for r in q::list_rules(&n.db, &mut c, visible).await? {
        rules.entry(r.security_group_id.clone()).or_default().push(r);
    }
    Ok(groups
        .into_iter()
        .map(|g| {
            let r = rules.remove(&g.id).unwrap_or_default();
            (g, r)
        })
        .collect())
}

pub async fn create(n: &Network, project_id: &str, name: &str, description: &str) -> Result<(GroupRow, Vec<RuleRow>)> {
    ensure_default(n, project_id).await?;
    if name == DEFAULT_NAME {
        return Err(NetworkError::conflict(
            "SecurityGroupDefaultAlreadyExists",
            "Default security group already exists.",
        ));
    }
    let g = new_group(project_id, name, description);
    let mut tx = n.begin().await?;
    quotas::check(n, &mut tx, project_id, "security_group", 1).await?;
    insert_group(n, &mut tx, &g, false).await?;
    let rules = q::rules_of(&n.db, &mut tx, &g.id).await?;
    tx.commit().await?;
    Ok((g, rules))
}

pub async fn update(
    n: &Network,
    caller: &Caller,
    id: &str,
    name: Option<String>,
    description: Option<String>,
) -> Result<(GroupRow, Vec<RuleRow>)> {
    let mut tx = n.begin().await?;
    let mut g = load(n, &mut tx, caller, id).await?;
    if let Some(new) = &name
        && *new != g.name
    {
        if q::is_default(&n.db, &mut tx, id).await? {
            return Err(NetworkError::conflict(
                "SecurityGroupCannotUpdateDefault",
                "Updating default security group not allowed.",
            ));
        }
        if new == DEFAULT_NAME {
            return Err(NetworkError::conflict(
                "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.",
            ));
        }
    }
    g.name = name.unwrap_or(g.name);
    g.description = description.unwrap_or(g.description);
    q::update(&n.db, &mut tx, &g).await?;
    let g = q::get(&n.db, &mut tx, id)
        .await?
        .ok_or_else(|| NetworkError::security_group_not_found(id))?;
    let rules = q::rules_of(&n.db, &mut tx, id).await?;
    tx.commit().await?;
    Ok((g, rules))
}

pub async fn delete(n: &Network, caller: &Caller, id: &str) -> Result<()> {
    let mut tx = n.begin().await?;
    load(n, &mut tx, caller, id).await?;
    if q::is_default(&n.db, &mut tx, id).await? && !caller.all_projects {
        return Err(NetworkError::conflict(
            "SecurityGroupCannotRemoveDefault",
            "Insufficient rights for removing default security group.",
        ));
    }
    if db::ports::count_using_group(&n.db, &mut tx, id).await? > 0 {
        return Err(NetworkError::conflict(
            "SecurityGroupInUse",
            format!("Security Group {id} in use."),
        ));
    }
    q::delete(&n.db, &mut tx, id).await?;
    db::tags::remove_all(&n.db, &mut tx, tags::Taggable::SecurityGroup.key(), id).await?;
    tx.commit().await?;
    Ok(())
}

/// The ids of every project's default group, to tell them apart in lists.
pub async fn default_ids(n: &Network) -> Result<Vec<String>> {
    let mut c = n.reader().await?;
    q::default_ids(&n.db, &mut c).await
}

// --- rules -------------------------------------------------------------------

pub async fn get_rule(n: &Network, caller: &Caller, id: &str) -> Result<RuleRow> {
    let mut c = n.reader().await?;
    load_rule(n, &mut c, caller, id).await
}

async fn load_rule(n: &Network, c: &mut Conn, caller: &Caller, id: &str) -> Result<RuleRow> {
    let Some(r) = q::get_rule(&n.db, c, id).await? else {
        return Err(NetworkError::security_group_rule_not_found(id));
    };
    if caller.owns(&r.project_id) {
        return Ok(r);
    }
    match q::get(&n.db, c, &r.security_group_id).await? {
        Some(g) if caller.owns(&g.project_id) => Ok(r),
        _ => Err(NetworkError::security_group_rule_not_found(id)),
    }
}

pub async fn list_rules(n: &Network, caller: &Caller) -> Result<Vec<RuleRow>> {
    ensure_default(n, &caller.project_id).await?;
    let mut c = n.reader().await?;
    q::list_rules(
        &n.db,
        &mut c,
        (!caller.all_projects).then_some(caller.project_id.as_str()),
    )
    .await
}

/// What makes two rules the same: direction, ethertype, protocol number,
/// port range, remote prefix, remote group.
#[derive(PartialEq, Eq)]
struct RuleShape {
    direction: String,
    ethertype: String,
    protocol: Option<u8>,
    ports: (Option<i64>, Option<i64>),
    remote_ip_prefix: Option<String>,
    remote_group_id: Option<String>,
}

/// The normalized shape of a rule, for duplicate detection: protocol as a
/// number, "anywhere" prefixes as none.
fn shape(r: &RuleRow) -> RuleShape {
    let protocol = r.protocol.as_deref().and_then(|p| protocol_number(p).ok().flatten());
    let prefix = r
        .remote_ip_prefix
        .as_deref()
        .and_then(Cidr::parse_lenient)
        .filter(|c| c.prefix() != 0)
        .map(|c| c.to_string());
    RuleShape {
        direction: r.direction.clone(),
        ethertype: r.ethertype.clone(),
        protocol,
        ports: (r.port_range_min, r.port_range_max),
        remote_ip_prefix: prefix,
        remote_group_id: r.remote_group_id.clone(),
    }
}

/// Neutron's port-range checks (`_validate_port_range`).
fn check_ports(protocol: Option<u8>, given: &str, min: Option<i64>, max: Option<i64>) -> Result<()> {
    if min.is_none() && max.is_none() {
        return Ok(());
    }
    let Some(proto) = protocol else {
        return Err(NetworkError::invalid_input(
            "Must also specify protocol if port range is given.",
        ));
    };
    if PORT_PROTOCOLS.contains(&proto) {
        if min == Some(0) || max == Some(0) {
            return Err(NetworkError::invalid_input("Invalid value for port 0"));
        }
        match (min, max) {
            (Some(a), Some(b)) if a <= b => Ok(()),
            _ => Err(NetworkError::invalid_input(
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )),
        }
    } else if ICMP_PROTOCOLS.contains(&proto) {
        for (value, field, attr) in [(min, "type", "port_range_min"), (max, "code", "port_range_max")] {
            if let Some(v) = value
                && !(0..=255).contains(&v)
            {
                return Err(NetworkError::invalid_input(format!(
                    "Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255."
                )));
            }
        }
        if min.is_none()
            && let Some(code) = max
        {
            return Err(NetworkError::invalid_input(format!(
                "ICMP code (port-range-max) {code} is provided but ICMP type (port-range-min) is missing."
            )));
        }
        Ok(())
    } else {
        Err(NetworkError::invalid_input(format!(
            "Ports cannot be specified for protocol {given}. Ports are only supported for TCP, UDP, UDPLITE, \
             SCTP, DCCP, ICMP and ICMPV6."
        )))
    }
}

pub async fn create_rule(n: &Network, caller: &Caller, spec: NewRule) -> Result<RuleRow> {
    let protocol = match &spec.protocol {
        Some(p) => protocol_number(p)?,
        None => None,
    };
    if spec.ethertype == "IPv4" && protocol.is_some_and(|p| IPV6_ONLY.contains(&p)) {
        return Err(NetworkError::invalid_input(format!(
            "Invalid ethertype {} for protocol {}.",
            spec.ethertype,
            spec.protocol.as_deref().unwrap_or_default()
        )));
    }
    check_ports(
        protocol,
        spec.protocol.as_deref().unwrap_or_default(),
        spec.port_range_min,
        spec.port_range_max,
    )?;
    if spec.remote_ip_prefix.is_some() && spec.remote_group_id.is_some() {
        return Err(NetworkError::invalid_input(
            "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.",
        ));
    }
    let remote_ip_prefix = match &spec.remote_ip_prefix {
        Some(p) => {
            let cidr = Cidr::parse_lenient(p)
                .ok_or_else(|| NetworkError::bad("InvalidCIDR", format!("Invalid CIDR {p} given as IP prefix.")))?;
            let wanted = if spec.ethertype == "IPv4" { 4 } else { 6 };
            if cidr.version() != wanted {
                return Err(NetworkError::invalid_input(format!(
                    "Conflicting value ethertype {} for CIDR {p}",
                    spec.ethertype
                )));
            }
            // Neutron keeps the address as given and adds the prefix length
            // when there is none.
            Some(if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/{}", if wanted == 4 { 32 } else { 128 })
            })
        }
        None => None,
    };
    let mut tx = n.begin().await?;
    let group = load(n, &mut tx, caller, &spec.security_group_id).await?;
    if let Some(remote) = &spec.remote_group_id {
        load(n, &mut tx, caller, remote).await?;
    }
    quotas::check(n, &mut tx, &group.project_id, "security_group_rule", 1).await?;
    let now = db::now();
    let row = RuleRow {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: group.project_id.clone(),
        security_group_id: group.id.clone(),
        direction: spec.direction.clone(),
        ethertype: spec.ethertype.clone(),
        protocol: spec.protocol.clone().filter(|_| protocol.is_some()),
        port_range_min: spec.port_range_min,
        port_range_max: spec.port_range_max,
        remote_ip_prefix,
        remote_group_id: spec.remote_group_id.clone(),
        description: spec.description.clone(),
        revision_number: 0,
        created_at: now,
        updated_at: now,
    };
    let wanted = shape(&row);
    if let Some(existing) = q::rules_of(&n.db, &mut tx, &group.id)
        .await?
        .into_iter()
        .find(|r| shape(r) == wanted)
    {
        return Err(NetworkError::conflict(
            "SecurityGroupRuleExists",
            format!("Security group rule already exists. Rule id is {}.", existing.id),
        ));
    }
    q::insert_rule(&n.db, &mut tx, &row).await?;
    q::bump_revision(&n.db, &mut tx, &group.id).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_rule(n: &Network, caller: &Caller, id: &str) -> Result<()> {
    let mut tx = n.begin().await?;
    let rule = load_rule(n, &mut tx, caller, id).await?;
    q::delete_rule(&n.db, &mut tx, id).await?;
    q::bump_revision(&n.db, &mut tx, &rule.security_group_id).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_by_name_and_number() {
        assert_eq!(protocol_number("tcp").unwrap(), Some(6));
        assert_eq!(protocol_number("TCP").unwrap(), Some(6));
        assert_eq!(protocol_number("58").unwrap(), Some(58));
        assert_eq!(protocol_number("any").unwrap(), None);
        assert!(protocol_number("256").is_err());
        assert!(protocol_number("bogus").is_err());
    }

    #[test]
    fn port_ranges() {
        assert!(check_ports(Some(6), "tcp", Some(22), Some(22)).is_ok());
        assert!(check_ports(Some(6), "tcp", Some(23), Some(22)).is_err());
        assert!(check_ports(Some(6), "tcp", Some(0), Some(22)).is_err());
        assert!(check_ports(Some(1), "icmp", Some(8), Some(0)).is_ok());
        assert!(check_ports(Some(1), "icmp", None, Some(0)).is_err());
        assert!(check_ports(Some(1), "icmp", Some(300), None).is_err());
        assert!(check_ports(Some(47), "gre", Some(1), Some(2)).is_err());
        assert!(check_ports(None, "", Some(1), Some(2)).is_err());
    }
}
