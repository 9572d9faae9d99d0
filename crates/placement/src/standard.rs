//! The standard resource classes (os-resource-classes) and traits
//! (os-traits 3.x) every Placement knows without being told, and the
//! naming rules for the `CUSTOM_` ones.

/// os-resource-classes' `STANDARDS`, in its order.
pub const RESOURCE_CLASSES: &[&str] = &[
    "VCPU",
    "MEMORY_MB",
    "DISK_GB",
    "PCI_DEVICE",
    "SRIOV_NET_VF",
    "NUMA_SOCKET",
    "NUMA_CORE",
    "NUMA_THREAD",
    "NUMA_MEMORY_MB",
    "IPV4_ADDRESS",
    "VGPU",
    "VGPU_DISPLAY_HEAD",
    "NET_BW_EGR_KILOBIT_PER_SEC",
    "NET_BW_IGR_KILOBIT_PER_SEC",
    "PCPU",
    "MEM_ENCRYPTION_CONTEXT",
    "FPGA",
    "PGPU",
    "NET_PACKET_RATE_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
];

/// The os-traits names, one a line, sorted (generated from os-traits'
/// `TRAITS` lists).
const TRAITS_TEXT: &str = include_str!("standard_traits.txt");

/// The standard traits, sorted.
pub fn traits() -> impl Iterator<Item = &'static str> {
    TRAITS_TEXT.lines().map(str::trim).filter(|l| !l.is_empty())
}

pub fn is_standard_class(name: &str) -> bool {
    RESOURCE_CLASSES.contains(&name)
}

pub fn is_standard_trait(name: &str) -> bool {
    traits().any(|t| t == name)
}

/// `^[A-Z0-9_]+$`, at most 255 characters: the shape of every resource
/// class and trait name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `^CUSTOM_[A-Z0-9_]+$`.
pub fn valid_custom(name: &str) -> bool {
    name.len() > "CUSTOM_".len() && name.starts_with("CUSTOM_") && valid_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names() {
        assert!(is_standard_trait("HW_CPU_X86_AVX2"));
        assert!(is_standard_trait("STORAGE_DISK_SSD"));
        assert!(is_standard_trait("COMPUTE_STATUS_DISABLED"));
        assert!(!is_standard_trait("CUSTOM_X"));
        assert!(traits().count() > 300);
        assert!(is_standard_class("PCPU"));
        assert!(valid_custom("CUSTOM_GOLD"));
        assert!(!valid_custom("CUSTOM_"));
        assert!(!valid_custom("GOLD"));
        assert!(!valid_custom("CUSTOM_gold"));
    }
}
