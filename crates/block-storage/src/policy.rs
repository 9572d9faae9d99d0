//! Cinder's default policy rules (cinder/policies/*.py, the secure-RBAC
//! defaults of Cinder 2024.x: admin, project member, project reader), fed to
//! the `policy` crate.
//!
//! The target of a rule is the resource's owner: `{"project_id": …}` — the
//! volume's or snapshot's project, the quota set's project, or the caller's
//! own project for creates and lists.

const ADMIN: &str = "rule:admin_api";
const MEMBER: &str = "rule:admin_api or (role:member and project_id:%(project_id)s)";
const READER: &str = "rule:admin_api or (role:reader and project_id:%(project_id)s)";
const ANYONE: &str = "";

/// `(name, check string)` pairs.
pub fn default_rules() -> Vec<(&'static str, String)> {
    let rules: &[(&'static str, &str)] = &[
        ("context_is_admin", "role:admin"),
        ("admin_api", "rule:context_is_admin"),
        ("default", MEMBER),
        // volumes
        ("volume:create", MEMBER),
        ("volume:create_from_image", MEMBER),
        ("volume:get", READER),
        ("volume:get_all", READER),
        ("volume:update", MEMBER),
        ("volume:delete", MEMBER),
        ("volume:force_delete", ADMIN),
        ("volume:extend", MEMBER),
        ("volume:retype", MEMBER),
        ("volume:update_readonly_flag", MEMBER),
        ("volume_extension:volume_actions:set_bootable", MEMBER),
        ("volume:get_volume_metadata", READER),
        ("volume:create_volume_metadata", MEMBER),
        ("volume:update_volume_metadata", MEMBER),
        ("volume:delete_volume_metadata", MEMBER),
        ("volume_extension:volume_admin_actions:reset_status", ADMIN),
        ("volume_extension:volume_admin_actions:force_delete", ADMIN),
        ("volume_extension:volume_admin_actions:force_detach", ADMIN),
        ("volume_extension:volume_actions:reserve", MEMBER),
        ("volume_extension:volume_actions:unreserve", MEMBER),
        ("volume_extension:volume_actions:begin_detaching", MEMBER),
        ("volume_extension:volume_actions:roll_detaching", MEMBER),
        ("volume_extension:volume_actions:initialize_connection", MEMBER),
        ("volume_extension:volume_actions:terminate_connection", MEMBER),
        ("volume_extension:volume_actions:attach", MEMBER),
        ("volume_extension:volume_actions:detach", MEMBER),
        ("volume:extend_attached_volume", MEMBER),
        ("volume:revert_to_snapshot", MEMBER),
        // attachments (3.27)
        ("volume:attachment_create", ANYONE),
        ("volume:attachment_update", MEMBER),
        ("volume:attachment_delete", MEMBER),
        ("volume:attachment_complete", MEMBER),
        ("volume:multiattach_bootable_volume", MEMBER),
        ("volume_extension:volume_host_attribute", ADMIN),
        ("volume_extension:volume_mig_status_attribute", ADMIN),
        ("volume_extension:volume_tenant_attribute", READER),
        ("volume_extension:volume_image_metadata:show", READER),
        ("volume_extension:volume_image_metadata:set", MEMBER),
        ("volume_extension:volume_image_metadata:remove", MEMBER),
        // snapshots
        ("volume:create_snapshot", MEMBER),
        ("volume:get_snapshot", READER),
        ("volume:get_all_snapshots", READER),
        ("volume:update_snapshot", MEMBER),
        ("volume:delete_snapshot", MEMBER),
        ("volume:get_snapshot_metadata", READER),
        ("volume:update_snapshot_metadata", MEMBER),
        ("volume:delete_snapshot_metadata", MEMBER),
        ("volume_extension:extended_snapshot_attributes", READER),
        ("volume_extension:snapshot_admin_actions:reset_status", ADMIN),
        ("volume_extension:snapshot_admin_actions:force_delete", ADMIN),
        ("snapshot_extension:snapshot_actions:update_snapshot_status", MEMBER),
        // transfers (cinder/policies/volume_transfer.py); accept's target
        // is the accepting project
        ("volume:get_transfer", READER),
        ("volume:get_all_transfers", READER),
        ("volume:create_transfer", MEMBER),
        ("volume:accept_transfer", MEMBER),
        ("volume:delete_transfer", MEMBER),
        // volume types
        ("volume_extension:type_create", ADMIN),
        ("volume_extension:type_update", ADMIN),
        ("volume_extension:type_delete", ADMIN),
        ("volume_extension:type_get", ANYONE),
        ("volume_extension:type_get_all", ANYONE),
        ("volume_extension:access_types_extra_specs", ADMIN),
        ("volume_extension:types_extra_specs:index", ANYONE),
        ("volume_extension:types_extra_specs:show", ANYONE),
        ("volume_extension:types_extra_specs:create", ADMIN),
        ("volume_extension:types_extra_specs:update", ADMIN),
        ("volume_extension:types_extra_specs:delete", ADMIN),
        ("volume_extension:volume_type_access", ANYONE),
        ("volume_extension:volume_type_access:addProjectAccess", ADMIN),
        ("volume_extension:volume_type_access:removeProjectAccess", ADMIN),
        ("volume_extension:volume_type_access:get_all_for_type", ADMIN),
        // QoS specs
        ("volume_extension:qos_specs_manage:create", ADMIN),
        ("volume_extension:qos_specs_manage:get", ADMIN),
        ("volume_extension:qos_specs_manage:get_all", ADMIN),
        ("volume_extension:qos_specs_manage:update", ADMIN),
        ("volume_extension:qos_specs_manage:delete", ADMIN),
        // user messages (3.3)
        ("message:get_all", READER),
        ("message:get", READER),
        ("message:delete", MEMBER),
        // quotas, limits, zones, services
        ("volume_extension:quotas:show", READER),
        ("volume_extension:quotas:update", ADMIN),
        ("volume_extension:quotas:delete", ADMIN),
        ("volume_extension:quota_classes", ADMIN),
        ("volume_extension:quota_classes:update", ADMIN),
        ("limits_extension:used_limits", READER),
        ("volume_extension:availability_zone_list", ANYONE),
        ("volume_extension:services:index", ADMIN),
        ("volume_extension:services:update", ADMIN),
        ("volume_extension:hosts", ADMIN),
        ("scheduler_extension:scheduler_stats:get_pools", ADMIN),
        ("volume_extension:capabilities", ADMIN),
        ("volume_extension:list_extensions", ANYONE),
    ];
    rules.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> policy::Policy {
        let rules = default_rules();
        let pairs: Vec<(&str, &str)> = rules.iter().map(|(k, v)| (*k, v.as_str())).collect();
        policy::Policy::new(&pairs).unwrap()
    }

    #[test]
    fn readers_read_members_write_admins_administer() {
        let p = policy();
        let reader = json!({"roles": ["reader"], "project_id": "p1"});
        let member = json!({"roles": ["member", "reader"], "project_id": "p1"});
        let other = json!({"roles": ["member", "reader"], "project_id": "p2"});
        let admin = json!({"roles": ["admin", "member", "reader"], "project_id": "p9"});
        let target = json!({"project_id": "p1"});
        assert!(p.enforce("volume:get", &target, &reader));
        assert!(!p.enforce("volume:create", &target, &reader));
        assert!(p.enforce("volume:create", &target, &member));
        assert!(!p.enforce("volume:get", &target, &other));
        assert!(!p.enforce("volume_extension:volume_admin_actions:reset_status", &target, &member));
        assert!(p.enforce("volume_extension:volume_admin_actions:reset_status", &target, &admin));
        assert!(p.enforce("volume_extension:type_get_all", &target, &other));
        assert!(!p.enforce("volume_extension:quotas:update", &target, &member));
    }
}
