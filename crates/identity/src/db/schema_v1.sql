CREATE TABLE projects (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    parent_id VARCHAR(64),
    is_domain BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    description TEXT,
    extra TEXT NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE TABLE project_tags (
    project_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    PRIMARY KEY (project_id, name)
);
CREATE TABLE users (
    id VARCHAR(64) PRIMARY KEY,
    domain_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    enabled BIGINT NOT NULL,
    password_hash VARCHAR(255),
    password_created_at BIGINT,
    password_expires_at BIGINT,
    default_project_id VARCHAR(64),
    description TEXT,
    extra TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE TABLE groups_ (
    id VARCHAR(64) PRIMARY KEY,
    domain_id VARCHAR(64) NOT NULL,
    name VARCHAR(64) NOT NULL,
    description TEXT,
    extra TEXT NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE TABLE group_members (
    group_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE TABLE roles (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    description TEXT,
    extra TEXT NOT NULL,
    UNIQUE (name, domain_id)
);
CREATE TABLE implied_roles (
    prior_role_id VARCHAR(64) NOT NULL,
    implied_role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (prior_role_id, implied_role_id)
);
CREATE TABLE assignments (
    kind VARCHAR(16) NOT NULL,
    actor_id VARCHAR(64) NOT NULL,
    target_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    inherited BIGINT NOT NULL,
    PRIMARY KEY (kind, actor_id, target_id, role_id, inherited)
);
CREATE INDEX assignments_target ON assignments (target_id);
CREATE INDEX assignments_role ON assignments (role_id);
CREATE TABLE regions (
    id VARCHAR(255) PRIMARY KEY,
    description TEXT,
    parent_region_id VARCHAR(255),
    extra TEXT NOT NULL
);
CREATE TABLE services (
    id VARCHAR(64) PRIMARY KEY,
    type VARCHAR(255) NOT NULL,
    name VARCHAR(255),
    description TEXT,
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE endpoints (
    id VARCHAR(64) PRIMARY KEY,
    interface VARCHAR(8) NOT NULL,
    service_id VARCHAR(64) NOT NULL,
    url TEXT NOT NULL,
    region_id VARCHAR(255),
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE credentials (
    id VARCHAR(64) PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    type VARCHAR(255) NOT NULL,
    blob_data TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE INDEX credentials_user ON credentials (user_id);
CREATE TABLE application_credentials (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    secret_hash VARCHAR(255) NOT NULL,
    description TEXT,
    user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    system_scope VARCHAR(64),
    expires_at BIGINT,
    unrestricted BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE application_credential_roles (
    application_credential_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (application_credential_id, role_id)
);
CREATE TABLE access_rules (
    id VARCHAR(64) PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL,
    service VARCHAR(64) NOT NULL,
    path VARCHAR(128) NOT NULL,
    method VARCHAR(16) NOT NULL
);
CREATE TABLE application_credential_access_rules (
    application_credential_id VARCHAR(64) NOT NULL,
    access_rule_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (application_credential_id, access_rule_id)
);
CREATE TABLE trusts (
    id VARCHAR(64) PRIMARY KEY,
    trustor_user_id VARCHAR(64) NOT NULL,
    trustee_user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    impersonation BIGINT NOT NULL,
    expires_at BIGINT,
    remaining_uses BIGINT,
    redelegated_trust_id VARCHAR(64),
    redelegation_count BIGINT,
    deleted_at BIGINT,
    extra TEXT NOT NULL
);
CREATE TABLE trust_roles (
    trust_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (trust_id, role_id)
);
CREATE TABLE revocation_events (
    id VARCHAR(64) PRIMARY KEY,
    user_id VARCHAR(64),
    project_id VARCHAR(64),
    domain_id VARCHAR(64),
    audit_id VARCHAR(64),
    trust_id VARCHAR(64),
    role_id VARCHAR(64),
    application_credential_id VARCHAR(64),
    issued_before BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE TABLE registered_limits (
    id VARCHAR(64) PRIMARY KEY,
    service_id VARCHAR(64) NOT NULL,
    region_id VARCHAR(255),
    resource_name VARCHAR(255) NOT NULL,
    default_limit BIGINT NOT NULL,
    description TEXT
);
CREATE TABLE limits (
    id VARCHAR(64) PRIMARY KEY,
    project_id VARCHAR(64),
    domain_id VARCHAR(64),
    service_id VARCHAR(64) NOT NULL,
    region_id VARCHAR(255),
    resource_name VARCHAR(255) NOT NULL,
    resource_limit BIGINT NOT NULL,
    description TEXT
);
CREATE TABLE policies (
    id VARCHAR(64) PRIMARY KEY,
    type VARCHAR(255) NOT NULL,
    blob_data TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE domain_configs (
    domain_id VARCHAR(64) NOT NULL,
    group_name VARCHAR(255) NOT NULL,
    option_name VARCHAR(255) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (domain_id, group_name, option_name)
);
CREATE TABLE endpoint_groups (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    description TEXT,
    filters TEXT NOT NULL
);
CREATE TABLE project_endpoint_groups (
    endpoint_group_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (endpoint_group_id, project_id)
);
CREATE TABLE project_endpoints (
    endpoint_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (endpoint_id, project_id)
);
CREATE TABLE oauth_consumers (
    id VARCHAR(64) PRIMARY KEY,
    description TEXT,
    secret VARCHAR(255) NOT NULL,
    extra TEXT NOT NULL
);
