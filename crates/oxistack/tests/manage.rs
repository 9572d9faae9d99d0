//! `oxistack manage` as an operator runs it.

use std::process::Command;

fn oxistack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_oxistack"))
        .args(args)
        .output()
        .expect("run oxistack")
}

#[test]
fn db_sync_creates_every_services_database_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    for _ in 0..2 {
        let out = oxistack(&["manage", "db-sync", "--data-dir", data]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stdout);
        for service in [
            "identity",
            "image",
            "object-storage",
            "placement",
            "compute",
            "network",
            "block-storage",
        ] {
            assert!(said.contains(&format!("{service}: database up to date")), "{said}");
            assert!(
                dir.path().join(format!("{service}.db")).is_file(),
                "{service}.db missing"
            );
        }
    }
}

/// The scale-out mode gives every service one database: their tables must
/// not collide.
#[test]
fn db_sync_puts_every_service_in_one_shared_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    for _ in 0..2 {
        let out = oxistack(&["manage", "db-sync", "--data-dir", data, "--database", &url]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
