//! Glance's default policy rules (glance/policies/base.py and image.py, the
//! secure-RBAC defaults of Glance 33), fed to the `policy` crate.
//!
//! The target of an image rule is the image: `project_id` and `owner` are
//! its owner, `visibility` its visibility, and `member_id` the caller's
//! project when the caller is a member of the image (absent otherwise), as
//! Glance's `ImageTarget` builds it. `get_images` and `add_image` see
//! `project_id` = the caller's project (and `owner` = the new image's owner).

const PROJECT_MEMBER: &str = "role:member and project_id:%(project_id)s";
const PROJECT_READER: &str = "role:reader and project_id:%(project_id)s";

/// `(name, check string)` pairs.
pub fn default_rules() -> Vec<(&'static str, String)> {
    let admin = "rule:context_is_admin";
    let admin_or_member = format!("{admin} or ({PROJECT_MEMBER})");
    let admin_or_reader = format!("{admin} or ({PROJECT_READER})");
    let visible = "project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s \
                   or 'shared':%(visibility)s";
    let get_image = format!("{admin} or (role:reader and (project_id:%(project_id)s or {visible}))");
    let download = format!("{admin} or (role:member and (project_id:%(project_id)s or {visible}))");
    let create = format!("{admin} or ({PROJECT_MEMBER} and project_id:%(owner)s)");
    let shared_member = format!("{admin} or (role:member and project_id:%(member_id)s)");
    let reader_or_member =
        format!("{admin} or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)");
    let mut rules = vec![
        ("default", String::new()),
        ("context_is_admin", "role:admin".into()),
        ("service_api", "role:service or role:admin".into()),
        ("add_image", create),
        ("delete_image", admin_or_member.clone()),
        ("get_image", get_image),
        ("get_images", admin_or_reader.clone()),
        ("modify_image", admin_or_member.clone()),
        ("publicize_image", admin.into()),
        ("communitize_image", admin_or_member.clone()),
        ("download_image", download),
        ("upload_image", admin_or_member.clone()),
        ("add_member", admin_or_member.clone()),
        ("delete_member", admin_or_member.clone()),
        ("get_member", reader_or_member.clone()),
        ("get_members", reader_or_member),
        ("modify_member", shared_member),
        ("deactivate", admin_or_member.clone()),
        ("reactivate", admin_or_member.clone()),
        ("copy_image", admin.into()),
        ("stores_info_detail", admin.into()),
        ("get_task", admin_or_reader),
        ("tasks_api_access", admin.into()),
        ("manage_image_cache", admin.into()),
        ("metadef_default", String::new()),
        ("metadef_admin", "role:admin".into()),
    ];
    // The metadata definitions: reads for anyone (the namespace's
    // visibility is checked apart), writes for admins.
    for read in METADEF_READS {
        rules.push((read, "rule:metadef_default".into()));
    }
    for write in METADEF_WRITES {
        rules.push((write, "rule:metadef_admin".into()));
    }
    rules
}

const METADEF_READS: &[&str] = &[
    "get_metadef_namespace",
    "get_metadef_namespaces",
    "get_metadef_object",
    "get_metadef_objects",
    "get_metadef_property",
    "get_metadef_properties",
    "get_metadef_tag",
    "get_metadef_tags",
    "list_metadef_resource_types",
    "get_metadef_resource_type",
];

const METADEF_WRITES: &[&str] = &[
    "add_metadef_namespace",
    "modify_metadef_namespace",
    "delete_metadef_namespace",
    "add_metadef_object",
    "modify_metadef_object",
    "delete_metadef_object",
    "add_metadef_property",
    "modify_metadef_property",
    "remove_metadef_property",
    "add_metadef_tag",
    "add_metadef_tags",
    "modify_metadef_tag",
    "delete_metadef_tag",
    "delete_metadef_tags",
    "add_metadef_resource_type_association",
    "remove_metadef_resource_type_association",
];

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
    fn only_admins_publicize_and_members_see_shared() {
        let p = policy();
        let member = json!({"roles": ["member", "reader"], "project_id": "p1"});
        let admin = json!({"roles": ["admin", "member", "reader"], "project_id": "p9"});
        let target = json!({"project_id": "p1", "owner": "p1", "visibility": "private"});
        assert!(!p.enforce("publicize_image", &target, &member));
        assert!(p.enforce("publicize_image", &target, &admin));
        assert!(p.enforce("modify_image", &target, &member));
        let other = json!({"roles": ["member", "reader"], "project_id": "p2"});
        assert!(!p.enforce("get_image", &target, &other));
        let shared = json!({"project_id": "p1", "visibility": "shared", "member_id": "p2"});
        assert!(p.enforce("get_image", &shared, &other));
        assert!(p.enforce("modify_member", &shared, &other));
        assert!(!p.enforce("modify_member", &target, &member));
    }
}
