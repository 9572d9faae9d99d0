//! Accounts: autocreate, counts, metadata, listings, /info.

use crate::{Swift, header};

#[tokio::test]
async fn info_lists_capabilities_without_a_token() {
    let s = Swift::start().await;
    let r = s.cloud.http.get(format!("{}/info", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["swift"]["max_object_name_length"], 1024);
    assert_eq!(v["swift"]["container_listing_limit"], 10000);
    assert!(v["swift"]["max_file_size"].as_u64().unwrap() > 5 << 30);
    s.stop().await;
}

#[tokio::test]
async fn account_counts_metadata_and_listing_formats() {
    let s = Swift::start().await;
    let r = s.send("HEAD", "").await;
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "x-account-container-count"), "0");
    assert!(!header(&r, "x-trans-id").is_empty());
    assert!(header(&r, "x-trans-id").starts_with("tx"));

    for c in ["alpha", "beta", "gamma-x"] {
        s.put_container(c).await;
    }
    s.put_object("alpha/o1", b"12345").await;
    let r = s.send("HEAD", "").await;
    assert_eq!(header(&r, "x-account-container-count"), "3");
    assert_eq!(header(&r, "x-account-object-count"), "1");
    assert_eq!(header(&r, "x-account-bytes-used"), "5");

    let r = s.send("GET", "").await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/plain"));
    assert_eq!(r.text().await.unwrap(), "alpha\nbeta\ngamma-x\n");

    let r = s.send("GET", "?format=json&limit=1&marker=alpha").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["name"], "beta");
    assert_eq!(v[0]["count"], 0);

    let r = s
        .req("GET", "?delimiter=-&reverse=true")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v[0]["subdir"], "gamma-");
    assert_eq!(v[2]["name"], "alpha");

    let r = s.send("GET", "?format=xml&prefix=al").await;
    let body = r.text().await.unwrap();
    assert!(body.contains("<account name=\""), "{body}");
    assert!(
        body.contains("<name>alpha</name><count>1</count><bytes>5</bytes>"),
        "{body}"
    );

    let r = s.send("GET", "?limit=10001").await;
    assert_eq!(r.status(), 412);

    let r = s
        .req("POST", "")
        .header("x-account-meta-color", "blue")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.send("HEAD", "").await;
    assert_eq!(header(&r, "x-account-meta-color"), "blue");
    let r = s
        .req("POST", "")
        .header("x-remove-account-meta-color", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.send("HEAD", "").await;
    assert!(r.headers().get("x-account-meta-color").is_none());
    let r = s
        .req("POST", "")
        .header(format!("x-account-meta-{}", "k".repeat(129)), "v")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let r = s.send("PUT", "").await;
    assert_eq!(r.status(), 405);
    s.stop().await;
}
