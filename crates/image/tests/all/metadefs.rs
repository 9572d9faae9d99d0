//! Metadata definitions and the legacy tasks API.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{call, cloud, project_user};

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn namespaces_crud_visibility_and_protection() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "md", "member").await;
    let ns = "v2/metadefs/namespaces";

    let (s, rt) = call(&cloud, Method::GET, "v2/metadefs/resource_types", &member, None).await;
    assert_eq!(s, 200, "{rt}");
    assert!(names(&rt, "resource_types").contains(&"OS::Glance::Image".to_owned()));

    let body = json!({
        "namespace": "ns1", "display_name": "NS one", "description": "d", "visibility": "public",
        "protected": true, "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
    });
    assert_eq!(call(&cloud, Method::POST, ns, &member, Some(body.clone())).await.0, 403);
    let (s, v) = call(&cloud, Method::POST, ns, &admin, Some(body.clone())).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["namespace"], "ns1");
    assert_eq!(v["protected"], true);
    assert_eq!(v["self"], "/v2/metadefs/namespaces/ns1");
    assert_eq!(v["resource_type_associations"][0]["prefix"], "hw_");
    assert_eq!(call(&cloud, Method::POST, ns, &admin, Some(body)).await.0, 409);
    let (s, _) = call(
        &cloud,
        Method::POST,
        ns,
        &admin,
        Some(json!({"namespace": "x", "bogus": 1})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(&cloud, Method::POST, ns, &admin, Some(json!({"display_name": "x"}))).await;
    assert_eq!(s, 400);
    let (s, _) = call(&cloud, Method::POST, ns, &admin, Some(json!({"namespace": "priv"}))).await;
    assert_eq!(s, 201);

    // Private namespaces are the owner's (and admins').
    let (s, l) = call(&cloud, Method::GET, ns, &member, None).await;
    assert_eq!(s, 200);
    let listed: Vec<&str> = l["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["ns1"]);
    assert_eq!(
        call(&cloud, Method::GET, &format!("{ns}/priv"), &member, None).await.0,
        404
    );
    let (_, l) = call(&cloud, Method::GET, &format!("{ns}?visibility=private"), &admin, None).await;
    assert_eq!(l["namespaces"].as_array().unwrap().len(), 1);
    let (_, l) = call(
        &cloud,
        Method::GET,
        &format!("{ns}?resource_types=OS::Glance::Image"),
        &admin,
        None,
    )
    .await;
    assert_eq!(l["namespaces"][0]["namespace"], "ns1");
    assert_eq!(l["namespaces"].as_array().unwrap().len(), 1);

    // Protected: no delete until unprotected.
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{ns}/ns1"), &admin, None).await.0,
        403
    );
    let upd = json!({"namespace": "ns1", "visibility": "private", "protected": false, "description": "e"});
    assert_eq!(
        call(&cloud, Method::PUT, &format!("{ns}/ns1"), &member, Some(upd.clone()))
            .await
            .0,
        403
    );
    let (s, v) = call(&cloud, Method::PUT, &format!("{ns}/ns1"), &admin, Some(upd)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["visibility"], "private");
    assert_eq!(v["protected"], false);
    assert_eq!(v["description"], "e");
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("{ns}/ns1"),
        &admin,
        Some(json!({"namespace": "priv"})),
    )
    .await;
    assert_eq!(s, 409);
    // Rename: the children follow.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("{ns}/ns1"),
        &admin,
        Some(json!({"namespace": "ns2"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, v) = call(&cloud, Method::GET, &format!("{ns}/ns2/resource_types"), &admin, None).await;
    assert_eq!(names(&v, "resource_type_associations"), ["OS::Glance::Image"]);
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{ns}/ns2"), &admin, None).await.0,
        204
    );
    assert_eq!(
        call(&cloud, Method::GET, &format!("{ns}/ns2"), &admin, None).await.0,
        404
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{ns}/ns2"), &admin, None).await.0,
        404
    );
}

#[tokio::test]
async fn objects_properties_tags_and_associations() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "md", "member").await;
    let base = "v2/metadefs/namespaces/n";
    let (s, _) = call(
        &cloud,
        Method::POST,
        "v2/metadefs/namespaces",
        &admin,
        Some(json!({"namespace": "n", "visibility": "public"})),
    )
    .await;
    assert_eq!(s, 201);

    // Objects.
    let obj = json!({"name": "o1", "description": "d", "properties": {"p": {"type": "string", "title": "P"}}});
    assert_eq!(
        call(
            &cloud,
            Method::POST,
            &format!("{base}/objects"),
            &member,
            Some(obj.clone())
        )
        .await
        .0,
        403
    );
    let (s, v) = call(
        &cloud,
        Method::POST,
        &format!("{base}/objects"),
        &admin,
        Some(obj.clone()),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["properties"]["p"]["title"], "P");
    assert_eq!(
        call(&cloud, Method::POST, &format!("{base}/objects"), &admin, Some(obj))
            .await
            .0,
        409
    );
    let (s, v) = call(&cloud, Method::GET, &format!("{base}/objects/o1"), &member, None).await;
    assert_eq!((s, v["description"].clone()), (200, json!("d")));
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("{base}/objects/o1"),
        &admin,
        Some(json!({"name": "o2"})),
    )
    .await;
    assert_eq!((s, v["name"].clone()), (200, json!("o2")));
    let (_, v) = call(&cloud, Method::GET, &format!("{base}/objects"), &member, None).await;
    assert_eq!(names(&v, "objects"), ["o2"]);
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{base}/objects/o2"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&cloud, Method::GET, &format!("{base}/objects/o2"), &admin, None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{base}/objects/o2"), &admin, None)
            .await
            .0,
        404
    );

    // Properties (names may hold colons).
    let prop = json!({"name": "OS::Glance::Image", "title": "t", "type": "string", "enum": ["a", "b"]});
    let (s, v) = call(&cloud, Method::POST, &format!("{base}/properties"), &admin, Some(prop)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["title"], "t");
    let (s, _) = call(
        &cloud,
        Method::POST,
        &format!("{base}/properties"),
        &admin,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("{base}/properties/OS::Glance::Image"),
        &member,
        None,
    )
    .await;
    assert_eq!((s, v["name"].clone()), (200, json!("OS::Glance::Image")));
    let upd = json!({"name": "OS::Glance::Image", "title": "t2", "type": "string"});
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("{base}/properties/OS::Glance::Image"),
        &admin,
        Some(upd),
    )
    .await;
    assert_eq!((s, v["title"].clone()), (200, json!("t2")));
    let (_, v) = call(&cloud, Method::GET, &format!("{base}/properties"), &admin, None).await;
    assert_eq!(v["properties"]["OS::Glance::Image"]["title"], "t2");
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &format!("{base}/properties/OS::Glance::Image"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, v) = call(&cloud, Method::GET, &format!("{base}/properties"), &admin, None).await;
    assert_eq!(v["properties"], json!({}));

    // Tags.
    let tags = json!({"tags": [{"name": "t1"}, {"name": "t2"}, {"name": "t3"}]});
    let (s, v) = call(&cloud, Method::POST, &format!("{base}/tags"), &admin, Some(tags)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(names(&v, "tags"), ["t1", "t2", "t3"]);
    let dup = json!({"tags": [{"name": "a"}, {"name": "a"}]});
    assert_eq!(
        call(&cloud, Method::POST, &format!("{base}/tags"), &admin, Some(dup))
            .await
            .0,
        409
    );
    assert_eq!(
        call(&cloud, Method::POST, &format!("{base}/tags/t4"), &admin, None)
            .await
            .0,
        201
    );
    assert_eq!(
        call(&cloud, Method::POST, &format!("{base}/tags/t4"), &admin, None)
            .await
            .0,
        409
    );
    let (s, v) = call(&cloud, Method::GET, &format!("{base}/tags/t4"), &member, None).await;
    assert_eq!((s, v["name"].clone()), (200, json!("t4")));
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("{base}/tags/t4"),
        &admin,
        Some(json!({"name": "t5"})),
    )
    .await;
    assert_eq!((s, v["name"].clone()), (200, json!("t5")));
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{base}/tags/t5"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{base}/tags/t5"), &admin, None)
            .await
            .0,
        404
    );
    let (_, v) = call(&cloud, Method::GET, &format!("{base}/tags"), &member, None).await;
    assert_eq!(names(&v, "tags"), ["t1", "t2", "t3"]);
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{base}/tags"), &member, None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{base}/tags"), &admin, None)
            .await
            .0,
        204
    );
    let (_, v) = call(&cloud, Method::GET, &format!("{base}/tags"), &admin, None).await;
    assert_eq!(v["tags"], json!([]));

    // Resource type associations; an unknown type is created on first use.
    let rts = format!("{base}/resource_types");
    let (s, v) = call(
        &cloud,
        Method::POST,
        &rts,
        &admin,
        Some(json!({"name": "OS::Nova::Flavor"})),
    )
    .await;
    assert_eq!((s, v["name"].clone()), (201, json!("OS::Nova::Flavor")));
    assert_eq!(
        call(
            &cloud,
            Method::POST,
            &rts,
            &admin,
            Some(json!({"name": "OS::Nova::Flavor"}))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        call(&cloud, Method::POST, &rts, &admin, Some(json!({"name": "My::Type"})))
            .await
            .0,
        201
    );
    let (_, v) = call(&cloud, Method::GET, "v2/metadefs/resource_types", &admin, None).await;
    assert!(names(&v, "resource_types").contains(&"My::Type".to_owned()));
    let (_, v) = call(&cloud, Method::GET, &rts, &member, None).await;
    assert_eq!(
        names(&v, "resource_type_associations"),
        ["My::Type", "OS::Nova::Flavor"]
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{rts}/OS::Nova::Flavor"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("{rts}/OS::Nova::Flavor"), &admin, None)
            .await
            .0,
        404
    );
    let (_, v) = call(&cloud, Method::GET, &rts, &member, None).await;
    assert_eq!(names(&v, "resource_type_associations"), ["My::Type"]);

    // Everything under a missing namespace is 404.
    let gone = "v2/metadefs/namespaces/nope";
    for path in ["objects", "properties", "tags", "resource_types"] {
        assert_eq!(
            call(&cloud, Method::GET, &format!("{gone}/{path}"), &admin, None)
                .await
                .0,
            404
        );
    }
}

async fn wait_task(cloud: &test_cloud::TestCloud, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let (s, t) = call(cloud, Method::GET, &format!("v2/tasks/{id}"), token, None).await;
        assert_eq!(s, 200, "{t}");
        if t["status"] == "success" || t["status"] == "failure" {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("task {id} did not finish");
}

fn import_task(from: &str) -> Value {
    json!({"type": "import", "input": {
        "import_from": from, "import_from_format": "raw",
        "image_properties": {"name": "t", "disk_format": "raw", "container_format": "bare"},
    }})
}

#[tokio::test]
async fn tasks_import_from_http_and_fail_on_unreachable() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "tk", "member").await;
    assert_eq!(call(&cloud, Method::GET, "v2/tasks", &member, None).await.0, 403);
    assert_eq!(
        call(
            &cloud,
            Method::POST,
            "v2/tasks",
            &member,
            Some(import_task("http://x/"))
        )
        .await
        .0,
        403
    );
    let (s, _) = call(
        &cloud,
        Method::POST,
        "v2/tasks",
        &admin,
        Some(json!({"type": "nope", "input": {}})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &cloud,
        Method::POST,
        "v2/tasks",
        &admin,
        Some(json!({"type": "import", "input": {}})),
    )
    .await;
    assert_eq!(s, 400);

    // A source that refuses the connection: the task fails, the image goes.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (s, t) = call(
        &cloud,
        Method::POST,
        "v2/tasks",
        &admin,
        Some(import_task(&format!("http://127.0.0.1:{port}/x.img"))),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["type"], "import");
    let t = wait_task(&cloud, &admin, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "failure", "{t}");
    assert!(!t["message"].as_str().unwrap().is_empty());
    let img = t["image_id"].as_str().unwrap();
    assert_eq!(
        call(&cloud, Method::GET, &format!("v2/images/{img}"), &admin, None)
            .await
            .0,
        404
    );

    // A loopback HTTP server: the image becomes active with its bytes.
    let data = crate::bytes(100_000, 7);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = data.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", served.len());
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&served).await.unwrap();
    });
    let (s, t) = call(
        &cloud,
        Method::POST,
        "v2/tasks",
        &admin,
        Some(import_task(&format!("http://127.0.0.1:{port}/x.img"))),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let t = wait_task(&cloud, &admin, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "success", "{t}");
    let img = t["result"]["image_id"].as_str().unwrap();
    let (_, i) = call(&cloud, Method::GET, &format!("v2/images/{img}"), &admin, None).await;
    assert_eq!(i["status"], "active");
    assert_eq!(i["size"], 100_000);
    assert_eq!(i["checksum"], crate::md5_hex(&data).as_str());

    let (s, l) = call(&cloud, Method::GET, "v2/tasks", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(l["tasks"].as_array().unwrap().len(), 2);
    assert!(l["tasks"][0].get("input").is_none());
    assert_eq!(call(&cloud, Method::GET, "v2/tasks/nope", &admin, None).await.0, 404);
}
