//! Tests of the compute resources other than servers — flavors, keypairs,
//! services, hypervisors, availability zones, aggregates, extensions —
//! through real HTTP: identity from `test-cloud`, the compute service
//! started here on port 0 with its own database on the same backend.

mod aggregates;
mod backends;
mod flavors;
mod keypairs;
mod services;

use std::sync::Arc;
use std::time::Duration;

use compute::{Compute, ComputeConfig};
use compute_agent::rpc::{HostReport, HostResources};
use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};

pub struct Env {
    pub cloud: TestCloud,
    pub compute: Compute,
    pub url: String,
    pub admin: String,
    pub db_url: String,
    server: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    database: Option<(String, String)>,
}

async fn database_for(backend: Backend, dir: &std::path::Path) -> (String, Option<(String, String)>) {
    let var = match backend {
        Backend::Sqlite => return (format!("sqlite://{}", dir.join("compute.db").display()), None),
        Backend::Postgres => "OXISTACK_TEST_POSTGRES",
        Backend::MySql => "OXISTACK_TEST_MYSQL",
    };
    let server = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"));
    let name = format!("oxi_cr_{}_{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let db = store::Db::connect(&server).await.expect("database server");
    store::sqlx::query(store::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(db.writer())
        .await
        .expect("create database");
    db.writer().close().await;
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server).to_owned();
    (format!("{base}/{name}"), Some((server, name)))
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(Backend::Sqlite, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tune: impl FnOnce(&mut ComputeConfig)) -> Env {
        let cloud = TestCloud::start_on(backend).await;
        let (db_url, database) = database_for(backend, &cloud.dir()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let creds = compute::config::ServiceCredentials {
            auth_url: cloud.identity_url.clone(),
            username: "nova".into(),
            password: "unused".into(),
            user_domain_name: "Default".into(),
            project_name: "service".into(),
            project_domain_name: "Default".into(),
        };
        // Placement and image are not used by these resources.
        let mut config = ComputeConfig::new(url.clone(), "http://127.0.0.1:9", "http://127.0.0.1:9", creds);
        tune(&mut config);
        let db = store::Db::connect(&db_url).await.expect("compute database");
        let validator: Arc<dyn api::TokenValidator> = Arc::new(cloud.identity.clone());
        let auth = api::TokenAuth::new(validator, &cloud.identity_url);
        let compute = Compute::start(config, db, auth, bus::Bus::in_process())
            .await
            .expect("start compute");
        let router = compute.router();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = api::serve(listener, router, async {
                let _ = stopped.await;
            })
            .await;
        });
        let admin = cloud.admin_token().await;
        Env {
            cloud,
            compute,
            url,
            admin,
            db_url,
            server,
            stop: Some(stop),
            database,
        }
    }

    /// A JSON request at microversion `version` (`None`: no header, 2.1).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        version: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .cloud
            .http
            .request(method, format!("{}/v2.1/{}", self.url, path.trim_start_matches('/')))
            .header("x-auth-token", token);
        if let Some(v) = version {
            req = req.header("openstack-api-version", format!("compute {v}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str, version: Option<&str>) -> (u16, Value) {
        self.call(Method::GET, path, token, version, None).await
    }

    /// A project with a user holding `role`; returns (project, user, token).
    pub async fn project_user(&self, name: &str, role: &str) -> (String, String, String) {
        let c = &self.cloud;
        let (s, p) = c
            .call(
                Method::POST,
                "projects",
                &self.admin,
                Some(json!({"project": {"name": name, "domain_id": "default"}})),
            )
            .await;
        assert_eq!(s, 201, "{p}");
        let pid = p["project"]["id"].as_str().unwrap().to_owned();
        let (s, u) = c
            .call(
                Method::POST,
                "users",
                &self.admin,
                Some(json!({"user": {"name": format!("{name}-user"), "password": "pw", "domain_id": "default"}})),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        let uid = u["user"]["id"].as_str().unwrap().to_owned();
        let (_, roles) = c
            .call(Method::GET, &format!("roles?name={role}"), &self.admin, None)
            .await;
        let rid = roles["roles"][0]["id"].as_str().unwrap().to_owned();
        let (s, _) = c
            .call(
                Method::PUT,
                &format!("projects/{pid}/users/{uid}/roles/{rid}"),
                &self.admin,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (token, _) = c.token_for(&uid, "pw", json!({"project": {"id": pid}})).await;
        (pid, uid, token)
    }

    /// An agent's heartbeat for `host`, as the conductor hands it over.
    pub async fn report(&self, host: &str) {
        self.compute.record_report(&report(host)).await.expect("record_report");
    }

    /// Puts a live instance on `host` in the servers' table (their schema).
    /// False when that table's columns changed and the insert failed.
    pub async fn put_instance(&self, uuid: &str, host: &str, vcpus: i64, ram: i64, disk: i64) -> bool {
        let db = store::Db::connect(&self.db_url).await.expect("db");
        let id: i64 = (uuid.bytes().map(u64::from).sum::<u64>() % 100_000) as i64 + 1;
        let res = store::sqlx::query(db.sql(
            "INSERT INTO instances (uuid, id, display_name, hostname, project_id, user_id, host, node, vcpus, \
             memory_mb, root_gb, ephemeral_gb, flavor_id, flavor, vm_state, power_state, config_drive, locked, \
             progress, reservation_id, launch_index, attempts, tried_hosts, created_at, updated_at, deleted) \
             VALUES (?, ?, ?, ?, 'p', 'u', ?, ?, ?, ?, ?, 0, '1', '{}', 'active', 1, '', 0, 0, 'r-1', 0, 1, '[]', 1, 1, 0)",
        ))
        .bind(uuid)
        .bind(id)
        .bind(format!("vm-{uuid}"))
        .bind(format!("vm-{uuid}"))
        .bind(host)
        .bind(format!("{host}.node"))
        .bind(vcpus)
        .bind(ram)
        .bind(disk)
        .execute(db.writer())
        .await;
        db.writer().close().await;
        match res {
            Ok(_) => true,
            Err(e) => {
                eprintln!("instances table not as expected, skipping usage checks: {e}");
                false
            }
        }
    }

    pub async fn stop(mut self) {
        self.compute.stop();
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.server).await;
        if let Some((server, name)) = self.database.take()
            && !std::thread::panicking()
            && let Ok(db) = store::Db::connect(&server).await
        {
            let _ = store::sqlx::query(store::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                .execute(db.writer())
                .await;
            db.writer().close().await;
        }
        self.cloud.stop().await;
    }
}

pub fn report(host: &str) -> HostReport {
    HostReport {
        host: host.to_owned(),
        binary: "nova-compute".to_owned(),
        availability_zone: None,
        resources: HostResources {
            vcpus: 8,
            memory_mb: 16384,
            local_gb: 100,
            hypervisor_type: "QEMU".to_owned(),
            hypervisor_version: 7002000,
            hypervisor_hostname: format!("{host}.node"),
            cpu_info: json!({"arch": "x86_64", "model": "qemu64", "vendor": "AMD", "topology": {"cores": 8, "sockets": 1, "threads": 1}}),
            host_ip: "192.0.2.10".to_owned(),
        },
        instances: Vec::new(),
        version: "0.1.0".to_owned(),
        allocation: Default::default(),
    }
}

/// Sleeps a little (for staleness tests).
pub async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}
