CREATE TABLE volumes (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255),
    description TEXT,
    project_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    status VARCHAR(30) NOT NULL,
    size BIGINT NOT NULL,
    availability_zone VARCHAR(255) NOT NULL,
    volume_type_id VARCHAR(36) NOT NULL,
    host VARCHAR(255),
    bootable BIGINT NOT NULL,
    readonly BIGINT NOT NULL,
    multiattach BIGINT NOT NULL,
    snapshot_id VARCHAR(36),
    source_volid VARCHAR(36),
    metadata TEXT NOT NULL,
    image_metadata TEXT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX volumes_project ON volumes (project_id);
CREATE INDEX volumes_host ON volumes (host);
CREATE TABLE snapshots (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255),
    description TEXT,
    project_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    volume_id VARCHAR(36) NOT NULL,
    volume_type_id VARCHAR(36) NOT NULL,
    status VARCHAR(30) NOT NULL,
    size BIGINT NOT NULL,
    metadata TEXT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX snapshots_project ON snapshots (project_id);
CREATE INDEX snapshots_volume ON snapshots (volume_id);
CREATE TABLE volume_types (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    is_public BIGINT NOT NULL,
    extra_specs TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX volume_types_name ON volume_types (name);
CREATE TABLE volume_type_projects (
    volume_type_id VARCHAR(36) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (volume_type_id, project_id)
);
CREATE TABLE volume_quotas (
    project_id VARCHAR(64) NOT NULL,
    resource VARCHAR(255) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
CREATE TABLE volume_services (
    host VARCHAR(255) NOT NULL,
    bin VARCHAR(64) NOT NULL,
    availability_zone VARCHAR(255) NOT NULL,
    backend_name VARCHAR(255),
    total_capacity_gb DOUBLE PRECISION NOT NULL,
    free_capacity_gb DOUBLE PRECISION NOT NULL,
    version VARCHAR(64) NOT NULL,
    disabled BIGINT NOT NULL,
    disabled_reason TEXT,
    frozen BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (host, bin)
);
