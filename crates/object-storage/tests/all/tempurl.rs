//! TempURL: signed links without a token.

use object_storage::middleware::signature::{Digest, hmac};

use crate::{Swift, header, now};

fn sign(digest: Digest, key: &str, method: &str, expires: &str, path: &str) -> String {
    hex::encode(hmac(
        digest,
        key.as_bytes(),
        format!("{method}\n{expires}\n{path}").as_bytes(),
    ))
}

#[tokio::test]
async fn signed_urls_work_without_a_token_until_they_expire() {
    let s = Swift::start().await;
    assert!(s.info().await["tempurl"]["methods"].as_array().unwrap().len() >= 5);
    s.put_container("c").await;
    s.put_object("c/dir/file.txt", b"secret data").await;
    let r = s
        .req("POST", "")
        .header("x-account-meta-temp-url-key", "k1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let path = format!("{}/c/dir/file.txt", s.account_path());
    let exp = (now() + 300).to_string();
    let url = |sig: &str, exp: &str, extra: &str| {
        format!(
            "{}/c/dir/file.txt?temp_url_sig={sig}&temp_url_expires={exp}{extra}",
            s.account
        )
    };
    let http = &s.cloud.http;

    // GET: the body, as an attachment named after the object.
    let sig = sign(Digest::Sha1, "k1", "GET", &exp, &path);
    let r = http.get(url(&sig, &exp, "")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-disposition"),
        "attachment; filename=\"file.txt\"; filename*=UTF-8''file%2Etxt"
    );
    assert_eq!(r.text().await.unwrap(), "secret data");
    let r = http.get(url(&sig, &exp, "&inline")).send().await.unwrap();
    assert_eq!(header(&r, "content-disposition"), "inline");
    let r = http.get(url(&sig, &exp, "&filename=report.csv")).send().await.unwrap();
    assert!(header(&r, "content-disposition").starts_with("attachment; filename=\"report.csv\""));
    // A GET signature lets HEAD through, but not DELETE.
    assert_eq!(http.head(url(&sig, &exp, "")).send().await.unwrap().status(), 200);
    assert_eq!(http.delete(url(&sig, &exp, "")).send().await.unwrap().status(), 401);

    // Bad signature, other object, expired: 401.
    let bad = sign(Digest::Sha1, "wrong", "GET", &exp, &path);
    assert_eq!(http.get(url(&bad, &exp, "")).send().await.unwrap().status(), 401);
    let other = format!("{}/c/other?temp_url_sig={sig}&temp_url_expires={exp}", s.account);
    assert_eq!(http.get(other).send().await.unwrap().status(), 401);
    let past = (now() - 10).to_string();
    let old = sign(Digest::Sha1, "k1", "GET", &past, &path);
    assert_eq!(http.get(url(&old, &past, "")).send().await.unwrap().status(), 401);
    assert_eq!(http.get(url(&sig, "soon", "")).send().await.unwrap().status(), 401);

    // SHA-256 in hex, SHA-512 in base64, ISO 8601 expiry.
    let sig256 = sign(Digest::Sha256, "k1", "GET", &exp, &path);
    assert_eq!(http.get(url(&sig256, &exp, "")).send().await.unwrap().status(), 200);
    let iso = "2099-01-01T00:00:00Z";
    let raw = hmac(Digest::Sha512, b"k1", format!("GET\n{iso}\n{path}").as_bytes());
    use base64::Engine;
    let sig512 = format!(
        "sha512:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    assert_eq!(http.get(url(&sig512, iso, "")).send().await.unwrap().status(), 200);

    // PUT through a signed URL, with the container's second key.
    let r = s
        .req("POST", "c")
        .header("x-container-meta-temp-url-key-2", "ck")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let put_path = format!("{}/c/new", s.account_path());
    let put_sig = sign(Digest::Sha1, "ck", "PUT", &exp, &put_path);
    let r = http
        .put(format!(
            "{}/c/new?temp_url_sig={put_sig}&temp_url_expires={exp}",
            s.account
        ))
        .body("uploaded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(s.send("GET", "c/new").await.text().await.unwrap(), "uploaded");
    let r = http
        .put(format!(
            "{}/c/new?temp_url_sig={put_sig}&temp_url_expires={exp}",
            s.account
        ))
        .header("x-copy-from", "private/secret")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A prefix signature covers every object under it.
    let prefix_sig = hex::encode(hmac(
        Digest::Sha1,
        b"k1",
        format!("GET\n{exp}\nprefix:{}/c/dir/", s.account_path()).as_bytes(),
    ));
    let r = http
        .get(url(&prefix_sig, &exp, "&temp_url_prefix=dir/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!(
            "{}/c/new?temp_url_sig={prefix_sig}&temp_url_expires={exp}&temp_url_prefix=dir/",
            s.account
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}
