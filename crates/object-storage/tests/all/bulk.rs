//! Bulk delete and archive extraction.

use crate::Swift;

/// A ustar archive of (name, data) regular files.
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend(h);
        out.extend_from_slice(data);
        out.extend(vec![0u8; (512 - data.len() % 512) % 512]);
    }
    out.extend(vec![0u8; 1024]);
    out
}

#[tokio::test]
async fn extract_archive_then_bulk_delete() {
    let s = Swift::start().await;
    let info = s.info().await;
    assert!(info["bulk_upload"].is_object() && info["bulk_delete"].is_object());
    let big = vec![7u8; 200_000];
    let archive = tar(&[("c1/a.txt", b"alpha"), ("c1/sub/b", &big), ("c2/z", b"zed")]);
    let r = s
        .req("PUT", "?extract-archive=tar")
        .header("accept", "application/json")
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: serde_json::Value = r.json().await.unwrap();
    assert_eq!(report["Number Files Created"], 3, "{report}");
    assert_eq!(report["Response Status"], "201 Created");
    assert_eq!(s.send("GET", "c1/a.txt").await.text().await.unwrap(), "alpha");
    assert_eq!(s.send("GET", "c1/sub/b").await.bytes().await.unwrap().len(), 200_000);
    assert_eq!(s.send("GET", "c2/z").await.text().await.unwrap(), "zed");

    // Into a container, under a prefix.
    let r = s
        .req("PUT", "c2/pre-?extract-archive=tar")
        .body(tar(&[("x", b"1")]))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Number Files Created: 1"));
    assert_eq!(s.send("GET", "c2/pre-x").await.text().await.unwrap(), "1");

    // Compressed archives, decompressed as they stream in.
    use tokio::io::AsyncReadExt;
    let plain = tar(&[("gz/a", b"gzipped"), ("gz/b", &big)]);
    let mut gz = Vec::new();
    async_compression::tokio::bufread::GzipEncoder::new(&plain[..])
        .read_to_end(&mut gz)
        .await
        .unwrap();
    let mut bz = Vec::new();
    async_compression::tokio::bufread::BzEncoder::new(&tar(&[("bz/a", b"bzipped")])[..])
        .read_to_end(&mut bz)
        .await
        .unwrap();
    for (fmt, body, n) in [("tar.gz", gz, 2), ("tar.bz2", bz, 1)] {
        let r = s
            .req("PUT", &format!("?extract-archive={fmt}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(text.contains(&format!("Number Files Created: {n}")), "{fmt}: {text}");
    }
    assert_eq!(s.send("GET", "gz/a").await.text().await.unwrap(), "gzipped");
    assert_eq!(s.send("GET", "gz/b").await.bytes().await.unwrap().len(), 200_000);
    assert_eq!(s.send("GET", "bz/a").await.text().await.unwrap(), "bzipped");
    let r = s
        .req("PUT", "?extract-archive=tar.gz")
        .body("not gzip at all")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Response Status: 400 Bad Request"));

    // A broken archive is reported.
    let mut broken = tar(&[("c3/x", b"1")]);
    broken[0] = b'Q';
    let r = s.req("PUT", "?extract-archive=tar").body(broken).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("Response Status: 400 Bad Request"));
    let r = s.req("PUT", "?extract-archive=zip").body("x").send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Bulk delete: objects, then their now empty container; a missing one.
    let r = s
        .req("DELETE", "?bulk-delete")
        .header("content-type", "text/plain")
        .body("/c1/a.txt\nc1/sub%2Fb\n/c1\n/c1/nothing\n/c2\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("Number Deleted: 3"), "{text}");
    assert!(text.contains("Number Not Found: 1"), "{text}");
    assert!(text.contains("/c2, 409 Conflict"), "{text}");
    assert_eq!(s.send("HEAD", "c1").await.status(), 404);
    let r = s
        .req("POST", "?bulk-delete")
        .header("accept", "application/json")
        .body("/c2/z\n/c2/pre-x\n/c2")
        .send()
        .await
        .unwrap();
    let report: serde_json::Value = r.json().await.unwrap();
    assert_eq!(report["Number Deleted"], 3, "{report}");
    assert_eq!(report["Errors"].as_array().unwrap().len(), 0);
    let r = s
        .req("POST", "?bulk-delete")
        .header("accept", "application/xml")
        .body("/nope")
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<number_not_found>1</number_not_found>")
    );
    // Without a token: refused.
    let r = s.req_as("POST", "?bulk-delete", None).body("/c2").send().await.unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}
