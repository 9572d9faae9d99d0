//! Container and account quotas.

use reqwest::Method;
use serde_json::json;

use crate::{Swift, user_with_role};

#[tokio::test]
async fn container_quotas_refuse_uploads_past_them() {
    let s = Swift::start().await;
    assert!(s.info().await.get("container_quotas").is_some());
    s.put_container("c").await;
    let r = s
        .req("POST", "c")
        .header("x-container-meta-quota-bytes", "lots")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .req("POST", "c")
        .header("x-container-meta-quota-bytes", "10")
        .header("x-container-meta-quota-count", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    s.put_object("c/a", b"12345").await;
    let r = s.req("PUT", "c/b").body("123456").send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(s.send("HEAD", "c/b").await.status(), 404);
    s.put_object("c/b", b"12345").await;
    let r = s.req("PUT", "c/c").body("").send().await.unwrap();
    assert_eq!(r.status(), 413, "count quota");
    // A copy into the container counts too.
    s.put_container("other").await;
    s.put_object("other/x", b"1").await;
    let r = s
        .req("PUT", "c/copy")
        .header("x-copy-from", "other/x")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    s.stop().await;
}

#[tokio::test]
async fn account_quotas_are_set_by_reseller_admins_only() {
    let s = Swift::start().await;
    assert!(s.info().await.get("account_quotas").is_some());
    // The account's owner may not set its own quota.
    let r = s
        .req("POST", "")
        .header("x-account-meta-quota-bytes", "8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (st, _) = s
        .cloud
        .call(
            Method::POST,
            "roles",
            &s.token,
            Some(json!({"role": {"name": "ResellerAdmin"}})),
        )
        .await;
    assert_eq!(st, 201);
    let (reseller, _) = user_with_role(&s.cloud, &s.token, "reseller", "ResellerAdmin").await;
    let r = s
        .req_as("POST", "", Some(&reseller))
        .header("x-account-meta-quota-bytes", "8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    s.put_container("c").await;
    s.put_object("c/a", b"12345").await;
    let r = s.req("PUT", "c/b").body("1234").send().await.unwrap();
    assert_eq!(r.status(), 413);
    s.put_object("c/b", b"123").await;
    // Swift 2.34's object count quota.
    let r = s
        .req_as("POST", "", Some(&reseller))
        .header("x-account-quota-count", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.req("PUT", "c/c").header("content-length", "0").send().await.unwrap();
    assert_eq!(r.status(), 413);
    let r = s
        .req("POST", "")
        .header("x-remove-account-quota-count", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    s.stop().await;
}
