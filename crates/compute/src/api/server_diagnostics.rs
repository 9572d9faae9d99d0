//! `GET /servers/{id}/diagnostics` (admin): before 2.48 a free-form dict
//! (Nova's libvirt driver's keys: `cpu0_time`, `memory`, `vda_read`,
//! `tap…_rx`, …, only the figures the driver has); from 2.48 Nova's
//! standard model, every field present, `null` where unknown.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use compute_agent::rpc::Diagnostics;
use serde_json::{Map, Value, json};

use super::IdPath;
use super::servers::{ApiResult, Who, visible};
use crate::Compute;
use crate::microversion::Version;

pub fn routes() -> Router<Compute> {
    Router::new().route("/servers/{id}/diagnostics", get(show))
}

async fn show(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdPath { id }): Path<IdPath>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &id, "os_compute_api:os-server-diagnostics").await?;
    let d = c.server_diagnostics(&row.uuid).await?;
    Ok(Json(if v.at_least(48) { standard(&d) } else { legacy(&d) }))
}

/// Nova's `views/server_diagnostics.py` (2.48).
pub(crate) fn standard(d: &Diagnostics) -> Value {
    json!({
        "state": d.state.name(),
        "driver": d.driver,
        "hypervisor": d.hypervisor,
        "hypervisor_os": d.hypervisor_os,
        "uptime": d.uptime,
        "config_drive": d.config_drive,
        "num_cpus": d.cpus.len(),
        "num_disks": d.disks.len(),
        "num_nics": d.nics.len(),
        "memory_details": {"maximum": d.memory.maximum, "used": d.memory.used},
        "cpu_details": d.cpus.iter().map(|c| json!({
            "id": c.id, "time": c.time, "utilisation": c.utilisation,
        })).collect::<Vec<_>>(),
        "disk_details": d.disks.iter().map(|k| json!({
            "read_bytes": k.read_bytes, "read_requests": k.read_requests,
            "write_bytes": k.write_bytes, "write_requests": k.write_requests,
            "errors_count": k.errors_count,
        })).collect::<Vec<_>>(),
        "nic_details": d.nics.iter().map(|n| json!({
            "mac_address": n.mac_address,
            "rx_octets": n.rx_octets, "rx_errors": n.rx_errors, "rx_drop": n.rx_drop,
            "rx_packets": n.rx_packets, "rx_rate": n.rx_rate,
            "tx_octets": n.tx_octets, "tx_errors": n.tx_errors, "tx_drop": n.tx_drop,
            "tx_packets": n.tx_packets, "tx_rate": n.tx_rate,
        })).collect::<Vec<_>>(),
    })
}

/// The pre-2.48 dict, with the names Nova's libvirt driver gives (memory
/// in KiB); figures the driver does not have are left out.
pub(crate) fn legacy(d: &Diagnostics) -> Value {
    let mut m = Map::new();
    let mut put = |k: String, v: Option<u64>| {
        if let Some(v) = v {
            m.insert(k, json!(v));
        }
    };
    for (i, c) in d.cpus.iter().enumerate() {
        put(format!("cpu{}_time", c.id.unwrap_or(i as u32)), c.time);
    }
    put("memory".to_owned(), d.memory.maximum.map(|mib| mib * 1024));
    put("memory-rss".to_owned(), d.memory.used.map(|mib| mib * 1024));
    for k in &d.disks {
        put(format!("{}_read", k.name), k.read_bytes);
        put(format!("{}_read_req", k.name), k.read_requests);
        put(format!("{}_write", k.name), k.write_bytes);
        put(format!("{}_write_req", k.name), k.write_requests);
        put(format!("{}_errors", k.name), k.errors_count);
    }
    for n in &d.nics {
        put(format!("{}_rx", n.name), n.rx_octets);
        put(format!("{}_rx_drop", n.name), n.rx_drop);
        put(format!("{}_rx_errors", n.name), n.rx_errors);
        put(format!("{}_rx_packets", n.name), n.rx_packets);
        put(format!("{}_tx", n.name), n.tx_octets);
        put(format!("{}_tx_drop", n.name), n.tx_drop);
        put(format!("{}_tx_errors", n.name), n.tx_errors);
        put(format!("{}_tx_packets", n.name), n.tx_packets);
    }
    put("uptime".to_owned(), d.uptime);
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use compute_agent::rpc::{CpuDiagnostics, DiskDiagnostics, MemoryDiagnostics, NicDiagnostics, PowerState};

    use super::*;

    fn sample() -> Diagnostics {
        Diagnostics {
            state: PowerState::Running,
            driver: "libvirt".into(),
            hypervisor: Some("qemu".into()),
            hypervisor_os: Some("linux".into()),
            uptime: Some(46),
            config_drive: true,
            memory: MemoryDiagnostics {
                maximum: Some(512),
                used: None,
            },
            cpus: vec![CpuDiagnostics {
                id: Some(0),
                time: Some(1700),
                utilisation: None,
            }],
            disks: vec![DiskDiagnostics {
                name: "vda".into(),
                read_bytes: Some(10),
                ..Default::default()
            }],
            nics: vec![NicDiagnostics {
                name: "tap1".into(),
                mac_address: Some("fa:16:3e:00:00:01".into()),
                rx_octets: Some(5),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_standard_model_has_every_field_and_nulls_for_the_unknown() {
        let v = standard(&sample());
        assert_eq!(v["state"], "running");
        assert_eq!(
            (v["num_cpus"].as_u64(), v["num_disks"].as_u64(), v["num_nics"].as_u64()),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(v["memory_details"], json!({"maximum": 512, "used": null}));
        assert_eq!(
            v["disk_details"][0],
            json!({"read_bytes": 10, "read_requests": null, "write_bytes": null,
            "write_requests": null, "errors_count": null})
        );
        assert_eq!(v["nic_details"][0].as_object().unwrap().len(), 11);
        assert_eq!(v.as_object().unwrap().len(), 13);
    }

    #[test]
    fn the_legacy_dict_names_devices_and_leaves_out_the_unknown() {
        let v = legacy(&sample());
        assert_eq!(
            v,
            json!({"cpu0_time": 1700, "memory": 524288, "vda_read": 10, "tap1_rx": 5, "uptime": 46})
        );
    }
}
