//! Version discovery, schemas and info documents.

use reqwest::Method;

use crate::{call, cloud, url};

#[tokio::test]
async fn versions_schemas_and_info() {
    let cloud = cloud().await;
    let resp = cloud.http.get(url(&cloud, "/")).send().await.unwrap();
    assert_eq!(resp.status(), 300);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["versions"][0]["status"], "CURRENT");
    assert!(v["versions"].as_array().unwrap().iter().any(|x| x["id"] == "v2.0"));
    let resp = cloud.http.get(url(&cloud, "/v2")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let admin = cloud.admin_token().await;
    for name in ["image", "images", "member", "members"] {
        let (s, v) = call(&cloud, Method::GET, &format!("v2/schemas/{name}"), &admin, None).await;
        assert_eq!(s, 200);
        assert_eq!(v["name"], name);
    }
    let (s, v) = call(&cloud, Method::GET, "v2/schemas/image", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["properties"]["checksum"]["readOnly"], true);
    assert_eq!(call(&cloud, Method::GET, "v2/schemas/nope", &admin, None).await.0, 404);
    let (s, v) = call(&cloud, Method::GET, "v2/info/import", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["import-methods"]["value"][0], "glance-direct");
    let (s, v) = call(&cloud, Method::GET, "v2/info/stores", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["stores"][0]["id"], "file");
    assert_eq!(v["stores"][0]["default"], true);
    // Without a token: 401 with the Keystone challenge.
    let resp = cloud.http.get(url(&cloud, "v2/images")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Keystone uri=")
    );
    // The image service is in the catalog.
    let (_, cat) = cloud.call(Method::GET, "auth/catalog", &admin, None).await;
    assert!(
        cat["catalog"].as_array().unwrap().iter().any(|s| s["type"] == "image"),
        "{cat}"
    );
    cloud.stop().await;
}
