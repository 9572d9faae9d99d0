//! The scale-out mode for real: one controller and two compute nodes as
//! separate `oxistack serve` processes on this machine, sharing the real
//! PostgreSQL and RabbitMQ (env `OXISTACK_TEST_POSTGRES`,
//! `OXISTACK_TEST_RABBIT`; skipped when either is unset). Servers spread
//! over both hosts, anti-affinity puts a group's members apart, and when a
//! compute node is killed its service goes `down`, its servers show
//! `host_status: DOWN`, deleting one there still works (a local delete),
//! and new servers go to the host that is left.

mod common;

use common::{Cluster, ClusterSpec, host_of};
use serde_json::json;

#[tokio::test]
async fn one_controller_two_compute_nodes_over_postgres_and_rabbitmq() {
    // Both agents are up when this returns, and so are their resource
    // providers (the conductor creates a host's provider before it marks
    // the host up).
    let Some(mut cluster) = Cluster::start(ClusterSpec {
        name: "scale-out",
        port_offset: 21700,
        computes: vec![("compute-1", "so-compute-1"), ("compute-2", "so-compute-2")],
        compute_options: String::new(),
        service_down_time: 4,
    })
    .await
    else {
        return;
    };

    for host in ["so-compute-1", "so-compute-2"] {
        cluster.provider(host).await;
    }

    // A flavor and an image to boot from.
    let flavor = cluster.flavor("so.small", 256, 1, 1).await;
    let image = cluster.image("so-image").await;

    // Servers spread over both hosts.
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(cluster.boot(&format!("so-{i}"), &flavor, &image, json!({})).await);
    }
    let mut hosts = Vec::new();
    for id in &ids {
        hosts.push(host_of(&cluster.wait_active(id).await));
    }
    for host in ["so-compute-1", "so-compute-2"] {
        assert!(hosts.iter().any(|h| h == host), "no server on {host}: {hosts:?}");
    }

    // Anti-affinity: a group's two members on two hosts.
    let (status, body) = cluster
        .call(
            reqwest::Method::POST,
            "/os-server-groups",
            Some(json!({"server_group": {"name": "so-apart", "policy": "anti-affinity"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let group = body["server_group"]["id"].as_str().expect("group id").to_owned();
    let a = cluster
        .boot("so-apart-a", &flavor, &image, json!({"group": group}))
        .await;
    let a = host_of(&cluster.wait_active(&a).await);
    let b = cluster
        .boot("so-apart-b", &flavor, &image, json!({"group": group}))
        .await;
    let b = host_of(&cluster.wait_active(&b).await);
    assert_ne!(a, b, "anti-affinity members share a host");

    // Kill compute-2: its service goes down, its servers say so.
    cluster.kill("compute-2");
    cluster.wait_service("so-compute-2", "down").await;
    let on_dead: Vec<&String> = ids
        .iter()
        .zip(&hosts)
        .filter(|(_, h)| *h == "so-compute-2")
        .map(|(id, _)| id)
        .collect();
    let victim = on_dead[0].clone();
    let s = cluster.server(&victim).await;
    assert_eq!(s["host_status"], "DOWN", "{s}");

    // Deleting a server on the dead host is a local delete.
    cluster.delete(&victim).await;

    // New servers go to the host that is left.
    let last = cluster.boot("so-after", &flavor, &image, json!({})).await;
    assert_eq!(host_of(&cluster.wait_active(&last).await), "so-compute-1");
    cluster.finish();
}
