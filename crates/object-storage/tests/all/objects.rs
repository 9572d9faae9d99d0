//! Objects: PUT rules, GET ranges and conditionals, POST, COPY, expiry.

use crate::{Swift, header};

#[tokio::test]
async fn put_checks_length_etag_and_names() {
    let s = Swift::start().await;
    s.put_container("c").await;
    let r = s.put_object("c/hello.txt", b"hello world").await;
    assert_eq!(header(&r, "etag"), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert!(!header(&r, "last-modified").is_empty());

    // Wrong ETag: 422, nothing visible.
    let r = s
        .req("PUT", "c/bad")
        .header("etag", "0123")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(s.send("HEAD", "c/bad").await.status(), 404);
    let r = s
        .req("PUT", "c/good")
        .header("etag", "\"9dd4e461268c8034f5c8564e155c67a6\"")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // No length and not chunked: 411; chunked: fine.
    let r = s.send("PUT", "c/nolength").await;
    assert_eq!(r.status(), 411);
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![Ok(b"ab"), Ok(b"cd")];
    let r = s
        .req("PUT", "c/chunked")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(s.send("GET", "c/chunked").await.text().await.unwrap(), "abcd");

    // Guessed content type; names.
    let r = s.send("HEAD", "c/hello.txt").await;
    assert_eq!(header(&r, "content-type"), "text/plain");
    assert_eq!(header(&r, "content-length"), "11");
    assert_eq!(
        s.req("PUT", &format!("c/{}", "o".repeat(1024)))
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        s.req("PUT", &format!("c/{}", "o".repeat(1025)))
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(s.req("PUT", "c/a%00b").body("x").send().await.unwrap().status(), 412);
    assert_eq!(
        s.req("PUT", "nocontainer/o").body("x").send().await.unwrap().status(),
        404
    );

    // If-None-Match: * refuses to overwrite.
    let r = s
        .req("PUT", "c/good")
        .header("if-none-match", "*")
        .body("y")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = s
        .req("PUT", "c/fresh")
        .header("if-none-match", "*")
        .body("y")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    s.stop().await;
}

#[tokio::test]
async fn get_ranges_and_conditionals() {
    let s = Swift::start().await;
    s.put_container("c").await;
    let r = s.put_object("c/o", b"0123456789").await;
    let etag = header(&r, "etag").to_owned();

    let r = s.req("GET", "c/o").header("range", "bytes=2-4").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), "bytes 2-4/10");
    assert_eq!(r.text().await.unwrap(), "234");
    let r = s.req("GET", "c/o").header("range", "bytes=-3").send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "789");
    let r = s.req("GET", "c/o").header("range", "bytes=20-30").send().await.unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), "bytes */10");

    let r = s
        .req("GET", "c/o")
        .header("range", "bytes=0-1,8-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    let ct = header(&r, "content-type").to_owned();
    let boundary = ct.split("boundary=").nth(1).unwrap().to_owned();
    let len: usize = header(&r, "content-length").parse().unwrap();
    let body = r.text().await.unwrap();
    assert_eq!(body.len(), len);
    assert!(body.contains("Content-Range: bytes 0-1/10\r\n\r\n01\r\n"), "{body}");
    assert!(body.contains("Content-Range: bytes 8-9/10\r\n\r\n89\r\n"), "{body}");
    assert!(body.ends_with(&format!("--{boundary}--")));

    let r = s.req("GET", "c/o").header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);
    let r = s.req("GET", "c/o").header("if-match", "nope").send().await.unwrap();
    assert_eq!(r.status(), 412);
    let r = s
        .req("GET", "c/o")
        .header("if-match", format!("\"{etag}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .req("GET", "c/o")
        .header("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = s
        .req("GET", "c/o")
        .header("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    s.stop().await;
}

#[tokio::test]
async fn post_copy_delete_and_expiry() {
    let s = Swift::start().await;
    s.put_container("c").await;
    s.put_container("d").await;
    let r = s
        .req("PUT", "c/o")
        .header("x-object-meta-one", "1")
        .header("content-type", "text/x-one")
        .body("body")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // POST replaces the user metadata.
    let r = s
        .req("POST", "c/o")
        .header("x-object-meta-two", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = s.send("HEAD", "c/o").await;
    assert!(r.headers().get("x-object-meta-one").is_none());
    assert_eq!(header(&r, "x-object-meta-two"), "2");
    assert_eq!(header(&r, "content-type"), "text/x-one");
    assert_eq!(s.send("POST", "c/missing").await.status(), 404);

    // COPY and X-Copy-From keep the metadata and body.
    let r = s
        .req("COPY", "c/o")
        .header("destination", "d/copy1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "x-copied-from"), "c/o");
    assert_eq!(
        header(&r, "x-object-meta-two"),
        "2",
        "the response carries the copy's metadata"
    );
    let r = s.send("GET", "d/copy1").await;
    assert_eq!(header(&r, "x-object-meta-two"), "2");
    assert_eq!(r.text().await.unwrap(), "body");
    let r = s
        .req("PUT", "d/copy2")
        .header("x-copy-from", "/c/o")
        .header("x-object-meta-three", "3")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s.send("GET", "d/copy2").await;
    assert_eq!(header(&r, "x-object-meta-two"), "2");
    assert_eq!(header(&r, "x-object-meta-three"), "3");
    assert_eq!(r.text().await.unwrap(), "body");
    let r = s
        .req("COPY", "c/missing")
        .header("destination", "d/x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .req("COPY", "c/o")
        .header("destination", "nocontainer")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);

    // DELETE, then 404; the listing and counts follow.
    assert_eq!(s.send("DELETE", "d/copy1").await.status(), 204);
    assert_eq!(s.send("GET", "d/copy1").await.status(), 404);
    assert_eq!(s.send("DELETE", "d/copy1").await.status(), 404);
    assert_eq!(s.send("GET", "d").await.text().await.unwrap(), "copy2\n");
    let r = s.send("HEAD", "d").await;
    assert_eq!(header(&r, "x-container-object-count"), "1");

    // Expiry: past dates are refused; an expired object is gone.
    let r = s
        .req("PUT", "c/old")
        .header("x-delete-at", "1000")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .req("PUT", "c/soon")
        .header("x-delete-after", "1")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(!header(&s.send("HEAD", "c/soon").await, "x-delete-at").is_empty());
    let mut gone = false;
    for _ in 0..60 {
        if s.send("GET", "c/soon").await.status() == 404
            && !s.send("GET", "c").await.text().await.unwrap().contains("soon")
        {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "expired object still there");

    // Deleting an expired object answers 404 but removes it, so its
    // container can go at once, whether or not the expirer came first.
    s.put_container("e").await;
    let r = s
        .req("PUT", "e/brief")
        .header("x-delete-after", "1")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for _ in 0..40 {
        if s.send("HEAD", "e/brief").await.status() == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(s.send("DELETE", "e/brief").await.status(), 404);
    assert_eq!(s.send("DELETE", "e").await.status(), 204);
    s.stop().await;
}

#[tokio::test]
async fn dynamic_large_objects_concatenate_their_segments() {
    let s = Swift::start().await;
    s.put_container("seg").await;
    s.put_object("seg/big/002", b"world").await;
    s.put_object("seg/big/001", b"hello ").await;
    let r = s
        .req("PUT", "seg/big")
        .header("x-object-manifest", "seg/big/")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s.send("HEAD", "seg/big").await;
    assert_eq!(header(&r, "content-length"), "11");
    assert!(header(&r, "etag").starts_with('"'));
    assert_eq!(header(&r, "x-object-manifest"), "seg/big/");
    assert_eq!(s.send("GET", "seg/big").await.text().await.unwrap(), "hello world");
    let r = s.send("GET", "seg/big?multipart-manifest=get").await;
    assert_eq!(r.text().await.unwrap(), "");
    s.stop().await;
}
