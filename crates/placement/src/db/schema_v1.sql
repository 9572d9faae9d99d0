CREATE TABLE resource_providers (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    generation BIGINT NOT NULL,
    parent_uuid VARCHAR(36),
    root_uuid VARCHAR(36) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT uniq_resource_providers0name UNIQUE (name),
    CONSTRAINT fk_resource_providers_parent FOREIGN KEY (parent_uuid) REFERENCES resource_providers (uuid)
);
CREATE INDEX resource_providers_root ON resource_providers (root_uuid);
CREATE TABLE resource_classes (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE traits (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE inventories (
    provider_uuid VARCHAR(36) NOT NULL,
    resource_class VARCHAR(255) NOT NULL,
    total BIGINT NOT NULL,
    reserved BIGINT NOT NULL,
    min_unit BIGINT NOT NULL,
    max_unit BIGINT NOT NULL,
    step_size BIGINT NOT NULL,
    allocation_ratio VARCHAR(40) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (provider_uuid, resource_class),
    CONSTRAINT fk_inventories_provider FOREIGN KEY (provider_uuid) REFERENCES resource_providers (uuid)
);
CREATE INDEX inventories_class ON inventories (resource_class);
CREATE TABLE provider_traits (
    provider_uuid VARCHAR(36) NOT NULL,
    trait VARCHAR(255) NOT NULL,
    PRIMARY KEY (provider_uuid, trait),
    CONSTRAINT fk_provider_traits_provider FOREIGN KEY (provider_uuid) REFERENCES resource_providers (uuid)
);
CREATE INDEX provider_traits_trait ON provider_traits (trait);
CREATE TABLE provider_aggregates (
    provider_uuid VARCHAR(36) NOT NULL,
    aggregate_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (provider_uuid, aggregate_uuid),
    CONSTRAINT fk_provider_aggregates_provider FOREIGN KEY (provider_uuid) REFERENCES resource_providers (uuid)
);
CREATE INDEX provider_aggregates_aggregate ON provider_aggregates (aggregate_uuid);
CREATE TABLE consumers (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    generation BIGINT NOT NULL,
    consumer_type VARCHAR(255),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX consumers_project_user ON consumers (project_id, user_id);
CREATE TABLE allocations (
    consumer_uuid VARCHAR(36) NOT NULL,
    provider_uuid VARCHAR(36) NOT NULL,
    resource_class VARCHAR(255) NOT NULL,
    used BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (consumer_uuid, provider_uuid, resource_class),
    CONSTRAINT fk_allocations_provider FOREIGN KEY (provider_uuid) REFERENCES resource_providers (uuid)
);
CREATE INDEX allocations_provider_class ON allocations (provider_uuid, resource_class);
