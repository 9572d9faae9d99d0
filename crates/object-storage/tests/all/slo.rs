//! Static large objects.

use md5::Digest;
use serde_json::json;

use crate::{Swift, header};

fn md5_hex(b: &[u8]) -> String {
    hex::encode(md5::Md5::digest(b))
}

#[tokio::test]
async fn manifests_assemble_their_segments() {
    let s = Swift::start().await;
    assert_eq!(s.info().await["slo"]["max_manifest_segments"], 1000);
    s.put_container("segs").await;
    s.put_container("c").await;
    s.put_object("segs/1", b"aaaa").await;
    s.put_object("segs/2", b"bbbbbb").await;
    s.put_object("segs/3", b"0123456789").await;
    let manifest = json!([
        {"path": "/segs/1", "etag": md5_hex(b"aaaa"), "size_bytes": 4},
        {"path": "segs/2", "etag": null, "size_bytes": null},
        {"path": "/segs/3", "range": "2-5"},
    ]);
    let r = s
        .req("PUT", "c/big?multipart-manifest=put")
        .header("content-type", "text/x-big")
        .header("x-object-meta-color", "blue")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut all = md5_hex(b"aaaa") + &md5_hex(b"bbbbbb");
    all.push_str(&format!("{}:2-5;", md5_hex(b"0123456789")));
    let etag = format!("\"{}\"", md5_hex(all.as_bytes()));
    assert_eq!(header(&r, "etag"), etag);

    let r = s.send("HEAD", "c/big").await;
    assert_eq!(header(&r, "etag"), etag);
    assert_eq!(header(&r, "content-length"), "14");
    assert_eq!(header(&r, "x-static-large-object"), "True");
    assert_eq!(header(&r, "x-object-meta-color"), "blue");
    assert_eq!(header(&r, "content-type"), "text/x-big");
    let r = s.send("GET", "c/big").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "aaaabbbbbb2345");
    // A range across segment boundaries reads only what it covers.
    let r = s
        .req("GET", "c/big")
        .header("range", "bytes=3-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 3-10/14");
    assert_eq!(r.text().await.unwrap(), "abbbbbb2");
    let r = s.req("GET", "c/big").header("range", "bytes=-2").send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "45");
    let r = s.req("GET", "c/big").header("range", "bytes=20-").send().await.unwrap();
    assert_eq!(r.status(), 416);
    let r = s
        .req("GET", "c/big")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // The listing shows what the manifest assembles.
    let r = s.send("GET", "c?format=json").await;
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list[0]["bytes"], 14);
    assert_eq!(list[0]["hash"], etag.trim_matches('"'));

    // The manifest itself, stored and raw.
    let r = s.send("GET", "c/big?multipart-manifest=get").await;
    assert!(header(&r, "content-type").starts_with("application/json"));
    let stored: serde_json::Value = r.json().await.unwrap();
    assert_eq!(stored[0]["name"], "/segs/1");
    assert_eq!(stored[2]["range"], "2-5");
    let r = s.send("GET", "c/big?multipart-manifest=get&format=raw").await;
    let raw: serde_json::Value = r.json().await.unwrap();
    assert_eq!(raw[1]["path"], "/segs/2");
    assert_eq!(raw[1]["size_bytes"], 6);

    // Delete with its segments.
    let r = s.send("DELETE", "c/big?multipart-manifest=delete").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("Number Deleted: 4"), "{text}");
    assert_eq!(s.send("HEAD", "c/big").await.status(), 404);
    assert_eq!(s.send("HEAD", "segs/1").await.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn bad_manifests_are_refused_with_the_errors() {
    let s = Swift::start().await;
    s.put_container("c").await;
    s.put_object("c/seg", b"data").await;
    let r = s
        .req("PUT", "c/empty")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let put = |body: String| s.req("PUT", "c/m?multipart-manifest=put").body(body).send();
    let r = put("not json".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = put("[]".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = put(json!([{"path": "/c/seg", "etag": "0000", "size_bytes": 3}, {"path": "/c/missing"}, {"path": "/c/empty"}, {"path": "/c/seg", "range": "10-20"}]).to_string())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("Errors:"), "{text}");
    assert!(text.contains("/c/seg, Etag Mismatch, Size Mismatch"), "{text}");
    assert!(text.contains("/c/missing, 404 Not Found"), "{text}");
    assert!(text.contains("/c/empty, Too small"), "{text}");
    assert!(text.contains("Unsatisfiable Range"), "{text}");
    assert_eq!(s.send("HEAD", "c/m").await.status(), 404);
    // The client's ETag must be the manifest's.
    let r = s
        .req("PUT", "c/m?multipart-manifest=put")
        .header("etag", "abc")
        .body(json!([{"path": "/c/seg"}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // The reserved header cannot be set by a client.
    let r = s
        .req("PUT", "c/fake")
        .header("x-static-large-object", "True")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(s.send("GET", "c/fake").await.text().await.unwrap(), "[]");
    s.stop().await;
}
