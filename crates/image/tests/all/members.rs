//! Sharing: visibility and image members.

use reqwest::Method;
use serde_json::json;

use crate::{call, cloud, create_image, patch, project_user};

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn share_accept_reject_remove() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, owner) = project_user(&cloud, &admin, "owner", "member").await;
    let (alt_pid, alt) = project_user(&cloud, &admin, "alt", "member").await;
    let (_, third) = project_user(&cloud, &admin, "third", "member").await;
    let img = create_image(&cloud, &owner, json!({})).await;
    let id = img["id"].as_str().unwrap();
    let members = format!("v2/images/{id}/members");
    let me = format!("{members}/{alt_pid}");

    // Not visible to alt before sharing.
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{id}"), &alt, None)
            .await
            .0,
        404
    );
    let (s, m) = call(&cloud, Method::POST, &members, &owner, Some(json!({"member": alt_pid}))).await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["status"], "pending");
    assert_eq!(m["member_id"], alt_pid.as_str());
    assert_eq!(m["image_id"], id);
    assert_eq!(m["schema"], "/v2/schemas/member");
    let (s, _) = call(&cloud, Method::POST, &members, &owner, Some(json!({"member": alt_pid}))).await;
    assert_eq!(s, 409);
    // Pending: shown by id, listed only with member_status=pending.
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{id}"), &alt, None)
            .await
            .0,
        200
    );
    assert!(!ids(&call(&cloud, Method::GET, "v2/images", &alt, None).await.1).contains(&id.to_owned()));
    let (_, v) = call(
        &cloud,
        Method::GET,
        "v2/images?member_status=pending&visibility=shared",
        &alt,
        None,
    )
    .await;
    assert_eq!(ids(&v), [id]);
    // The owner cannot accept for the member; bad status is 400.
    assert_eq!(
        call(&cloud, Method::PUT, &me, &owner, Some(json!({"status": "accepted"})))
            .await
            .0,
        403
    );
    assert_eq!(
        call(&cloud, Method::PUT, &me, &alt, Some(json!({"status": "maybe"})))
            .await
            .0,
        400
    );
    // Third parties see nothing.
    assert_eq!(call(&cloud, Method::GET, &members, &third, None).await.0, 404);
    assert_eq!(
        call(&cloud, Method::PUT, &me, &third, Some(json!({"status": "accepted"})))
            .await
            .0,
        404
    );
    // Accept: listed.
    let (s, m) = call(&cloud, Method::PUT, &me, &alt, Some(json!({"status": "accepted"}))).await;
    assert_eq!(s, 200);
    assert_eq!(m["status"], "accepted");
    assert!(ids(&call(&cloud, Method::GET, "v2/images", &alt, None).await.1).contains(&id.to_owned()));
    let (s, list) = call(&cloud, Method::GET, &members, &owner, None).await;
    assert_eq!(s, 200);
    assert_eq!(list["members"].as_array().unwrap().len(), 1);
    assert_eq!(list["schema"], "/v2/schemas/members");
    let (s, m) = call(&cloud, Method::GET, &me, &alt, None).await;
    assert_eq!((s, m["status"].as_str()), (200, Some("accepted")));
    // The member may read but not modify the image, nor remove itself.
    assert_eq!(
        patch(
            &cloud,
            id,
            &alt,
            json!([{"op": "replace", "path": "/name", "value": "x"}])
        )
        .await
        .0,
        403
    );
    assert_eq!(call(&cloud, Method::DELETE, &me, &alt, None).await.0, 403);
    // Reject: no longer listed, still shown.
    call(&cloud, Method::PUT, &me, &alt, Some(json!({"status": "rejected"}))).await;
    assert!(!ids(&call(&cloud, Method::GET, "v2/images", &alt, None).await.1).contains(&id.to_owned()));
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{id}"), &alt, None)
            .await
            .0,
        200
    );
    // Removed: gone for alt.
    assert_eq!(call(&cloud, Method::DELETE, &me, &owner, None).await.0, 204);
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{id}"), &alt, None)
            .await
            .0,
        404
    );
    assert_eq!(call(&cloud, Method::DELETE, &me, &owner, None).await.0, 404);

    // Members only on shared images.
    let private = create_image(&cloud, &owner, json!({"visibility": "private"})).await;
    let pm = format!("v2/images/{}/members", private["id"].as_str().unwrap());
    assert_eq!(
        call(&cloud, Method::POST, &pm, &owner, Some(json!({"member": alt_pid})))
            .await
            .0,
        403
    );
    cloud.stop().await;
}

#[tokio::test]
async fn visibility_public_and_community() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, owner) = project_user(&cloud, &admin, "owner", "member").await;
    let (_, alt) = project_user(&cloud, &admin, "alt", "member").await;
    let community = create_image(&cloud, &owner, json!({"visibility": "community"})).await;
    let cid = community["id"].as_str().unwrap().to_owned();
    let public = create_image(&cloud, &admin, json!({"visibility": "public"})).await;
    let pid = public["id"].as_str().unwrap().to_owned();
    let listed = ids(&call(&cloud, Method::GET, "v2/images", &alt, None).await.1);
    assert!(listed.contains(&pid) && !listed.contains(&cid));
    let listed = ids(&call(&cloud, Method::GET, "v2/images?visibility=community", &alt, None)
        .await
        .1);
    assert_eq!(listed, std::slice::from_ref(&cid));
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{cid}"), &alt, None)
            .await
            .0,
        200
    );
    // Only admins publish; the owner may not make its image public.
    let (s, _) = patch(
        &cloud,
        &cid,
        &owner,
        json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = patch(
        &cloud,
        &cid,
        &admin,
        json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
    )
    .await;
    assert_eq!(s, 200);
    // Others may not modify or delete public images.
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("v2/images/{pid}"), &alt, None)
            .await
            .0,
        403
    );
    cloud.stop().await;
}
