use reqwest::Method;
use serde_json::json;

use super::*;

#[tokio::test]
async fn types_extra_specs_and_access() {
    let cloud = cloud().await;
    let (admin_token, admin_project) = admin(&cloud).await;
    let (project, token) = project_user(&cloud, &admin_token, "tp", "member").await;
    macro_rules! a {
        ($m:expr, $p:expr, $b:expr $(,)?) => {
            call(&cloud, $m, &admin_project, &$p, &admin_token, $b)
        };
    }

    let (s, d) = a!(Method::GET, "types/default", None).await;
    assert_eq!(s, 200);
    assert_eq!(d["volume_type"]["name"], "__DEFAULT__");
    let default_id = d["volume_type"]["id"].as_str().unwrap().to_owned();
    let (s, _) = a!(Method::DELETE, &format!("types/{default_id}"), None).await;
    assert_eq!(s, 400);

    let (s, t) = a!(
        Method::POST,
        "types",
        Some(json!({"volume_type": {"name": "fast", "extra_specs": {"volume_backend_name": "file"}}})),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let fast = t["volume_type"]["id"].as_str().unwrap().to_owned();
    assert_eq!(t["volume_type"]["extra_specs"]["volume_backend_name"], "file");
    let (s, _) = a!(Method::POST, "types", Some(json!({"volume_type": {"name": "fast"}}))).await;
    assert_eq!(s, 409);
    let (s, _) = call(
        &cloud,
        Method::POST,
        &project,
        "types",
        &token,
        Some(json!({"volume_type": {"name": "x"}})),
    )
    .await;
    assert_eq!(s, 403);

    // Extra specs.
    let (s, e) = a!(
        Method::POST,
        &format!("types/{fast}/extra_specs"),
        Some(json!({"extra_specs": {"k": "v"}})),
    )
    .await;
    assert_eq!(s, 200, "{e}");
    let (_, e) = a!(Method::GET, &format!("types/{fast}/extra_specs"), None).await;
    assert_eq!(e["extra_specs"], json!({"volume_backend_name": "file", "k": "v"}));
    let (s, e) = a!(
        Method::PUT,
        &format!("types/{fast}/extra_specs/k"),
        Some(json!({"k": "w"}))
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(e["k"], "w");
    let (s, _) = a!(Method::DELETE, &format!("types/{fast}/extra_specs/k"), None).await;
    assert_eq!(s, 202);
    let (s, _) = a!(Method::GET, &format!("types/{fast}/extra_specs/k"), None).await;
    assert_eq!(s, 404);

    // A volume of the type lands on the backend named by the spec; the
    // type is then in use.
    let v = volume(&cloud, &project, &token, json!({"size": 1, "volume_type": "fast"})).await;
    assert_eq!(v["volume_type"], "fast");
    let (s, e) = a!(Method::DELETE, &format!("types/{fast}"), None).await;
    assert_eq!(s, 400, "{e}");
    let (s, q) = call(
        &cloud,
        Method::GET,
        &project,
        &format!("os-quota-sets/{project}?usage=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(q["quota_set"]["volumes_fast"]["in_use"], 1);

    // Retype: to a type of the same backend, yes; away from it, no.
    let vid = v["id"].as_str().unwrap().to_owned();
    let (_, t) = a!(
        Method::POST,
        "types",
        Some(json!({"volume_type": {"name": "elsewhere", "extra_specs": {"volume_backend_name": "lvm"}}}))
    )
    .await;
    assert_eq!(t["volume_type"]["name"], "elsewhere");
    let retype_path = format!("volumes/{vid}/action");
    let retype = |ty: &'static str| {
        call(
            &cloud,
            Method::POST,
            &project,
            &retype_path,
            &token,
            Some(json!({"os-retype": {"new_type": ty, "migration_policy": "never"}})),
        )
    };
    let (s, e) = retype("elsewhere").await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = retype("__DEFAULT__").await;
    assert_eq!(s, 202, "{e}");
    let (_, shown) = call(&cloud, Method::GET, &project, &format!("volumes/{vid}"), &token, None).await;
    assert_eq!(shown["volume"]["volume_type"], "__DEFAULT__");
    let (s, _) = retype("fast").await;
    assert_eq!(s, 202);

    // A backend nobody has: the volume goes to error.
    let (_, t) = a!(
        Method::POST,
        "types",
        Some(json!({"volume_type": {"name": "nowhere", "extra_specs": {"volume_backend_name": "rbd"}}})),
    )
    .await;
    assert_eq!(t["volume_type"]["name"], "nowhere");
    let (s, v) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 1, "volume_type": "nowhere"}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let id = v["volume"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "error").await;
    let (s, e) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 1, "volume_type": "missing"}})),
    )
    .await;
    assert_eq!(s, 404, "{e}");

    // Private types and access.
    let (_, t) = a!(
        Method::POST,
        "types",
        Some(json!({"volume_type": {"name": "private", "os-volume-type-access:is_public": false}})),
    )
    .await;
    let private = t["volume_type"]["id"].as_str().unwrap().to_owned();
    assert_eq!(t["volume_type"]["is_public"], false);
    let (_, l) = call(&cloud, Method::GET, &project, "types", &token, None).await;
    assert!(
        !l["volume_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "private")
    );
    assert!(
        l["volume_types"][0].get("extra_specs").is_none(),
        "extra specs are for admins"
    );
    let (s, _) = call(&cloud, Method::GET, &project, &format!("types/{private}"), &token, None).await;
    assert_eq!(s, 404);
    let (s, _) = a!(
        Method::POST,
        &format!("types/{private}/action"),
        Some(json!({"addProjectAccess": {"project": project}})),
    )
    .await;
    assert_eq!(s, 202);
    let (s, _) = a!(
        Method::POST,
        &format!("types/{private}/action"),
        Some(json!({"addProjectAccess": {"project": project}})),
    )
    .await;
    assert_eq!(s, 409);
    let (_, acc) = a!(Method::GET, &format!("types/{private}/os-volume-type-access"), None).await;
    assert_eq!(acc["volume_type_access"][0]["project_id"], project.as_str());
    let (_, l) = call(&cloud, Method::GET, &project, "types", &token, None).await;
    assert!(
        l["volume_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "private")
    );
    let (s, _) = a!(
        Method::POST,
        &format!("types/{private}/action"),
        Some(json!({"removeProjectAccess": {"project": project}})),
    )
    .await;
    assert_eq!(s, 202);
    let (_, l) = a!(Method::GET, "types?is_public=false", None).await;
    assert_eq!(l["volume_types"].as_array().unwrap().len(), 1);

    // Update and delete.
    let (s, u) = a!(
        Method::PUT,
        &format!("types/{private}"),
        Some(json!({"volume_type": {"name": "renamed", "description": "d"}})),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["volume_type"]["description"], "d");
    let (s, _) = a!(Method::DELETE, &format!("types/{private}"), None).await;
    assert_eq!(s, 202);
    let (s, _) = a!(Method::GET, &format!("types/{private}"), None).await;
    assert_eq!(s, 404);
    cloud.stop().await;
}
