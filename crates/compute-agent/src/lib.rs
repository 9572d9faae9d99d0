//! The compute agent (nova-compute): runs instances on one host through a
//! hypervisor driver.
//!
//! Where it sits: one per compute node (`oxistack up` runs one in process).
//! It has no database of its own and talks to the controller only over the
//! message bus ([`rpc`] is the whole contract): it listens on
//! `compute.<host>` for instance operations, and casts to `conductor` its
//! heartbeats (with the host's resources) and every change of an
//! instance's `vm_state`/`task_state`/`power_state`.

pub mod rpc;
