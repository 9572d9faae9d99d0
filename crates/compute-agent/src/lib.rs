//! The compute agent (nova-compute): runs instances on one host through a
//! hypervisor driver.
//!
//! Where it sits: one per compute node (`oxistack up` runs one in process).
//! It has no database of its own and talks to the controller only over the
//! message bus ([`rpc`] is the whole contract): it listens on
//! `compute.<host>` for instance operations, and casts to `conductor` its
//! heartbeats (with the host's resources) and every change of an
//! instance's `vm_state`/`task_state`/`power_state`.
//!
//! Rooms, in the order of every agent crate:
//! - [`rpc`]: the contract with the controller (topics, methods, messages,
//!   Nova's state names).
//! - [`agent`]: the agent's life — [`Agent::start`] reconciles, listens on
//!   `compute.<host>` and reports every `report_interval`;
//!   [`Agent::stop`] ends all of it.
//! - `manager`: Nova's `ComputeManager` — builds and instance actions run
//!   through the driver, one at a time per instance, and their outcomes
//!   become the `instance_update`s Nova would make (states, faults,
//!   instance-action events, `expected_task_state` guards).
//! - `volumes`: the agent's half of a volume attach or detach (Nova's
//!   `driver_block_device`): connect through [`volume_client`], the
//!   driver's hot-plug, the roll-backs.
//! - `reconcile`: what the agent does at start with instances the
//!   controller places here and the driver has or lacks (Nova's
//!   `init_host`); its doc has the table.
//! - [`driver`]: the [`Driver`] trait (Nova's `ComputeDriver`) and one
//!   module per driver: [`driver::fake`] (in memory, optionally persisted
//!   to a JSON file) and [`driver::qemu`] (QEMU processes over QMP). OS
//!   commands live only in driver modules.
//!
//! Decisions where Nova was not a direct guide:
//! - The agent reports no intermediate task states of an action; the
//!   closing update expects the task state the controller set
//!   ([`rpc::Action::task_state`]). A build goes `scheduling` →
//!   `spawning` → `active`.
//! - A failed build is always `retryable` (the conductor decides whether
//!   to re-schedule); what the failed spawn left on the host is destroyed
//!   first.
//! - Terminating an instance the driver no longer has succeeds.
//! - The bus delivers at least once: a build delivered again is not run
//!   again (the agent remembers the builds it took since start, and a
//!   build whose instance the driver already has reports it again rather
//!   than spawning). A build the start-up reconciliation gave up on is not
//!   run when its message comes later.
//! - An instance's update (or failed build) the bus cannot take is tried
//!   again until it goes or the agent stops; a heartbeat is not.

pub mod agent;
pub mod driver;
pub mod host;
mod manager;
mod reconcile;
pub mod rpc;
pub mod volume_client;
mod volumes;

pub use agent::{Agent, AgentConfig, AgentError};
pub use driver::{Driver, DriverError, DriverInstance, FakeDriver, InstanceInfo, QemuConfig, QemuDriver};
