//! The query-string syntaxes of Placement: `resources=VCPU:1,MEMORY_MB:512`,
//! `required=T1,!T2` and `required=in:T3,T4` (1.39), `member_of=<agg>`,
//! `in:<a>,<b>` (1.21/1.24) and `!<agg>` (1.32), `in_tree=<uuid>`.

use std::collections::{BTreeMap, BTreeSet};

use api::ApiError;

use super::microversion::Version;
use super::{ApiResult, uuid_like};
use crate::providers::{AggregateFilter, TraitFilter};

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(msg.into()).with_kind(crate::error::codes::QUERYPARAM_BAD_VALUE)
}

/// Refuses query keys the microversion does not have.
pub fn only(pairs: &[(String, String)], allowed: impl Fn(&str) -> bool) -> ApiResult<()> {
    for (k, _) in pairs {
        if !allowed(k) {
            return Err(ApiError::bad_request(format!(
                "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    Ok(())
}

/// The last value of `key`.
pub fn last<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub fn all<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `VCPU:2,MEMORY_MB:1024`.
pub fn resources(qs: &str) -> ApiResult<BTreeMap<String, i64>> {
    let form = "Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024.";
    if qs.trim().is_empty() {
        return Err(bad(format!(
            "Badly formed resources parameter. {form} Got: empty string."
        )));
    }
    let mut out = BTreeMap::new();
    for rt in qs.split(',') {
        let Some((rc, amount)) = rt.split_once(':').filter(|(_, a)| !a.contains(':')) else {
            return Err(bad(format!("Badly formed resources parameter. {form} Got: {rt}.")));
        };
        let rc = rc.trim();
        let amount: i64 = amount.trim().parse().map_err(|_| {
            bad(format!(
                "Requested resource {rc} expected positive integer amount. Got: {amount}."
            ))
        })?;
        if amount < 1 {
            return Err(bad(format!(
                "Requested resource {rc} requires amount >= 1. Got: {amount}."
            )));
        }
        out.insert(rc.to_owned(), amount);
    }
    Ok(out)
}

/// Every `required{suffix}` value, as Placement reads them for `mv`.
pub fn traits(values: &[&str], mv: Version) -> ApiResult<TraitFilter> {
    let allow_forbidden = mv.at_least(22);
    let allow_any = mv.at_least(39);
    let values: Vec<&str> = if allow_any {
        values.to_vec()
    } else {
        values.last().copied().into_iter().collect()
    };
    let mut f = TraitFilter::default();
    for val in values {
        if let Some(rest) = val.strip_prefix("in:") {
            if !allow_any {
                return Err(bad(format!(
                    "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported \
                     since microversion 1.39. Got: {val}"
                )));
            }
            let any: BTreeSet<String> = rest.split(',').map(|s| s.trim().to_owned()).collect();
            if any.iter().any(String::is_empty) {
                return Err(bad(format!(
                    "Invalid query string parameters: Expected 'required' parameter value of the form: \
                     in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: {val}"
                )));
            }
            if any.iter().any(|t| t.starts_with('!')) {
                return Err(bad(format!(
                    "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not \
                     support forbidden traits. Got: {val}"
                )));
            }
            f.required.push(any);
            continue;
        }
        let expected = if allow_forbidden {
            "HW_CPU_X86_VMX,!CUSTOM_MAGIC"
        } else {
            "HW_CPU_X86_VMX,CUSTOM_MAGIC"
        };
        for t in val.split(',').map(str::trim) {
            let name = t.strip_prefix('!');
            if t.is_empty() || name == Some("") {
                return Err(bad(format!(
                    "Invalid query string parameters: Expected 'required' parameter value of the form: \
                     {expected}. Got an empty trait in: {val}"
                )));
            }
            match name {
                Some(n) if !allow_forbidden => {
                    let _ = n;
                    return Err(bad(format!(
                        "Invalid query string parameters: Expected 'required' parameter value of the form: \
                         HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {val}"
                    )));
                }
                Some(n) => {
                    f.forbidden.insert(n.to_owned());
                }
                None => f.required.push([t.to_owned()].into_iter().collect()),
            }
        }
    }
    Ok(f)
}

/// Every `member_of{suffix}` value, as Placement reads them for `mv`.
pub fn member_of(values: &[&str], suffix: &str, mv: Version) -> ApiResult<AggregateFilter> {
    if !mv.at_least(24) && values.len() > 1 {
        return Err(bad(format!("Multiple member_of{suffix} parameters are not supported")));
    }
    let mut f = AggregateFilter::default();
    for value in values {
        if value.contains(',') && !(value.starts_with("in:") || value.starts_with("!in:")) {
            return Err(bad(format!(
                "Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the \
                 valid microversion. Got: {value}"
            )));
        }
        let (forbidden, list) = if let Some(r) = value.strip_prefix("!in:") {
            (true, r)
        } else if let Some(r) = value.strip_prefix('!') {
            (true, r)
        } else if let Some(r) = value.strip_prefix("in:") {
            (false, r)
        } else {
            (false, *value)
        };
        let mut set = BTreeSet::new();
        for a in list.split(',') {
            let u = uuid_like(a).ok_or_else(|| {
                bad(format!(
                    "Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). \
                     Got: {a}"
                ))
            })?;
            set.insert(u);
        }
        if forbidden {
            if !mv.at_least(32) {
                return Err(bad(format!(
                    "Forbidden member_of{suffix} parameters are not supported in the specified microversion"
                )));
            }
            f.forbidden.extend(set);
        } else {
            f.member_of.push(set);
        }
    }
    Ok(f)
}

pub fn in_tree(value: &str) -> ApiResult<String> {
    uuid_like(value.trim()).ok_or_else(|| {
        bad(format!(
            "Invalid query string parameters: Expected 'in_tree' parameter to be a format of uuid. Got: {value}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_traits_parse() {
        let r = resources("VCPU:1,MEMORY_MB:512").unwrap();
        assert_eq!(r["MEMORY_MB"], 512);
        assert!(resources("VCPU").is_err());
        assert!(resources("VCPU:0").is_err());
        assert!(resources("VCPU:x").is_err());
        assert!(resources("").is_err());
        let t = traits(&["A,!B"], Version(1, 22)).unwrap();
        assert_eq!(t.required.len(), 1);
        assert!(t.forbidden.contains("B"));
        assert!(traits(&["A,!B"], Version(1, 21)).is_err());
        assert!(traits(&["in:A,B"], Version(1, 38)).is_err());
        let t = traits(&["in:A,B", "C"], Version(1, 39)).unwrap();
        assert_eq!(t.required.len(), 2);
        let a = "5f6a4c7e-0c8b-4b0a-9d1e-2f3a4b5c6d7e";
        assert!(member_of(&[&format!("in:{a},{a}")], "", Version(1, 21)).is_ok());
        assert!(member_of(&[a, a], "", Version(1, 23)).is_err());
        assert!(member_of(&[&format!("!{a}")], "", Version(1, 31)).is_err());
        assert!(member_of(&["nope"], "", Version(1, 39)).is_err());
    }
}
