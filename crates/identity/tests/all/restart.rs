//! A restart keeps everything: data, keys (tokens stay valid), revocations;
//! and bootstrap may run again on every start without changing anything.

use reqwest::Method;
use test_cloud::{ADMIN_PASSWORD, TestCloud};

#[tokio::test]
async fn restart_keeps_data_tokens_and_revocations() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let victim = cloud.admin_token().await;
    let uid = crate::create_user(&cloud, &admin, "frank", "pw").await;
    let resp = cloud
        .http
        .delete(cloud.url("auth/tokens"))
        .header("x-auth-token", &admin)
        .header("x-subject-token", &victim)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (_, before) = cloud.call(Method::GET, "roles", &admin, None).await;

    // A second service on the same database and key repository, as after a
    // restart of `oxistack up`, bootstrapped again.
    let db = store::Db::connect(&format!("sqlite://{}", cloud.dir().join("identity.db").display()))
        .await
        .unwrap();
    let mut config = identity::IdentityConfig::new(cloud.identity_url.clone(), cloud.dir().join("fernet-keys"));
    config.password_hash_rounds = 4;
    let again = identity::Identity::start(config, db).await.unwrap();
    again
        .bootstrap(&identity::BootstrapSpec::new(ADMIN_PASSWORD))
        .await
        .unwrap();
    again
        .bootstrap(&identity::BootstrapSpec::new(ADMIN_PASSWORD))
        .await
        .unwrap();

    let v = again
        .validate_token(&admin, false)
        .await
        .expect("token issued before the restart");
    assert_eq!(v.context.project_name.as_deref(), Some("admin"));
    assert!(
        again.validate_token(&victim, false).await.is_err(),
        "revocation survives the restart"
    );
    assert_eq!(again.get_user(&uid).await.unwrap().name, "frank");
    assert_eq!(
        again.list_roles().await.unwrap().len(),
        before["roles"].as_array().unwrap().len(),
        "bootstrap created nothing twice"
    );
    assert_eq!(again.list_services().await.unwrap().len(), 1);
    assert_eq!(again.list_endpoints().await.unwrap().len(), 3);
    cloud.stop().await;
}
