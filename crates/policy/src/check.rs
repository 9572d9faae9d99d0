//! The parsed form of a check string and its evaluation (oslo.policy
//! `_checks.py`).
//!
//! Values are compared the way oslo.policy compares them: both sides as
//! Python's `str()` would print them, so `true` is `"True"`, `null` is
//! `"None"` and `1.0` is `"1.0"`. That is why Keystone can write
//! `None:%(target.role.domain_id)s` to mean "a global role".

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// A node of a parsed check string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Check {
    /// `@` (and the empty check string).
    Always,
    /// `!`, and what unsupported checks (`http:`) load as.
    Never,
    Not(Box<Check>),
    And(Vec<Check>),
    Or(Vec<Check>),
    /// `rule:NAME`; `index` is filled in when the policy is linked, and stays
    /// `None` (never matches) when no rule of that name exists.
    Rule {
        name: String,
        index: Option<usize>,
    },
    /// `role:NAME`, compared case-insensitively with `creds.roles`.
    Role(Template),
    /// `left:right`: a dotted path into the credentials (or a Python literal)
    /// compared with the right side after `%(key)s` substitution.
    Generic {
        left: Left,
        right: Template,
    },
}

/// The left side of a generic check.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Left {
    /// A Python literal (`'member'`, `True`, `None`, `1`), already rendered as
    /// Python's `str()` would render it.
    Literal(String),
    /// A dotted path into the credentials: `token.domain.id` is
    /// `["token", "domain", "id"]`.
    Path(Vec<String>),
}

/// A check's value side: literal text and `%(key)s` substitutions from the
/// target.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Template {
    pub(crate) parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Part {
    Literal(String),
    Substitution(Key),
}

/// A `%(a.b.c)s` key: looked up first as the flat key `"a.b.c"` (Keystone
/// flattens its target dict), then as the nested path `a` → `b` → `c`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    pub(crate) flat: String,
    pub(crate) path: Vec<String>,
}

/// What evaluation needs besides the check itself.
pub(crate) struct Env<'a> {
    /// The linked rules, indexed by [`Check::Rule::index`].
    pub(crate) rules: &'a [Check],
    pub(crate) target: &'a Value,
    pub(crate) creds: &'a Value,
}

impl Check {
    /// Evaluates the check. Rule references have been checked for cycles
    /// when the policy was linked, so the recursion terminates.
    pub(crate) fn eval(&self, env: &Env<'_>) -> bool {
        match self {
            Check::Always => true,
            Check::Never => false,
            Check::Not(inner) => !inner.eval(env),
            Check::And(checks) => checks.iter().all(|c| c.eval(env)),
            Check::Or(checks) => checks.iter().any(|c| c.eval(env)),
            Check::Rule { index, .. } => match index {
                Some(i) => env.rules[*i].eval(env),
                None => false,
            },
            Check::Role(template) => {
                let Some(wanted) = template.expand(env.target) else {
                    return false;
                };
                let Some(Value::Array(roles)) = env.creds.get("roles") else {
                    return false;
                };
                roles.iter().any(|role| match role {
                    Value::String(role) => eq_lowercase(role, &wanted),
                    _ => false,
                })
            }
            Check::Generic { left, right } => {
                // oslo substitutes first: a missing target key fails the
                // check even when the left side is a literal.
                let Some(wanted) = right.expand(env.target) else {
                    return false;
                };
                match left {
                    Left::Literal(literal) => *literal == *wanted,
                    Left::Path(path) => creds_match(env.creds, path, &wanted),
                }
            }
        }
    }

    /// Calls `f` on every `rule:` reference in this check.
    pub(crate) fn for_each_reference(&self, f: &mut impl FnMut(&str, Option<usize>)) {
        match self {
            Check::Not(inner) => inner.for_each_reference(f),
            Check::And(checks) | Check::Or(checks) => {
                checks.iter().for_each(|c| c.for_each_reference(f));
            }
            Check::Rule { name, index } => f(name, *index),
            Check::Always | Check::Never | Check::Role(_) | Check::Generic { .. } => {}
        }
    }

    /// Calls `f` on every `rule:` reference, letting it set the index.
    pub(crate) fn for_each_reference_mut(&mut self, f: &mut impl FnMut(&str, &mut Option<usize>)) {
        match self {
            Check::Not(inner) => inner.for_each_reference_mut(f),
            Check::And(checks) | Check::Or(checks) => {
                checks.iter_mut().for_each(|c| c.for_each_reference_mut(f));
            }
            Check::Rule { name, index } => f(name, index),
            Check::Always | Check::Never | Check::Role(_) | Check::Generic { .. } => {}
        }
    }
}

impl Template {
    /// The value side with every `%(key)s` replaced by the target's value, or
    /// `None` when a key is missing from the target (the check then fails,
    /// as oslo's `KeyError` does). Borrows in the common cases: pure text,
    /// or a single substitution of a string.
    pub(crate) fn expand<'a>(&'a self, target: &'a Value) -> Option<Cow<'a, str>> {
        match self.parts.as_slice() {
            [] => Some(Cow::Borrowed("")),
            [Part::Literal(text)] => Some(Cow::Borrowed(text)),
            [Part::Substitution(key)] => py_str(key.lookup(target)?),
            parts => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Literal(text) => out.push_str(text),
                        Part::Substitution(key) => out.push_str(&py_str(key.lookup(target)?)?),
                    }
                }
                Some(Cow::Owned(out))
            }
        }
    }
}

impl Key {
    fn lookup<'a>(&self, target: &'a Value) -> Option<&'a Value> {
        let Value::Object(map) = target else {
            return None;
        };
        if let Some(value) = map.get(&self.flat) {
            return Some(value);
        }
        let (first, rest) = self.path.split_first()?;
        let mut value = map.get(first)?;
        for segment in rest {
            value = value.as_object()?.get(segment)?;
        }
        Some(value)
    }
}

/// oslo's `GenericCheck._find_in_dict`: walks `path` into the credentials;
/// where a step lands on a list, any element may match the rest of the path.
fn creds_match(creds: &Value, path: &[String], wanted: &str) -> bool {
    let Value::Object(map) = creds else {
        return false;
    };
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let Some(value) = top_level(map, first) else {
        return false;
    };
    find_in(value, rest, wanted)
}

/// oslo.policy copies a truthy `system_scope` into `creds["system"]` before
/// evaluating, so `system:all` works as well as `system_scope:all`.
fn top_level<'a>(creds: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if key == "system"
        && let Some(scope) = creds.get("system_scope").filter(|v| truthy(v))
    {
        return Some(scope);
    }
    creds.get(key)
}

fn find_in(value: &Value, path: &[String], wanted: &str) -> bool {
    if let Value::Array(items) = value {
        return items.iter().any(|item| find_in_item(item, path, wanted));
    }
    find_in_item(value, path, wanted)
}

fn find_in_item(value: &Value, path: &[String], wanted: &str) -> bool {
    match path.split_first() {
        None => py_str_eq(value, wanted),
        Some((first, rest)) => match value {
            Value::Object(map) => map.get(first).is_some_and(|next| find_in(next, rest, wanted)),
            _ => false,
        },
    }
}

/// Python truthiness of a JSON value.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `str()` of a target value. Lists and dicts have no sensible
/// text form to compare with, so a substitution of one fails the check
/// (oslo would compare against their Python `repr`, which never matches a
/// credential in practice).
fn py_str(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(true) => Some(Cow::Borrowed("True")),
        Value::Bool(false) => Some(Cow::Borrowed("False")),
        Value::Null => Some(Cow::Borrowed("None")),
        Value::Number(n) => Some(Cow::Owned(py_number(n))),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// `wanted == str(value)` without allocating for strings, bools and null.
fn py_str_eq(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s == wanted,
        Value::Bool(true) => wanted == "True",
        Value::Bool(false) => wanted == "False",
        Value::Null => wanted == "None",
        Value::Number(n) => py_number(n) == wanted,
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn eq_lowercase(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

fn py_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        py_float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, positional
/// between 1e-4 and 1e16 (always with a fractional part), scientific
/// outside with at least two exponent digits.
pub(crate) fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: "-1.25e-7".
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let (int_part, frac_part) = if point <= 0 {
            let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
            ("0".to_owned(), format!("{zeros}{digits}"))
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                (format!("{digits}{}", "0".repeat(point - digits.len())), String::new())
            } else {
                (digits[..point].to_owned(), digits[point..].to_owned())
            }
        };
        let frac_part = if frac_part.is_empty() {
            "0".to_owned()
        } else {
            frac_part
        };
        format!("{sign}{int_part}.{frac_part}")
    } else {
        let (first, rest) = digits.split_at(1);
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!("{sign}{first}{rest}e{exp_sign}{:02}", exponent.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_python_does() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(-2.5), "-2.5");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(0.00001), "1e-05");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(1234.5e10), "12345000000000.0");
        assert_eq!(py_float(1.5e-7), "1.5e-07");
        assert_eq!(py_float(0.1), "0.1");
    }

    #[test]
    fn values_print_as_python_str_does() {
        assert!(py_str_eq(&json!(true), "True"));
        assert!(py_str_eq(&json!(false), "False"));
        assert!(py_str_eq(&json!(null), "None"));
        assert!(py_str_eq(&json!(7), "7"));
        assert!(py_str_eq(&json!(7.0), "7.0"));
        assert!(!py_str_eq(&json!(true), "1"));
        assert!(!py_str_eq(&json!(["a"]), "['a']"));
    }

    #[test]
    fn flat_key_wins_over_nested_path() {
        let key = Key {
            flat: "a.b".into(),
            path: vec!["a".into(), "b".into()],
        };
        let target = json!({"a.b": "flat", "a": {"b": "nested"}});
        assert_eq!(key.lookup(&target), Some(&json!("flat")));
        let target = json!({"a": {"b": "nested"}});
        assert_eq!(key.lookup(&target), Some(&json!("nested")));
        assert_eq!(key.lookup(&json!({"a": {}})), None);
        assert_eq!(key.lookup(&json!({"a": "b"})), None);
    }
}
