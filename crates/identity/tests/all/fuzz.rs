//! Bad input never makes a 5xx: random and mutated bodies, wrong types,
//! wrong content types and unknown ids thrown at every identity route.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

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

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!(-1.5e300),
        4 => json!(""),
        5 => json!("x".repeat(rng.below(300)) + "\u{0}\u{202e}'\";--"),
        6 => Value::Array((0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => {
            let keys = [
                "name",
                "id",
                "domain_id",
                "enabled",
                "password",
                "parent_id",
                "tags",
                "type",
                "url",
                "interface",
                "user",
                "auth",
                "identity",
                "methods",
                "scope",
                "project",
                "domain",
            ];
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(5) {
                m.insert(keys[rng.below(keys.len())].to_owned(), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

/// Replaces one leaf (or drops one key) somewhere in `v`.
fn mutate(rng: &mut Rng, v: &mut Value) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = &keys[rng.below(keys.len())];
            match rng.below(3) {
                0 => {
                    m.remove(k);
                }
                1 => {
                    if let Some(inner) = m.get_mut(k) {
                        mutate(rng, inner);
                    }
                }
                _ => {
                    m.insert(k.clone(), random_value(rng, 1));
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = rng.below(a.len());
            mutate(rng, &mut a[i]);
        }
        other => *other = random_value(rng, 1),
    }
}

#[tokio::test]
async fn no_route_answers_5xx_to_bad_input() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (_, me) = cloud.call(Method::GET, "users?name=admin", &admin, None).await;
    let uid = me["users"][0]["id"].as_str().unwrap().to_owned();
    let (_, roles) = cloud.call(Method::GET, "roles?name=member", &admin, None).await;
    let rid = roles["roles"][0]["id"].as_str().unwrap().to_owned();
    let (_, projects) = cloud.call(Method::GET, "projects?name=admin", &admin, None).await;
    let pid = projects["projects"][0]["id"].as_str().unwrap().to_owned();

    let templates: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "auth/tokens".into(),
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "x"}}}, "scope": {"project": {"id": pid}}}}),
        ),
        (
            Method::POST,
            "domains".into(),
            json!({"domain": {"name": "fz", "enabled": true}}),
        ),
        (
            Method::PATCH,
            "domains/default".into(),
            json!({"domain": {"description": "d"}}),
        ),
        (
            Method::POST,
            "projects".into(),
            json!({"project": {"name": "fz", "domain_id": "default", "tags": ["a"]}}),
        ),
        (
            Method::PATCH,
            format!("projects/{pid}"),
            json!({"project": {"description": "d"}}),
        ),
        (Method::PUT, format!("projects/{pid}/tags"), json!({"tags": ["a", "b"]})),
        (
            Method::POST,
            "users".into(),
            json!({"user": {"name": "fz", "password": "p", "enabled": true}}),
        ),
        (
            Method::PATCH,
            format!("users/{uid}"),
            json!({"user": {"description": "d"}}),
        ),
        (
            Method::POST,
            format!("users/{uid}/password"),
            json!({"user": {"original_password": "a", "password": "b"}}),
        ),
        (Method::POST, "groups".into(), json!({"group": {"name": "fz"}})),
        (Method::POST, "roles".into(), json!({"role": {"name": "fz"}})),
        (
            Method::PATCH,
            format!("roles/{rid}"),
            json!({"role": {"description": "d"}}),
        ),
        (
            Method::POST,
            "regions".into(),
            json!({"region": {"id": "fz", "description": "d"}}),
        ),
        (
            Method::POST,
            "services".into(),
            json!({"service": {"type": "fz", "name": "fz"}}),
        ),
        (
            Method::POST,
            "endpoints".into(),
            json!({"endpoint": {"interface": "public", "service_id": "x", "url": "http://x"}}),
        ),
    ];
    let seed = 0x5eed_0001_u64;
    let mut rng = Rng(seed);
    for round in 0..40 {
        for (method, path, template) in &templates {
            let mut body = template.clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut rng, &mut body);
            }
            if round % 10 == 0 {
                body = random_value(&mut rng, 0);
            }
            let (status, resp) = cloud.call(method.clone(), path, &admin, Some(body.clone())).await;
            assert!(
                status < 500,
                "seed {seed:#x} round {round}: {method} {path} with {body} -> {status} {resp}"
            );
        }
    }
    // Not JSON at all, and the wrong content type.
    for (method, path, _) in &templates {
        for (ctype, raw) in [
            ("application/json", "{\"a\":"),
            ("application/json", "\u{0}\u{1}"),
            ("text/plain", "{}"),
            ("application/json", "[]"),
        ] {
            let resp = cloud
                .http
                .request(method.clone(), cloud.url(path))
                .header("x-auth-token", &admin)
                .header("content-type", ctype)
                .body(raw)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{method} {path} {ctype} {raw:?} -> {status}"
            );
        }
    }
    // Oversized bodies are 413.
    let huge = json!({"user": {"name": "x".repeat(200_000)}});
    assert_eq!(cloud.call(Method::POST, "users", &admin, Some(huge)).await.0, 413);
    // Unknown ids everywhere are 404, never 5xx.
    for path in [
        "users/zz",
        "groups/zz",
        "roles/zz",
        "projects/zz",
        "domains/zz",
        "regions/zz",
        "services/zz",
        "endpoints/zz",
        "roles/zz/implies/yy",
        "projects/zz/users/yy/roles/xx",
        "system/users/zz/roles/yy",
    ] {
        for method in [Method::GET, Method::DELETE, Method::HEAD] {
            let (status, _) = cloud.call(method.clone(), path, &admin, None).await;
            assert!(status == 404 || status == 405, "{method} {path} -> {status}");
        }
    }
    cloud.stop().await;
}
