CREATE TABLE volume_attachments (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    volume_id VARCHAR(36) NOT NULL,
    instance_uuid VARCHAR(36),
    attached_host VARCHAR(255),
    mountpoint VARCHAR(255),
    attach_mode VARCHAR(36),
    attach_status VARCHAR(255) NOT NULL,
    connector TEXT,
    connection_info TEXT,
    attach_time BIGINT,
    detach_time BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX volume_attachments_volume ON volume_attachments (volume_id);
CREATE INDEX volume_attachments_instance ON volume_attachments (instance_uuid);
CREATE TABLE volume_messages (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(64) NOT NULL,
    request_id VARCHAR(255) NOT NULL,
    resource_type VARCHAR(36) NOT NULL,
    resource_uuid VARCHAR(36),
    event_id VARCHAR(255) NOT NULL,
    message_level VARCHAR(255) NOT NULL,
    action_id VARCHAR(10) NOT NULL,
    detail_id VARCHAR(10) NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX volume_messages_project ON volume_messages (project_id);
