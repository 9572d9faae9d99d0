CREATE TABLE networks (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description VARCHAR(255) NOT NULL,
    admin_state_up BIGINT NOT NULL,
    shared BIGINT NOT NULL,
    router_external BIGINT NOT NULL,
    mtu BIGINT NOT NULL,
    port_security_enabled BIGINT NOT NULL,
    network_type VARCHAR(32) NOT NULL,
    physical_network VARCHAR(64),
    segmentation_id BIGINT,
    segment_key VARCHAR(128),
    availability_zone_hints TEXT NOT NULL,
    allocation_lock BIGINT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT uniq_networks0segment_key UNIQUE (segment_key)
);
CREATE INDEX networks_project ON networks (project_id);
CREATE TABLE subnets (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    network_id VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description VARCHAR(255) NOT NULL,
    ip_version BIGINT NOT NULL,
    cidr VARCHAR(64) NOT NULL,
    gateway_ip VARCHAR(64),
    enable_dhcp BIGINT NOT NULL,
    ipv6_ra_mode VARCHAR(32),
    ipv6_address_mode VARCHAR(32),
    allocation_pools TEXT NOT NULL,
    dns_nameservers TEXT NOT NULL,
    host_routes TEXT NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT fk_subnets_network FOREIGN KEY (network_id) REFERENCES networks (id)
);
CREATE INDEX subnets_network ON subnets (network_id);
CREATE INDEX subnets_project ON subnets (project_id);
CREATE TABLE ports (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    network_id VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description VARCHAR(255) NOT NULL,
    mac_address VARCHAR(32) NOT NULL,
    admin_state_up BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    device_id VARCHAR(255) NOT NULL,
    device_owner VARCHAR(255) NOT NULL,
    port_security_enabled BIGINT NOT NULL,
    allowed_address_pairs TEXT NOT NULL,
    binding_host_id VARCHAR(255) NOT NULL,
    binding_vnic_type VARCHAR(64) NOT NULL,
    binding_profile TEXT NOT NULL,
    dns_name VARCHAR(255) NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT uniq_ports0network_id0mac_address UNIQUE (network_id, mac_address),
    CONSTRAINT fk_ports_network FOREIGN KEY (network_id) REFERENCES networks (id)
);
CREATE INDEX ports_project ON ports (project_id);
CREATE INDEX ports_device ON ports (device_id);
CREATE TABLE ip_allocations (
    subnet_id VARCHAR(36) NOT NULL,
    ip_address VARCHAR(64) NOT NULL,
    port_id VARCHAR(36) NOT NULL,
    network_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (subnet_id, ip_address),
    CONSTRAINT fk_ip_allocations_subnet FOREIGN KEY (subnet_id) REFERENCES subnets (id),
    CONSTRAINT fk_ip_allocations_port FOREIGN KEY (port_id) REFERENCES ports (id)
);
CREATE INDEX ip_allocations_port ON ip_allocations (port_id);
CREATE INDEX ip_allocations_network ON ip_allocations (network_id);
CREATE TABLE security_groups (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description VARCHAR(255) NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX security_groups_project ON security_groups (project_id);
CREATE TABLE default_security_groups (
    project_id VARCHAR(255) NOT NULL PRIMARY KEY,
    security_group_id VARCHAR(36) NOT NULL,
    CONSTRAINT fk_default_security_groups_group FOREIGN KEY (security_group_id) REFERENCES security_groups (id)
);
CREATE TABLE security_group_rules (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    security_group_id VARCHAR(36) NOT NULL,
    direction VARCHAR(16) NOT NULL,
    ethertype VARCHAR(8) NOT NULL,
    protocol VARCHAR(40),
    port_range_min BIGINT,
    port_range_max BIGINT,
    remote_ip_prefix VARCHAR(64),
    remote_group_id VARCHAR(36),
    description VARCHAR(255) NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT fk_security_group_rules_group FOREIGN KEY (security_group_id) REFERENCES security_groups (id)
);
CREATE INDEX security_group_rules_group ON security_group_rules (security_group_id);
CREATE INDEX security_group_rules_remote ON security_group_rules (remote_group_id);
CREATE TABLE port_security_groups (
    port_id VARCHAR(36) NOT NULL,
    security_group_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (port_id, security_group_id),
    CONSTRAINT fk_port_security_groups_port FOREIGN KEY (port_id) REFERENCES ports (id),
    CONSTRAINT fk_port_security_groups_group FOREIGN KEY (security_group_id) REFERENCES security_groups (id)
);
CREATE INDEX port_security_groups_group ON port_security_groups (security_group_id);
CREATE TABLE quotas (
    project_id VARCHAR(255) NOT NULL,
    resource VARCHAR(64) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
CREATE TABLE tags (
    resource_type VARCHAR(32) NOT NULL,
    resource_id VARCHAR(36) NOT NULL,
    tag VARCHAR(255) NOT NULL,
    PRIMARY KEY (resource_type, resource_id, tag)
);
