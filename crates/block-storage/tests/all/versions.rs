use reqwest::Method;

use super::*;

#[tokio::test]
async fn version_documents_and_microversions() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let (s, v) = call(&cloud, Method::GET, &project, "/", &token, None).await;
    assert_eq!(s, 300);
    assert_eq!(v["versions"][0]["id"], "v3.0");
    assert_eq!(v["versions"][0]["min_version"], "3.0");
    let (s, v) = call(&cloud, Method::GET, &project, "/v3/", "", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["versions"][0]["status"], "CURRENT");

    let url = format!("{}/v3/{project}/volumes", cloud.block_storage_url.as_deref().unwrap());
    let resp = cloud
        .http
        .get(&url)
        .header("x-auth-token", &token)
        .header("openstack-api-version", "volume 3.0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["openstack-api-version"], "volume 3.0");
    for (header, status) in [("volume 3.999", 406), ("volume 4.0", 406), ("volume three", 400)] {
        let resp = cloud
            .http
            .get(&url)
            .header("x-auth-token", &token)
            .header("openstack-api-version", header)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{header}");
    }
    // No token: 401 with the Keystone challenge.
    let resp = cloud.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    // Another project's id in the URL.
    let (s, v) = call(&cloud, Method::GET, "someone-else", "volumes", &token, None).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["badRequest"]["message"], "Malformed request url");
    cloud.stop().await;
}
