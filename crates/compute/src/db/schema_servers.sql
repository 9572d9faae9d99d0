CREATE TABLE instances (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    id BIGINT NOT NULL,
    display_name VARCHAR(255) NOT NULL,
    display_description TEXT,
    hostname VARCHAR(255) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    host VARCHAR(255),
    node VARCHAR(255),
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    root_gb BIGINT NOT NULL,
    ephemeral_gb BIGINT NOT NULL,
    flavor_id VARCHAR(255) NOT NULL,
    flavor TEXT NOT NULL,
    old_flavor TEXT,
    image_ref VARCHAR(36),
    image TEXT,
    vm_state VARCHAR(32) NOT NULL,
    task_state VARCHAR(64),
    power_state BIGINT NOT NULL,
    key_name VARCHAR(255),
    key_data TEXT,
    user_data TEXT,
    availability_zone VARCHAR(255),
    requested_az VARCHAR(255),
    requested_host VARCHAR(255),
    config_drive VARCHAR(255) NOT NULL,
    locked BIGINT NOT NULL,
    locked_by VARCHAR(16),
    locked_reason TEXT,
    access_ip_v4 VARCHAR(64),
    access_ip_v6 VARCHAR(64),
    progress BIGINT NOT NULL,
    reservation_id VARCHAR(64) NOT NULL,
    launch_index BIGINT NOT NULL,
    networks TEXT,
    group_uuid VARCHAR(36),
    attempts BIGINT NOT NULL,
    tried_hosts TEXT NOT NULL,
    shelved_image_id VARCHAR(36),
    fault_code BIGINT,
    fault_message TEXT,
    fault_details TEXT,
    fault_created_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    launched_at BIGINT,
    terminated_at BIGINT,
    deleted_at BIGINT,
    deleted BIGINT NOT NULL
);
CREATE UNIQUE INDEX instances_id ON instances (id);
CREATE INDEX instances_project ON instances (project_id, deleted);
CREATE INDEX instances_host ON instances (host, deleted);
CREATE TABLE instance_metadata (
    instance_uuid VARCHAR(36) NOT NULL,
    meta_key VARCHAR(255) NOT NULL,
    meta_value VARCHAR(255) NOT NULL,
    PRIMARY KEY (instance_uuid, meta_key)
);
CREATE TABLE instance_tags (
    instance_uuid VARCHAR(36) NOT NULL,
    tag VARCHAR(60) NOT NULL,
    PRIMARY KEY (instance_uuid, tag)
);
CREATE TABLE instance_actions (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    instance_uuid VARCHAR(36) NOT NULL,
    action VARCHAR(255) NOT NULL,
    request_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    start_time BIGINT NOT NULL,
    finish_time BIGINT,
    message VARCHAR(255),
    updated_at BIGINT NOT NULL
);
CREATE INDEX instance_actions_instance ON instance_actions (instance_uuid, start_time);
CREATE TABLE instance_action_events (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    action_id VARCHAR(36) NOT NULL,
    event VARCHAR(255) NOT NULL,
    start_time BIGINT NOT NULL,
    finish_time BIGINT,
    result VARCHAR(255),
    traceback TEXT,
    host VARCHAR(255)
);
CREATE INDEX instance_action_events_action ON instance_action_events (action_id);
CREATE TABLE server_groups (
    uuid VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    policy VARCHAR(32) NOT NULL,
    rules TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE server_group_members (
    group_uuid VARCHAR(36) NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (group_uuid, instance_uuid)
);
CREATE TABLE quota_limits (
    project_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    resource VARCHAR(64) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id, resource)
);
CREATE TABLE quota_class_limits (
    class_name VARCHAR(64) NOT NULL,
    resource VARCHAR(64) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);
