//! Bad input never makes a 5xx on the delegation routes (application
//! credentials, access rules, trusts, credentials, EC2 credentials,
//! revocation events), on every database the machine offers: mutated
//! bodies, over-long and NUL-bearing strings, wrong types, unknown ids.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};

use crate::app_creds::member_of_new_project;

/// A tiny deterministic generator, so a failure can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn nasty(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-7),
        3 => json!(""),
        4 => json!("x".repeat(300)),
        5 => json!("a\u{0}b"),
        6 => json!([{"id": "x".repeat(100)}, {"name": "\u{0}"}]),
        7 => json!({"k": "v"}),
        _ => json!("/".to_owned() + &"p".repeat(200)),
    }
}

/// Replaces, adds or removes one attribute somewhere in the body.
fn mutate(rng: &mut Rng, v: &mut Value) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = keys[rng.below(keys.len())].clone();
            match rng.below(4) {
                0 => {
                    m.remove(&k);
                }
                1 => mutate(rng, m.get_mut(&k).expect("key")),
                _ => {
                    m.insert(k, nasty(rng));
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = rng.below(a.len());
            mutate(rng, &mut a[i]);
        }
        other => *other = nasty(rng),
    }
}

#[tokio::test]
async fn delegation_routes_never_5xx() {
    for backend in Backend::from_env() {
        delegation_routes_never_5xx_on(backend).await;
    }
}

async fn delegation_routes_never_5xx_on(backend: Backend) {
    let cloud = TestCloud::start_on(backend).await;
    let admin = cloud.admin_token().await;
    let (uid, pid, token) = member_of_new_project(&cloud, &admin, "fuzz", "member").await;
    let rule = json!({"service": "compute", "path": "/v2.1/servers", "method": "GET"});
    let templates: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            format!("users/{uid}/application_credentials"),
            json!({"application_credential": {"name": "n", "description": "d", "secret": "s", "unrestricted": false,
                "expires_at": "2999-01-01T00:00:00", "roles": [{"name": "member"}], "access_rules": [rule]}}),
        ),
        (
            Method::POST,
            "OS-TRUST/trusts".into(),
            json!({"trust": {"trustor_user_id": uid, "trustee_user_id": uid, "project_id": pid, "impersonation": true,
                "roles": [{"name": "member"}], "expires_at": null, "remaining_uses": 3}}),
        ),
        (
            Method::POST,
            "credentials".into(),
            json!({"credential": {"user_id": uid, "project_id": pid, "type": "ec2",
                "blob": "{\"access\": \"a\", \"secret\": \"s\"}"}}),
        ),
        (
            Method::POST,
            "credentials".into(),
            json!({"credential": {"user_id": uid, "type": "cert", "blob": "b"}}),
        ),
        (
            Method::POST,
            format!("users/{uid}/credentials/OS-EC2"),
            json!({"tenant_id": pid}),
        ),
    ];
    let seed = 0x5eed_0002_u64;
    let mut rng = Rng(seed);
    for round in 0..30 {
        for (method, path, template) in &templates {
            let mut body = template.clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut rng, &mut body);
            }
            let (status, resp) = cloud.call(method.clone(), path, &token, Some(body.clone())).await;
            assert!(
                status < 500,
                "{backend:?} seed {seed:#x} round {round}: {method} {path} with {body} -> {status} {resp}"
            );
        }
    }
    // Texts longer than MySQL's TEXT holds are refused.
    let big = "x".repeat(100_000);
    for (path, body) in [
        (
            format!("users/{uid}/application_credentials"),
            json!({"application_credential": {"name": "big", "description": big}}),
        ),
        (
            "OS-TRUST/trusts".to_owned(),
            json!({"trust": {"trustor_user_id": uid, "trustee_user_id": uid, "project_id": pid,
                "impersonation": false, "roles": [{"name": "member"}], "note": big}}),
        ),
        (
            "credentials".to_owned(),
            json!({"credential": {"user_id": uid, "type": "cert", "blob": big}}),
        ),
    ] {
        let (status, resp) = cloud.call(Method::POST, &path, &token, Some(body)).await;
        assert_eq!(status, 400, "{backend:?}: POST {path} with 100 kB -> {resp}");
    }
    // A credential to update with bad blobs.
    let (s, body) = cloud
        .call(
            Method::POST,
            "credentials",
            &token,
            Some(json!({"credential": {"user_id": uid, "type": "cert", "blob": "b"}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let cid = body["credential"]["id"].as_str().unwrap().to_owned();
    let blobs = [json!("a\u{0}b"), json!("x".repeat(100_000)), json!(null), json!({})];
    for (i, blob) in blobs.into_iter().enumerate() {
        let (status, resp) = cloud
            .call(
                Method::PATCH,
                &format!("credentials/{cid}"),
                &token,
                Some(json!({"credential": {"blob": blob}})),
            )
            .await;
        assert!(status < 500, "{backend:?}: PATCH blob #{i} -> {status} {resp}");
    }
    // Unknown and odd ids are 404 (or 403 where existence is not told).
    let odd = ["zz", "%00", "x".repeat(300).as_str(), "%E2%80%AE"].map(str::to_owned);
    for id in &odd {
        for path in [
            format!("users/{uid}/application_credentials/{id}"),
            format!("users/{id}/application_credentials"),
            format!("users/{uid}/access_rules/{id}"),
            format!("OS-TRUST/trusts/{id}"),
            format!("OS-TRUST/trusts/{id}/roles"),
            format!("OS-TRUST/trusts/{id}/roles/{id}"),
            format!("credentials/{id}"),
            format!("users/{uid}/credentials/OS-EC2/{id}"),
            format!("users/{id}/credentials/OS-EC2"),
        ] {
            for method in [Method::GET, Method::DELETE, Method::HEAD] {
                for t in [&admin, &token] {
                    let (status, resp) = cloud.call(method.clone(), &path, t, None).await;
                    assert!(
                        [200, 204, 403, 404, 405].contains(&status),
                        "{backend:?}: {method} {path:.80} -> {status} {resp}"
                    );
                }
            }
        }
    }
    for q in ["since=%00", "since=", "since=2001-01-01T00:00:00Z"] {
        let (status, _) = cloud
            .call(Method::GET, &format!("OS-REVOKE/events?{q}"), &admin, None)
            .await;
        assert!(status == 200 || status == 400, "{backend:?}: events?{q} -> {status}");
    }
    cloud.stop().await;
}
