//! A scale-out cluster for the tests: `oxistack serve` processes (one
//! controller, compute nodes) on this machine against the real PostgreSQL
//! and RabbitMQ (env `OXISTACK_TEST_POSTGRES`, `OXISTACK_TEST_RABBIT`), each
//! cluster with a database and a RabbitMQ virtual host of its own, and an
//! admin client of its APIs.
//!
//! However a test ends, dropping the [`Cluster`] kills its processes and
//! drops its database and virtual host; its directory (configurations and
//! node logs) is removed after [`Cluster::finish`] (unless
//! `OXISTACK_TEST_KEEP_LOGS` is set), kept otherwise.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "scale-out-secret";

/// What to start.
pub struct ClusterSpec {
    /// Names the database, the virtual host and the directory.
    pub name: &'static str,
    /// Every service's port + this (distinct per test).
    pub port_offset: u16,
    /// (node name, host name) of each compute node.
    pub computes: Vec<(&'static str, &'static str)>,
    /// Lines added to the compute nodes' `[compute]` section.
    pub compute_options: String,
    /// `[DEFAULT] service_down_time` (seconds; heartbeats come every
    /// second).
    pub service_down_time: u64,
}

/// Objects of the broker and the database server a cluster made; removed
/// when dropped (after the processes are gone).
struct Resources {
    vhost: String,
    server: String,
    database: String,
}

impl Drop for Resources {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_vhost", &self.vhost])
            .output();
        let server = self.server.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
        // Drop may run inside the test's runtime: do the async work on a
        // thread and runtime of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let db = store::Db::connect(&server).await?;
                store::sqlx::query(store::AssertSqlSafe(sql))
                    .execute(db.writer())
                    .await?;
                db.writer().close().await;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .map_err(|e| e.to_string())
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("WARNING: database {} not dropped: {done:?}", self.database);
        }
    }
}

pub struct Cluster {
    pub dir: PathBuf,
    nodes: Vec<(String, Child)>,
    configs: BTreeMap<String, String>,
    finished: bool,
    pub http: reqwest::Client,
    pub token: String,
    /// The admin project's id.
    pub project: String,
    pub compute: String,
    pub placement: String,
    pub image: String,
    // Last field: dropped after `Drop for Cluster` has killed the nodes.
    _resources: Resources,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.finished && std::env::var_os("OXISTACK_TEST_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "the cluster's configurations and node logs are kept in {}",
                self.dir.display()
            );
        }
    }
}

/// The transport URL and database server of the tests, or `None` (the
/// test is skipped) when they are not set.
pub fn backends() -> Option<(String, String)> {
    match (
        std::env::var("OXISTACK_TEST_POSTGRES"),
        std::env::var("OXISTACK_TEST_RABBIT"),
    ) {
        (Ok(pg), Ok(rabbit)) => Some((pg, rabbit)),
        _ => {
            eprintln!("skipped: set OXISTACK_TEST_POSTGRES and OXISTACK_TEST_RABBIT");
            None
        }
    }
}

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl").args(args).output().expect("rabbitmqctl");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn fresh_database(server: &str, name: &str) -> String {
    let db = store::Db::connect(server).await.expect("connect to PostgreSQL");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        store::sqlx::query(store::AssertSqlSafe(sql.clone()))
            .execute(db.writer())
            .await
            .expect(&sql);
    }
    db.writer().close().await;
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
    format!("{base}/{name}")
}

impl Cluster {
    /// Starts the controller and the compute nodes, logs in as admin once
    /// the controller answers, and waits until every compute service is
    /// up. `None` when the backends are not configured.
    pub async fn start(spec: ClusterSpec) -> Option<Cluster> {
        let (pg, rabbit) = backends()?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("oxistack-{}-", spec.name))
            .tempdir()
            .expect("tempdir")
            .keep();
        let database = format!("oxistack_{}", spec.name.replace('-', "_"));
        let vhost = format!("oxistack-{}-{}", spec.name, std::process::id());
        let resources = Resources {
            vhost: vhost.clone(),
            server: pg.clone(),
            database: database.clone(),
        };
        let url = fresh_database(&pg, &database).await;
        rabbitmqctl(&["-q", "add_vhost", &vhost]);
        rabbitmqctl(&["-q", "set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
        let transport_url = format!("{}/{vhost}", rabbit.trim_end_matches('/'));
        let common = format!(
            "transport_url = {transport_url}\nmy_ip = 127.0.0.1\nbind_host = 127.0.0.1\nport_offset = {}\n\
             report_interval = 1\nservice_down_time = {}\n",
            spec.port_offset, spec.service_down_time
        );
        let mut configs = BTreeMap::new();
        configs.insert(
            "controller".to_owned(),
            format!(
                "[DEFAULT]\nroles = controller\nhost = {}-controller\nstate_path = {}\n{common}\n\
                 [database]\nconnection = {url}\n[identity]\nadmin_password = {ADMIN_PASSWORD}\n\
                 password_hash_rounds = 4\n",
                spec.name,
                dir.join("controller").display()
            ),
        );
        for (name, host) in &spec.computes {
            configs.insert(
                (*name).to_owned(),
                format!(
                    "[DEFAULT]\nroles = compute\nhost = {host}\nstate_path = {}\n{common}\n\
                     [compute]\ndriver = fake\n{}\n",
                    dir.join(name).display(),
                    spec.compute_options
                ),
            );
        }
        let mut cluster = Cluster {
            dir,
            nodes: Vec::new(),
            configs,
            finished: false,
            http: reqwest::Client::new(),
            token: String::new(),
            project: String::new(),
            compute: String::new(),
            placement: String::new(),
            image: String::new(),
            _resources: resources,
        };
        cluster.start_node("controller");
        for (name, _) in &spec.computes {
            cluster.start_node(name);
        }
        cluster.login(spec.port_offset).await;
        let hosts: Vec<&str> = spec.computes.iter().map(|(_, h)| *h).collect();
        cluster.wait_up(&hosts).await;
        Some(cluster)
    }

    /// Starts (or starts again) node `name` with its configuration; its
    /// output goes on at the end of `<name>.log`.
    pub fn start_node(&mut self, name: &str) {
        assert!(self.nodes.iter().all(|(n, _)| n != name), "{name} is running already");
        let file = self.dir.join(format!("{name}.conf"));
        std::fs::write(&file, &self.configs[name]).expect("config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.log")))
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_oxistack"))
            .args(["serve", "--config"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn oxistack serve");
        self.nodes.push((name.to_owned(), child));
    }

    /// Kills node `name` with SIGKILL (it cannot clean up anything).
    pub fn kill(&mut self, name: &str) {
        let i = self.nodes.iter().position(|(n, _)| n == name).expect("node");
        let (_, mut child) = self.nodes.remove(i);
        child.kill().expect("kill");
        child.wait().expect("wait");
    }

    /// Everything went well: the directory goes too.
    pub fn finish(mut self) {
        self.finished = true;
    }

    async fn login(&mut self, port_offset: u16) {
        let identity = format!("http://127.0.0.1:{}/v3", 5000 + port_offset);
        let deadline = Instant::now() + Duration::from_secs(90);
        let (token, body) = loop {
            let login = self
                .http
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
                break (token, body);
            }
            assert!(
                Instant::now() < deadline,
                "the controller did not answer:\n{}",
                self.tail("controller")
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let catalog = &body["token"]["catalog"];
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
        self.compute = endpoint("compute");
        self.placement = endpoint("placement");
        self.image = endpoint("image");
        self.project = body["token"]["project"]["id"].as_str().expect("project id").to_owned();
        self.token = token;
    }

    /// Lifts the admin project's compute quotas (instances, cores, RAM).
    pub async fn unlimited_quotas(&self) {
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("/os-quota-sets/{}", self.project),
                Some(json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// A compute API request (microversion 2.74): status and JSON body.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
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

    /// A placement API request: status and JSON body.
    pub async fn placement_get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.placement))
            .header("x-auth-token", &self.token)
            .send()
            .await
            .expect("placement");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The server, or `None` once it is gone (404).
    pub async fn server_opt(&self, id: &str) -> Option<Value> {
        let (status, body) = self.call(reqwest::Method::GET, &format!("/servers/{id}"), None).await;
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "{body}");
        Some(body["server"].clone())
    }

    pub async fn server(&self, id: &str) -> Value {
        self.server_opt(id)
            .await
            .unwrap_or_else(|| panic!("server {id} not found"))
    }

    /// Waits until the server leaves BUILD (`within`); returns it.
    pub async fn wait_built(&self, id: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let s = self.server(id).await;
            if s["status"] != "BUILD" {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server {id} still in BUILD after {within:?}: {s}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn wait_active(&self, id: &str) -> Value {
        let s = self.wait_built(id, Duration::from_secs(60)).await;
        assert_eq!(
            s["status"], "ACTIVE",
            "server {id} did not become ACTIVE: {}",
            s["fault"]
        );
        s
    }

    /// Boots a server (one request), returning its id; panics unless 202.
    pub async fn boot(&self, name: &str, flavor: &str, image: &str, hints: Value) -> String {
        let (status, body) = self.try_boot(name, flavor, image, hints).await;
        assert_eq!(status, 202, "{body}");
        body["server"]["id"].as_str().expect("id").to_owned()
    }

    pub async fn try_boot(&self, name: &str, flavor: &str, image: &str, hints: Value) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/servers",
            Some(
                json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image, "networks": "none"},
                        "os:scheduler_hints": hints}),
            ),
        )
        .await
    }

    /// Deletes the server and waits until it is gone.
    pub async fn delete(&self, id: &str) {
        let (status, body) = self
            .call(reqwest::Method::DELETE, &format!("/servers/{id}"), None)
            .await;
        assert!(status == 204 || status == 404, "delete {id}: {status} {body}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(s) = self.server_opt(id).await {
            assert!(Instant::now() < deadline, "server {id} not deleted: {s}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn compute_services(&self) -> Vec<Value> {
        let (status, body) = self
            .call(reqwest::Method::GET, "/os-services?binary=nova-compute", None)
            .await;
        assert_eq!(status, 200, "{body}");
        body["services"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the compute services of `hosts` are up.
    pub async fn wait_up(&self, hosts: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up: Vec<String> = self
                .compute_services()
                .await
                .iter()
                .filter(|s| s["state"] == "up")
                .filter_map(|s| s["host"].as_str().map(str::to_owned))
                .collect();
            if hosts.iter().all(|h| up.iter().any(|u| u == h)) {
                return;
            }
            assert!(Instant::now() < deadline, "compute services up: {up:?}, want {hosts:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the compute service of `host` is `state` (up/down).
    pub async fn wait_service(&self, host: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let services = self.compute_services().await;
            let s = services
                .iter()
                .find(|s| s["host"] == host)
                .unwrap_or_else(|| panic!("no service on {host}"));
            if s["state"] == state {
                return;
            }
            assert!(Instant::now() < deadline, "{host} still {}", s["state"]);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Creates a flavor; returns its id.
    pub async fn flavor(&self, name: &str, ram: u64, vcpus: u32, disk: u64) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/flavors",
                Some(json!({"flavor": {"name": name, "ram": ram, "vcpus": vcpus, "disk": disk}})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["flavor"]["id"].as_str().expect("flavor id").to_owned()
    }

    /// Creates and uploads a small raw image; returns its id.
    pub async fn image(&self, name: &str) -> String {
        let created: Value = self
            .http
            .post(format!("{}/v2/images", self.image))
            .header("x-auth-token", &self.token)
            .json(&json!({"name": name, "disk_format": "raw", "container_format": "bare"}))
            .send()
            .await
            .expect("image create")
            .json()
            .await
            .expect("image body");
        let image = created["id"].as_str().expect("image id").to_owned();
        let upload = self
            .http
            .put(format!("{}/v2/images/{image}/file", self.image))
            .header("x-auth-token", &self.token)
            .header("content-type", "application/octet-stream")
            .body(vec![7u8; 65536])
            .send()
            .await
            .expect("upload");
        assert_eq!(upload.status(), 204);
        image
    }

    /// The uuid of the resource provider named `host`.
    pub async fn provider(&self, host: &str) -> String {
        let (status, body) = self.placement_get(&format!("/resource_providers?name={host}")).await;
        assert_eq!(status, 200, "{body}");
        body["resource_providers"][0]["uuid"]
            .as_str()
            .unwrap_or_else(|| panic!("no provider named {host}: {body}"))
            .to_owned()
    }

    /// A consumer's allocations: provider → resource class → amount.
    pub async fn allocations(&self, consumer: &str) -> BTreeMap<String, BTreeMap<String, i64>> {
        let (status, body) = self.placement_get(&format!("/allocations/{consumer}")).await;
        assert_eq!(status, 200, "{body}");
        let mut out = BTreeMap::new();
        for (rp, a) in body["allocations"].as_object().cloned().unwrap_or_default() {
            out.insert(rp, amounts(&a["resources"]));
        }
        out
    }

    /// A provider's usages: resource class → amount (zeros left out).
    pub async fn usages(&self, provider: &str) -> BTreeMap<String, i64> {
        let (status, body) = self
            .placement_get(&format!("/resource_providers/{provider}/usages"))
            .await;
        assert_eq!(status, 200, "{body}");
        amounts(&body["usages"])
    }

    /// The end of a node's log, for failure messages.
    pub fn tail(&self, node: &str) -> String {
        tail(&self.dir, node)
    }
}

fn amounts(v: &Value) -> BTreeMap<String, i64> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, n)| Some((k.clone(), n.as_i64()?)))
                .filter(|(_, n)| *n != 0)
                .collect()
        })
        .unwrap_or_default()
}

/// What a flavor allocates: VCPU, MEMORY_MB, DISK_GB.
pub fn flavor_amounts(vcpus: i64, ram: i64, disk: i64) -> BTreeMap<String, i64> {
    BTreeMap::from([
        ("DISK_GB".to_owned(), disk),
        ("MEMORY_MB".to_owned(), ram),
        ("VCPU".to_owned(), vcpus),
    ])
}

pub fn host_of(server: &Value) -> String {
    server["OS-EXT-SRV-ATTR:host"].as_str().unwrap_or_default().to_owned()
}

/// The end of a node's log.
pub fn tail(dir: &Path, node: &str) -> String {
    let log = std::fs::read_to_string(dir.join(format!("{node}.log"))).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    format!(
        "({}) …\n{}",
        dir.display(),
        lines[lines.len().saturating_sub(30)..].join("\n")
    )
}
