//! Keypairs: generate, import, list, show, delete, per user.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";

fn md5_fingerprint(public_key: &str) -> String {
    use md5::Digest;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(public_key.split_whitespace().nth(1).unwrap())
        .unwrap();
    md5::Md5::digest(&blob)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

async fn create(env: &Env, token: &str, version: Option<&str>, body: Value) -> (u16, Value) {
    env.call(
        Method::POST,
        "os-keypairs",
        token,
        version,
        Some(json!({"keypair": body})),
    )
    .await
}

#[tokio::test]
async fn keypairs_generate_import_list_show_delete() {
    let env = Env::start().await;
    let (_, uid, member) = env.project_user("p1", "member").await;

    // generated (2.1: 200, no type)
    let (s, v) = create(&env, &member, None, json!({"name": "gen"})).await;
    assert_eq!(s, 200, "{v}");
    let k = &v["keypair"];
    assert!(
        k["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    assert!(k["public_key"].as_str().unwrap().starts_with("ssh-rsa "));
    assert_eq!(
        k["fingerprint"],
        md5_fingerprint(k["public_key"].as_str().unwrap()).as_str()
    );
    assert_eq!(k["user_id"], uid.as_str());
    assert!(k.get("type").is_none());

    // imported (2.2: 201, type)
    let (s, v) = create(
        &env,
        &member,
        Some("2.2"),
        json!({"name": "imp", "public_key": ED25519}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["keypair"]["type"], "ssh");
    assert_eq!(v["keypair"]["fingerprint"], md5_fingerprint(ED25519).as_str());
    assert!(v["keypair"].get("private_key").is_none());

    // a generated x509 keypair: a key and a self-signed certificate
    let (s, v) = create(&env, &member, Some("2.2"), json!({"name": "cert", "type": "x509"})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["keypair"]["type"], "x509");
    let cert = v["keypair"]["public_key"].as_str().unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    assert!(
        v["keypair"]["private_key"]
            .as_str()
            .unwrap()
            .contains("RSA PRIVATE KEY")
    );
    assert_eq!(
        v["keypair"]["fingerprint"].as_str().unwrap().len(),
        59,
        "SHA-1 as hex pairs"
    );
    let (s, _) = env.call(Method::DELETE, "os-keypairs/cert", &member, None, None).await;
    assert_eq!(s, 202);

    let (s, v) = create(&env, &member, None, json!({"name": "imp", "public_key": ED25519})).await;
    assert_eq!(s, 409);
    assert_eq!(v["conflictingRequest"]["message"], "Key pair 'imp' already exists.");
    for (body, version) in [
        (json!({"name": "bad", "public_key": "ssh-rsa AAAA"}), None),
        (json!({"name": "bad", "public_key": "not a key"}), None),
        (
            json!({"name": "bad", "public_key": ED25519.replace("ssh-ed25519", "ssh-rsa")}),
            None,
        ),
        (
            json!({"name": "bad", "public_key": "garbage", "type": "x509"}),
            Some("2.2"),
        ),
    ] {
        let (s, v) = create(&env, &member, version, body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(
            v["badRequest"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Keypair data is invalid"),
            "{v}"
        );
    }
    for (body, version) in [
        (json!({"name": "bad!name", "public_key": ED25519}), None),
        (json!({"name": "", "public_key": ED25519}), None),
        (json!({"name": "a".repeat(256), "public_key": ED25519}), None),
        (json!({"public_key": ED25519}), None),
        (json!({"name": "t", "public_key": ED25519, "type": "ssh"}), None),
        (json!({"name": "t", "public_key": ED25519, "type": "gpg"}), Some("2.2")),
        (
            json!({"name": "t", "public_key": ED25519, "colour": "red"}),
            Some("2.2"),
        ),
        (json!({"name": "t"}), Some("2.92")),
        (json!({"name": "a@b.c", "public_key": ED25519}), Some("2.91")),
    ] {
        let (s, v) = create(&env, &member, version, body.clone()).await;
        assert_eq!(s, 400, "{body} at {version:?}: {v}");
    }
    let (s, _) = create(
        &env,
        &member,
        Some("2.92"),
        json!({"name": "a@b.c", "public_key": ED25519}),
    )
    .await;
    assert_eq!(s, 201);

    // list: names, fingerprints; type from 2.2
    let (s, v) = env.get("os-keypairs", &member, None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v["keypairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["keypair"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a@b.c", "gen", "imp"]);
    assert!(v["keypairs"][0]["keypair"].get("type").is_none());
    let (_, v) = env.get("os-keypairs", &member, Some("2.2")).await;
    assert_eq!(v["keypairs"][0]["keypair"]["type"], "ssh");
    // paging from 2.35
    let (_, v) = env.get("os-keypairs?limit=2", &member, Some("2.35")).await;
    assert_eq!(v["keypairs"].as_array().unwrap().len(), 2);
    assert!(v["keypairs_links"][0]["href"].as_str().unwrap().contains("marker=gen"));
    let (_, v) = env.get("os-keypairs?limit=2&marker=gen", &member, Some("2.35")).await;
    assert_eq!(v["keypairs"][0]["keypair"]["name"], "imp");
    assert!(v.get("keypairs_links").is_none());
    let (s, _) = env.get("os-keypairs?marker=nope", &member, Some("2.35")).await;
    assert_eq!(s, 400);
    let (_, v) = env.get("os-keypairs?limit=1", &member, Some("2.34")).await;
    assert_eq!(v["keypairs"].as_array().unwrap().len(), 3, "no paging before 2.35");

    // show
    let (s, v) = env.get("os-keypairs/imp", &member, None).await;
    assert_eq!(s, 200, "{v}");
    let k = &v["keypair"];
    assert!(k["id"].is_i64());
    assert_eq!(k["deleted"], false);
    assert!(k["deleted_at"].is_null() && k["updated_at"].is_null());
    assert!(k["created_at"].as_str().unwrap().len() >= 19);
    assert_eq!(k["public_key"], ED25519);
    let (s, v) = env.get("os-keypairs/nope", &member, None).await;
    assert_eq!(s, 404);
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Keypair nope not found for user {uid}")
    );

    // the servers engineer's lookup
    let kp = env.compute.get_keypair(&uid, "imp").await.unwrap();
    assert_eq!((kp.name.as_str(), kp.key_type.as_str()), ("imp", "ssh"));
    assert!(env.compute.get_keypair(&uid, "nope").await.is_err());

    // other users: member may not, admin may (2.10)
    let (_, _, other) = env.project_user("p2", "member").await;
    let (_, v) = env.get("os-keypairs", &other, None).await;
    assert_eq!(v["keypairs"], json!([]));
    let (s, _) = env
        .get(&format!("os-keypairs?user_id={uid}"), &other, Some("2.10"))
        .await;
    assert_eq!(s, 403);
    let (s, v) = env
        .get(&format!("os-keypairs?user_id={uid}"), &env.admin, Some("2.10"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["keypairs"].as_array().unwrap().len(), 3);
    let (s, _) = env
        .get(&format!("os-keypairs/imp?user_id={uid}"), &env.admin, Some("2.10"))
        .await;
    assert_eq!(s, 200);
    let (s, v) = create(
        &env,
        &env.admin,
        Some("2.10"),
        json!({"name": "for-user", "public_key": ED25519, "user_id": uid}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["keypair"]["user_id"], uid.as_str());
    let (s, _) = create(
        &env,
        &other,
        Some("2.10"),
        json!({"name": "x", "public_key": ED25519, "user_id": uid}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = env
        .call(
            Method::DELETE,
            &format!("os-keypairs/for-user?user_id={uid}"),
            &other,
            Some("2.10"),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = env
        .call(
            Method::DELETE,
            &format!("os-keypairs/for-user?user_id={uid}"),
            &env.admin,
            Some("2.10"),
            None,
        )
        .await;
    assert_eq!(s, 204);

    // delete: 202 before 2.2, 204 from it
    assert_eq!(
        env.call(Method::DELETE, "os-keypairs/gen", &member, None, None).await.0,
        202
    );
    assert_eq!(
        env.call(Method::DELETE, "os-keypairs/imp", &member, Some("2.2"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        env.call(Method::DELETE, "os-keypairs/imp", &member, Some("2.2"), None)
            .await
            .0,
        404
    );
    env.stop().await;
}
