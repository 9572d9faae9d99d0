//! Each guest's QEMU process runs in a cgroup of its own, limited to the
//! flavor's memory (plus QEMU's own overhead) and vCPUs.
//!
//! Hosts differ: a pure cgroup v2 host has one tree with `memory.max` and
//! `cpu.max`; a v1 or hybrid host (these machines: memory is bound to v1)
//! has one tree per controller with `memory.limit_in_bytes` and
//! `cpu.cfs_quota_us`. The layout is read once, at driver start.

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
/// The parent group of every guest, under each controller's root.
const PARENT: &str = "oxistack-guests";
const CPU_PERIOD_US: u64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One unified tree where `memory` and `cpu` are enabled.
    V2(PathBuf),
    /// Separate `memory` and `cpu` hierarchies.
    V1 { memory: PathBuf, cpu: Option<PathBuf> },
    /// No writable memory controller: guests run without limits (said at start).
    None,
}

impl Layout {
    pub fn detect() -> Layout {
        Layout::detect_at(Path::new(ROOT))
    }

    fn detect_at(root: &Path) -> Layout {
        let v1_memory = root.join("memory");
        if v1_memory.join("memory.limit_in_bytes").exists() {
            let cpu = [root.join("cpu"), root.join("cpu,cpuacct")]
                .into_iter()
                .find(|p| p.join("cpu.cfs_quota_us").exists());
            return Layout::V1 { memory: v1_memory, cpu };
        }
        match std::fs::read_to_string(root.join("cgroup.controllers")) {
            Ok(c) if c.split_whitespace().any(|x| x == "memory") => Layout::V2(root.to_path_buf()),
            _ => Layout::None,
        }
    }

    /// Creates the guest's group with its limits and moves `pid` into it.
    pub fn confine(&self, name: &str, pid: u32, memory_mb: u64, vcpus: u32) -> std::io::Result<()> {
        let memory_bytes = memory_mb * 1024 * 1024;
        let quota_us = CPU_PERIOD_US * u64::from(vcpus.max(1));
        match self {
            Layout::V2(root) => {
                let parent = root.join(PARENT);
                std::fs::create_dir_all(&parent)?;
                // Children can only use the controllers their parent hands down.
                std::fs::write(parent.join("cgroup.subtree_control"), "+memory +cpu")?;
                let group = parent.join(name);
                std::fs::create_dir_all(&group)?;
                std::fs::write(group.join("memory.max"), memory_bytes.to_string())?;
                std::fs::write(group.join("cpu.max"), format!("{quota_us} {CPU_PERIOD_US}"))?;
                std::fs::write(group.join("cgroup.procs"), pid.to_string())
            }
            Layout::V1 { memory, cpu } => {
                let group = memory.join(PARENT).join(name);
                std::fs::create_dir_all(&group)?;
                std::fs::write(group.join("memory.limit_in_bytes"), memory_bytes.to_string())?;
                std::fs::write(group.join("cgroup.procs"), pid.to_string())?;
                if let Some(cpu) = cpu {
                    let group = cpu.join(PARENT).join(name);
                    std::fs::create_dir_all(&group)?;
                    std::fs::write(group.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
                    std::fs::write(group.join("cpu.cfs_quota_us"), quota_us.to_string())?;
                    std::fs::write(group.join("cgroup.procs"), pid.to_string())?;
                }
                Ok(())
            }
            Layout::None => Ok(()),
        }
    }

    /// The guest's memory limit in bytes, as the kernel holds it.
    pub fn memory_limit(&self, name: &str) -> Option<u64> {
        let file = match self {
            Layout::V2(root) => root.join(PARENT).join(name).join("memory.max"),
            Layout::V1 { memory, .. } => memory.join(PARENT).join(name).join("memory.limit_in_bytes"),
            Layout::None => return None,
        };
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    }

    /// Removes the guest's groups once the kernel has let go of its
    /// processes (an exited process leaves its group a moment later);
    /// gives up after two seconds, leaving an empty group behind.
    pub async fn release(&self, name: &str) {
        let groups = match self {
            Layout::V2(root) => vec![root.join(PARENT).join(name)],
            Layout::V1 { memory, cpu } => {
                let mut g = vec![memory.join(PARENT).join(name)];
                g.extend(cpu.iter().map(|c| c.join(PARENT).join(name)));
                g
            }
            Layout::None => Vec::new(),
        };
        for _ in 0..40 {
            if groups.iter().all(|g| std::fs::remove_dir(g).is_ok() || !g.exists()) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tracing::warn!(guest = %name, "the guest's cgroup is still busy; left in place");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_memory_wins_on_a_hybrid_host() {
        let root = std::env::temp_dir().join(format!("cgroup-layout-{}", std::process::id()));
        std::fs::create_dir_all(root.join("memory")).unwrap();
        std::fs::create_dir_all(root.join("cpu")).unwrap();
        std::fs::write(root.join("memory/memory.limit_in_bytes"), "max").unwrap();
        std::fs::write(root.join("cpu/cpu.cfs_quota_us"), "-1").unwrap();
        std::fs::write(root.join("cgroup.controllers"), "memory cpu").unwrap();
        assert_eq!(
            Layout::detect_at(&root),
            Layout::V1 {
                memory: root.join("memory"),
                cpu: Some(root.join("cpu"))
            }
        );
        std::fs::remove_file(root.join("memory/memory.limit_in_bytes")).unwrap();
        assert_eq!(Layout::detect_at(&root), Layout::V2(root.clone()));
        std::fs::remove_file(root.join("cgroup.controllers")).unwrap();
        assert_eq!(Layout::detect_at(&root), Layout::None);
        std::fs::remove_dir_all(root).unwrap();
    }
}
