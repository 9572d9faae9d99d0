//! Rules of flavors, keypairs, quotas, limits, availability zones,
//! aggregates, hypervisors and services.

pub(super) fn rules() -> Vec<(&'static str, String)> {
    Vec::new()
}
