//! Rules of servers, their actions, metadata, tags, instance actions,
//! server groups and usage.

pub(super) fn rules() -> Vec<(&'static str, String)> {
    Vec::new()
}
