//! Domain-specific configuration (`/v3/domains/{id}/config`): per-domain
//! values of the `[identity]` and `[ldap]` options with which Keystone backs
//! a domain by its own identity driver, stored and validated as Keystone's
//! `DomainConfigManager` does.
//!
//! Only the options Keystone whitelists may be stored (anything else is a
//! 403 `InvalidDomainConfig`, as there); `ldap.password` is *sensitive*: it
//! is stored but never read back through the API. The defaults are
//! Keystone 30's option defaults for those groups.
//!
//! oxistack stores the configuration but has a single identity backend (its
//! SQL tables): a domain configured with `identity.driver = ldap` still keeps
//! its users in SQL. The read-only `security_compliance` group of the default
//! domain reports `password_regex` and `password_regex_description`, which
//! oxistack does not set (Keystone's defaults: null).

use serde_json::{Map, Value, json};

use crate::Identity;
use crate::db::domain_config::{self, OptionRow};
use crate::error::{IdentityError, Result};
use crate::resource::DEFAULT_DOMAIN;

/// The whitelisted options, with Keystone's defaults as JSON text
/// (`keystone/resource/core.py` `DomainConfigManager.whitelisted_options`,
/// defaults from `keystone/conf/identity.py` and `keystone/conf/ldap.py`).
pub const OPTIONS: &[(&str, &str, &str)] = &[
    ("identity", "driver", r#""sql""#),
    ("identity", "list_limit", "null"),
    ("ldap", "url", r#""ldap://localhost""#),
    ("ldap", "user", "null"),
    ("ldap", "suffix", r#""cn=example,cn=com""#),
    ("ldap", "query_scope", r#""one""#),
    ("ldap", "page_size", "0"),
    ("ldap", "alias_dereferencing", r#""default""#),
    ("ldap", "debug_level", "null"),
    ("ldap", "chase_referrals", "null"),
    ("ldap", "user_tree_dn", "null"),
    ("ldap", "user_filter", "null"),
    ("ldap", "user_objectclass", r#""inetOrgPerson""#),
    ("ldap", "user_id_attribute", r#""cn""#),
    ("ldap", "user_name_attribute", r#""sn""#),
    ("ldap", "user_mail_attribute", r#""mail""#),
    ("ldap", "user_description_attribute", r#""description""#),
    ("ldap", "user_pass_attribute", r#""userPassword""#),
    ("ldap", "user_enabled_attribute", r#""enabled""#),
    ("ldap", "user_enabled_invert", "false"),
    ("ldap", "user_enabled_mask", "0"),
    ("ldap", "user_enabled_default", r#""True""#),
    ("ldap", "user_attribute_ignore", r#"["default_project_id"]"#),
    ("ldap", "user_default_project_id_attribute", "null"),
    ("ldap", "user_enabled_emulation", "false"),
    ("ldap", "user_enabled_emulation_dn", "null"),
    ("ldap", "user_enabled_emulation_use_group_config", "false"),
    ("ldap", "user_additional_attribute_mapping", "[]"),
    ("ldap", "group_tree_dn", "null"),
    ("ldap", "group_filter", "null"),
    ("ldap", "group_objectclass", r#""groupOfNames""#),
    ("ldap", "group_id_attribute", r#""cn""#),
    ("ldap", "group_name_attribute", r#""ou""#),
    ("ldap", "group_members_are_ids", "false"),
    ("ldap", "group_member_attribute", r#""member""#),
    ("ldap", "group_desc_attribute", r#""description""#),
    ("ldap", "group_attribute_ignore", "[]"),
    ("ldap", "group_additional_attribute_mapping", "[]"),
    ("ldap", "tls_cacertfile", "null"),
    ("ldap", "tls_cacertdir", "null"),
    ("ldap", "use_tls", "false"),
    ("ldap", "tls_req_cert", r#""demand""#),
    ("ldap", "use_pool", "true"),
    ("ldap", "pool_size", "10"),
    ("ldap", "pool_retry_max", "3"),
    ("ldap", "pool_retry_delay", "0.1"),
    ("ldap", "pool_connection_timeout", "-1"),
    ("ldap", "pool_connection_lifetime", "600"),
    ("ldap", "use_auth_pool", "true"),
    ("ldap", "auth_pool_size", "100"),
    ("ldap", "auth_pool_connection_lifetime", "60"),
];

/// Options that may be stored but are never returned.
pub const SENSITIVE: &[(&str, &str)] = &[("ldap", "password")];

/// The groups, in the order Keystone lists them.
const GROUPS: [&str; 2] = ["identity", "ldap"];

/// The read-only group of the default domain.
pub const SECURITY_COMPLIANCE: &str = "security_compliance";
const SECURITY_COMPLIANCE_OPTIONS: [&str; 2] = ["password_regex", "password_regex_description"];

fn invalid(reason: impl std::fmt::Display) -> IdentityError {
    IdentityError::Forbidden(format!("Invalid domain specific configuration: {reason}."))
}

fn is_whitelisted(group: &str, option: &str) -> bool {
    OPTIONS.iter().any(|(g, o, _)| *g == group && *o == option)
}

fn is_sensitive(group: &str, option: &str) -> bool {
    SENSITIVE.iter().any(|(g, o)| *g == group && *o == option)
}

/// Keystone's `_assert_valid_group_and_option`.
fn check_path(group: Option<&str>, option: Option<&str>) -> Result<()> {
    let Some(group) = group else { return Ok(()) };
    if !GROUPS.contains(&group) {
        return Err(invalid(format_args!(
            "Group {group} is not supported for domain specific configurations"
        )));
    }
    if let Some(option) = option
        && !is_whitelisted(group, option)
        && !is_sensitive(group, option)
    {
        return Err(invalid(format_args!(
            "Option {option} in group {group} is not supported for domain specific configurations"
        )));
    }
    Ok(())
}

/// Keystone's `_assert_valid_config`: a non-empty map of non-empty groups of
/// supported options. Returns the options as rows.
fn to_rows(config: &Map<String, Value>) -> Result<Vec<OptionRow>> {
    if config.is_empty() {
        return Err(invalid("No options specified"));
    }
    let mut rows = Vec::new();
    for (group, options) in config {
        let options = match options {
            Value::Object(o) if !o.is_empty() => o,
            _ => {
                return Err(invalid(format_args!(
                    "The value of group {group} specified in the config should be a dictionary of options"
                )));
            }
        };
        for (option, value) in options {
            check_path(Some(group), Some(option))?;
            rows.push(OptionRow {
                group: group.clone(),
                option: option.clone(),
                value: value.clone(),
            });
        }
    }
    Ok(rows)
}

/// `{group: {option: value}}` of the rows, or `{option: value}` when one
/// option was asked for.
fn to_config(rows: &[OptionRow], option: Option<&str>) -> Value {
    if let (Some(option), Some(row)) = (option, rows.first()) {
        return json!({ option: row.value });
    }
    let mut config = Map::new();
    for r in rows {
        let group = config
            .entry(r.group.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        group[&r.option] = r.value.clone();
    }
    Value::Object(config)
}

fn not_found(domain_id: &str, group: Option<&str>, option: Option<&str>) -> IdentityError {
    let what = match (group, option) {
        (Some(g), Some(o)) => format!("option {o} in group {g}"),
        (Some(g), None) => format!("group {g}"),
        _ => "any options".to_owned(),
    };
    IdentityError::not_found("domain configuration", format!("{what} of domain {domain_id}"))
}

fn readable(rows: Vec<OptionRow>) -> Vec<OptionRow> {
    rows.into_iter()
        .filter(|r| !is_sensitive(&r.group, &r.option))
        .collect()
}

impl Identity {
    /// The stored configuration of a domain, of one of its groups or of one
    /// option, sensitive options left out; 404 when nothing matches.
    pub async fn get_domain_config(&self, domain_id: &str, group: Option<&str>, option: Option<&str>) -> Result<Value> {
        self.get_domain(domain_id).await?;
        check_path(group, option)?;
        let rows = readable(domain_config::list(&self.db, domain_id, group, option).await?);
        if rows.is_empty() {
            return Err(not_found(domain_id, group, option));
        }
        Ok(to_config(&rows, option))
    }

    /// Replaces a domain's configuration. Returns the readable configuration
    /// and whether the domain had none before (201 rather than 200).
    pub async fn create_domain_config(&self, domain_id: &str, config: &Map<String, Value>) -> Result<(Value, bool)> {
        self.get_domain(domain_id).await?;
        let rows = to_rows(config)?;
        let had = !domain_config::list(&self.db, domain_id, None, None).await?.is_empty();
        domain_config::replace(&self.db, domain_id, &rows).await?;
        let stored = readable(domain_config::list(&self.db, domain_id, None, None).await?);
        Ok((to_config(&stored, None), !had))
    }

    /// Merges `config` into a domain's configuration. With a group (and an
    /// option), `config` must hold exactly that group (option) and it must
    /// already be set (Keystone's `update_config`). For an option, `config`
    /// is `{option: value}`. Returns the whole readable configuration.
    pub async fn update_domain_config(
        &self,
        domain_id: &str,
        config: &Map<String, Value>,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<Value> {
        self.get_domain(domain_id).await?;
        let config = match (group, option) {
            (Some(g), Some(_)) => {
                let mut wrapped = Map::new();
                wrapped.insert(g.to_owned(), Value::Object(config.clone()));
                wrapped
            }
            _ => config.clone(),
        };
        let rows = to_rows(&config)?;
        check_path(group, option)?;
        if let Some(g) = group {
            let group_options = config.get(g).and_then(Value::as_object);
            if config.len() != 1 || (option.is_some() && group_options.map(Map::len) != Some(1)) {
                return Err(invalid(match option {
                    Some(o) => format!(
                        "Trying to update option {o} in group {g}, so that, and only that, option must be \
                         specified  in the config"
                    ),
                    None => format!(
                        "Trying to update group {g}, so that, and only that, group must be specified in the config"
                    ),
                }));
            }
            let Some(group_options) = group_options else {
                let other = config.keys().next().cloned().unwrap_or_default();
                return Err(invalid(format_args!(
                    "request to update group {g}, but config provided contains group {other} instead"
                )));
            };
            if let Some(o) = option
                && !group_options.contains_key(o)
            {
                let other = group_options.keys().next().cloned().unwrap_or_default();
                return Err(invalid(format_args!(
                    "Trying to update option {o} in group {g}, but config provided contains option {other} instead"
                )));
            }
            if domain_config::list(&self.db, domain_id, group, option)
                .await?
                .is_empty()
            {
                return Err(not_found(domain_id, group, option));
            }
        }
        domain_config::set(&self.db, domain_id, &rows).await?;
        let stored = readable(domain_config::list(&self.db, domain_id, None, None).await?);
        Ok(to_config(&stored, None))
    }

    /// Deletes a domain's configuration, one group or one option; a group or
    /// option must be set (404 otherwise).
    pub async fn delete_domain_config(&self, domain_id: &str, group: Option<&str>, option: Option<&str>) -> Result<()> {
        self.get_domain(domain_id).await?;
        check_path(group, option)?;
        if group.is_some()
            && domain_config::list(&self.db, domain_id, group, option)
                .await?
                .is_empty()
        {
            return Err(not_found(domain_id, group, option));
        }
        Ok(domain_config::delete(&self.db, domain_id, group, option).await?)
    }

    /// Keystone's defaults of the whitelisted options, all, of a group or of
    /// one option.
    pub fn domain_config_default(&self, group: Option<&str>, option: Option<&str>) -> Result<Value> {
        check_path(group, option)?;
        if let (Some(g), Some(o)) = (group, option)
            && !is_whitelisted(g, o)
        {
            return Err(invalid(format_args!(
                "Reading the default for option {o} in group {g} is not supported"
            )));
        }
        let rows: Vec<OptionRow> = OPTIONS
            .iter()
            .filter(|(g, o, _)| group.is_none_or(|want| want == *g) && option.is_none_or(|want| want == *o))
            .map(|(g, o, default)| OptionRow {
                group: (*g).to_owned(),
                option: (*o).to_owned(),
                value: serde_json::from_str(default).unwrap_or(Value::Null),
            })
            .collect();
        Ok(to_config(&rows, option))
    }

    /// The `security_compliance` group of the default domain (or one of its
    /// two readable options).
    pub fn security_compliance_config(&self, domain_id: &str, option: Option<&str>) -> Result<Value> {
        if domain_id != DEFAULT_DOMAIN {
            return Err(invalid(
                "Reading security compliance information for any domain other than the default domain is not \
                 allowed or supported.",
            ));
        }
        if let Some(o) = option
            && !SECURITY_COMPLIANCE_OPTIONS.contains(&o)
        {
            return Err(invalid(
                "Reading security compliance values other than password_regex and password_regex_description is \
                 not allowed.",
            ));
        }
        let rows: Vec<OptionRow> = SECURITY_COMPLIANCE_OPTIONS
            .iter()
            .filter(|o| option.is_none_or(|want| want == **o))
            .map(|o| OptionRow {
                group: SECURITY_COMPLIANCE.to_owned(),
                option: (*o).to_owned(),
                value: Value::Null,
            })
            .collect();
        Ok(to_config(&rows, option))
    }

    /// Drops the configuration of a domain being deleted.
    pub async fn delete_domain_config_of(&self, domain_id: &str) -> Result<()> {
        Ok(domain_config::delete(&self.db, domain_id, None, None).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_cover_keystone_whitelist() {
        for (g, o, default) in OPTIONS {
            assert!(serde_json::from_str::<Value>(default).is_ok(), "{g}.{o}: {default}");
        }
        assert_eq!(OPTIONS.iter().filter(|(g, _, _)| *g == "ldap").count(), 49);
    }

    #[test]
    fn config_is_validated_as_keystone_does() {
        let ok = json!({"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://x", "password": "s"}});
        assert_eq!(to_rows(ok.as_object().unwrap()).unwrap().len(), 3);
        for bad in [
            json!({}),
            json!({"identity": {}}),
            json!({"identity": "ldap"}),
            json!({"assignment": {"driver": "sql"}}),
            json!({"ldap": {"no_such_option": 1}}),
        ] {
            let err = to_rows(bad.as_object().unwrap()).unwrap_err();
            assert!(matches!(err, IdentityError::Forbidden(_)), "{bad}: {err:?}");
        }
    }

    #[test]
    fn one_option_renders_without_its_group() {
        let rows = [OptionRow {
            group: "ldap".into(),
            option: "url".into(),
            value: json!("ldap://x"),
        }];
        assert_eq!(to_config(&rows, Some("url")), json!({"url": "ldap://x"}));
        assert_eq!(to_config(&rows, None), json!({"ldap": {"url": "ldap://x"}}));
    }
}
