CREATE TABLE block_device_mapping (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    instance_uuid VARCHAR(36) NOT NULL,
    volume_id VARCHAR(36) NOT NULL,
    device_name VARCHAR(64) NOT NULL,
    tag VARCHAR(60),
    delete_on_termination BIGINT NOT NULL,
    source_type VARCHAR(32) NOT NULL,
    destination_type VARCHAR(32) NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX bdm_instance_volume ON block_device_mapping (instance_uuid, volume_id);
CREATE UNIQUE INDEX bdm_instance_device ON block_device_mapping (instance_uuid, device_name);
CREATE INDEX bdm_volume ON block_device_mapping (volume_id);
