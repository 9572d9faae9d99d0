//! Images: create, show, list (filters, sorting, paging), JSON patch,
//! tags, protection, deletion, and bad input.

use reqwest::Method;
use serde_json::json;

use crate::{call, cloud, create_image, patch, project_user, upload, url};

#[tokio::test]
async fn create_show_patch_delete() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, token) = project_user(&cloud, &admin, "p1", "member").await;
    let img = create_image(
        &cloud,
        &token,
        json!({"name": "cirros", "min_disk": 1, "min_ram": 64, "tags": ["a", "b", "a"], "os_distro": "cirros"}),
    )
    .await;
    let id = img["id"].as_str().unwrap();
    assert_eq!(img["status"], "queued");
    assert_eq!(img["visibility"], "shared");
    assert_eq!(img["owner"], pid.as_str());
    assert_eq!(img["os_distro"], "cirros");
    assert_eq!(img["tags"], json!(["a", "b"]));
    assert_eq!(img["self"], format!("/v2/images/{id}"));
    assert_eq!(img["file"], format!("/v2/images/{id}/file"));
    assert_eq!(img["schema"], "/v2/schemas/image");
    assert!(img["checksum"].is_null() && img["size"].is_null() && img["os_hash_value"].is_null());
    assert!(img["created_at"].as_str().unwrap().ends_with('Z'));

    let (s, shown) = call(&cloud, Method::GET, &format!("v2/images/{id}"), &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(shown["name"], "cirros");

    // JSON patch: add/replace/remove of base and custom properties.
    let (s, v) = patch(
        &cloud,
        id,
        &token,
        json!([
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
            {"op": "replace", "path": "/os_distro", "value": "debian"},
            {"op": "add", "path": "/min_ram", "value": 128},
            {"op": "replace", "path": "/tags", "value": ["x"]},
        ]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "renamed");
    assert_eq!(v["hw_disk_bus"], "virtio");
    assert_eq!(v["os_distro"], "debian");
    assert_eq!(v["min_ram"], 128);
    assert_eq!(v["tags"], json!(["x"]));
    let (s, v) = patch(&cloud, id, &token, json!([{"op": "remove", "path": "/hw_disk_bus"}])).await;
    assert_eq!(s, 200);
    assert!(v.get("hw_disk_bus").is_none());
    // Bad patches: read-only 403, reserved 403, missing property 409,
    // base property removal 403, wrong types 400, wrong media type 415.
    for (ops, want) in [
        (json!([{"op": "replace", "path": "/checksum", "value": "x"}]), 403),
        (json!([{"op": "replace", "path": "/status", "value": "active"}]), 403),
        (json!([{"op": "add", "path": "/os_glance_foo", "value": "x"}]), 403),
        (json!([{"op": "replace", "path": "/nope", "value": "x"}]), 409),
        (json!([{"op": "remove", "path": "/nope"}]), 409),
        (json!([{"op": "remove", "path": "/name"}]), 403),
        (json!([{"op": "replace", "path": "/min_ram", "value": "big"}]), 400),
        (json!([{"op": "add", "path": "/prop", "value": 1}]), 400),
        (
            json!([{"op": "replace", "path": "/disk_format", "value": "wrong"}]),
            400,
        ),
        (json!([{"op": "move", "path": "/name", "value": "x"}]), 400),
        (json!([{"op": "replace", "path": "name", "value": "x"}]), 400),
        (json!({"op": "replace"}), 400),
        (json!([{"op": "replace", "path": "/owner", "value": "someone"}]), 403),
        (
            json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
            403,
        ),
    ] {
        let (s, v) = patch(&cloud, id, &token, ops.clone()).await;
        assert_eq!(s, want, "{ops} -> {v}");
    }
    let resp = cloud
        .http
        .patch(url(&cloud, &format!("v2/images/{id}")))
        .header("x-auth-token", &token)
        .header("content-type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // Nothing of the refused patches stuck.
    let (_, v) = call(&cloud, Method::GET, &format!("v2/images/{id}"), &token, None).await;
    assert_eq!(v["name"], "renamed");
    assert_eq!(v["visibility"], "shared");

    // Tags.
    let tag_url = |t: &str| format!("v2/images/{id}/tags/{t}");
    assert_eq!(call(&cloud, Method::PUT, &tag_url("new"), &token, None).await.0, 204);
    assert_eq!(call(&cloud, Method::PUT, &tag_url("new"), &token, None).await.0, 204);
    let (_, v) = call(&cloud, Method::GET, &format!("v2/images/{id}"), &token, None).await;
    assert_eq!(v["tags"], json!(["new", "x"]));
    assert_eq!(call(&cloud, Method::DELETE, &tag_url("new"), &token, None).await.0, 204);
    assert_eq!(call(&cloud, Method::DELETE, &tag_url("new"), &token, None).await.0, 404);
    let missing = "00000000-0000-0000-0000-000000000000";
    assert_eq!(
        call(
            &cloud,
            Method::PUT,
            &format!("v2/images/{missing}/tags/t"),
            &token,
            None
        )
        .await
        .0,
        404
    );

    // Protected images are not deleted.
    let (s, _) = patch(
        &cloud,
        id,
        &token,
        json!([{"op": "replace", "path": "/protected", "value": true}]),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("v2/images/{id}"), &token, None)
            .await
            .0,
        403
    );
    patch(
        &cloud,
        id,
        &token,
        json!([{"op": "replace", "path": "/protected", "value": false}]),
    )
    .await;
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("v2/images/{id}"), &token, None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{id}"), &token, None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("v2/images/{id}"), &token, None)
            .await
            .0,
        404
    );
    assert_eq!(call(&cloud, Method::GET, "v2/images/", &token, None).await.0, 404);
    assert_eq!(call(&cloud, Method::DELETE, "v2/images/", &token, None).await.0, 404);
    cloud.stop().await;
}

#[tokio::test]
async fn bad_create_input() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, token) = project_user(&cloud, &admin, "p1", "member").await;
    let post = |body: serde_json::Value| call(&cloud, Method::POST, "v2/images", &token, Some(body));
    for (body, want) in [
        (json!({"disk_format": "wrong"}), 400),
        (json!({"container_format": "wrong"}), 400),
        (json!({"checksum": "abc"}), 403),
        (json!({"self": "x"}), 403),
        (json!({"os_glance_foo": "bar"}), 403),
        (json!({"location": "file:///etc/passwd"}), 403),
        (json!({"min_ram": -1}), 400),
        (json!({"protected": "yes"}), 400),
        (json!({"custom": 5}), 400),
        (json!({"id": "not-a-uuid"}), 400),
        (json!({"visibility": "public"}), 403),
        (json!({"visibility": "bogus"}), 400),
        (json!({"owner": "someone-else"}), 403),
        (json!({"name": "x".repeat(256)}), 400),
        (json!(["not", "an", "object"]), 400),
    ] {
        let (s, v) = post(body.clone()).await;
        assert_eq!(s, want, "{body} -> {v}");
        assert!(v["message"].is_string(), "Glance fault shape: {v}");
    }
    let resp = cloud
        .http
        .post(url(&cloud, "v2/images"))
        .header("x-auth-token", &token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // A chosen id, then the same id again.
    let id = "6b4a3e2c-0d1f-4a5b-9c8d-7e6f5a4b3c2d";
    assert_eq!(post(json!({"id": id})).await.0, 201);
    assert_eq!(post(json!({"id": id})).await.0, 409);
    // An admin may publish.
    let (s, v) = call(
        &cloud,
        Method::POST,
        "v2/images",
        &admin,
        Some(json!({"visibility": "public"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    cloud.stop().await;
}

#[tokio::test]
async fn list_filters_sorting_and_paging() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, token) = project_user(&cloud, &admin, "p1", "member").await;
    let (_, other) = project_user(&cloud, &admin, "p2", "member").await;
    let mut ids = Vec::new();
    for (i, (disk, container)) in [("raw", "bare"), ("qcow2", "bare"), ("raw", "ovf"), ("iso", "bare")]
        .into_iter()
        .enumerate()
    {
        let img = create_image(
            &cloud,
            &token,
            json!({"name": format!("img{i}"), "disk_format": disk, "container_format": container,
                   "visibility": "private", "tags": [format!("t{i}"), "common"], "flavor": format!("f{}", i % 2)}),
        )
        .await;
        let id = img["id"].as_str().unwrap().to_owned();
        if i < 3 {
            assert_eq!(upload(&cloud, &id, &token, vec![7u8; 1000 * (i + 1)]).await, 204);
        }
        ids.push(id);
    }
    let hidden = create_image(&cloud, &token, json!({"os_hidden": true})).await;
    let other_private = create_image(&cloud, &other, json!({"visibility": "private"})).await;

    let list = |q: &'static str| {
        let token = token.clone();
        let cloud = &cloud;
        async move {
            let (s, v) = call(cloud, Method::GET, &format!("v2/images{q}"), &token, None).await;
            assert_eq!(s, 200, "{q}: {v}");
            v
        }
    };
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let all = list("").await;
    assert_eq!(all["first"], "/v2/images");
    assert_eq!(all["schema"], "/v2/schemas/images");
    // Newest first by default; hidden and other projects' private images
    // are not listed.
    assert_eq!(names(&all), ["img3", "img2", "img1", "img0"]);
    assert!(!all.to_string().contains(hidden["id"].as_str().unwrap()));
    assert!(!all.to_string().contains(other_private["id"].as_str().unwrap()));
    assert_eq!(names(&list("?os_hidden=true").await), ["img"]);
    assert_eq!(names(&list("?disk_format=raw").await), ["img2", "img0"]);
    assert_eq!(names(&list("?container_format=ovf").await), ["img2"]);
    assert_eq!(names(&list("?status=queued").await), ["img3"]);
    assert_eq!(
        names(&list("?status=active&sort_key=size&sort_dir=asc").await),
        ["img0", "img1", "img2"]
    );
    assert_eq!(
        names(&list("?status=active&sort=size:desc").await),
        ["img2", "img1", "img0"]
    );
    assert_eq!(names(&list("?sort=name:asc").await), ["img0", "img1", "img2", "img3"]);
    assert_eq!(names(&list("?size_min=1500&size_max=2500").await), ["img1"]);
    assert_eq!(names(&list("?size=3000").await), ["img2"]);
    assert_eq!(names(&list("?tag=t1").await), ["img1"]);
    assert_eq!(names(&list("?tag=common&tag=t3").await), ["img3"]);
    assert_eq!(names(&list("?flavor=f1").await), ["img3", "img1"]);
    assert_eq!(names(&list("?name=img2").await), ["img2"]);
    assert_eq!(names(&list("?visibility=private").await).len(), 4);
    assert_eq!(names(&list("?visibility=public").await).len(), 0);
    assert_eq!(names(&list("?protected=false").await).len(), 4);
    let owner_q = format!("v2/images?owner={pid}");
    let (_, v) = call(&cloud, Method::GET, &owner_q, &token, None).await;
    assert_eq!(names(&v).len(), 4);

    // Paging: limit, then follow `next` to the end.
    let mut seen = Vec::new();
    let mut next = Some("/v2/images?limit=3&sort=name:asc".to_owned());
    while let Some(path) = next {
        let (s, v) = call(&cloud, Method::GET, &path, &token, None).await;
        assert_eq!(s, 200);
        seen.extend(names(&v));
        next = v["next"].as_str().map(str::to_owned);
        if next.is_some() {
            assert!(next.as_deref().unwrap().contains("limit=3"));
        }
    }
    assert_eq!(seen, ["img0", "img1", "img2", "img3"]);
    assert_eq!(names(&list("?limit=1").await).len(), 1);

    for bad in [
        "?limit=x",
        "?limit=-1",
        "?sort_key=bogus",
        "?sort_dir=up",
        "?sort=name&sort_key=size",
        "?visibility=bogus",
        "?member_status=bogus",
        "?size_min=big",
        "?marker=00000000-0000-0000-0000-000000000000",
        "?changes-since=2020-01-01",
    ] {
        let (s, v) = call(&cloud, Method::GET, &format!("v2/images{bad}"), &token, None).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }

    // Another project's private image: 404 on show, patch, delete, upload.
    let oid = other_private["id"].as_str().unwrap();
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{oid}"), &token, None)
            .await
            .0,
        404
    );
    assert_eq!(
        patch(
            &cloud,
            oid,
            &token,
            json!([{"op": "replace", "path": "/name", "value": "x"}])
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("v2/images/{oid}"), &token, None)
            .await
            .0,
        404
    );
    assert_eq!(upload(&cloud, oid, &token, vec![1; 10]).await, 404);
    // The admin sees it.
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{oid}"), &admin, None)
            .await
            .0,
        200
    );
    cloud.stop().await;
}

#[tokio::test]
async fn readers_read_and_cannot_write() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, token) = project_user(&cloud, &admin, "p1", "member").await;
    // A reader in the same project.
    let (s, u) = cloud
        .call(
            Method::POST,
            "users",
            &admin,
            Some(json!({"user": {"name": "reader", "password": "pw", "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201);
    let uid = u["user"]["id"].as_str().unwrap();
    let (_, roles) = cloud.call(Method::GET, "roles?name=reader", &admin, None).await;
    let rid = roles["roles"][0]["id"].as_str().unwrap();
    cloud
        .call(
            Method::PUT,
            &format!("projects/{pid}/users/{uid}/roles/{rid}"),
            &admin,
            None,
        )
        .await;
    let (reader, _) = cloud.token_for(uid, "pw", json!({"project": {"id": pid}})).await;
    let img = create_image(&cloud, &token, json!({})).await;
    let id = img["id"].as_str().unwrap();
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{id}"), &reader, None)
            .await
            .0,
        200
    );
    assert_eq!(call(&cloud, Method::GET, "v2/images", &reader, None).await.0, 200);
    assert_eq!(
        patch(
            &cloud,
            id,
            &reader,
            json!([{"op": "replace", "path": "/name", "value": "x"}])
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("v2/images/{id}"), &reader, None)
            .await
            .0,
        403
    );
    let (s, _) = call(&cloud, Method::POST, "v2/images", &reader, Some(json!({"name": "r"}))).await;
    assert_eq!(s, 403);
    cloud.stop().await;
}
