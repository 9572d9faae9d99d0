//! Object versioning: X-Versions-Location (stack) and X-History-Location.

use crate::Swift;

async fn count(s: &Swift, container: &str) -> usize {
    let r = s.send("GET", &format!("{container}?format=json")).await;
    if r.status() == 204 {
        return 0;
    }
    r.json::<Vec<serde_json::Value>>().await.unwrap().len()
}

#[tokio::test]
async fn stack_mode_keeps_and_restores_old_copies() {
    let s = Swift::start().await;
    assert!(s.info().await["versioned_writes"].is_object());
    s.put_container("versions").await;
    let r = s
        .req("PUT", "docs")
        .header("x-versions-location", "versions")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .req("POST", "docs")
        .header("x-versions-location", "versions")
        .header("x-history-location", "versions")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .req("POST", "docs")
        .header("x-versions-location", "a/b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);

    s.put_object("docs/o", b"v1").await;
    assert_eq!(count(&s, "versions").await, 0);
    s.put_object("docs/o", b"v2").await;
    s.put_object("docs/o", b"v3").await;
    assert_eq!(count(&s, "versions").await, 2);
    let r = s.send("GET", "versions?format=json").await;
    let list: Vec<serde_json::Value> = r.json().await.unwrap();
    assert!(list[0]["name"].as_str().unwrap().starts_with("001o/"));
    assert_eq!(s.send("GET", "docs/o").await.text().await.unwrap(), "v3");

    assert_eq!(s.send("DELETE", "docs/o").await.status(), 204);
    assert_eq!(s.send("GET", "docs/o").await.text().await.unwrap(), "v2");
    assert_eq!(s.send("DELETE", "docs/o").await.status(), 204);
    assert_eq!(s.send("GET", "docs/o").await.text().await.unwrap(), "v1");
    assert_eq!(count(&s, "versions").await, 0);
    assert_eq!(s.send("DELETE", "docs/o").await.status(), 204);
    assert_eq!(s.send("GET", "docs/o").await.status(), 404);

    // Versioning off again.
    let r = s
        .req("POST", "docs")
        .header("x-remove-versions-location", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    s.put_object("docs/p", b"1").await;
    s.put_object("docs/p", b"2").await;
    assert_eq!(count(&s, "versions").await, 0);
    s.stop().await;
}

#[tokio::test]
async fn history_mode_archives_and_marks_deletes() {
    let s = Swift::start().await;
    s.put_container("hist").await;
    let r = s
        .req("PUT", "docs")
        .header("x-history-location", "hist")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    s.put_object("docs/o", b"v1").await;
    s.put_object("docs/o", b"v2").await;
    assert_eq!(count(&s, "hist").await, 1);
    assert_eq!(s.send("DELETE", "docs/o").await.status(), 204);
    assert_eq!(s.send("GET", "docs/o").await.status(), 404);
    let r = s.send("GET", "hist?format=json").await;
    let list: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(
        list[2]["content_type"],
        "application/x-deleted;swift_versions_deleted=1"
    );
    s.stop().await;
}
