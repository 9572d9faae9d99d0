//! The qemu driver's NICs against a real guest (the test guest of
//! `scripts/build-test-image.sh`, its directory in `OXISTACK_TEST_GUEST`;
//! skipped, saying so, without it or without root): the taps stand in for
//! the network agent's, one with a dnsmasq on it. A spawn waits for its
//! tap, the guest gets its address by DHCP through its virtio NIC, a
//! second NIC is hot-plugged and unplugged over QMP (the guest releasing
//! it), and a hard reboot keeps the NIC. Every tap, dnsmasq and guest is
//! removed at the end, failed or not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use compute_agent::driver::Driver;
use compute_agent::rpc::{FlavorSpec, ImageSpec, InstanceSpec, RequestContext};
use compute_agent::{QemuConfig, QemuDriver};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(240);

type Files = std::sync::Arc<BTreeMap<String, Vec<u8>>>;

async fn download(State(f): State<Files>, UrlPath(id): UrlPath<String>) -> Result<Vec<u8>, StatusCode> {
    f.get(&id).cloned().ok_or(StatusCode::NOT_FOUND)
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the test made on the host, removed on drop (even when failing).
struct Host {
    dir: PathBuf,
    taps: Vec<String>,
    dnsmasq: Option<std::process::Child>,
    driver: Option<std::sync::Arc<QemuDriver>>,
    guests: Vec<String>,
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(d) = &mut self.dnsmasq {
            let _ = d.kill();
            let _ = d.wait();
        }
        if let Some(driver) = self.driver.take() {
            let guests = std::mem::take(&mut self.guests);
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(async {
                    for g in guests {
                        let _ = driver.destroy(&g).await;
                    }
                });
            })
            .join();
        }
        for t in &self.taps {
            let _ = Command::new("ip").args(["link", "delete", "dev", t]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tap_add(host: &mut Host, name: &str) {
    run("ip", &["tuntap", "add", "dev", name, "mode", "tap"]);
    host.taps.push(name.to_owned());
    run("ip", &["link", "set", "dev", name, "up"]);
}

/// Whether a process has the tap open (a tap has carrier only then).
fn tap_open(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{name}/carrier")).is_ok_and(|c| c.trim() == "1")
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < TIMEOUT, "{what}: not within {TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn console_until(driver: &QemuDriver, uuid: &str, text: &str, times: usize) -> String {
    let started = Instant::now();
    loop {
        let console = driver.console_output(uuid).await.unwrap();
        if console.matches(text).count() >= times {
            return console;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "{text:?} ×{times} not on the console of {uuid} within {TIMEOUT:?}:\n{console}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn vif(port_id: &str, mac: &str) -> Value {
    json!({"id": port_id, "address": mac, "devname": format!("tap{}", &port_id[..11]), "type": "bridge",
           "network": {"id": "n", "label": "net", "subnets": []}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_gets_its_nics_on_the_ports_taps() {
    let Some(guest) = std::env::var_os("OXISTACK_TEST_GUEST").map(PathBuf::from) else {
        eprintln!("OXISTACK_TEST_GUEST is not set (scripts/build-test-image.sh DIR builds it): skipped");
        return;
    };
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: taps cannot be made; skipped");
        return;
    }
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let dir = PathBuf::from(format!("/tmp/oxi-nics-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut host = Host {
        dir: dir.clone(),
        taps: Vec::new(),
        dnsmasq: None,
        driver: None,
        guests: Vec::new(),
    };
    // Port ids whose first 11 characters are unique to this run.
    let port1 = format!("{tag}a1-0000-4000-8000-000000000001");
    let port2 = format!("{tag}a2-0000-4000-8000-000000000002");
    let (tap1, tap2) = (format!("tap{}", &port1[..11]), format!("tap{}", &port2[..11]));
    let (mac1, mac2) = ("fa:16:3e:5a:00:01", "fa:16:3e:5a:00:02");

    let files: Files = std::sync::Arc::new(BTreeMap::from([
        ("kernel".to_owned(), std::fs::read(guest.join("vmlinuz")).unwrap()),
        ("ramdisk".to_owned(), std::fs::read(guest.join("initrd.img")).unwrap()),
        ("root".to_owned(), {
            let root = dir.join("root.qcow2");
            run(
                "qemu-img",
                &["create", "-q", "-f", "qcow2", root.to_str().unwrap(), "1G"],
            );
            std::fs::read(&root).unwrap()
        }),
    ]));
    let app = axum::Router::new()
        .route("/v2/images/{id}/file", get(download))
        .with_state(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut config = QemuConfig::new(dir.join("instances"), "nic-test-host");
    config.vif_plugging_timeout = Duration::from_secs(60);
    config.shutdown_timeout = Duration::from_secs(30);
    let driver = std::sync::Arc::new(QemuDriver::new(config).await.unwrap());
    host.driver = Some(driver.clone());

    let uuid = uuid::Uuid::new_v4().to_string();
    host.guests.push(uuid.clone());
    let spec = InstanceSpec {
        name: format!("instance-{}", &uuid[..8]),
        uuid: uuid.clone(),
        display_name: "nics".into(),
        hostname: "nics".into(),
        project_id: "p1".into(),
        user_id: "u1".into(),
        flavor: FlavorSpec {
            id: "f1".into(),
            name: "tiny".into(),
            vcpus: 1,
            memory_mb: 128,
            root_gb: 1,
            ephemeral_gb: 0,
            swap_mb: 0,
            extra_specs: BTreeMap::new(),
        },
        image: Some(ImageSpec {
            id: "root".into(),
            name: Some("root".into()),
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            size: None,
            min_disk: 0,
            min_ram: 0,
            properties: BTreeMap::from([
                ("kernel_id".to_owned(), json!("kernel")),
                ("ramdisk_id".to_owned(), json!("ramdisk")),
                ("os_command_line".to_owned(), json!("console=ttyS0")),
            ]),
            file_url: Some(format!("{base}/v2/images/root/file")),
        }),
        user_data: None,
        key_name: None,
        key_data: None,
        config_drive: true,
        metadata: BTreeMap::new(),
        availability_zone: None,
        network_info: vec![vif(&port1, mac1)],
        block_device_info: vec![],
    };
    let ctx = RequestContext {
        request_id: "req-nics".into(),
        token: None,
        project_id: "p1".into(),
        user_id: "u1".into(),
    };

    // The spawn waits for its tap: the "network agent" makes it a moment
    // later, with a DHCP server on it that knows the port's MAC.
    let spawn = {
        let (driver, spec, ctx) = (driver.clone(), spec.clone(), ctx.clone());
        tokio::spawn(async move { driver.spawn(&ctx, &spec).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!spawn.is_finished(), "the spawn waits for the tap");
    tap_add(&mut host, &tap1);
    run("ip", &["addr", "add", "10.253.7.1/24", "dev", &tap1]);
    host.dnsmasq = Some(
        Command::new("dnsmasq")
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--port=0",
                "--bind-dynamic",
                &format!("--interface={tap1}"),
                "--except-interface=lo",
                "--dhcp-range=10.253.7.10,10.253.7.20,255.255.255.0",
                &format!("--dhcp-host={mac1},10.253.7.15"),
                &format!("--dhcp-leasefile={}", dir.join("leases").display()),
                &format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    spawn.await.unwrap().unwrap();
    assert!(tap_open(&tap1), "QEMU opened the port's tap");
    console_until(&driver, &uuid, "oxistack-test-guest: dhcp ok 10.253.7.15", 1).await;
    assert_eq!(driver.get_info(&uuid).await.unwrap().interfaces, vec![port1.clone()]);

    // Hot-plug a second NIC, then unplug it: the guest releases it.
    tap_add(&mut host, &tap2);
    assert!(!tap_open(&tap2));
    driver.attach_interface(&uuid, &vif(&port2, mac2)).await.unwrap();
    assert!(tap_open(&tap2), "QEMU opened the hot-plugged tap");
    assert_eq!(
        driver.get_info(&uuid).await.unwrap().interfaces,
        vec![port1.clone(), port2.clone()]
    );
    let again = driver.attach_interface(&uuid, &vif(&port2, mac2)).await.unwrap_err();
    assert!(again.to_string().contains("already attached"), "{again}");
    driver.detach_interface(&uuid, &port2).await.unwrap();
    until("QEMU lets go of the unplugged tap", || !tap_open(&tap2)).await;
    assert_eq!(driver.get_info(&uuid).await.unwrap().interfaces, vec![port1.clone()]);
    assert!(driver.detach_interface(&uuid, &port2).await.is_err());

    // A hard reboot keeps the NIC: the guest asks for its address again.
    driver.reboot(&uuid, true).await.unwrap();
    console_until(&driver, &uuid, "oxistack-test-guest: dhcp ok 10.253.7.15", 2).await;
    assert!(tap_open(&tap1));

    driver.destroy(&uuid).await.unwrap();
    host.guests.clear();
    until("QEMU gone from the tap", || !tap_open(&tap1)).await;
    drop(host);
    assert!(!Path::new(&format!("/sys/class/net/{tap1}")).exists());
    assert!(!dir.exists());
}
