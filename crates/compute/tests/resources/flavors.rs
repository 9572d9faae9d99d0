//! Flavors, their extra specs and access lists.

use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;

async fn create(env: &Env, version: Option<&str>, body: Value) -> (u16, Value) {
    env.call(
        Method::POST,
        "flavors",
        &env.admin,
        version,
        Some(json!({"flavor": body})),
    )
    .await
}

fn names(v: &Value) -> Vec<String> {
    v["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn flavor_crud_views_and_microversions() {
    let env = Env::start().await;
    let (s, v) = create(
        &env,
        None,
        json!({"name": "small", "ram": 512, "vcpus": 1, "disk": 1, "id": "10"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let f = &v["flavor"];
    assert_eq!(f["id"], "10");
    assert_eq!(f["ram"], 512);
    assert_eq!(f["swap"], "", "swap 0 is \"\" before 2.75");
    assert_eq!(f["OS-FLV-EXT-DATA:ephemeral"], 0);
    assert_eq!(f["OS-FLV-DISABLED:disabled"], false);
    assert_eq!(f["os-flavor-access:is_public"], true);
    assert_eq!(f["rxtx_factor"], 1.0);
    assert!(f.get("description").is_none());
    assert!(f["links"][0]["href"].as_str().unwrap().ends_with("/v2.1/flavors/10"));
    assert!(f["links"][1]["href"].as_str().unwrap().ends_with("/flavors/10"));

    // strings of digits are integers too; no id makes a uuid; 2.55 description
    let (s, v) = create(
        &env,
        Some("2.55"),
        json!({"name": "big", "ram": "4096", "vcpus": 4, "disk": 40, "swap": 1024, "description": "a big one",
               "rxtx_factor": 2.5, "OS-FLV-EXT-DATA:ephemeral": 5}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let big = v["flavor"]["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&big).is_ok());
    assert_eq!(v["flavor"]["description"], "a big one");
    assert_eq!(v["flavor"]["swap"], 1024);

    let (_, v) = env.get("flavors/10", &env.admin, Some("2.75")).await;
    assert_eq!(v["flavor"]["swap"], 0, "swap 0 is 0 from 2.75");
    assert!(v["flavor"]["description"].is_null());
    let (_, v) = env.get("flavors/10", &env.admin, Some("2.61")).await;
    assert_eq!(v["flavor"]["extra_specs"], json!({}));
    let (_, v) = env.get("flavors/10", &env.admin, Some("2.60")).await;
    assert!(v["flavor"].get("extra_specs").is_none());

    // list, detail, filters, sorting, paging
    let (s, v) = env.get("flavors", &env.admin, None).await;
    assert_eq!(s, 200);
    let mut all = names(&v);
    all.sort();
    assert_eq!(all, ["big", "small"]);
    let brief = &v["flavors"][0];
    assert!(brief.get("ram").is_none() && brief["links"].is_array());
    let (_, v) = env.get("flavors/detail?minRam=1000", &env.admin, None).await;
    assert_eq!(names(&v), ["big"]);
    let (_, v) = env.get("flavors/detail?minDisk=2", &env.admin, None).await;
    assert_eq!(names(&v), ["big"]);
    let (_, v) = env
        .get("flavors?sort_key=memory_mb&sort_dir=desc", &env.admin, None)
        .await;
    assert_eq!(names(&v), ["big", "small"]);
    let (_, v) = env.get("flavors?sort_key=name&limit=1", &env.admin, None).await;
    assert_eq!(names(&v), ["big"]);
    let next = v["flavors_links"][0]["href"].as_str().unwrap().to_owned();
    assert!(next.contains(&format!("marker={big}")), "{next}");
    let (_, v) = env
        .get(&format!("flavors?sort_key=name&limit=1&marker={big}"), &env.admin, None)
        .await;
    assert_eq!(names(&v), ["small"]);
    for (q, msg) in [
        ("flavors?marker=nope", "marker [nope] not found"),
        ("flavors?minRam=abc", "Invalid minRam filter [abc]"),
        ("flavors?minDisk=x", "Invalid minDisk filter [x]"),
        ("flavors?is_public=maybe", "Invalid is_public filter [maybe]"),
        ("flavors?sort_key=colour", "Invalid sort key: colour"),
        ("flavors?sort_dir=up", "Invalid sort direction: up"),
        ("flavors?limit=-1", "limit must be >= 0"),
    ] {
        let (s, v) = env.get(q, &env.admin, None).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert_eq!(v["badRequest"]["message"], msg, "{q}");
    }
    // unknown query parameters: ignored before 2.75, refused from it
    assert_eq!(env.get("flavors?foo=1", &env.admin, Some("2.74")).await.0, 200);
    let (s, v) = env.get("flavors?foo=1", &env.admin, Some("2.75")).await;
    assert_eq!(s, 400, "{v}");

    // bad input
    for (body, version, needle) in [
        (
            json!({"ram": 1, "vcpus": 1, "disk": 1}),
            None,
            "'name' is a required property",
        ),
        (
            json!({"name": "x", "ram": -1, "vcpus": 1, "disk": 1}),
            None,
            "-1 is less than the minimum of 1",
        ),
        (
            json!({"name": "x", "ram": 1, "vcpus": 0, "disk": 1}),
            None,
            "0 is less than the minimum of 1",
        ),
        (
            json!({"name": "x", "ram": 1, "vcpus": 1, "disk": "a"}),
            None,
            "does not match",
        ),
        (json!({"name": " x", "ram": 1, "vcpus": 1, "disk": 1}), None, "name"),
        (
            json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "id": "a/b"}),
            None,
            "id",
        ),
        (
            json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": 0}),
            None,
            "rxtx_factor",
        ),
        (
            json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "colour": 1}),
            None,
            "'colour' was unexpected",
        ),
        (
            json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "description": "d"}),
            Some("2.54"),
            "'description' was unexpected",
        ),
        (
            json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": "perhaps"}),
            None,
            "is_public",
        ),
    ] {
        let (s, v) = create(&env, version, body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        let m = v["badRequest"]["message"].as_str().unwrap();
        assert!(m.contains(needle), "{body}: {m}");
    }
    let (s, v) = env
        .call(Method::POST, "flavors", &env.admin, None, Some(json!({"x": 1})))
        .await;
    assert_eq!(
        (s, v["badRequest"]["message"].as_str()),
        (400, Some("'flavor' is a required property"))
    );

    // duplicates
    let (s, v) = create(
        &env,
        None,
        json!({"name": "other", "ram": 1, "vcpus": 1, "disk": 1, "id": "10"}),
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(v["conflictingRequest"]["message"], "Flavor with ID 10 already exists.");
    let (s, v) = create(&env, None, json!({"name": "small", "ram": 1, "vcpus": 1, "disk": 1})).await;
    assert_eq!(s, 409);
    assert_eq!(
        v["conflictingRequest"]["message"],
        "Flavor with name small already exists."
    );

    // update (2.55)
    let upd = json!({"flavor": {"description": "now described"}});
    let (s, _) = env
        .call(Method::PUT, "flavors/10", &env.admin, Some("2.54"), Some(upd.clone()))
        .await;
    assert_eq!(s, 405);
    let (s, v) = env
        .call(Method::PUT, "flavors/10", &env.admin, Some("2.55"), Some(upd))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["flavor"]["description"], "now described");
    let (s, _) = env
        .call(
            Method::PUT,
            "flavors/10",
            &env.admin,
            Some("2.55"),
            Some(json!({"flavor": {"name": "n"}})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = env
        .call(
            Method::PUT,
            "flavors/nope",
            &env.admin,
            Some("2.55"),
            Some(json!({"flavor": {"description": null}})),
        )
        .await;
    assert_eq!(s, 404);

    // policy: members read, only admins write
    let (_, _, member) = env.project_user("p1", "member").await;
    assert_eq!(env.get("flavors/detail", &member, None).await.0, 200);
    let (s, v) = env
        .call(
            Method::POST,
            "flavors",
            &member,
            None,
            Some(json!({"flavor": {"name": "m", "ram": 1, "vcpus": 1, "disk": 1}})),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(
        v["forbidden"]["message"],
        "You are not authorized to perform the requested action: os_compute_api:os-flavor-manage:create."
    );
    assert_eq!(env.call(Method::DELETE, "flavors/10", &member, None, None).await.0, 403);

    // microversions out of range; no token
    assert_eq!(env.get("flavors", &env.admin, Some("2.200")).await.0, 406);
    assert_eq!(env.get("flavors", &env.admin, Some("3.0")).await.0, 406);
    assert_eq!(env.get("flavors", "", None).await.0, 401);

    // delete
    assert_eq!(
        env.call(Method::DELETE, "flavors/10", &env.admin, None, None).await.0,
        202
    );
    let (s, v) = env.get("flavors/10", &env.admin, None).await;
    assert_eq!(s, 404);
    assert_eq!(v["itemNotFound"]["message"], "Flavor 10 could not be found.");
    assert_eq!(
        env.call(Method::DELETE, "flavors/10", &env.admin, None, None).await.0,
        404
    );
    // project-scoped URLs work too
    let (s, v) = env.get("someproject/flavors", &env.admin, None).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["flavors"][0]["links"][0]["href"]
            .as_str()
            .unwrap()
            .contains("/v2.1/someproject/flavors/")
    );
    env.stop().await;
}

#[tokio::test]
async fn private_flavors_and_access() {
    let env = Env::start().await;
    let (pid, _, member) = env.project_user("p1", "member").await;
    let (s, _) = create(
        &env,
        None,
        json!({"name": "private", "ram": 256, "vcpus": 1, "disk": 0, "id": "p1", "os-flavor-access:is_public": false}),
    )
    .await;
    assert_eq!(s, 200);
    create(
        &env,
        None,
        json!({"name": "public", "ram": 256, "vcpus": 1, "disk": 0, "id": "pub"}),
    )
    .await;

    let (_, v) = env.get("flavors", &member, None).await;
    assert_eq!(names(&v), ["public"]);
    assert_eq!(env.get("flavors/p1", &member, None).await.0, 404);
    // admins: public by default, private with is_public=false, all with none
    assert_eq!(names(&env.get("flavors", &env.admin, None).await.1), ["public"]);
    assert_eq!(
        names(&env.get("flavors?is_public=false", &env.admin, None).await.1),
        ["private"]
    );
    assert_eq!(
        names(&env.get("flavors?is_public=none", &env.admin, None).await.1).len(),
        2
    );

    let private = env.compute.get_flavor("p1").await.unwrap();
    assert!(!env.compute.flavor_accessible(&private, &pid).await.unwrap());
    assert_eq!(private.to_spec().memory_mb, 256);

    let add = json!({"addTenantAccess": {"tenant": pid}});
    let (s, v) = env
        .call(Method::POST, "flavors/p1/action", &member, None, Some(add.clone()))
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = env
        .call(Method::POST, "flavors/p1/action", &env.admin, None, Some(add.clone()))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({"flavor_access": [{"flavor_id": "p1", "tenant_id": pid}]}));
    let (s, v) = env
        .call(Method::POST, "flavors/p1/action", &env.admin, None, Some(add.clone()))
        .await;
    assert_eq!(s, 409);
    assert_eq!(
        v["conflictingRequest"]["message"],
        format!("Flavor access already exists for flavor p1 and project {pid} combination.")
    );
    assert!(env.compute.flavor_accessible(&private, &pid).await.unwrap());
    let (_, v) = env.get("flavors", &member, None).await;
    assert_eq!(names(&v).len(), 2);
    assert_eq!(env.get("flavors/p1", &member, None).await.0, 200);

    let (s, v) = env.get("flavors/p1/os-flavor-access", &env.admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["flavor_access"][0]["tenant_id"], pid.as_str());
    assert_eq!(env.get("flavors/p1/os-flavor-access", &member, None).await.0, 403);
    let (s, v) = env.get("flavors/pub/os-flavor-access", &env.admin, None).await;
    assert_eq!(
        (s, v["itemNotFound"]["message"].as_str()),
        (404, Some("Access list not available for public flavors."))
    );
    let (s, v) = env
        .call(
            Method::POST,
            "flavors/pub/action",
            &env.admin,
            None,
            Some(json!({"addTenantAccess": {"tenant": "x"}})),
        )
        .await;
    assert_eq!(
        (s, v["conflictingRequest"]["message"].as_str()),
        (409, Some("Can not add access to a public flavor."))
    );
    let (s, _) = env
        .call(
            Method::POST,
            "flavors/p1/action",
            &env.admin,
            None,
            Some(json!({"addTenantAccess": {}})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = env
        .call(
            Method::POST,
            "flavors/p1/action",
            &env.admin,
            None,
            Some(json!({"fly": {}})),
        )
        .await;
    assert_eq!(s, 400);

    let remove = json!({"removeTenantAccess": {"tenant": pid}});
    let (s, v) = env
        .call(
            Method::POST,
            "flavors/p1/action",
            &env.admin,
            None,
            Some(remove.clone()),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["flavor_access"], json!([]));
    let (s, v) = env
        .call(Method::POST, "flavors/p1/action", &env.admin, None, Some(remove))
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Flavor access not found for p1 / {pid} combination.")
    );
    assert_eq!(env.get("flavors/p1", &member, None).await.0, 404);
    let (s, v) = env.get("flavors/nope/os-flavor-access", &env.admin, None).await;
    assert_eq!(
        (s, v["itemNotFound"]["message"].as_str()),
        (404, Some("Flavor nope could not be found."))
    );
    env.stop().await;
}

#[tokio::test]
async fn extra_specs() {
    let env = Env::start().await;
    let (_, _, member) = env.project_user("p1", "member").await;
    create(
        &env,
        None,
        json!({"name": "f", "ram": 256, "vcpus": 1, "disk": 0, "id": "f"}),
    )
    .await;
    let specs = json!({"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": 1024, "flag": true}});
    let (s, v) = env
        .call(Method::POST, "flavors/f/os-extra_specs", &env.admin, None, Some(specs))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["extra_specs"]["quota:cpu_shares"], "1024");
    assert_eq!(v["extra_specs"]["flag"], "True");
    let (s, v) = env.get("flavors/f/os-extra_specs", &member, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["extra_specs"].as_object().unwrap().len(), 3);
    let (s, v) = env.get("flavors/f/os-extra_specs/hw:cpu_policy", &member, None).await;
    assert_eq!((s, v), (200, json!({"hw:cpu_policy": "dedicated"})));
    let (s, v) = env.get("flavors/f/os-extra_specs/nope", &env.admin, None).await;
    assert_eq!(
        (s, v["itemNotFound"]["message"].as_str()),
        (404, Some("Flavor f has no extra specs with key nope."))
    );
    let (_, v) = env.get("flavors/f", &member, Some("2.61")).await;
    assert_eq!(v["flavor"]["extra_specs"]["hw:cpu_policy"], "dedicated");
    let (_, v) = env.get("flavors/detail", &member, Some("2.61")).await;
    assert_eq!(v["flavors"][0]["extra_specs"]["flag"], "True");

    let put = |body: Value| {
        env.call(
            Method::PUT,
            "flavors/f/os-extra_specs/flag",
            &env.admin,
            None,
            Some(body),
        )
    };
    let (s, v) = put(json!({"flag": "False"})).await;
    assert_eq!((s, v), (200, json!({"flag": "False"})));
    let (s, v) = put(json!({"other": "x"})).await;
    assert_eq!(
        (s, v["badRequest"]["message"].as_str()),
        (400, Some("Request body and URI mismatch"))
    );
    let (s, v) = put(json!({"flag": "x", "b": "y"})).await;
    assert_eq!(
        (s, v["badRequest"]["message"].as_str()),
        (400, Some("Request body contains too many items"))
    );
    let (s, _) = put(json!({"flag": {"x": 1}})).await;
    assert_eq!(s, 400);
    let (s, _) = env
        .call(
            Method::POST,
            "flavors/f/os-extra_specs",
            &env.admin,
            None,
            Some(json!({"extra_specs": {"bad key!": "x"}})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = env
        .call(
            Method::POST,
            "flavors/f/os-extra_specs",
            &env.admin,
            None,
            Some(json!({"extra_specs": {"k": "x".repeat(256)}})),
        )
        .await;
    assert_eq!(s, 400);
    // validated from 2.86
    let bad = json!({"extra_specs": {"resources:VCPU": "many"}});
    let (s, _) = env
        .call(
            Method::POST,
            "flavors/f/os-extra_specs",
            &env.admin,
            Some("2.85"),
            Some(bad.clone()),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = env
        .call(
            Method::POST,
            "flavors/f/os-extra_specs",
            &env.admin,
            Some("2.86"),
            Some(bad),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["badRequest"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Validation failed;")
    );

    // members cannot write
    let (s, _) = env
        .call(
            Method::POST,
            "flavors/f/os-extra_specs",
            &member,
            None,
            Some(json!({"extra_specs": {"a": "b"}})),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(
        env.call(Method::DELETE, "flavors/f/os-extra_specs/flag", &member, None, None)
            .await
            .0,
        403
    );
    assert_eq!(
        env.call(Method::DELETE, "flavors/f/os-extra_specs/flag", &env.admin, None, None)
            .await
            .0,
        200
    );
    assert_eq!(
        env.call(Method::DELETE, "flavors/f/os-extra_specs/flag", &env.admin, None, None)
            .await
            .0,
        404
    );
    assert_eq!(env.get("flavors/nope/os-extra_specs", &env.admin, None).await.0, 404);
    assert_eq!(
        env.compute.get_flavor("f").await.unwrap().to_spec().extra_specs["hw:cpu_policy"],
        "dedicated"
    );
    env.stop().await;
}

#[tokio::test]
async fn default_flavors_are_devstacks() {
    let env = Env::start().await;
    env.compute.ensure_default_flavors().await.unwrap();
    env.compute.ensure_default_flavors().await.unwrap();
    let (_, v) = env.get("flavors/detail", &env.admin, None).await;
    let got: Vec<(String, String, i64, i64, i64)> = v["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["name"].as_str().unwrap().to_owned(),
                f["ram"].as_i64().unwrap(),
                f["disk"].as_i64().unwrap(),
                f["vcpus"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1", "m1.tiny", 512, 1, 1),
            ("2", "m1.small", 2048, 20, 1),
            ("3", "m1.medium", 4096, 40, 2),
            ("4", "m1.large", 8192, 80, 4),
            ("5", "m1.xlarge", 16384, 160, 8),
        ]
        .map(|(a, b, c, d, e)| (a.to_owned(), b.to_owned(), c, d, e))
    );
    env.stop().await;
}
