//! Containers: create, metadata, listings with delimiters, delete rules.

use crate::{Swift, header};

#[tokio::test]
async fn container_lifecycle() {
    let s = Swift::start().await;
    let r = s
        .req("PUT", "c")
        .header("x-container-meta-a", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(!header(&r, "content-type").is_empty());
    let r = s
        .req("PUT", "c")
        .header("x-container-meta-b", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = s.send("HEAD", "c").await;
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "x-container-meta-a"), "1");
    assert_eq!(header(&r, "x-container-meta-b"), "2");
    assert_eq!(header(&r, "x-container-object-count"), "0");
    assert_eq!(header(&r, "x-storage-policy"), "Policy-0");

    let r = s
        .req("POST", "c")
        .header("x-container-meta-a", "")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.send("HEAD", "c").await;
    assert!(r.headers().get("x-container-meta-a").is_none());

    let r = s.send("GET", "c").await;
    assert_eq!(r.status(), 204, "an empty plain listing");
    let r = s.send("GET", "c?format=json").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "[]");

    s.put_object("c/o", b"x").await;
    let r = s.send("DELETE", "c").await;
    assert_eq!(r.status(), 409);
    assert_eq!(s.send("DELETE", "c/o").await.status(), 204);
    assert_eq!(s.send("DELETE", "c").await.status(), 204);
    assert_eq!(s.send("HEAD", "c").await.status(), 404);
    assert_eq!(s.send("DELETE", "c").await.status(), 404);
    assert_eq!(s.send("POST", "c").await.status(), 404);

    let long = "c".repeat(257);
    assert_eq!(s.send("PUT", &long).await.status(), 400);
    assert_eq!(s.send("PUT", &"c".repeat(256)).await.status(), 201);
    s.stop().await;
}

#[tokio::test]
async fn listings_with_prefix_delimiter_markers() {
    let s = Swift::start().await;
    s.put_container("t").await;
    for o in ["a", "b/1", "b/2", "b/c/3", "c", "d/4"] {
        s.put_object(&format!("t/{o}"), b"data").await;
    }
    let list = |q: &'static str| {
        let s = &s;
        async move { s.send("GET", &format!("t{q}")).await.text().await.unwrap() }
    };
    assert_eq!(list("").await, "a\nb/1\nb/2\nb/c/3\nc\nd/4\n");
    assert_eq!(list("?delimiter=/").await, "a\nb/\nc\nd/\n");
    assert_eq!(list("?prefix=b/&delimiter=/").await, "b/1\nb/2\nb/c/\n");
    assert_eq!(list("?marker=b/2&end_marker=d").await, "b/c/3\nc\n");
    assert_eq!(list("?limit=2&reverse=on").await, "d/4\nc\n");
    let r = s.send("GET", "t?format=json&prefix=b/&delimiter=/").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v[0]["name"], "b/1");
    assert_eq!(v[0]["bytes"], 4);
    assert_eq!(v[0]["hash"], "8d777f385d3dfec8815d20f7496026dc");
    assert!(v[0]["last_modified"].as_str().unwrap().contains('T'));
    assert_eq!(v[2]["subdir"], "b/c/");
    let r = s.send("GET", "t?format=xml&limit=1").await;
    let body = r.text().await.unwrap();
    assert!(body.starts_with("<?xml"), "{body}");
    assert!(body.contains("<container name=\"t\"><object><name>a</name>"), "{body}");
    let r = s.send("HEAD", "t").await;
    assert_eq!(header(&r, "x-container-object-count"), "6");
    assert_eq!(header(&r, "x-container-bytes-used"), "24");
    s.stop().await;
}
