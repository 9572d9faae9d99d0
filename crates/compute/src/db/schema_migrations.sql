CREATE TABLE migrations (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    id BIGINT NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL,
    migration_type VARCHAR(32) NOT NULL,
    status VARCHAR(32) NOT NULL,
    source_compute VARCHAR(255),
    source_node VARCHAR(255),
    dest_compute VARCHAR(255),
    dest_node VARCHAR(255),
    dest_host VARCHAR(255),
    old_instance_type_id BIGINT,
    new_instance_type_id BIGINT,
    project_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX migrations_id ON migrations (id);
CREATE INDEX migrations_instance ON migrations (instance_uuid, status);
CREATE INDEX migrations_updated ON migrations (updated_at);
