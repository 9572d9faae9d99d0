//! Replicas on several devices: quorum writes, reads that fall over, the
//! replicator restoring what a device missed, the auditor quarantining rot.

use std::path::{Path, PathBuf};

use object_storage::ring::{NewDevice, Ring};

use crate::Swift;

/// A cloud whose object storage has a ring of `devices` device
/// directories (one zone each) and 3 replicas; returns it and the
/// object storage directory.
async fn cloud(devices: usize) -> (Swift, PathBuf) {
    let mut dir = PathBuf::new();
    let swift = Swift::start_with(|d, config| {
        let mut ring = Ring::new(6, 3, 0).unwrap();
        ring.hash_path_suffix = "test-suffix".into();
        for i in 0..devices {
            ring.add_device(NewDevice {
                region: 1,
                zone: i as u32 + 1,
                weight: 100.0,
                device: format!("dev{i}"),
                address: None,
                meta: String::new(),
            })
            .unwrap();
        }
        ring.rebalance(1).unwrap();
        let file = object_storage::ObjectStorageConfig::default_ring_file(d);
        ring.save(&file).unwrap();
        config.ring_file = Some(file);
        dir = d.to_owned();
    })
    .await;
    (swift, dir)
}

fn ring(dir: &Path) -> Ring {
    Ring::load(&object_storage::ObjectStorageConfig::default_ring_file(dir)).unwrap()
}

/// `/AUTH_…/c/o` of an object of the admin's account.
fn object_path(swift: &Swift, rest: &str) -> String {
    let account = swift.account.rsplit('/').next().unwrap();
    format!("/{account}/{rest}")
}

/// The files (names) of an object's hash directory on device `dev`.
fn files_on(dir: &Path, dev: &str, ring: &Ring, path: &str) -> Vec<String> {
    let hash = hex::encode(ring.hash_path(path));
    let hdir = dir.join(dev).join("objects").join(&hash[..3]).join(&hash);
    let mut names: Vec<String> = std::fs::read_dir(hdir)
        .map(|rd| rd.flatten().filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn has_data(files: &[String]) -> bool {
    files.iter().any(|f| f.ends_with(".data"))
}

fn service(swift: &Swift) -> &object_storage::ObjectStorage {
    swift.cloud.object_storage.as_ref().unwrap()
}

/// Renames a device directory away (a failed disk) and back.
struct Unplugged {
    dir: PathBuf,
    away: PathBuf,
}

impl Unplugged {
    fn new(dir: &Path, dev: &str) -> Unplugged {
        let u = Unplugged {
            dir: dir.join(dev),
            away: dir.join(format!("{dev}.off")),
        };
        std::fs::rename(&u.dir, &u.away).unwrap();
        u
    }

    fn plug_back(self) {}
}

impl Drop for Unplugged {
    fn drop(&mut self) {
        let _ = std::fs::rename(&self.away, &self.dir);
    }
}

#[tokio::test]
async fn writes_reach_a_quorum_and_the_replicator_restores_a_device_that_was_away() {
    let (swift, dir) = cloud(3).await;
    let ring = ring(&dir);
    swift.put_container("c").await;
    swift.put_object("c/before", b"written to all three").await;
    let before = object_path(&swift, "c/before");
    for d in ["dev0", "dev1", "dev2"] {
        assert!(has_data(&files_on(&dir, d, &ring, &before)), "{d} has every replica");
    }

    // dev1 fails: writes still reach a quorum of two, reads fall over.
    let away = Unplugged::new(&dir, "dev1");
    let r = swift
        .req("PUT", "c/during")
        .body("written to two")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let during = object_path(&swift, "c/during");
    let r = swift.send("GET", "c/during").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "written to two");
    let r = swift.send("GET", "c/before").await;
    assert_eq!(r.text().await.unwrap(), "written to all three");
    let r = swift
        .req("POST", "c/during")
        .header("x-object-meta-color", "blue")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = swift.send("DELETE", "c/before").await;
    assert_eq!(r.status(), 204);
    assert!(!dir.join("dev1").exists(), "no write recreated the missing device");
    // The replicator skips the device that is away.
    let stats = service(&swift).replicate_once().await;
    assert_eq!(stats.devices_unavailable, 1);

    // dev1 comes back as it was: it lacks `during` and still has `before`.
    away.plug_back();
    assert!(!has_data(&files_on(&dir, "dev1", &ring, &during)));
    assert!(has_data(&files_on(&dir, "dev1", &ring, &before)));
    let stats = service(&swift).replicate_once().await;
    assert!(stats.pushed >= 3, "{stats:?}");
    let on_dev1 = files_on(&dir, "dev1", &ring, &during);
    assert_eq!(
        on_dev1
            .iter()
            .filter(|f| f.ends_with(".data") || f.ends_with(".meta"))
            .count(),
        2,
        "{on_dev1:?}"
    );
    assert_eq!(on_dev1, files_on(&dir, "dev0", &ring, &during));
    let before_on_dev1 = files_on(&dir, "dev1", &ring, &before);
    assert!(
        before_on_dev1.len() == 1 && before_on_dev1[0].ends_with(".ts"),
        "the newer tombstone replaced the old data: {before_on_dev1:?}"
    );
    // A second pass has nothing left to do.
    let stats = service(&swift).replicate_once().await;
    assert_eq!(stats.pushed, 0, "{stats:?}");

    // Every read now agrees, whichever device answers.
    let r = swift.send("HEAD", "c/during").await;
    assert_eq!(r.status(), 200);
    assert_eq!(crate::header(&r, "x-object-meta-color"), "blue");
    assert_eq!(swift.send("GET", "c/before").await.status(), 404);
    swift.stop().await;
}

#[tokio::test]
async fn without_a_quorum_a_put_is_refused_and_leaves_nothing() {
    let (swift, dir) = cloud(3).await;
    let ring = ring(&dir);
    swift.put_container("c").await;
    let a = Unplugged::new(&dir, "dev0");
    let b = Unplugged::new(&dir, "dev2");
    let r = swift
        .req("PUT", "c/o")
        .body("only one device left")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(files_on(&dir, "dev1", &ring, &object_path(&swift, "c/o")).is_empty());
    assert_eq!(swift.send("GET", "c/o").await.status(), 404);
    let r = swift.send("GET", "c?format=json").await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), serde_json::json!([]));
    a.plug_back();
    b.plug_back();
    swift.stop().await;
}

#[tokio::test]
async fn a_handoff_takes_the_write_and_gives_it_back() {
    let (swift, dir) = cloud(4).await;
    let ring = ring(&dir);
    swift.put_container("c").await;
    let path = object_path(&swift, "c/handed");
    let (_, primaries) = {
        let mut parts = path.splitn(4, '/').skip(1);
        let (a, c, o) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let (p, devs) = ring.get_nodes(a, c, o);
        (p, devs.iter().map(|d| d.device.clone()).collect::<Vec<_>>())
    };
    let handoff = (0..4)
        .map(|i| format!("dev{i}"))
        .find(|d| !primaries.contains(d))
        .unwrap();
    let away = Unplugged::new(&dir, &primaries[0]);
    let r = swift
        .req("PUT", "c/handed")
        .body("kept by a handoff")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(
        has_data(&files_on(&dir, &handoff, &ring, &path)),
        "the handoff holds the third replica"
    );
    away.plug_back();
    let stats = service(&swift).replicate_once().await;
    assert!(has_data(&files_on(&dir, &primaries[0], &ring, &path)));
    assert!(files_on(&dir, &handoff, &ring, &path).is_empty(), "{stats:?}");
    assert_eq!(stats.handoffs_removed, 1);
    let r = swift.send("GET", "c/handed").await;
    assert_eq!(r.text().await.unwrap(), "kept by a handoff");
    swift.stop().await;
}

#[tokio::test]
async fn the_auditor_quarantines_rot_and_the_replicator_restores_it() {
    let (swift, dir) = cloud(3).await;
    let ring = ring(&dir);
    swift.put_container("c").await;
    swift.put_object("c/o", b"a body that will rot").await;
    let path = object_path(&swift, "c/o");
    let hash = hex::encode(ring.hash_path(&path));
    let hdir = |dev: &str| dir.join(dev).join("objects").join(&hash[..3]).join(&hash);
    let data = files_on(&dir, "dev2", &ring, &path)
        .into_iter()
        .find(|f| f.ends_with(".data"))
        .unwrap();
    let good = std::fs::read(hdir("dev2").join(&data)).unwrap();
    let mut bad = good.clone();
    bad[0] ^= 0x20;
    std::fs::write(hdir("dev2").join(&data), &bad).unwrap();

    let stats = service(&swift).audit_once().await;
    assert_eq!(stats.quarantined, 1, "{stats:?}");
    assert_eq!(stats.objects, 3);
    assert!(!hdir("dev2").exists());
    let quarantined = dir
        .join("dev2")
        .join("quarantined")
        .join("objects")
        .join(&hash)
        .join(&data);
    assert_eq!(std::fs::read(quarantined).unwrap(), bad);
    // Reads fall over to a good replica meanwhile.
    let r = swift.send("GET", "c/o").await;
    assert_eq!(r.text().await.unwrap(), "a body that will rot");

    let stats = service(&swift).replicate_once().await;
    assert_eq!(stats.pushed, 1, "{stats:?}");
    assert_eq!(std::fs::read(hdir("dev2").join(&data)).unwrap(), good);
    let stats = service(&swift).audit_once().await;
    assert_eq!(stats.quarantined, 0);

    // Rot is not spread: a replica that is rotten where the others are
    // missing is quarantined when the replicator would copy it.
    std::fs::remove_dir_all(hdir("dev0")).unwrap();
    std::fs::remove_dir_all(hdir("dev1")).unwrap();
    std::fs::write(hdir("dev2").join(&data), &bad).unwrap();
    let stats = service(&swift).replicate_once().await;
    assert_eq!(stats.pushed, 0, "{stats:?}");
    assert!(!hdir("dev2").exists(), "the rotten replica was quarantined");
    assert!(!hdir("dev1").exists() && !hdir("dev0").exists());
    swift.stop().await;
}

#[tokio::test]
async fn one_device_keeps_the_paths_objects_had_before_rings() {
    let swift = Swift::start().await;
    swift.put_container("c").await;
    swift.put_object("c/o", b"x").await;
    let path = object_path(&swift, "c/o");
    let hash = hex::encode(<md5::Md5 as md5::Digest>::digest(path.as_bytes()));
    let dir = swift.cloud.dir().join("object-storage").join("d0");
    assert!(dir.join("objects").join(&hash[..3]).join(&hash).is_dir());
    let stats = service(&swift).replicate_once().await;
    assert_eq!((stats.objects, stats.pushed), (1, 0));
    let stats = service(&swift).audit_once().await;
    assert_eq!((stats.objects, stats.quarantined), (1, 0));
    swift.stop().await;
}

#[tokio::test]
async fn a_rebalanced_ring_is_reloaded_and_replication_moves_partitions_to_their_new_devices() {
    let (swift, dir) = cloud(3).await;
    swift.put_container("c").await;
    let names: Vec<String> = (0..24).map(|i| format!("c/o{i}")).collect();
    for n in &names {
        let r = swift.req("PUT", n).body(n.clone()).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    assert!(!service(&swift).reload_ring_if_changed().unwrap(), "unchanged");

    // The operator adds a fourth device and rebalances.
    let file = object_storage::ObjectStorageConfig::default_ring_file(&dir);
    let mut ring = Ring::load(&file).unwrap();
    ring.add_device(NewDevice {
        region: 1,
        zone: 4,
        weight: 100.0,
        device: "dev3".into(),
        address: None,
        meta: String::new(),
    })
    .unwrap();
    let done = ring.rebalance(2).unwrap();
    assert!(done.moved > 0);
    ring.save(&file).unwrap();
    assert!(service(&swift).reload_ring_if_changed().unwrap());
    assert_eq!(service(&swift).objects().ring().devices().count(), 4);

    // Reads work before replication (at most one replica of a partition
    // moved: the others still have it) …
    for n in &names {
        let r = swift.send("GET", n).await;
        assert_eq!(r.text().await.unwrap(), *n);
    }
    // … and after it, each object is on exactly its new primaries.
    let stats = service(&swift).replicate_once().await;
    assert!(stats.handoffs_removed > 0, "{stats:?}");
    let mut on_dev3 = 0;
    for n in &names {
        let path = object_path(&swift, n);
        let mut parts = path.splitn(4, '/').skip(1);
        let (a, c, o) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let primaries: Vec<String> = ring.get_nodes(a, c, o).1.iter().map(|d| d.device.clone()).collect();
        for d in ["dev0", "dev1", "dev2", "dev3"] {
            let held = has_data(&files_on(&dir, d, &ring, &path));
            assert_eq!(
                held,
                primaries.iter().any(|p| p == d),
                "{n} on {d}: primaries {primaries:?}"
            );
        }
        on_dev3 += primaries.iter().filter(|p| *p == "dev3").count();
        let r = swift.send("GET", n).await;
        assert_eq!(r.text().await.unwrap(), *n);
    }
    assert!(on_dev3 > 0);
    swift.stop().await;
}

#[tokio::test]
async fn a_rotten_replica_found_while_serving_is_quarantined_and_the_next_read_falls_over() {
    let (swift, dir) = cloud(3).await;
    let ring = ring(&dir);
    swift.put_container("c").await;
    swift.put_object("c/o", b"served once, rotten").await;
    let path = object_path(&swift, "c/o");
    let mut parts = path.splitn(4, '/').skip(1);
    let (a, c, o) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let first = ring.get_nodes(a, c, o).1[0].device.clone();
    let hash = hex::encode(ring.hash_path(&path));
    let hdir = dir.join(&first).join("objects").join(&hash[..3]).join(&hash);
    let data = files_on(&dir, &first, &ring, &path)
        .into_iter()
        .find(|f| f.ends_with(".data"))
        .unwrap();
    let mut bytes = std::fs::read(hdir.join(&data)).unwrap();
    bytes[0] = b'S';
    std::fs::write(hdir.join(&data), &bytes).unwrap();

    // The first primary serves what it has; the client can tell by the ETag.
    let r = swift.send("GET", "c/o").await;
    assert_eq!(r.text().await.unwrap(), "Served once, rotten");
    let quarantined = dir
        .join(&first)
        .join("quarantined")
        .join("objects")
        .join(&hash)
        .join(&data);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !quarantined.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the rotten replica was not quarantined"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = swift.send("GET", "c/o").await;
    assert_eq!(r.text().await.unwrap(), "served once, rotten");
    service(&swift).replicate_once().await;
    assert!(has_data(&files_on(&dir, &first, &ring, &path)));
    swift.stop().await;
}
