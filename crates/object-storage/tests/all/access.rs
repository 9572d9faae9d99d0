//! keystoneauth: tokens, other projects, roles, ACLs.

use crate::{Swift, header, user_with_role};

#[tokio::test]
async fn accounts_belong_to_their_project() {
    let s = Swift::start().await;
    s.put_container("private").await;
    s.put_object("private/o", b"secret").await;

    // No token: 401 with a challenge; a bad token: 401.
    let r = s.req_as("GET", "private/o", None).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("Keystone"));
    assert_eq!(s.req_as("GET", "", Some("bogus")).send().await.unwrap().status(), 401);

    // A member of another project: 403 here, owner of its own account.
    let (other, other_project) = user_with_role(&s.cloud, &s.token, "bob", "member").await;
    assert_eq!(s.req_as("GET", "", Some(&other)).send().await.unwrap().status(), 403);
    assert_eq!(
        s.req_as("GET", "private/o", Some(&other))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let own = format!("{}/v1/AUTH_{other_project}/mine", s.base);
    let r = s
        .cloud
        .http
        .put(&own)
        .header("x-auth-token", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // A reader of its project is no operator: 403 on its own account.
    let (reader, reader_project) = user_with_role(&s.cloud, &s.token, "rita", "reader").await;
    let url = format!("{}/v1/AUTH_{reader_project}", s.base);
    let r = s
        .cloud
        .http
        .get(&url)
        .header("x-auth-token", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Read ACL for the other project; write ACL separately.
    let r = s
        .req("POST", "private")
        .header("x-container-read", format!("{other_project}:*"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.req_as("GET", "private/o", Some(&other)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "secret");
    assert_eq!(
        s.req_as("GET", "private", Some(&other)).send().await.unwrap().status(),
        200
    );
    let r = s
        .req_as("PUT", "private/new", Some(&other))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .req("POST", "private")
        .header("x-container-write", format!("{other_project}:*"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s
        .req_as("PUT", "private/new", Some(&other))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // ACL holders cannot change the container itself.
    let r = s
        .req_as("POST", "private", Some(&other))
        .header("x-container-read", ".r:*")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Public read: objects without a token, listing only with .rlistings.
    s.req("POST", "private")
        .header("x-container-read", ".r:*")
        .send()
        .await
        .unwrap();
    assert_eq!(s.req_as("GET", "private/o", None).send().await.unwrap().status(), 200);
    assert_eq!(s.req_as("GET", "private", None).send().await.unwrap().status(), 401);
    s.req("POST", "private")
        .header("x-container-read", ".r:*,.rlistings")
        .send()
        .await
        .unwrap();
    assert_eq!(s.req_as("GET", "private", None).send().await.unwrap().status(), 200);
    assert_eq!(
        s.req_as("DELETE", "private/o", None).send().await.unwrap().status(),
        401
    );
    let r = s
        .req("POST", "private")
        .header("x-container-write", ".r:*")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "referrers are no write grant");
    s.stop().await;
}
