//! The scale-out mode for real: one controller and two compute nodes as
//! separate `oxistack serve` processes on this machine, sharing the real
//! PostgreSQL and RabbitMQ (env `OXISTACK_TEST_POSTGRES`,
//! `OXISTACK_TEST_RABBIT`; skipped when either is unset). Servers spread
//! over both hosts, anti-affinity puts a group's members apart, and when a
//! compute node is killed its service goes `down`, its servers show
//! `host_status: DOWN`, deleting one there still works (a local delete),
//! and new servers go to the host that is left.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PORT_OFFSET: u16 = 21700;
const ADMIN_PASSWORD: &str = "scale-out-secret";

struct Node {
    name: &'static str,
    child: Child,
}

/// Kills every node and removes the vhost when the test ends, pass or fail.
struct Nodes {
    nodes: Vec<Node>,
    vhost: String,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
        let _ = Command::new("rabbitmqctl").args(["delete_vhost", &self.vhost]).output();
    }
}

impl Nodes {
    fn kill(&mut self, name: &str) {
        let node = self.nodes.iter_mut().find(|n| n.name == name).expect("node");
        node.child.kill().expect("kill");
        node.child.wait().expect("wait");
    }
}

fn start(name: &'static str, dir: &Path, config: &str) -> Node {
    let file = dir.join(format!("{name}.conf"));
    std::fs::write(&file, config).expect("config");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_oxistack"))
        .args(["serve", "--config"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn oxistack serve");
    Node { name, child }
}

struct Client {
    http: reqwest::Client,
    token: String,
    compute: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.compute))
            .header("x-auth-token", &self.token)
            .header("openstack-api-version", "compute 2.74");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn server(&self, id: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, &format!("/servers/{id}"), None).await;
        assert_eq!(status, 200, "{body}");
        body["server"].clone()
    }

    async fn wait_active(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.server(id).await;
            match s["status"].as_str() {
                Some("ACTIVE") => return s,
                Some("ERROR") => panic!("server {id} went to ERROR: {}", s["fault"]),
                _ if Instant::now() > deadline => panic!("server {id} not ACTIVE in time: {s}"),
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    async fn boot(&self, name: &str, flavor: &str, image: &str, hints: Value) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/servers",
                Some(
                    json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image, "networks": "none"},
                            "os:scheduler_hints": hints}),
                ),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        body["server"]["id"].as_str().expect("id").to_owned()
    }

    async fn compute_services(&self) -> Vec<Value> {
        let (status, body) = self
            .call(reqwest::Method::GET, "/os-services?binary=nova-compute", None)
            .await;
        assert_eq!(status, 200, "{body}");
        body["services"].as_array().cloned().unwrap_or_default()
    }
}

fn host_of(server: &Value) -> String {
    server["OS-EXT-SRV-ATTR:host"].as_str().unwrap_or_default().to_owned()
}

async fn fresh_database(server: &str) -> String {
    let db = store::Db::connect(server).await.expect("connect to PostgreSQL");
    for sql in [
        "DROP DATABASE IF EXISTS oxistack_scale_out",
        "CREATE DATABASE oxistack_scale_out",
    ] {
        store::sqlx::query(store::AssertSqlSafe(sql.to_owned()))
            .execute(db.writer())
            .await
            .expect(sql);
    }
    db.writer().close().await;
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
    format!("{base}/oxistack_scale_out")
}

#[tokio::test]
async fn one_controller_two_compute_nodes_over_postgres_and_rabbitmq() {
    let (Ok(pg), Ok(rabbit)) = (
        std::env::var("OXISTACK_TEST_POSTGRES"),
        std::env::var("OXISTACK_TEST_RABBIT"),
    ) else {
        eprintln!("skipped: set OXISTACK_TEST_POSTGRES and OXISTACK_TEST_RABBIT");
        return;
    };
    // Kept on failure (the node logs are in it); removed at the end.
    let dir = tempfile::Builder::new()
        .prefix("oxistack-scale-out-")
        .tempdir()
        .expect("tempdir");
    let dir = Kept(dir.keep());
    let database = fresh_database(&pg).await;
    let vhost = format!("oxistack-scale-out-{}", std::process::id());
    for args in [
        vec!["add_vhost", vhost.as_str()],
        vec!["set_permissions", "-p", vhost.as_str(), "guest", ".*", ".*", ".*"],
    ] {
        let out = Command::new("rabbitmqctl").args(&args).output().expect("rabbitmqctl");
        assert!(
            out.status.success(),
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let transport_url = format!("{}/{vhost}", rabbit.trim_end_matches('/'));
    let common = format!(
        "transport_url = {transport_url}\nmy_ip = 127.0.0.1\nbind_host = 127.0.0.1\nport_offset = {PORT_OFFSET}\n\
         report_interval = 1\nservice_down_time = 4\n"
    );
    let mut nodes = Nodes {
        nodes: Vec::new(),
        vhost: vhost.clone(),
    };
    nodes.nodes.push(start(
        "controller",
        dir.path(),
        &format!(
            "[DEFAULT]\nroles = controller\nhost = so-controller\nstate_path = {}\n{common}\n\
             [database]\nconnection = {database}\n[identity]\nadmin_password = {ADMIN_PASSWORD}\n\
             password_hash_rounds = 4\n",
            dir.path().join("controller").display()
        ),
    ));
    for (name, host) in [("compute-1", "so-compute-1"), ("compute-2", "so-compute-2")] {
        nodes.nodes.push(start(
            name,
            dir.path(),
            &format!(
                "[DEFAULT]\nroles = compute\nhost = {host}\nstate_path = {}\n{common}\n[compute]\ndriver = fake\n",
                dir.path().join(name).display()
            ),
        ));
    }

    // Log in once the controller answers.
    let http = reqwest::Client::new();
    let identity = format!("http://127.0.0.1:{}/v3", 5000 + PORT_OFFSET);
    let deadline = Instant::now() + Duration::from_secs(90);
    let (token, catalog) = loop {
        let login = http
            .post(format!("{identity}/auth/tokens"))
            .json(
                &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}),
            )
            .send()
            .await;
        if let Ok(resp) = login
            && resp.status() == 201
        {
            let token = resp.headers()["x-subject-token"].to_str().expect("token").to_owned();
            let body: Value = resp.json().await.expect("token body");
            break (token, body["token"]["catalog"].clone());
        }
        assert!(
            Instant::now() < deadline,
            "the controller did not answer:\n{}",
            tail(dir.path(), "controller")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let endpoint = |kind: &str| -> String {
        let service = catalog
            .as_array()
            .expect("catalog")
            .iter()
            .find(|s| s["type"] == kind)
            .expect(kind);
        let e = service["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .find(|e| e["interface"] == "public");
        e.expect("public endpoint")["url"].as_str().expect("url").to_owned()
    };
    let client = Client {
        http: http.clone(),
        token: token.clone(),
        compute: endpoint("compute"),
    };

    // Both agents report in.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up: Vec<String> = client
            .compute_services()
            .await
            .iter()
            .filter(|s| s["state"] == "up")
            .filter_map(|s| s["host"].as_str().map(str::to_owned))
            .collect();
        if up.contains(&"so-compute-1".to_owned()) && up.contains(&"so-compute-2".to_owned()) {
            break;
        }
        assert!(Instant::now() < deadline, "compute services up: {up:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // ... and their resource providers are in placement (set by the
    // conductor right after a host's first report).
    let placement = endpoint("placement");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let providers: Value = http
            .get(format!("{placement}/resource_providers"))
            .header("x-auth-token", &token)
            .send()
            .await
            .expect("placement")
            .json()
            .await
            .expect("providers");
        if providers["resource_providers"].as_array().map_or(0, Vec::len) >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "resource providers: {providers}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // A flavor and an image to boot from.
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            "/flavors",
            Some(json!({"flavor": {"name": "so.small", "ram": 256, "vcpus": 1, "disk": 1}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let flavor = body["flavor"]["id"].as_str().expect("flavor id").to_owned();
    let image_url = endpoint("image");
    let created: Value = http
        .post(format!("{image_url}/v2/images"))
        .header("x-auth-token", &token)
        .json(&json!({"name": "so-image", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .expect("image create")
        .json()
        .await
        .expect("image body");
    let image = created["id"].as_str().expect("image id").to_owned();
    let upload = http
        .put(format!("{image_url}/v2/images/{image}/file"))
        .header("x-auth-token", &token)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 65536])
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), 204);

    // Servers spread over both hosts.
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(client.boot(&format!("so-{i}"), &flavor, &image, json!({})).await);
    }
    let mut hosts = Vec::new();
    for id in &ids {
        hosts.push(host_of(&client.wait_active(id).await));
    }
    for host in ["so-compute-1", "so-compute-2"] {
        assert!(hosts.iter().any(|h| h == host), "no server on {host}: {hosts:?}");
    }

    // Anti-affinity: a group's two members on two hosts.
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            "/os-server-groups",
            Some(json!({"server_group": {"name": "so-apart", "policy": "anti-affinity"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let group = body["server_group"]["id"].as_str().expect("group id").to_owned();
    let a = client
        .boot("so-apart-a", &flavor, &image, json!({"group": group}))
        .await;
    let a = host_of(&client.wait_active(&a).await);
    let b = client
        .boot("so-apart-b", &flavor, &image, json!({"group": group}))
        .await;
    let b = host_of(&client.wait_active(&b).await);
    assert_ne!(a, b, "anti-affinity members share a host");

    // Kill compute-2: its service goes down, its servers say so.
    nodes.kill("compute-2");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let services = client.compute_services().await;
        let c2 = services
            .iter()
            .find(|s| s["host"] == "so-compute-2")
            .expect("so-compute-2 service");
        if c2["state"] == "down" {
            break;
        }
        assert!(Instant::now() < deadline, "so-compute-2 still {}", c2["state"]);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let on_dead: Vec<&String> = ids
        .iter()
        .zip(&hosts)
        .filter(|(_, h)| *h == "so-compute-2")
        .map(|(id, _)| id)
        .collect();
    let victim = on_dead[0].clone();
    let s = client.server(&victim).await;
    assert_eq!(s["host_status"], "DOWN", "{s}");

    // Deleting a server on the dead host is a local delete.
    let (status, body) = client
        .call(reqwest::Method::DELETE, &format!("/servers/{victim}"), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = client
            .call(reqwest::Method::GET, &format!("/servers/{victim}"), None)
            .await;
        if status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "server on the dead host not deleted");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // New servers go to the host that is left.
    let last = client.boot("so-after", &flavor, &image, json!({})).await;
    assert_eq!(host_of(&client.wait_active(&last).await), "so-compute-1");
    drop(nodes);
    let _ = std::fs::remove_dir_all(dir.path());
}

struct Kept(std::path::PathBuf);

impl Kept {
    fn path(&self) -> &Path {
        &self.0
    }
}

/// The end of a node's log, for failure messages.
fn tail(dir: &Path, node: &str) -> String {
    let log = std::fs::read_to_string(dir.join(format!("{node}.log"))).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    format!(
        "({}) …\n{}",
        dir.display(),
        lines[lines.len().saturating_sub(30)..].join("\n")
    )
}
