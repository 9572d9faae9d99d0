//! Services: `cinder-scheduler` (this controller, heartbeating itself) and
//! one `cinder-volume` per backend (`host@backend`, from the agents'
//! `report_state`), `os-services` and `os-availability-zone`.
//!
//! A service is `up` when its last heartbeat is younger than
//! `service_down_time`. The scheduler places a volume on an enabled, up
//! backend of the requested zone whose `volume_backend_name` matches the
//! volume type's extra spec (when it sets one) and whose reported free
//! capacity holds the volume, preferring the most free space (Cinder's
//! CapacityFilter and CapacityWeigher, thin provisioning not modelled),
//! and whose capabilities satisfy the type's other extra specs (Cinder's
//! CapabilitiesFilter: unscoped and `capabilities:` keys must name a
//! capability the backend reports, with a matching value; other scopes
//! such as `qos:` are not the scheduler's).

use crate::db::services::ServiceRow;
use crate::error::{Result, VolumeError};
use crate::rpc::BackendReport;
use crate::{BlockStorage, db};

pub const SCHEDULER_BINARY: &str = "cinder-scheduler";
pub const VOLUME_BINARY: &str = "cinder-volume";

#[derive(Clone, Debug)]
pub struct ServiceView {
    pub row: ServiceRow,
    pub up: bool,
}

/// What the scheduler needs to know about the volume to place.
#[derive(Clone, Debug)]
pub struct PlacementRequest {
    pub size_gb: i64,
    pub availability_zone: String,
    pub backend_name: Option<String>,
    /// The volume type's extra specs (besides `volume_backend_name`).
    pub extra_specs: std::collections::BTreeMap<String, String>,
}

/// What every backend of this cloud says of itself. Cinder's reference
/// drivers (LVM, NFS) say vendor "Open Source", which tempest expects by
/// default; so do these.
pub const VENDOR: &str = "Open Source";
pub const PROTOCOL: &str = "file";

/// A backend's capabilities as Cinder's CapabilitiesFilter sees them.
pub fn capabilities(row: &ServiceRow) -> serde_json::Value {
    let backend = row.backend_name.clone().unwrap_or_default();
    serde_json::json!({
        "volume_backend_name": backend,
        "pool_name": backend,
        "vendor_name": VENDOR,
        "storage_protocol": PROTOCOL,
        "driver_version": row.version,
        "total_capacity_gb": row.total_capacity_gb,
        "free_capacity_gb": row.free_capacity_gb,
        "reserved_percentage": 0,
        "QoS_support": false,
        "thin_provisioning_support": true,
        "thick_provisioning_support": false,
        "multiattach": true,
        "online_extend_support": true,
    })
}

/// Cinder's `extra_specs_ops.match` for the operators clients use:
/// `<is> True|False`, `<in> x`, `<or> a <or> b`, `s== x`, `s!= x`,
/// `== n`, `!= n`, `>= n`, `<= n`, and a plain value (equality).
pub fn spec_matches(cap: &serde_json::Value, req: &str) -> bool {
    let cap_text = match cap {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
        other => other.to_string(),
    };
    let num = |t: &str| t.trim().parse::<f64>().ok();
    let words: Vec<&str> = req.split_whitespace().collect();
    match words.as_slice() {
        ["<is>", v] => cap_text.eq_ignore_ascii_case(v),
        ["<in>", rest @ ..] => cap_text.contains(&rest.join(" ")),
        ["<or>", ..] => req
            .split("<or>")
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .any(|w| w == cap_text),
        ["s==", rest @ ..] => cap_text == rest.join(" "),
        ["s!=", rest @ ..] => cap_text != rest.join(" "),
        [op @ ("==" | "!=" | ">=" | "<="), v] => match (num(&cap_text), num(v)) {
            (Some(c), Some(w)) => match *op {
                "==" => c == w,
                "!=" => c != w,
                ">=" => c >= w,
                _ => c <= w,
            },
            _ => false,
        },
        _ => cap_text == req.trim() || (cap.is_boolean() && cap_text.eq_ignore_ascii_case(req.trim())),
    }
}

/// Whether a backend satisfies the extra specs; `Err` names the first
/// spec it does not.
fn satisfies(row: &ServiceRow, specs: &std::collections::BTreeMap<String, String>) -> std::result::Result<(), String> {
    let caps = capabilities(row);
    for (key, want) in specs {
        let key = match key.split_once(':') {
            Some(("capabilities", rest)) => rest,
            Some(_) => continue,
            None => key.as_str(),
        };
        match caps.get(key) {
            Some(cap) if spec_matches(cap, want) => {}
            Some(_) => return Err(format!("{key} is not {want}")),
            None => return Err(format!("the backend has no capability {key}")),
        }
    }
    Ok(())
}

/// Picks a backend; `Err` says why none fits. Pure, so it is unit-tested.
pub fn choose(services: &[ServiceView], req: &PlacementRequest) -> std::result::Result<String, String> {
    let volume: Vec<&ServiceView> = services.iter().filter(|s| s.row.binary == VOLUME_BINARY).collect();
    if volume.is_empty() {
        return Err("No volume service is registered.".into());
    }
    let live: Vec<&&ServiceView> = volume.iter().filter(|s| s.up && !s.row.disabled).collect();
    if live.is_empty() {
        return Err("No volume service is up and enabled.".into());
    }
    let zoned: Vec<&&&ServiceView> = live
        .iter()
        .filter(|s| s.row.availability_zone == req.availability_zone)
        .collect();
    if zoned.is_empty() {
        return Err(format!(
            "No volume service in availability zone {}.",
            req.availability_zone
        ));
    }
    let matching: Vec<&&&&ServiceView> = zoned
        .iter()
        .filter(|s| {
            req.backend_name
                .as_ref()
                .is_none_or(|b| s.row.backend_name.as_deref() == Some(b.as_str()))
        })
        .collect();
    if matching.is_empty() {
        return Err(format!(
            "No volume backend named {} (the volume type's volume_backend_name).",
            req.backend_name.as_deref().unwrap_or_default()
        ));
    }
    let mut unmet = String::new();
    let capable: Vec<&ServiceView> = matching
        .iter()
        .map(|s| ****s)
        .filter(|s| match satisfies(&s.row, &req.extra_specs) {
            Ok(()) => true,
            Err(why) => {
                unmet = why;
                false
            }
        })
        .collect();
    if capable.is_empty() {
        return Err(format!(
            "No backend has the capabilities the volume type asks for ({unmet})."
        ));
    }
    capable
        .iter()
        .filter(|s| s.row.free_capacity_gb >= req.size_gb as f64)
        .max_by(|a, b| a.row.free_capacity_gb.total_cmp(&b.row.free_capacity_gb))
        .map(|s| s.row.host.clone())
        .ok_or_else(|| format!("No backend has {} GB free (insufficient free capacity).", req.size_gb))
}

impl BlockStorage {
    pub async fn record_report(&self, r: &BackendReport) -> Result<()> {
        let now = db::now();
        db::services::heartbeat(
            &self.db,
            &ServiceRow {
                host: r.host.clone(),
                binary: VOLUME_BINARY.into(),
                availability_zone: r.availability_zone.clone(),
                backend_name: Some(r.volume_backend_name.clone()),
                total_capacity_gb: r.total_capacity_gb,
                free_capacity_gb: r.free_capacity_gb,
                version: r.version.clone(),
                disabled: false,
                disabled_reason: None,
                frozen: false,
                created_at: now,
                updated_at: now,
            },
        )
        .await
    }

    /// The scheduler's own heartbeat.
    pub(crate) async fn scheduler_heartbeat(&self) -> Result<()> {
        let now = db::now();
        db::services::heartbeat(
            &self.db,
            &ServiceRow {
                host: self.config.controller_host.clone(),
                binary: SCHEDULER_BINARY.into(),
                availability_zone: self.config.default_availability_zone.clone(),
                backend_name: None,
                total_capacity_gb: 0.0,
                free_capacity_gb: 0.0,
                version: env!("CARGO_PKG_VERSION").into(),
                disabled: false,
                disabled_reason: None,
                frozen: false,
                created_at: now,
                updated_at: now,
            },
        )
        .await
    }

    pub async fn services(&self) -> Result<Vec<ServiceView>> {
        let now = db::now();
        let down = self.config.service_down_time.as_micros() as i64;
        Ok(db::services::list(&self.db)
            .await?
            .into_iter()
            .map(|row| ServiceView {
                up: now - row.updated_at <= down,
                row,
            })
            .collect())
    }

    pub async fn set_service_disabled(
        &self,
        host: &str,
        binary: &str,
        disabled: bool,
        reason: Option<&str>,
    ) -> Result<()> {
        if !db::services::set_disabled(&self.db, host, binary, disabled, reason).await? {
            return Err(VolumeError::NotFound(format!(
                "Service {binary} on host {host} could not be found."
            )));
        }
        Ok(())
    }

    /// Zones of the volume services, and whether any service in each is
    /// up and enabled; the default zone when there is no backend yet.
    pub async fn zones(&self) -> Result<Vec<(String, bool)>> {
        let mut zones: std::collections::BTreeMap<String, bool> = Default::default();
        for s in self.services().await? {
            if s.row.binary == VOLUME_BINARY {
                *zones.entry(s.row.availability_zone.clone()).or_default() |= s.up && !s.row.disabled;
            }
        }
        if zones.is_empty() {
            zones.insert(self.config.default_availability_zone.clone(), false);
        }
        Ok(zones.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(host: &str, zone: &str, backend: &str, free: f64, up: bool) -> ServiceView {
        ServiceView {
            row: ServiceRow {
                host: host.into(),
                binary: VOLUME_BINARY.into(),
                availability_zone: zone.into(),
                backend_name: Some(backend.into()),
                free_capacity_gb: free,
                total_capacity_gb: 100.0,
                ..Default::default()
            },
            up,
        }
    }

    #[test]
    fn chooses_the_most_free_matching_backend() {
        let s = vec![
            svc("a@file", "nova", "file", 10.0, true),
            svc("b@file", "nova", "file", 50.0, true),
            svc("c@file", "nova", "file", 90.0, false),
            svc("d@lvm", "nova", "lvm", 99.0, true),
        ];
        let req = |size, backend: Option<&str>| PlacementRequest {
            size_gb: size,
            availability_zone: "nova".into(),
            backend_name: backend.map(str::to_owned),
            extra_specs: Default::default(),
        };
        assert_eq!(choose(&s, &req(5, Some("file"))).unwrap(), "b@file");
        assert_eq!(choose(&s, &req(5, None)).unwrap(), "d@lvm");
        assert!(choose(&s, &req(60, Some("file"))).unwrap_err().contains("free"));
        assert!(choose(&s, &req(1, Some("rbd"))).unwrap_err().contains("rbd"));
        let mut other = req(1, None);
        other.availability_zone = "az2".into();
        assert!(choose(&s, &other).is_err());
        assert!(choose(&[], &req(1, None)).is_err());
        // Capabilities: the type's specs must match what the backend says.
        let mut caps = req(1, Some("file"));
        caps.extra_specs.insert("vendor_name".into(), "Open Source".into());
        caps.extra_specs.insert("storage_protocol".into(), "file".into());
        caps.extra_specs
            .insert("capabilities:multiattach".into(), "<is> True".into());
        caps.extra_specs.insert("qos:read_iops".into(), "whatever".into());
        assert_eq!(choose(&s, &caps).unwrap(), "b@file");
        caps.extra_specs.insert("storage_protocol".into(), "iSCSI".into());
        assert!(choose(&s, &caps).unwrap_err().contains("storage_protocol"));
        let mut unknown = req(1, Some("file"));
        unknown.extra_specs.insert("made_up".into(), "1".into());
        assert!(choose(&s, &unknown).unwrap_err().contains("made_up"));
    }

    #[test]
    fn spec_operators() {
        use serde_json::json;
        assert!(spec_matches(&json!(true), "<is> True"));
        assert!(!spec_matches(&json!(false), "<is> True"));
        assert!(spec_matches(&json!("file"), "<or> iSCSI <or> file"));
        assert!(spec_matches(&json!("Open Source"), "<in> Open"));
        assert!(spec_matches(&json!(90.5), ">= 10"));
        assert!(!spec_matches(&json!(5), ">= 10"));
        assert!(spec_matches(&json!("Open Source"), "Open Source"));
        assert!(spec_matches(&json!("x"), "s== x"));
    }
}

/// What a backend holds for one project (or `(total)`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostUsage {
    pub project: String,
    pub volumes: i64,
    pub volume_gb: i64,
    pub snapshots: i64,
    pub snapshot_gb: i64,
}

impl BlockStorage {
    /// `(total)` first, then each project, as Cinder's `os-hosts/{host}`.
    pub async fn host_usage(&self, host: &str) -> Result<Vec<HostUsage>> {
        let services = self.services().await?;
        if !services
            .iter()
            .any(|s| s.row.host == host && s.row.binary == VOLUME_BINARY)
        {
            return Err(VolumeError::NotFound(format!("Host {host} could not be found.")));
        }
        let mut per: std::collections::BTreeMap<String, HostUsage> = Default::default();
        let mut total = HostUsage {
            project: "(total)".into(),
            ..Default::default()
        };
        for v in db::volumes::on_host(&self.db, host).await? {
            let e = per.entry(v.project_id.clone()).or_insert_with(|| HostUsage {
                project: v.project_id.clone(),
                ..Default::default()
            });
            e.volumes += 1;
            e.volume_gb += v.size;
            total.volumes += 1;
            total.volume_gb += v.size;
            for s in db::snapshots::of_volume(&self.db, &v.id).await? {
                e.snapshots += 1;
                e.snapshot_gb += s.size;
                total.snapshots += 1;
                total.snapshot_gb += s.size;
            }
        }
        let mut out = vec![total];
        out.extend(per.into_values());
        Ok(out)
    }
}
