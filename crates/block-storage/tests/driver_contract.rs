//! The volume driver contract (see `block_storage::agent::driver`), run
//! against every driver: the file driver on a temporary directory, and
//! the fake.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use block_storage::agent::driver::fake::FakeDriver;
use block_storage::agent::driver::file::FileDriver;
use block_storage::agent::driver::file::LocalHosts;
use block_storage::agent::driver::{Driver, DriverError};
use block_storage::rpc::Connector;

const GIB: u64 = 1 << 30;
const V1: &str = "11111111-1111-1111-1111-111111111111";
const V2: &str = "22222222-2222-2222-2222-222222222222";
const V3: &str = "33333333-3333-3333-3333-333333333333";
const S1: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";

fn connector(host: &str) -> Connector {
    serde_json::from_value(serde_json::json!({"host": host, "ip": "127.0.0.1"})).unwrap()
}

/// How a test reaches the data of one driver (outside the trait: a
/// hypervisor writes to volumes, not the agent).
trait Data: Send + Sync {
    fn write(&self, volume: &str, offset: u64, data: &[u8]);
    fn read(&self, id: &str, snapshot: bool, offset: u64, len: usize) -> Vec<u8>;
    fn size(&self, volume: &str) -> u64;
}

struct FileData(Arc<FileDriver>);

impl Data for FileData {
    fn write(&self, volume: &str, offset: u64, data: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.0.volume_path(volume))
            .unwrap();
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.write_all(data).unwrap();
    }
    fn read(&self, id: &str, snapshot: bool, offset: u64, len: usize) -> Vec<u8> {
        let path = if snapshot {
            self.0.snapshot_path(id)
        } else {
            self.0.volume_path(id)
        };
        let mut f = std::fs::File::open(path).unwrap();
        f.seek(SeekFrom::Start(offset)).unwrap();
        let mut buf = vec![0; len];
        f.read_exact(&mut buf).unwrap();
        buf
    }
    fn size(&self, volume: &str) -> u64 {
        std::fs::metadata(self.0.volume_path(volume)).unwrap().len()
    }
}

struct FakeData(Arc<FakeDriver>);

impl Data for FakeData {
    fn write(&self, volume: &str, offset: u64, data: &[u8]) {
        self.0.write(volume, offset, data).unwrap();
    }
    fn read(&self, id: &str, snapshot: bool, offset: u64, len: usize) -> Vec<u8> {
        self.0.read(id, offset, len, snapshot).unwrap()
    }
    fn size(&self, volume: &str) -> u64 {
        self.0.size_of(volume).unwrap()
    }
}

async fn contract(d: &dyn Driver, data: &dyn Data, scratch: &Path) {
    let cap = d.capacity().await.unwrap();
    assert!(cap.total_gb > 0.0 && cap.free_gb <= cap.total_gb);

    // Blank volumes read as zeros, at their size.
    d.create_volume(V1, 1).await.unwrap();
    assert_eq!(data.size(V1), GIB);
    assert_eq!(data.read(V1, false, GIB - 4, 4), vec![0; 4]);
    assert!(matches!(
        d.create_volume(V1, 2).await,
        Err(DriverError::AlreadyExists(_))
    ));
    assert_eq!(data.size(V1), GIB, "an existing volume is untouched");

    // Snapshots are independent of their volume.
    data.write(V1, 512, b"one");
    d.create_snapshot(S1, V1).await.unwrap();
    data.write(V1, 512, b"two");
    d.extend_volume(V1, 2).await.unwrap();
    assert_eq!(data.size(V1), 2 * GIB);
    assert_eq!(data.read(V1, false, 512, 3), b"two", "extend keeps the data");
    assert_eq!(data.read(S1, true, 512, 3), b"one");
    assert!(d.extend_volume(V1, 1).await.is_err(), "extend only grows");

    // Copies: from the snapshot, from the volume; independent of both.
    d.create_volume_from_snapshot(V2, S1, 3).await.unwrap();
    assert_eq!(data.size(V2), 3 * GIB);
    assert_eq!(data.read(V2, false, 512, 3), b"one");
    d.clone_volume(V3, V1, 2).await.unwrap();
    assert_eq!(data.read(V3, false, 512, 3), b"two");
    assert!(
        d.clone_volume("44444444-4444-4444-4444-444444444444", V1, 1)
            .await
            .is_err(),
        "too small"
    );
    assert!(matches!(
        d.create_volume_from_snapshot("55555555-5555-5555-5555-555555555555", "missing", 1)
            .await,
        Err(DriverError::NotFound(_))
    ));
    data.write(V2, 512, b"new");
    assert_eq!(data.read(S1, true, 512, 3), b"one");

    // Images.
    let img = scratch.join("contract-image");
    std::fs::write(&img, b"image bytes").unwrap();
    let v4 = "66666666-6666-6666-6666-666666666666";
    d.copy_image_to_volume(v4, &img, "raw", 1).await.unwrap();
    assert_eq!(data.read(v4, false, 0, 11), b"image bytes");
    assert_eq!(data.size(v4), GIB);

    let inv = d.inventory().await.unwrap();
    assert_eq!(inv.volumes.len(), 4);
    assert_eq!(inv.snapshots, vec![S1.to_owned()]);
    // Connections: the same answer twice, `volume_id` in the data, a
    // missing volume NotFound, terminate idempotent and harmless.
    let here = connector("here");
    let first = d.initialize_connection(V1, &here).await.unwrap();
    assert_eq!(first, d.initialize_connection(V1, &here).await.unwrap());
    assert_eq!(first.data["volume_id"], V1);
    assert!(matches!(
        d.initialize_connection("77777777-7777-7777-7777-777777777777", &here)
            .await,
        Err(DriverError::NotFound(_))
    ));
    d.terminate_connection(V1, &here).await.unwrap();
    d.terminate_connection(V1, &here).await.unwrap();
    assert_eq!(data.read(V1, false, 512, 3), b"two");

    // Revert: the snapshot's data, the volume's size, the snapshot kept.
    d.revert_to_snapshot(V1, S1).await.unwrap();
    assert_eq!(data.read(V1, false, 512, 3), b"one");
    assert_eq!(data.size(V1), 2 * GIB);
    assert_eq!(data.read(S1, true, 512, 3), b"one");
    assert!(matches!(
        d.revert_to_snapshot(V1, "77777777-7777-7777-7777-777777777777").await,
        Err(DriverError::NotFound(_))
    ));
    assert_eq!(data.read(V1, false, 512, 3), b"one", "a failed revert changes nothing");

    // Deletes are idempotent; the snapshot outlives its volume.
    d.delete_volume(V1).await.unwrap();
    d.delete_volume(V1).await.unwrap();
    assert_eq!(data.read(S1, true, 512, 3), b"one");
    d.delete_snapshot(S1).await.unwrap();
    d.delete_snapshot(S1).await.unwrap();
    for v in [V2, V3, v4] {
        d.delete_volume(v).await.unwrap();
    }
    let inv = d.inventory().await.unwrap();
    assert!(inv.volumes.is_empty() && inv.snapshots.is_empty(), "{inv:?}");
}

#[tokio::test]
async fn file_driver_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let d = Arc::new(FileDriver::open(dir.path()).unwrap().with_local_hosts(LocalHosts::Any));
    contract(d.as_ref(), &FileData(d.clone()), d.scratch_dir()).await;
    // Ids become file names: nothing else gets in.
    assert!(matches!(d.create_volume("../x", 1).await, Err(DriverError::Invalid(_))));
    // A failed create leaves nothing behind.
    let big = dir.path().join("big.raw");
    std::fs::File::create(&big).unwrap().set_len(2 * GIB).unwrap();
    let id = "88888888-8888-8888-8888-888888888888";
    assert!(matches!(
        d.copy_image_to_volume(id, &big, "raw", 1).await,
        Err(DriverError::Invalid(_))
    ));
    assert!(d.inventory().await.unwrap().volumes.is_empty());
    assert_eq!(std::fs::read_dir(dir.path().join("volumes")).unwrap().count(), 0);
    // Images that point at other files are refused.
    let base = dir.path().join("base.qcow2");
    let overlay = dir.path().join("overlay.qcow2");
    for args in [
        vec!["create", "-q", "-f", "qcow2", base.to_str().unwrap(), "1M"],
        vec![
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            base.to_str().unwrap(),
            overlay.to_str().unwrap(),
        ],
    ] {
        assert!(
            std::process::Command::new("qemu-img")
                .args(&args)
                .status()
                .unwrap()
                .success()
        );
    }
    let err = d.copy_image_to_volume(id, &overlay, "qcow2", 1).await.unwrap_err();
    assert!(matches!(err, DriverError::Invalid(_)), "{err}");
    // A qcow2 image announced as raw stays raw: its header is data.
    d.copy_image_to_volume(id, &base, "raw", 1).await.unwrap();
    let mut magic = [0u8; 4];
    std::fs::File::open(d.volume_path(id))
        .unwrap()
        .read_exact(&mut magic)
        .unwrap();
    assert_eq!(&magic, b"QFI\xfb");
}

/// The file driver hands a path only to hosts that share its files: a
/// remote host would need a qemu-nbd export, which is refused with that
/// reason.
#[tokio::test]
async fn file_driver_serves_local_hosts_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = FileDriver::open(dir.path())
        .unwrap()
        .with_local_hosts(LocalHosts::Named(vec!["cmp1".into()]))
        .also_local("cmp2");
    d.create_volume(V1, 1).await.unwrap();
    for host in ["cmp1", "cmp2"] {
        let info = d.initialize_connection(V1, &connector(host)).await.unwrap();
        assert_eq!(info.driver_volume_type, "file");
        assert_eq!(info.data["path"], d.volume_path(V1).display().to_string());
        assert_eq!(info.data["format"], "raw");
    }
    let err = d.initialize_connection(V1, &connector("elsewhere")).await.unwrap_err();
    assert!(
        matches!(&err, DriverError::Invalid(m) if m.contains("qemu-nbd")),
        "{err}"
    );
}

#[tokio::test]
async fn fake_driver_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let d = Arc::new(FakeDriver::new(100.0, dir.path()));
    contract(d.as_ref(), &FakeData(d.clone()), dir.path()).await;
    assert!(d.exports_of(V1).is_empty(), "terminated");
    d.fail_next("create_volume", "injected");
    assert!(d.create_volume(V1, 1).await.is_err());
    assert!(d.inventory().await.unwrap().volumes.is_empty());
    d.create_volume(V1, 1).await.unwrap();
}
