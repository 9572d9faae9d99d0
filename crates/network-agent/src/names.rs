//! Kernel object names derived from Neutron resource ids, exactly as
//! Neutron's linuxbridge, DHCP and L3 agents derive them, so that an operator
//! who knows Neutron finds the same names, and so that an agent started
//! again finds what it made before without a record of its own.
//!
//! Interface names are at most 15 bytes (`IFNAMSIZ` - 1): a 3-byte prefix
//! and the first 11 characters of the id.

use crate::Error;

/// How much of an id goes into an interface name.
const ID_CHARS_IN_NAME: usize = 11;

/// The network's Linux bridge, in the root namespace.
pub fn bridge(network_id: &str) -> String {
    format!("brq{}", short(network_id))
}

/// A port's tap (an instance's) or the bridge end of a DHCP port's veth.
pub fn tap(port_id: &str) -> String {
    format!("tap{}", short(port_id))
}

/// The namespace end of a DHCP port's veth.
pub fn dhcp_interface(port_id: &str) -> String {
    format!("ns-{}", short(port_id))
}

/// The network's DHCP namespace (namespace names are not length-limited).
pub fn dhcp_namespace(network_id: &str) -> String {
    format!("qdhcp-{network_id}")
}

/// The namespace end of a router interface's veth (its bridge end is
/// [`tap`]).
pub fn router_interface(port_id: &str) -> String {
    format!("qr-{}", short(port_id))
}

/// The namespace end of a router's external gateway veth (its bridge end
/// is [`tap`]).
pub fn router_gateway(port_id: &str) -> String {
    format!("qg-{}", short(port_id))
}

/// The router's namespace.
pub fn router_namespace(router_id: &str) -> String {
    format!("qrouter-{router_id}")
}

fn short(id: &str) -> &str {
    // Ids are checked to be ASCII, so this never splits a character.
    &id[..id.len().min(ID_CHARS_IN_NAME)]
}

/// Ids become interface names, namespace names, file names and command
/// arguments: only what a UUID is made of is accepted, and enough of it
/// that two resources do not share a name.
pub fn check_id(what: &str, id: &str) -> Result<(), Error> {
    let ok = id.len() >= ID_CHARS_IN_NAME && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSpec(format!(
            "{what} id {id:?}: expected at least {ID_CHARS_IN_NAME} characters of [0-9A-Za-z-]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_neutrons() {
        let id = "3b2a1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
        assert_eq!(bridge(id), "brq3b2a1c4d-5e");
        assert_eq!(tap(id), "tap3b2a1c4d-5e");
        assert_eq!(dhcp_interface(id), "ns-3b2a1c4d-5e");
        assert_eq!(dhcp_namespace(id), "qdhcp-3b2a1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
        assert_eq!(router_interface(id), "qr-3b2a1c4d-5e");
        assert_eq!(router_gateway(id), "qg-3b2a1c4d-5e");
        assert_eq!(router_namespace(id), "qrouter-3b2a1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
        assert!(bridge(id).len() <= 15);
    }

    #[test]
    fn ids_that_would_make_bad_names_are_refused() {
        assert!(check_id("network", "3b2a1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d").is_ok());
        assert!(check_id("network", "short").is_err());
        assert!(check_id("network", "../../etc/passwd-xx").is_err());
        assert!(check_id("network", "3b2a1c4d 5e6f").is_err());
    }
}
