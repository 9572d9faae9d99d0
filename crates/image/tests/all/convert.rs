//! Conversion on import (qcow2 → raw with `qemu-img`), through the domain
//! API of a service configured for it; skipped where `qemu-img` is absent.

use std::sync::Arc;

use api::AuthContext;
use serde_json::json;

struct NoTokens;

impl api::TokenValidator for NoTokens {
    fn validate<'a>(&'a self, _: &'a str) -> api::auth::ValidateFuture<'a> {
        Box::pin(async { Err(api::ApiError::unauthorized("no tokens in this test")) })
    }
}

fn admin() -> AuthContext {
    AuthContext {
        user_id: "u".into(),
        project_id: Some("p".into()),
        roles: vec!["admin".into(), "member".into(), "reader".into()],
        ..Default::default()
    }
    .finish()
}

async fn wait_settled(image: &image::Image, ctx: &AuthContext, id: &str) -> image::images::ImageRecord {
    for _ in 0..300 {
        let img = image.show_image(ctx, id).await.unwrap();
        if img.status != "importing" {
            return img;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("import of {id} did not finish");
}

#[tokio::test]
async fn qcow2_is_converted_to_raw_on_import() {
    if std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("qemu-img not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = store::Db::connect(&format!("sqlite://{}", dir.path().join("image.db").display()))
        .await
        .unwrap();
    let mut config = image::ImageConfig::new("http://127.0.0.1:9292", dir.path());
    config.convert_to = Some("raw".into());
    let auth = api::TokenAuth::new(Arc::new(NoTokens), "http://127.0.0.1:5000");
    let service = image::Image::start(config, db, auth, None).await.unwrap();
    let ctx = admin();

    // A 2 MiB qcow2 made by qemu-img itself.
    let qcow2 = dir.path().join("src.qcow2");
    let ok = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&qcow2)
        .arg("2M")
        .status()
        .unwrap();
    assert!(ok.success());
    let data = std::fs::read(&qcow2).unwrap();
    let body = json!({"name": "q", "disk_format": "qcow2", "container_format": "bare"});
    let img = service
        .create_image(&ctx, body.as_object().unwrap().clone())
        .await
        .unwrap();
    let chunks = futures::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(data))]);
    service.stage(&ctx, &img.id, chunks, None).await.unwrap();
    service
        .import(&ctx, &img.id, "glance-direct", None, None)
        .await
        .unwrap();
    let done = wait_settled(&service, &ctx, &img.id).await;
    assert_eq!(done.status, "active");
    assert_eq!(done.disk_format.as_deref(), Some("raw"));
    assert_eq!(done.size, Some(2 << 20));
    assert_eq!(done.virtual_size, Some(2 << 20));

    // Not a qcow2 at all: the import fails, the image is back to queued
    // with the failure recorded, and nothing is left staged.
    let bad = service
        .create_image(&ctx, body.as_object().unwrap().clone())
        .await
        .unwrap();
    let junk = futures::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(vec![7u8; 4096]))]);
    service.stage(&ctx, &bad.id, junk, None).await.unwrap();
    service
        .import(&ctx, &bad.id, "glance-direct", None, None)
        .await
        .unwrap();
    let failed = wait_settled(&service, &ctx, &bad.id).await;
    assert_eq!(failed.status, "queued");
    assert_eq!(failed.properties["os_glance_failed_import"], "file");
    let staged: Vec<_> = std::fs::read_dir(dir.path().join("staging")).unwrap().collect();
    assert!(staged.is_empty(), "{staged:?}");
}
