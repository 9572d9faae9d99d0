//! `rescue` / `unrescue` over HTTP with the fake driver: the state
//! machine (ACTIVE → RESCUE → ACTIVE, from SHUTOFF too, stop and start of
//! a rescued server, delete), Nova's errors (bad bodies 400, unknown
//! rescue image 400, wrong state 409, locked 409, policy 403), instance
//! actions and a driver failure erroring the server.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use super::{action, admin_project, boot, call, image, wait_status};

/// A new user with `role` in `project`, and its token.
pub(crate) async fn user_in(cloud: &TestCloud, admin: &str, project: &str, name: &str, role: &str) -> String {
    let (s, u) = cloud
        .call(
            Method::POST,
            "users",
            admin,
            Some(json!({"user": {"name": name, "password": "pw", "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["user"]["id"].as_str().unwrap().to_owned();
    let (_, roles) = cloud
        .call(Method::GET, &format!("roles?name={role}"), admin, None)
        .await;
    let rid = roles["roles"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = cloud
        .call(
            Method::PUT,
            &format!("projects/{project}/users/{uid}/roles/{rid}"),
            admin,
            None,
        )
        .await;
    assert_eq!(s, 204);
    cloud.token_for(&uid, "pw", json!({"project": {"id": project}})).await.0
}

fn rescue_image_of(cloud: &TestCloud, id: &str) -> Option<String> {
    cloud.agents[0]
        .1
        .instance(id)
        .expect("on the fake hypervisor")
        .rescue_image
}

async fn server(cloud: &TestCloud, token: &str, id: &str) -> Value {
    let (s, v) = call(cloud, Method::GET, &format!("servers/{id}"), token, None).await;
    assert_eq!(s, 200, "{v}");
    v["server"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescue_and_unrescue() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    let other_img = image(&cloud, &token).await;
    let (s, v) = boot(&cloud, &token, &img, json!({})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    // Policy: a reader may not, a member may.
    let reader = user_in(&cloud, &token, &project, "rescue-reader", "reader").await;
    let member = user_in(&cloud, &token, &project, "rescue-member", "member").await;
    let (s, v) = action(&cloud, &reader, &id, json!({"rescue": {}})).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = action(&cloud, &reader, &id, json!({"unrescue": null})).await;
    assert_eq!(s, 403, "{v}");

    // Bad bodies and images: 400, nothing changes.
    for body in [
        json!({"rescue": {"flavor": "1"}}),
        json!({"rescue": {"adminPass": 5}}),
        json!({"rescue": {"rescue_image_ref": "not-a-uuid"}}),
        json!({"rescue": "yes"}),
    ] {
        let (s, v) = action(&cloud, &token, &id, body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
    }
    let missing = uuid::Uuid::new_v4().to_string();
    let (s, v) = action(&cloud, &token, &id, json!({"rescue": {"rescue_image_ref": missing}})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        format!("Requested rescue image '{missing}' is not supported")
    );

    // Wrong state: 409 with Nova's words.
    let (s, v) = action(&cloud, &token, &id, json!({"unrescue": null})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["conflictingRequest"]["message"],
        format!("Cannot 'unrescue' instance {id} while it is in vm_state active")
    );

    // Locked by an admin: the member is refused.
    let (s, _) = action(&cloud, &token, &id, json!({"lock": null})).await;
    assert_eq!(s, 202);
    let (s, v) = action(&cloud, &member, &id, json!({"rescue": {}})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["conflictingRequest"]["message"], format!("Instance {id} is locked"));
    let (s, _) = action(&cloud, &token, &id, json!({"unlock": null})).await;
    assert_eq!(s, 202);
    assert_eq!(server(&cloud, &token, &id).await["status"], "ACTIVE");

    // Rescue with the server's own image and the caller's password.
    let (s, v) = action(&cloud, &member, &id, json!({"rescue": {"adminPass": "s3cret"}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({"adminPass": "s3cret"}));
    let rescued = wait_status(&cloud, &token, &id, "RESCUE").await;
    assert_eq!(rescued["OS-EXT-STS:vm_state"], "rescued");
    assert_eq!(rescued["OS-EXT-STS:power_state"], 1);
    assert_eq!(rescue_image_of(&cloud, &id).as_deref(), Some(img.as_str()));
    let (s, v) = action(&cloud, &member, &id, json!({"rescue": {}})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["conflictingRequest"]["message"],
        format!("Cannot 'rescue' instance {id} while it is in vm_state rescued")
    );
    let (s, _) = action(&cloud, &member, &id, json!({"pause": null})).await;
    assert_eq!(s, 409);

    // Unrescue: 202 and no body, back to ACTIVE on its own disk.
    let (s, v) = action(&cloud, &member, &id, json!({"unrescue": null})).await;
    assert_eq!((s, v), (202, Value::Null));
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(rescue_image_of(&cloud, &id), None);

    // Another image, a generated password (the body the CLI sends).
    let (s, v) = action(&cloud, &member, &id, json!({"rescue": {"rescue_image_ref": other_img}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["adminPass"].as_str().map(str::len), Some(12), "{v}");
    wait_status(&cloud, &token, &id, "RESCUE").await;
    assert_eq!(rescue_image_of(&cloud, &id).as_deref(), Some(other_img.as_str()));
    let console = cloud.agents[0].1.instance(&id).unwrap().console.join("\n");
    assert!(
        console.contains(&format!("rescue boot from image {other_img}")),
        "{console}"
    );

    // A rescued server stops; its start boots its own disk.
    let (s, _) = action(&cloud, &member, &id, json!({"os-stop": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "SHUTOFF").await;
    let (s, _) = action(&cloud, &member, &id, json!({"os-start": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(rescue_image_of(&cloud, &id), None);

    // From SHUTOFF (`{"rescue": null}` is valid too), then delete the rescued server.
    let (s, _) = action(&cloud, &member, &id, json!({"os-stop": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "SHUTOFF").await;
    let (s, v) = action(&cloud, &member, &id, json!({"rescue": null})).await;
    assert_eq!(s, 200, "{v}");
    wait_status(&cloud, &token, &id, "RESCUE").await;

    // Instance actions record both, with their compute events.
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{id}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "rescue", "stop", "start", "stop", "rescue", "unrescue", "rescue", "unlock", "lock", "create"
        ]
    );
    for (i, event) in [(0, "compute_rescue_instance"), (5, "compute_unrescue_instance")] {
        let req = v["instanceActions"][i]["request_id"].as_str().unwrap();
        let (_, a) = call(
            &cloud,
            Method::GET,
            &format!("servers/{id}/os-instance-actions/{req}"),
            &token,
            None,
        )
        .await;
        assert_eq!(a["instanceAction"]["events"][0]["event"], event, "{a}");
        assert_eq!(a["instanceAction"]["events"][0]["result"], "Success", "{a}");
    }

    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{id}"), &member, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &id, "DELETED").await;
    assert!(cloud.agents[0].1.instance(&id).is_none());
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rescue_errors_the_server() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (s, v) = boot(&cloud, &token, &img, json!({"metadata": {"fake_fail_rescue": "true"}})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let (s, v) = action(&cloud, &token, &id, json!({"rescue": {}})).await;
    assert_eq!(s, 200, "{v}");
    let errored = wait_status(&cloud, &token, &id, "ERROR").await;
    let message = errored["fault"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("rescue"), "{errored}");
    // Nova allows a rescue from ERROR; the unrescue of a server that is
    // not rescued is still a 409.
    let (s, _) = action(&cloud, &token, &id, json!({"unrescue": null})).await;
    assert_eq!(s, 409);
    cloud.stop().await;
}
