//! The oslo.policy rule language: parse check strings once, evaluate them on
//! every request.
//!
//! # Where it sits
//!
//! Every API service has a `policy.rs` holding its default rules as data
//! (`(name, check string)` pairs, Keystone's `identity:get_user` and the
//! like). The service builds a [`Policy`] from them with [`Policy::new`],
//! layers the operator's `policy.yaml` on top with
//! [`Policy::load_overrides_file`], and its handlers call [`Policy::enforce`]
//! (through `api::enforce`, which turns a refusal into a 403) before they
//! touch data. Nothing here knows about HTTP, tokens or databases: it is pure
//! decision logic over two JSON values.
//!
//! # The language
//!
//! As oslo.policy's `_parser.py` and `_checks.py` define it:
//!
//! - `@` always passes, `!` never does; the empty check string passes.
//! - `role:NAME` passes if `NAME` is among `creds.roles`, compared
//!   case-insensitively.
//! - `rule:NAME` evaluates the rule called `NAME`; an undefined name never
//!   passes (a warning is logged at load time). Cycles of `rule:` references
//!   are refused at load time.
//! - `left:right`, the generic check. `right` is text in which `%(key)s` is
//!   replaced by the target's value for `key` (`%%` is a literal `%`); a key
//!   missing from the target makes the check fail. `left` is either a Python
//!   literal (`'member'`, `True`, `None`, `1`) compared with the substituted
//!   right side, or a dotted path into the credentials (`token.domain.id`);
//!   where a step of the path lands on a list, any element may match the
//!   rest of it. As in oslo, both sides are compared as Python's `str()`
//!   prints them: `true` is `True`, `null` is `None`. So `is_admin:True`
//!   matches `"is_admin": true`, `domain_id:None` matches a credential
//!   without a domain, and `is_admin:1` (in Keystone's `admin_required`)
//!   matches only the number 1. A quoted right side keeps its quotes, as in
//!   oslo (`user_id:'x'` compares with `'x'`, quotes included).
//! - `not`, `and`, `or` (any case) and parentheses; `not` binds tighter than
//!   `and`, which binds tighter than `or`.
//! - `http:` and `https:` checks (oslo's remote checks) are not supported:
//!   they are logged at load time and never pass.
//!
//! Where oslo.policy logs a malformed check string and fails closed (a word
//! without `:`, unbalanced parentheses, a dangling operator), loading fails
//! here instead, with a [`PolicyError::Parse`] naming the rule and the
//! column, so a typo in `policy.yaml` stops the service rather than quietly
//! denying. The legacy list-of-lists JSON syntax is not supported.
//!
//! # Credentials
//!
//! `creds` is the JSON object oslo.context's `to_policy_values()` produces,
//! plus what Keystone adds to it (`keystone/common/context.py`):
//!
//! ```json
//! {
//!   "user_id": "…", "user_domain_id": "…",
//!   "project_id": "…" | null, "project_domain_id": "…" | null,
//!   "domain_id": "…" | null,          // set for domain-scoped tokens
//!   "system_scope": "all" | null,     // set for system-scoped tokens
//!   "roles": ["member", "reader"],    // names, implied roles included
//!   "is_admin": false, "is_admin_project": true,
//!   "service_user_id": null, "service_roles": [],
//!   "token": {                        // the token body as Keystone renders it
//!     "user": {"id": "…", "domain": {"id": "…"}},
//!     "project": {"id": "…", "domain": {"id": "…"}},   // project scope
//!     "domain": {"id": "…"},                           // domain scope
//!     "system": {"all": true},                         // system scope
//!     "roles": [{"name": "member"}]
//!   }
//! }
//! ```
//!
//! As oslo.policy does, a truthy `system_scope` is also visible as `system`.
//!
//! # Target
//!
//! `target` is a JSON object describing what the request acts on. Keystone
//! puts the URL's path parameters at the top level (`user_id`), the object
//! being acted on under `target` (`target.user.domain_id`,
//! `target.project.id`), the subject token of `/v3/auth/tokens` under
//! `target.token`, and flattens the lot into dotted keys. `%(a.b.c)s` is
//! looked up as the flat key `"a.b.c"` first, then as the nested path
//! `a` → `b` → `c`, so callers may pass either shape. A substituted list or
//! object makes the check fail.
//!
//! # Scope types
//!
//! oslo.policy also refuses a request whose token scope (system, domain or
//! project) is not among the rule's `scope_types`, before looking at the
//! check string. [`Policy::set_scope_types`] records them; rules without
//! scope types accept every scope. The token's scope is `system` if
//! `system_scope` is set, else `domain` if `domain_id` is set, else
//! `project` (unscoped tokens count as project-scoped, as in oslo).

mod check;
mod parse;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;

use crate::check::{Check, Env, truthy};

/// A set of named, parsed rules: the defaults with the operator's overrides
/// applied. Cheap to evaluate; clone it or share it behind an `Arc`.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Rule names, check strings and scope types, by index.
    meta: Vec<RuleMeta>,
    /// The parsed rules, by the same index; `rule:` references point here.
    checks: Vec<Check>,
    by_name: HashMap<String, usize>,
}

#[derive(Clone, Debug)]
struct RuleMeta {
    name: String,
    source: String,
    scope_types: Option<Vec<Scope>>,
}

/// A token scope, as oslo.policy's `scope_types` name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    System,
    Domain,
    Project,
}

impl FromStr for Scope {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "system" => Ok(Scope::System),
            "domain" => Ok(Scope::Domain),
            "project" => Ok(Scope::Project),
            other => Err(PolicyError::UnknownScope {
                scope: other.to_owned(),
            }),
        }
    }
}

impl Scope {
    /// The scope of the token behind `creds`, as oslo.policy decides it.
    pub fn of(creds: &Value) -> Scope {
        let set = |key: &str| creds.get(key).is_some_and(truthy);
        if set("system") || set("system_scope") {
            Scope::System
        } else if set("domain_id") {
            Scope::Domain
        } else {
            Scope::Project
        }
    }
}

/// Why a policy could not be built or overridden.
#[derive(thiserror::Error, Debug)]
pub enum PolicyError {
    /// A check string does not parse. `column` counts characters from 1.
    #[error("rule `{rule}`: {message} (column {column} of `{check}`)")]
    Parse {
        rule: String,
        check: String,
        column: usize,
        message: String,
    },
    /// `rule:` references that lead back to where they started.
    #[error("rule references form a cycle: {}", cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
    /// The same name twice among the defaults.
    #[error("rule `{rule}` is defined twice among the defaults")]
    DuplicateRule { rule: String },
    /// Scope types given for a rule that does not exist.
    #[error("scope types given for unknown rule `{rule}`")]
    UnknownRule { rule: String },
    #[error("unknown scope type `{scope}` (expected system, domain or project)")]
    UnknownScope { scope: String },
    #[error("policy overrides are not valid YAML")]
    Yaml(#[source] yaml_serde::Error),
    #[error("policy overrides must be a map from rule name to check string")]
    NotAMap,
    #[error("policy override `{rule}` is not a check string")]
    NotAString { rule: String },
    #[error("reading policy file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Anything wrong with the contents of a policy file.
    #[error("policy file {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: Box<PolicyError>,
    },
}

impl Policy {
    /// Builds a policy from a service's default rules: `(name, check string)`
    /// pairs. Fails on a check string that does not parse, a name given
    /// twice, or a cycle of `rule:` references.
    pub fn new(defaults: &[(&str, &str)]) -> Result<Policy, PolicyError> {
        let mut policy = Policy {
            meta: Vec::new(),
            checks: Vec::new(),
            by_name: HashMap::new(),
        };
        for (name, source) in defaults {
            if policy.by_name.contains_key(*name) {
                return Err(PolicyError::DuplicateRule {
                    rule: (*name).to_owned(),
                });
            }
            let check = parse_rule(name, source)?;
            policy.insert(name, source, check);
        }
        policy.link()?;
        Ok(policy)
    }

    /// Records oslo.policy `scope_types` for rules: [`Policy::enforce`]
    /// refuses a token whose [`Scope`] is not listed, whatever the check
    /// string says. Scope types belong to the defaults and survive
    /// overrides of the check string, as in oslo.
    pub fn set_scope_types(&mut self, scope_types: &[(&str, &[Scope])]) -> Result<(), PolicyError> {
        for (name, _) in scope_types {
            if !self.by_name.contains_key(*name) {
                return Err(PolicyError::UnknownRule {
                    rule: (*name).to_owned(),
                });
            }
        }
        for (name, scopes) in scope_types {
            let index = self.by_name[*name];
            self.meta[index].scope_types = Some(scopes.to_vec());
        }
        Ok(())
    }

    /// Applies an operator's `policy.yaml` (or `policy.json`, JSON being
    /// YAML): a map from rule name to check string. Named rules are
    /// replaced, new names are added. All or nothing: on error the policy is
    /// unchanged. An empty document overrides nothing.
    pub fn apply_overrides_yaml(&mut self, yaml: &str) -> Result<(), PolicyError> {
        let doc: Option<yaml_serde::Value> = yaml_serde::from_str(yaml).map_err(PolicyError::Yaml)?;
        let map = match doc {
            None | Some(yaml_serde::Value::Null) => return Ok(()),
            Some(yaml_serde::Value::Mapping(map)) => map,
            Some(_) => return Err(PolicyError::NotAMap),
        };
        let mut next = self.clone();
        for (key, value) in &map {
            let Some(name) = key.as_str() else {
                return Err(PolicyError::NotAMap);
            };
            let Some(source) = value.as_str() else {
                return Err(PolicyError::NotAString { rule: name.to_owned() });
            };
            let check = parse_rule(name, source)?;
            next.insert(name, source, check);
        }
        next.link()?;
        tracing::info!(rules = map.len(), "policy: applied overrides");
        *self = next;
        Ok(())
    }

    /// Applies the overrides in the file at `path`; a missing file overrides
    /// nothing.
    pub fn load_overrides_file(&mut self, path: &Path) -> Result<(), PolicyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(path = %path.display(), "policy: no override file");
                return Ok(());
            }
            Err(source) => {
                return Err(PolicyError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        self.apply_overrides_yaml(&text).map_err(|e| PolicyError::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// Whether `creds` may perform `action` on `target`. An unknown action
    /// is refused (and logged: it is a programming error). See the crate
    /// documentation for the shapes of `target` and `creds`.
    pub fn enforce(&self, action: &str, target: &Value, creds: &Value) -> bool {
        let Some(&index) = self.by_name.get(action) else {
            tracing::warn!(action, "policy: unknown action; refusing");
            return false;
        };
        if let Some(scopes) = &self.meta[index].scope_types {
            let scope = Scope::of(creds);
            if !scopes.contains(&scope) {
                tracing::debug!(action, ?scope, "policy: token scope not allowed for this action");
                return false;
            }
        }
        self.checks[index].eval(&Env {
            rules: &self.checks,
            target,
            creds,
        })
    }

    /// The check string in force for `name`.
    pub fn rule(&self, name: &str) -> Option<String> {
        self.by_name.get(name).map(|&i| self.meta[i].source.clone())
    }

    /// The names of all rules, defaults first, in the order they were added.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.meta.iter().map(|m| m.name.as_str())
    }

    fn insert(&mut self, name: &str, source: &str, check: Check) {
        match self.by_name.get(name) {
            Some(&index) => {
                self.meta[index].source = source.to_owned();
                self.checks[index] = check;
            }
            None => {
                self.by_name.insert(name.to_owned(), self.meta.len());
                self.meta.push(RuleMeta {
                    name: name.to_owned(),
                    source: source.to_owned(),
                    scope_types: None,
                });
                self.checks.push(check);
            }
        }
    }

    /// Resolves `rule:` references to indexes and refuses cycles.
    fn link(&mut self) -> Result<(), PolicyError> {
        let by_name = &self.by_name;
        for (meta, check) in self.meta.iter().zip(&mut self.checks) {
            check.for_each_reference_mut(&mut |name, index| {
                *index = by_name.get(name).copied();
                if index.is_none() {
                    tracing::warn!(
                        rule = meta.name,
                        missing = name,
                        "policy: reference to an undefined rule never matches"
                    );
                }
            });
        }
        self.find_cycle()
    }

    fn find_cycle(&self) -> Result<(), PolicyError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        fn visit(policy: &Policy, at: usize, marks: &mut [Mark], path: &mut Vec<usize>) -> Result<(), PolicyError> {
            marks[at] = Mark::OnPath;
            path.push(at);
            let mut result = Ok(());
            policy.checks[at].for_each_reference(&mut |_, index| {
                let Some(next) = index else { return };
                if result.is_err() {
                    return;
                }
                result = match marks[next] {
                    Mark::Done => Ok(()),
                    Mark::New => visit(policy, next, marks, path),
                    Mark::OnPath => {
                        let start = path.iter().position(|&i| i == next).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            path[start..].iter().map(|&i| policy.meta[i].name.clone()).collect();
                        cycle.push(policy.meta[next].name.clone());
                        Err(PolicyError::Cycle { cycle })
                    }
                };
            });
            path.pop();
            marks[at] = Mark::Done;
            result
        }
        let mut marks = vec![Mark::New; self.checks.len()];
        let mut path = Vec::new();
        for start in 0..self.checks.len() {
            if marks[start] == Mark::New {
                visit(self, start, &mut marks, &mut path)?;
            }
        }
        Ok(())
    }
}

fn parse_rule(name: &str, source: &str) -> Result<Check, PolicyError> {
    parse::parse(source).map_err(|e| PolicyError::Parse {
        rule: name.to_owned(),
        check: source.to_owned(),
        column: source[..e.offset.min(source.len())].chars().count() + 1,
        message: e.message,
    })
}

#[cfg(test)]
mod tests;
