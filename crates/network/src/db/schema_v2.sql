CREATE TABLE routers (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description VARCHAR(255) NOT NULL,
    admin_state_up BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    enable_snat BIGINT NOT NULL,
    gw_port_id VARCHAR(36),
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT fk_routers_gw_port FOREIGN KEY (gw_port_id) REFERENCES ports (id)
);
CREATE INDEX routers_project ON routers (project_id);
CREATE TABLE router_ports (
    port_id VARCHAR(36) NOT NULL PRIMARY KEY,
    router_id VARCHAR(36) NOT NULL,
    port_type VARCHAR(255) NOT NULL,
    CONSTRAINT fk_router_ports_router FOREIGN KEY (router_id) REFERENCES routers (id),
    CONSTRAINT fk_router_ports_port FOREIGN KEY (port_id) REFERENCES ports (id)
);
CREATE INDEX router_ports_router ON router_ports (router_id);
CREATE TABLE router_routes (
    router_id VARCHAR(36) NOT NULL,
    destination VARCHAR(64) NOT NULL,
    nexthop VARCHAR(64) NOT NULL,
    PRIMARY KEY (router_id, destination, nexthop),
    CONSTRAINT fk_router_routes_router FOREIGN KEY (router_id) REFERENCES routers (id)
);
CREATE TABLE floatingips (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    floating_network_id VARCHAR(36) NOT NULL,
    floating_ip_address VARCHAR(64) NOT NULL,
    floating_port_id VARCHAR(36) NOT NULL,
    fixed_port_id VARCHAR(36),
    fixed_ip_address VARCHAR(64),
    router_id VARCHAR(36),
    status VARCHAR(16) NOT NULL,
    description VARCHAR(255) NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT uniq_floatingips0floating_port_id UNIQUE (floating_port_id),
    CONSTRAINT uniq_floatingips0net0fixed_port0fixed_ip UNIQUE (floating_network_id, fixed_port_id, fixed_ip_address),
    CONSTRAINT fk_floatingips_floating_port FOREIGN KEY (floating_port_id) REFERENCES ports (id),
    CONSTRAINT fk_floatingips_fixed_port FOREIGN KEY (fixed_port_id) REFERENCES ports (id),
    CONSTRAINT fk_floatingips_router FOREIGN KEY (router_id) REFERENCES routers (id)
);
CREATE INDEX floatingips_project ON floatingips (project_id);
CREATE INDEX floatingips_fixed_port ON floatingips (fixed_port_id);
CREATE INDEX floatingips_router ON floatingips (router_id);
