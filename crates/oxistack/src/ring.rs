//! `oxistack manage ring …`: the operator's `swift-ring-builder`, on the
//! object ring file of a data directory
//! (`<data dir>/object-storage/object.ring.json`, which `oxistack up` loads
//! when it exists). Relative device names are directories beside that
//! file, as the default device `d0` is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use object_storage::ring::{NewDevice, Ring};

#[derive(Subcommand)]
pub enum RingJob {
    /// A new ring of 2^PART_POWER partitions with REPLICAS copies of each;
    /// a partition moves at most once in MIN_PART_HOURS.
    Create {
        part_power: u8,
        replicas: u8,
        min_part_hours: u32,
        /// Salt of the object hashes (Swift's `swift_hash_path_suffix`);
        /// default: a random one, or empty when the default device `d0`
        /// already holds objects (they are found where they are).
        #[arg(long)]
        hash_path_suffix: Option<String>,
        #[arg(long, default_value = "")]
        hash_path_prefix: String,
        /// Replace an existing ring file.
        #[arg(long)]
        force: bool,
    },
    /// Add a device: `r1z2/d1 100` (a directory here, weight 100) or, as
    /// swift-ring-builder writes it, `r1z2-10.0.0.5:6200/sdb1 100`.
    Add {
        /// `r<region>z<zone>[-<host>:<port>]/<device>[_<meta>]`
        spec: String,
        weight: f64,
    },
    /// Change a device's weight (partitions move at the next rebalance).
    SetWeight { id: u16, weight: f64 },
    /// Remove a device (its partitions move at the next rebalance).
    Remove { id: u16 },
    /// Assign partitions to devices, moving as few as it can.
    Rebalance,
    /// The ring: its parameters, devices, what each holds, balance.
    Show,
}

/// The ring file of a data directory.
pub fn ring_file(data_dir: &Path) -> PathBuf {
    object_storage::ObjectStorageConfig::default_ring_file(&data_dir.join("object-storage"))
}

pub fn run(file: &Path, job: RingJob) -> anyhow::Result<()> {
    let load = || Ring::load(file).with_context(|| format!("reading the ring {}", file.display()));
    match job {
        RingJob::Create {
            part_power,
            replicas,
            min_part_hours,
            hash_path_suffix,
            hash_path_prefix,
            force,
        } => {
            if file.exists() && !force {
                bail!("{} exists; pass --force to replace it", file.display());
            }
            let mut ring = Ring::new(part_power, replicas, min_part_hours)?;
            ring.hash_path_prefix = hash_path_prefix;
            ring.hash_path_suffix = match hash_path_suffix {
                Some(s) => s,
                None if holds_objects(&file.with_file_name("d0")) => {
                    println!("d0 holds objects: hash path suffix left empty so that they are found");
                    String::new()
                }
                None => {
                    use rand::Rng;
                    let bytes: [u8; 8] = rand::thread_rng().r#gen();
                    bytes.iter().map(|b| format!("{b:02x}")).collect()
                }
            };
            ring.save(file)?;
            println!(
                "{}: {} partitions, {replicas} replicas, min_part_hours {min_part_hours}",
                file.display(),
                ring.parts()
            );
        }
        RingJob::Add { spec, weight } => {
            let mut ring = load()?;
            let new = parse_device(&spec, weight)?;
            let id = ring.add_device(new)?;
            ring.save(file)?;
            println!("device {spec} with weight {weight} got id {id}");
        }
        RingJob::SetWeight { id, weight } => {
            let mut ring = load()?;
            ring.set_weight(id, weight)?;
            ring.save(file)?;
            println!("device {id} weight set to {weight}");
        }
        RingJob::Remove { id } => {
            let mut ring = load()?;
            ring.remove_device(id)?;
            ring.save(file)?;
            println!("device {id} marked for removal");
        }
        RingJob::Rebalance => {
            let mut ring = load()?;
            let done = ring.rebalance(object_storage::ring::now_hours())?;
            ring.save(file)?;
            let slots = ring.parts() * ring.replicas as usize;
            println!(
                "reassigned {} of {slots} partition-replicas ({:.2}%), assigned {}; balance is now {:.2}",
                done.moved,
                100.0 * done.moved as f64 / slots as f64,
                done.assigned,
                done.balance
            );
        }
        RingJob::Show => show(file, &load()?),
    }
    Ok(())
}

fn holds_objects(device: &Path) -> bool {
    std::fs::read_dir(device.join("objects")).is_ok_and(|mut rd| rd.next().is_some())
}

/// `r1z2/d1`, `r1z2-10.0.0.5:6200/sdb1`, `z2/d1` (region 1), with an
/// optional `_meta`.
fn parse_device(spec: &str, weight: f64) -> anyhow::Result<NewDevice> {
    let bad = || anyhow::anyhow!("device {spec:?}: expected r<region>z<zone>[-<host>:<port>]/<device>");
    let (tiers, rest) = spec.split_once(['/', '-']).ok_or_else(bad)?;
    let sep = spec.as_bytes()[tiers.len()];
    let (region, zone) = match tiers.strip_prefix('r') {
        Some(t) => {
            let (r, z) = t.split_once('z').ok_or_else(bad)?;
            (r.parse().map_err(|_| bad())?, z.parse().map_err(|_| bad())?)
        }
        None => (1, tiers.strip_prefix('z').ok_or_else(bad)?.parse().map_err(|_| bad())?),
    };
    let (address, device) = if sep == b'-' {
        let (addr, dev) = rest.split_once('/').ok_or_else(bad)?;
        (Some(addr.to_owned()), dev)
    } else {
        (None, rest)
    };
    let (device, meta) = device.split_once('_').unwrap_or((device, ""));
    if device.is_empty() {
        return Err(bad());
    }
    Ok(NewDevice {
        region,
        zone,
        weight,
        device: device.to_owned(),
        address,
        meta: meta.to_owned(),
    })
}

fn show(file: &Path, ring: &Ring) {
    let devices: Vec<_> = ring.devices().collect();
    let mut zones: Vec<(u32, u32)> = devices.iter().map(|d| (d.region, d.zone)).collect();
    zones.sort();
    zones.dedup();
    let mut regions: Vec<u32> = zones.iter().map(|z| z.0).collect();
    regions.dedup();
    println!("{}, generation {}", file.display(), ring.generation);
    println!(
        "{} partitions, {} replicas, {} regions, {} zones, {} devices, {:.2} balance",
        ring.parts(),
        ring.replicas,
        regions.len(),
        zones.len(),
        devices.len(),
        ring.balance()
    );
    println!(
        "The minimum number of hours before a partition can be reassigned is {}",
        ring.min_part_hours
    );
    println!(
        "Hash path prefix {}, suffix {}",
        if ring.hash_path_prefix.is_empty() {
            "empty"
        } else {
            "set"
        },
        if ring.hash_path_suffix.is_empty() {
            "empty"
        } else {
            "set"
        }
    );
    println!(
        "{:>4} {:>6} {:>5} {:>10} {:>10}  {:<24} {:<20} meta",
        "id", "region", "zone", "weight", "partitions", "device", "address"
    );
    let slots = ring.slots();
    for d in devices {
        let held = slots.iter().find(|s| s.0 == d.id).map_or(0, |s| s.1);
        println!(
            "{:>4} {:>6} {:>5} {:>10.2} {:>10}  {:<24} {:<20} {}{}",
            d.id,
            d.region,
            d.zone,
            d.weight,
            held,
            d.device,
            d.address.as_deref().unwrap_or("(local)"),
            d.meta,
            if d.removing { " (to be removed)" } else { "" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs() {
        let d = parse_device("r1z2/d1", 100.0).unwrap();
        assert_eq!((d.region, d.zone, d.device.as_str(), d.address), (1, 2, "d1", None));
        let d = parse_device("r2z3-10.0.0.5:6200/sdb1_ssd", 50.0).unwrap();
        assert_eq!(
            (
                d.region,
                d.zone,
                d.device.as_str(),
                d.address.as_deref(),
                d.meta.as_str()
            ),
            (2, 3, "sdb1", Some("10.0.0.5:6200"), "ssd")
        );
        assert_eq!(parse_device("z4/d", 1.0).unwrap().zone, 4);
        for bad in ["d1", "r1/d1", "rxz1/d", "r1z1/", "r1z1-host"] {
            assert!(parse_device(bad, 1.0).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_add_rebalance_show_on_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = ring_file(dir.path());
        run(
            &file,
            RingJob::Create {
                part_power: 8,
                replicas: 3,
                min_part_hours: 1,
                hash_path_suffix: None,
                hash_path_prefix: String::new(),
                force: false,
            },
        )
        .unwrap();
        assert!(!Ring::load(&file).unwrap().hash_path_suffix.is_empty());
        let again = RingJob::Create {
            part_power: 8,
            replicas: 3,
            min_part_hours: 1,
            hash_path_suffix: None,
            hash_path_prefix: String::new(),
            force: false,
        };
        assert!(run(&file, again).is_err(), "an existing ring is kept");
        for (i, z) in [(0, 1), (1, 2), (2, 3)] {
            run(
                &file,
                RingJob::Add {
                    spec: format!("r1z{z}/d{i}"),
                    weight: 100.0,
                },
            )
            .unwrap();
        }
        assert!(
            run(
                &file,
                RingJob::Add {
                    spec: "r1z1/d0".into(),
                    weight: 1.0
                }
            )
            .is_err()
        );
        run(&file, RingJob::Rebalance).unwrap();
        let ring = Ring::load(&file).unwrap();
        assert!(ring.is_complete());
        assert_eq!(ring.slots(), vec![(0, 256), (1, 256), (2, 256)]);
        run(&file, RingJob::Show).unwrap();
        run(&file, RingJob::SetWeight { id: 0, weight: 50.0 }).unwrap();
        run(&file, RingJob::Remove { id: 9 }).unwrap_err();
    }
}
