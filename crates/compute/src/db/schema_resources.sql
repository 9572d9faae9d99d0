CREATE TABLE flavors (
    flavorid VARCHAR(255) NOT NULL PRIMARY KEY,
    id BIGINT NOT NULL,
    name VARCHAR(255) NOT NULL,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    root_gb BIGINT NOT NULL,
    ephemeral_gb BIGINT NOT NULL,
    swap BIGINT NOT NULL,
    rxtx_factor DOUBLE PRECISION NOT NULL,
    is_public BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE UNIQUE INDEX flavors_name ON flavors (name);
CREATE UNIQUE INDEX flavors_id ON flavors (id);
CREATE TABLE flavor_extra_specs (
    flavorid VARCHAR(255) NOT NULL,
    spec_key VARCHAR(255) NOT NULL,
    spec_value VARCHAR(255) NOT NULL,
    PRIMARY KEY (flavorid, spec_key)
);
CREATE TABLE flavor_projects (
    flavorid VARCHAR(255) NOT NULL,
    project_id VARCHAR(255) NOT NULL,
    PRIMARY KEY (flavorid, project_id)
);
CREATE TABLE key_pairs (
    id BIGINT NOT NULL PRIMARY KEY,
    user_id VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    fingerprint VARCHAR(255) NOT NULL,
    public_key TEXT NOT NULL,
    key_type VARCHAR(16) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE UNIQUE INDEX key_pairs_user_name ON key_pairs (user_id, name);
CREATE TABLE compute_services (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    host VARCHAR(255) NOT NULL,
    binary_name VARCHAR(255) NOT NULL,
    topic VARCHAR(255) NOT NULL,
    report_count BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    disabled_reason VARCHAR(255),
    forced_down BIGINT NOT NULL,
    version VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE UNIQUE INDEX compute_services_uuid ON compute_services (uuid);
CREATE UNIQUE INDEX compute_services_host_binary ON compute_services (host, binary_name);
CREATE TABLE compute_nodes (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    service_id BIGINT NOT NULL,
    host VARCHAR(255) NOT NULL,
    hypervisor_hostname VARCHAR(255) NOT NULL,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    local_gb BIGINT NOT NULL,
    hypervisor_type VARCHAR(255) NOT NULL,
    hypervisor_version BIGINT NOT NULL,
    host_ip VARCHAR(64) NOT NULL,
    cpu_info TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE UNIQUE INDEX compute_nodes_uuid ON compute_nodes (uuid);
CREATE UNIQUE INDEX compute_nodes_hostname ON compute_nodes (hypervisor_hostname);
CREATE TABLE aggregates (
    id BIGINT NOT NULL PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT
);
CREATE UNIQUE INDEX aggregates_uuid ON aggregates (uuid);
CREATE UNIQUE INDEX aggregates_name ON aggregates (name);
CREATE TABLE aggregate_hosts (
    aggregate_id BIGINT NOT NULL,
    host VARCHAR(255) NOT NULL,
    PRIMARY KEY (aggregate_id, host)
);
CREATE TABLE aggregate_metadata (
    aggregate_id BIGINT NOT NULL,
    meta_key VARCHAR(255) NOT NULL,
    meta_value VARCHAR(255) NOT NULL,
    PRIMARY KEY (aggregate_id, meta_key)
);
