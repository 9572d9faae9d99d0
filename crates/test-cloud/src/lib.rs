//! A cloud for tests: the services in process, on port 0, with a fresh
//! database, as omicron's `#[nexus_test]` does.
//!
//! [`TestCloud::start`] uses SQLite in a temporary directory;
//! [`TestCloud::start_on`] a fresh database on the PostgreSQL or MariaDB
//! server named by `OXISTACK_TEST_POSTGRES` / `OXISTACK_TEST_MYSQL` (see
//! [`Backend::from_env`]). Passwords are hashed at bcrypt cost 4 so that
//! tests log in quickly. Logs go to [`log_path`]; when a test fails (the thread panics) the directory and the database are
//! kept, and their location printed, for the post-mortem.

use std::path::PathBuf;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// The database products a test can run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    /// SQLite always; PostgreSQL and MySQL when their server URL is set.
    pub fn from_env() -> Vec<Backend> {
        let mut v = vec![Backend::Sqlite];
        if std::env::var_os("OXISTACK_TEST_POSTGRES").is_some() {
            v.push(Backend::Postgres);
        }
        if std::env::var_os("OXISTACK_TEST_MYSQL").is_some() {
            v.push(Backend::MySql);
        }
        v
    }
}

pub struct TestCloud {
    pub identity: identity::Identity,
    /// e.g. `http://127.0.0.1:43210`
    pub identity_url: String,
    pub http: reqwest::Client,
    dir: Option<tempfile::TempDir>,
    server: JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    database: Option<(Backend, String)>,
    backend: Backend,
    /// Optional services started by `with_*` (the image service…): their
    /// servers, stop signals and databases.
    extra_servers: Vec<(JoinHandle<()>, tokio::sync::oneshot::Sender<()>)>,
    extra_databases: Vec<(Backend, String)>,
    /// The image service, when started with [`TestCloud::with_image`].
    pub image: Option<image::Image>,
    /// e.g. `http://127.0.0.1:43211`
    pub image_url: Option<String>,
    /// Object storage, when started with [`TestCloud::with_object_storage`].
    pub object_storage: Option<object_storage::ObjectStorage>,
    /// e.g. `http://127.0.0.1:43212` (accounts under `/v1/AUTH_<project>`)
    pub object_storage_url: Option<String>,
    /// The placement service, when started with [`TestCloud::with_placement`].
    pub placement: Option<placement::Placement>,
    /// e.g. `http://127.0.0.1:43213`
    pub placement_url: Option<String>,
    /// The network service, when started with [`TestCloud::with_network`].
    pub network: Option<network::Network>,
    /// e.g. `http://127.0.0.1:43215` (the API under `/v2.0`)
    pub network_url: Option<String>,
    /// The compute service, when started with [`TestCloud::with_compute`].
    pub compute: Option<compute::Compute>,
    /// e.g. `http://127.0.0.1:43214` (the API under `/v2.1`)
    pub compute_url: Option<String>,
    /// The in-process bus the compute service and its agents share.
    pub bus: Option<bus::Bus>,
    /// The compute agents started so far (`compute1` first).
    pub agents: Vec<(compute_agent::Agent, std::sync::Arc<compute_agent::FakeDriver>)>,
    /// Block storage, when started with [`TestCloud::with_block_storage`].
    pub block_storage: Option<block_storage::BlockStorage>,
    /// e.g. `http://127.0.0.1:43216` (the API under `/v3/<project>`)
    pub block_storage_url: Option<String>,
    /// The volume agents started so far (`node1@file` first).
    pub volume_agents: Vec<block_storage::agent::Agent>,
}

fn fresh_name() -> String {
    format!("oxi_t_{}", uuid_like())
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", n, std::process::id())
}

/// Creates a database on the server behind `server_url` and returns its URL.
async fn create_database(server_url: &str) -> (String, String) {
    let name = fresh_name();
    let db = store::Db::connect(server_url)
        .await
        .expect("connect to the test database server");
    let sql = format!("CREATE DATABASE {name}");
    store::sqlx::query(store::AssertSqlSafe(sql))
        .execute(db.writer())
        .await
        .expect("create test database");
    db.writer().close().await;
    let base = server_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(server_url);
    (format!("{base}/{name}"), name)
}

async fn drop_database(backend: Backend, name: &str) {
    let var = match backend {
        Backend::Postgres => "OXISTACK_TEST_POSTGRES",
        Backend::MySql => "OXISTACK_TEST_MYSQL",
        Backend::Sqlite => return,
    };
    let Ok(url) = std::env::var(var) else { return };
    if let Ok(db) = store::Db::connect(&url).await {
        let sql = format!("DROP DATABASE IF EXISTS {name}");
        let _ = store::sqlx::query(store::AssertSqlSafe(sql)).execute(db.writer()).await;
        db.writer().close().await;
    }
}

impl TestCloud {
    pub async fn start() -> TestCloud {
        Self::start_on(Backend::Sqlite).await
    }

    pub async fn start_on(backend: Backend) -> TestCloud {
        let dir = tempfile::Builder::new()
            .prefix("oxistack-test-")
            .tempdir()
            .expect("tempdir");
        init_logging();
        let (url, database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("identity.db").display()), None),
            Backend::Postgres | Backend::MySql => {
                let var = if backend == Backend::Postgres {
                    "OXISTACK_TEST_POSTGRES"
                } else {
                    "OXISTACK_TEST_MYSQL"
                };
                let server = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"));
                let (url, name) = create_database(&server).await;
                (url, Some((backend, name)))
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let identity_url = format!("http://{}", listener.local_addr().expect("addr"));
        let db = store::Db::connect(&url).await.expect("open database");
        let mut config = identity::IdentityConfig::new(identity_url.clone(), dir.path().join("fernet-keys"));
        config.password_hash_rounds = 4;
        let identity = identity::Identity::start(config, db).await.expect("start identity");
        identity
            .bootstrap(&identity::BootstrapSpec::new(ADMIN_PASSWORD))
            .await
            .expect("bootstrap");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = identity.router();
        let server = tokio::spawn(async move {
            let _ = api::serve(listener, router, async {
                let _ = stopped.await;
            })
            .await;
        });
        TestCloud {
            identity,
            identity_url,
            http: reqwest::Client::new(),
            dir: Some(dir),
            server,
            stop: Some(stop),
            database,
            backend,
            extra_servers: Vec::new(),
            extra_databases: Vec::new(),
            image: None,
            image_url: None,
            object_storage: None,
            object_storage_url: None,
            placement: None,
            placement_url: None,
            network: None,
            network_url: None,
            compute: None,
            compute_url: None,
            bus: None,
            agents: Vec::new(),
            block_storage: None,
            block_storage_url: None,
            volume_agents: Vec::new(),
        }
    }

    /// Also starts object storage on port 0 — its device directory and
    /// listing database (SQLite) in the test directory, the expirer every
    /// half second — and registers it in the catalog as `object-store`.
    pub async fn with_object_storage(self) -> TestCloud {
        self.with_object_storage_using(|_, _| {}).await
    }

    /// [`TestCloud::with_object_storage`], with `tune` given the object
    /// storage directory and the config to change first (a ring file with
    /// several devices, say).
    pub async fn with_object_storage_using(
        mut self,
        tune: impl FnOnce(&std::path::Path, &mut object_storage::ObjectStorageConfig),
    ) -> TestCloud {
        let dir = self.dir().join("object-storage");
        std::fs::create_dir_all(&dir).expect("object storage dir");
        let db = store::Db::connect(&format!("sqlite://{}", dir.join("listings.db").display()))
            .await
            .expect("object storage database");
        let mut config = object_storage::ObjectStorageConfig::new(dir.join("d0"));
        config.expirer_interval = std::time::Duration::from_millis(500);
        tune(&dir, &mut config);
        let service = object_storage::ObjectStorage::start(config, db)
            .await
            .expect("start object storage");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        self.identity
            .register_service(
                "object-store",
                "swift",
                "RegionOne",
                &format!("{url}/v1/AUTH_%(project_id)s"),
            )
            .await
            .expect("register object storage");
        let validator: std::sync::Arc<dyn api::TokenValidator> = std::sync::Arc::new(self.identity.clone());
        let router = service.router(api::TokenAuth::new(validator, &self.identity_url));
        let expirer = service.spawn_expirer();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = api::serve(listener, router, async {
                let _ = stopped.await;
            })
            .await;
            expirer.abort();
        });
        self.extra_servers.push((server, stop));
        self.object_storage = Some(service);
        self.object_storage_url = Some(url);
        self
    }

    /// A fresh database `name` for a service beside identity, on the
    /// cloud's backend (dropped with the cloud).
    async fn service_database(&mut self, name: &str) -> String {
        let backend = self.backend;
        let var = match backend {
            Backend::Sqlite => return format!("sqlite://{}", self.dir().join(format!("{name}.db")).display()),
            Backend::Postgres => "OXISTACK_TEST_POSTGRES",
            Backend::MySql => "OXISTACK_TEST_MYSQL",
        };
        let server = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"));
        let (url, db_name) = create_database(&server).await;
        self.extra_databases.push((backend, db_name));
        url
    }

    /// Token validation against this cloud's identity, as a service's
    /// middleware does it.
    fn token_auth(&self) -> api::TokenAuth {
        let validator: std::sync::Arc<dyn api::TokenValidator> = std::sync::Arc::new(self.identity.clone());
        api::TokenAuth::new(validator, &self.identity_url)
    }

    /// Serves `router` on `listener` until the cloud stops.
    fn serve_extra(&mut self, listener: tokio::net::TcpListener, router: axum::Router) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = api::serve(listener, router, async {
                let _ = stopped.await;
            })
            .await;
        });
        self.extra_servers.push((server, stop));
    }

    /// Also starts the image service on port 0, with its own database
    /// (on the same backend as identity), its stores in the test directory,
    /// quotas from identity's unified limits, and registers it in the
    /// catalog. The existing API is unchanged for tests that do not call it.
    pub async fn with_image(mut self) -> TestCloud {
        let url = self.service_database("image").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let image_url = format!("http://{}", listener.local_addr().expect("addr"));
        let db = store::Db::connect(&url).await.expect("open image database");
        let config = image::ImageConfig::new(image_url.clone(), self.dir().join("image-data"));
        let auth = self.token_auth();
        let limits: std::sync::Arc<dyn image::quota::LimitSource> = std::sync::Arc::new(image::quota::IdentityLimits {
            identity: self.identity.clone(),
            region: None,
        });
        let service = image::Image::start(config, db, auth, Some(limits))
            .await
            .expect("start image");
        self.identity
            .register_service("image", "glance", "RegionOne", &image_url)
            .await
            .expect("register image");
        self.serve_extra(listener, service.router());
        self.image = Some(service);
        self.image_url = Some(image_url);
        self
    }

    /// Also starts the placement service on port 0, with its own database
    /// (on the same backend as identity), and registers it in the catalog
    /// as `placement`.
    pub async fn with_placement(mut self) -> TestCloud {
        let url = self.service_database("placement").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let placement_url = format!("http://{}", listener.local_addr().expect("addr"));
        let db = store::Db::connect(&url).await.expect("open placement database");
        let config = placement::PlacementConfig::new(placement_url.clone());
        let auth = self.token_auth();
        let service = placement::Placement::start(config, db, auth)
            .await
            .expect("start placement");
        self.identity
            .register_service("placement", "placement", "RegionOne", &placement_url)
            .await
            .expect("register placement");
        self.serve_extra(listener, service.router());
        self.placement = Some(service);
        self.placement_url = Some(placement_url);
        self
    }

    /// Also starts the network service on port 0, with its own database
    /// (on the same backend as identity), and registers it in the catalog
    /// as `network`.
    pub async fn with_network(mut self) -> TestCloud {
        let url = self.service_database("network").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let network_url = format!("http://{}", listener.local_addr().expect("addr"));
        let db = store::Db::connect(&url).await.expect("open network database");
        let config = network::NetworkConfig::new(network_url.clone());
        let auth = self.token_auth();
        let service = network::Network::start(config, db, auth).await.expect("start network");
        self.identity
            .register_service("network", "neutron", "RegionOne", &network_url)
            .await
            .expect("register network");
        self.serve_extra(listener, service.router());
        self.network = Some(service);
        self.network_url = Some(network_url);
        self
    }

    /// Also starts compute on port 0 (starting placement and image first
    /// if they are not running): its own database on the cloud's backend,
    /// the in-process bus (block storage's, if running, whose endpoint
    /// compute then attaches volumes through), the service user `nova`, the default flavors,
    /// one compute agent with the fake driver on host `compute1`, and
    /// `compute` in the catalog at `{url}/v2.1`. `config` may adjust the
    /// service's settings (e.g. a short `service_down_time`).
    pub async fn with_compute(self) -> TestCloud {
        self.with_compute_config(|_| {}).await
    }

    pub async fn with_compute_config(mut self, adjust: impl FnOnce(&mut compute::ComputeConfig)) -> TestCloud {
        if self.placement_url.is_none() {
            self = self.with_placement().await;
        }
        if self.image_url.is_none() {
            self = self.with_image().await;
        }
        let url = self.service_database("compute").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let compute_url = format!("http://{}", listener.local_addr().expect("addr"));
        let db = store::Db::connect(&url).await.expect("open compute database");
        self.identity
            .ensure_service_user("nova", "test-nova-password")
            .await
            .expect("service user nova");
        let creds = compute::config::ServiceCredentials {
            auth_url: self.identity_url.clone(),
            username: "nova".into(),
            password: "test-nova-password".into(),
            user_domain_name: "Default".into(),
            project_name: "service".into(),
            project_domain_name: "Default".into(),
        };
        let mut config = compute::ComputeConfig::new(
            compute_url.clone(),
            self.placement_url.clone().unwrap_or_default(),
            self.image_url.clone().unwrap_or_default(),
            creds,
        );
        // With the network service (`with_network` first), servers get ports.
        config.network_url = self.network_url.clone();
        // Volumes attach through block storage when it runs (start it first).
        config.volume_url = self.block_storage_url.clone();
        adjust(&mut config);
        let auth = self.token_auth();
        let bus = self.bus.get_or_insert_with(bus::Bus::in_process).clone();
        let service = compute::Compute::start(config, db, auth, bus.clone())
            .await
            .expect("start compute");
        service.ensure_default_flavors().await.expect("default flavors");
        self.identity
            .register_service("compute", "nova", "RegionOne", &format!("{compute_url}/v2.1"))
            .await
            .expect("register compute");
        self.serve_extra(listener, service.router());
        self.compute = Some(service);
        self.compute_url = Some(compute_url);
        self.bus = Some(bus);
        self.add_agent("compute1").await;
        self
    }

    /// Starts another compute agent (fake driver) on `host`, reporting
    /// every 200 ms, and waits until the controller has seen it.
    pub async fn add_agent(&mut self, host: &str) -> std::sync::Arc<compute_agent::FakeDriver> {
        let bus = self.bus.clone().expect("with_compute first");
        let driver = std::sync::Arc::new(compute_agent::FakeDriver::new().with_node(format!("{host}-node")));
        let mut config = compute_agent::AgentConfig::new(host);
        config.report_interval = std::time::Duration::from_millis(200);
        let agent = compute_agent::Agent::start(config, bus, driver.clone())
            .await
            .expect("start compute agent");
        let compute = self.compute.clone().expect("with_compute first");
        for _ in 0..100 {
            if compute
                .scheduler_hosts()
                .await
                .is_ok_and(|h| h.iter().any(|h| h.host == host))
                && compute.known_provider(host)
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.agents.push((agent, driver.clone()));
        driver
    }

    /// Also starts block storage on port 0 (starting the image service
    /// first if it is not running): its own database on the cloud's
    /// backend, the in-process bus (compute's, if running), the service
    /// user `cinder` (for compute's `os-server-external-events`), `volumev3` and
    /// `block-storage` in the catalog at `{url}/v3/%(project_id)s`, and one
    /// volume agent `node1@file` with the file driver in the test
    /// directory, reporting every 200 ms; waits until it is scheduled to.
    pub async fn with_block_storage(self) -> TestCloud {
        self.with_block_storage_config(|_| {}).await
    }

    pub async fn with_block_storage_config(
        mut self,
        adjust: impl FnOnce(&mut block_storage::BlockStorageConfig),
    ) -> TestCloud {
        if self.image_url.is_none() {
            self = self.with_image().await;
        }
        let url = self.service_database("block-storage").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let bs_url = format!("http://{}", listener.local_addr().expect("addr"));
        let db = store::Db::connect(&url).await.expect("open block-storage database");
        let mut config =
            block_storage::BlockStorageConfig::new(bs_url.clone(), self.image_url.clone().unwrap_or_default());
        // Block storage tells compute of extended attached volumes as the
        // service user `cinder`; compute, started later if at all, is found
        // in the catalog.
        self.identity
            .ensure_service_user("cinder", "test-cinder-password")
            .await
            .expect("service user cinder");
        config.service_credentials = Some(block_storage::config::ServiceCredentials {
            auth_url: self.identity_url.clone(),
            username: "cinder".into(),
            password: "test-cinder-password".into(),
            user_domain_name: "Default".into(),
            project_name: "service".into(),
            project_domain_name: "Default".into(),
        });
        adjust(&mut config);
        let bus = self.bus.get_or_insert_with(bus::Bus::in_process).clone();
        let service = block_storage::BlockStorage::start(config, db, self.token_auth(), bus)
            .await
            .expect("start block storage");
        let endpoint = format!("{bs_url}/v3/%(project_id)s");
        for (kind, name) in [("block-storage", "cinder"), ("volumev3", "cinderv3")] {
            self.identity
                .register_service(kind, name, "RegionOne", &endpoint)
                .await
                .expect("register block storage");
        }
        self.serve_extra(listener, service.router());
        self.block_storage = Some(service);
        self.block_storage_url = Some(bs_url);
        // Every host of a test cloud is this machine: any connector gets a path.
        let driver = block_storage::agent::driver::file::FileDriver::open(self.dir().join("block-storage/node1"))
            .expect("file driver")
            .with_local_hosts(block_storage::agent::driver::file::LocalHosts::Any);
        self.add_volume_agent("node1", std::sync::Arc::new(driver)).await;
        self
    }

    /// Starts a volume agent `<node>@<driver name>` and waits until the
    /// scheduler sees it up.
    pub async fn add_volume_agent(
        &mut self,
        node: &str,
        driver: std::sync::Arc<dyn block_storage::agent::driver::Driver>,
    ) -> String {
        let bus = self.bus.clone().expect("with_block_storage first");
        let mut config = block_storage::agent::AgentConfig::new(node, driver.name());
        config.report_interval = std::time::Duration::from_millis(200);
        let host = config.host.clone();
        let agent = block_storage::agent::Agent::start(config, bus, driver)
            .await
            .expect("start volume agent");
        agent.reconciled().await;
        let service = self.block_storage.clone().expect("with_block_storage first");
        for _ in 0..100 {
            if service
                .services()
                .await
                .is_ok_and(|s| s.iter().any(|s| s.row.host == host && s.up))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.volume_agents.push(agent);
        host
    }

    /// `http://…/v3/<path>`
    pub fn url(&self, path: &str) -> String {
        format!("{}/v3/{}", self.identity_url, path.trim_start_matches('/'))
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.as_ref().map(|d| d.path().to_owned()).unwrap_or_default()
    }

    /// Issues a token; `scope` is the `auth.scope` object (or `Value::Null`).
    /// Returns the token and the response body.
    pub async fn token_for(&self, user_id: &str, password: &str, scope: Value) -> (String, Value) {
        let mut auth =
            json!({"identity": {"methods": ["password"], "password": {"user": {"id": user_id, "password": password}}}});
        if !scope.is_null() {
            auth["scope"] = scope;
        }
        let resp = self
            .http
            .post(self.url("auth/tokens"))
            .json(&json!({"auth": auth}))
            .send()
            .await
            .expect("POST token");
        assert_eq!(
            resp.status(),
            201,
            "token for {user_id}: {}",
            resp.text().await.unwrap_or_default()
        );
        let token = resp.headers()["x-subject-token"]
            .to_str()
            .expect("token header")
            .to_owned();
        (token, resp.json().await.expect("token body"))
    }

    /// A project-scoped admin token, as the `openstack` CLI gets from
    /// clouds.yaml.
    pub async fn admin_token(&self) -> String {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }});
        let resp = self
            .http
            .post(self.url("auth/tokens"))
            .json(&body)
            .send()
            .await
            .expect("POST token");
        assert_eq!(resp.status(), 201);
        resp.headers()["x-subject-token"].to_str().expect("token").to_owned()
    }

    /// A system-scoped admin token.
    pub async fn system_admin_token(&self) -> String {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
            "scope": {"system": {"all": true}},
        }});
        let resp = self
            .http
            .post(self.url("auth/tokens"))
            .json(&body)
            .send()
            .await
            .expect("POST token");
        assert_eq!(resp.status(), 201);
        resp.headers()["x-subject-token"].to_str().expect("token").to_owned()
    }

    /// Sends a request with a token and a JSON body; returns status and body
    /// (`Value::Null` when empty).
    pub async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).header("x-auth-token", token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Stops the servers and removes the directory and database — unless the
    /// test is failing, in which case both are kept and their place printed.
    pub async fn stop(mut self) {
        for (agent, _) in &self.agents {
            agent.stop();
        }
        for agent in &self.volume_agents {
            agent.stop();
        }
        if let Some(b) = &self.block_storage {
            b.stop();
        }
        if let Some(c) = &self.compute {
            c.stop();
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.server).await;
        for (server, stop) in self.extra_servers.drain(..) {
            let _ = stop.send(());
            let _ = server.await;
        }
        if std::thread::panicking() {
            return;
        }
        if let Some((backend, name)) = self.database.take() {
            drop_database(backend, &name).await;
        }
        for (backend, name) in self.extra_databases.drain(..) {
            drop_database(backend, &name).await;
        }
    }
}

impl Drop for TestCloud {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!(
                "test cloud kept for inspection: {} (log: {})",
                kept.display(),
                log_path().display()
            );
            if let Some((backend, name)) = &self.database {
                eprintln!("test database kept: {name} on {backend:?}");
            }
        }
        self.server.abort();
        for (server, _) in &self.extra_servers {
            server.abort();
        }
    }
}

/// One log file per test process (tracing's global subscriber can be set
/// once per process): `$TMPDIR/oxistack-test-logs/<test binary>-<pid>.log`.
pub fn log_path() -> PathBuf {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()));
    std::env::temp_dir().join("oxistack-test-logs").join(format!(
        "{}-{}.log",
        exe.unwrap_or_default(),
        std::process::id()
    ))
}

fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let path = log_path();
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(&path));
        if let Ok(file) = std::fs::File::create(&path) {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .try_init();
        }
    });
}
