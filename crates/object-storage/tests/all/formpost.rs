//! FormPost: browser uploads signed with a TempURL key.

use object_storage::middleware::signature::{Digest, hmac};

use crate::{Swift, header, now};

struct Form {
    redirect: String,
    max_size: u64,
    max_count: u64,
    expires: i64,
}

fn body(s: &Swift, f: &Form, prefix: &str, key: &str, files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let path = if prefix.is_empty() {
        format!("{}/c", s.account_path())
    } else {
        format!("{}/c/{prefix}", s.account_path())
    };
    let msg = format!("{path}\n{}\n{}\n{}\n{}", f.redirect, f.max_size, f.max_count, f.expires);
    let sig = hex::encode(hmac(Digest::Sha256, key.as_bytes(), msg.as_bytes()));
    let b = "--b0undary--";
    let mut out = Vec::new();
    for (k, v) in [
        ("redirect", f.redirect.clone()),
        ("max_file_size", f.max_size.to_string()),
        ("max_file_count", f.max_count.to_string()),
        ("expires", f.expires.to_string()),
        ("signature", sig),
    ] {
        out.extend(format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").into_bytes());
    }
    for (i, (name, data)) in files.iter().enumerate() {
        out.extend(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"file{i}\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n")
                .into_bytes(),
        );
        out.extend_from_slice(data);
        out.extend(b"\r\n");
    }
    out.extend(format!("--{b}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={b}"), out)
}

#[tokio::test]
async fn forms_upload_their_files() {
    let s = Swift::start().await;
    assert!(s.info().await["formpost"].is_object());
    s.put_container("c").await;
    s.req("POST", "")
        .header("x-account-meta-temp-url-key", "fk")
        .send()
        .await
        .unwrap();
    let post = |ct: String, b: Vec<u8>, prefix: &str| {
        s.cloud
            .http
            .post(format!("{}/c/{prefix}", s.account))
            .header("content-type", ct)
            .body(b)
            .send()
    };
    let mut form = Form {
        redirect: String::new(),
        max_size: 1000,
        max_count: 2,
        expires: now() + 300,
    };
    let big = vec![b'x'; 5000];
    let (ct, b) = body(&s, &form, "up/", "fk", &[("a.txt", b"hello"), ("b.txt", &big[..800])]);
    let r = post(ct, b, "up/").await.unwrap();
    assert_eq!(r.status(), 201);
    let r = s.send("GET", "c/up/a.txt").await;
    assert_eq!(header(&r, "content-type"), "text/plain");
    assert_eq!(r.text().await.unwrap(), "hello");
    assert_eq!(s.send("GET", "c/up/b.txt").await.bytes().await.unwrap().len(), 800);

    // Too big: 400 and not stored; too many: 400.
    let (ct, b) = body(&s, &form, "", "fk", &[("big", &big)]);
    let r = post(ct, b, "").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("max_file_size exceeded"));
    assert_eq!(s.send("HEAD", "c/big").await.status(), 404);
    let (ct, b) = body(&s, &form, "", "fk", &[("1", b"1"), ("2", b"2"), ("3", b"3")]);
    let r = post(ct, b, "").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("max_file_count exceeded"));

    // Bad signature, expired: 401.
    let (ct, b) = body(&s, &form, "", "wrong", &[("x", b"1")]);
    assert_eq!(post(ct, b, "").await.unwrap().status(), 401);
    assert_eq!(s.send("HEAD", "c/x").await.status(), 404);
    form.expires = now() - 5;
    let (ct, b) = body(&s, &form, "", "fk", &[("x", b"1")]);
    let r = post(ct, b, "").await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Form Expired"));

    // With a redirect: 303 to it, the status in its query.
    form.expires = now() + 300;
    form.redirect = "https://example.com/done".into();
    let (ct, b) = body(&s, &form, "", "fk", &[("r", b"1")]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/c", s.account))
        .header("content-type", ct)
        .body(b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(header(&r, "location"), "https://example.com/done?status=201&message=");
    assert_eq!(s.send("GET", "c/r").await.text().await.unwrap(), "1");
    s.stop().await;
}
