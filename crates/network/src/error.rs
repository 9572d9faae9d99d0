//! The network service's one error enum and its mapping to Neutron faults:
//! `{"NeutronError": {"type", "message", "detail"}}`, where `type` is the
//! name of the neutron-lib exception class a client may match on
//! (`NetworkNotFound`, `IpAddressAlreadyAllocated`, …) and the message is
//! that exception's text.

use api::ApiError;
use http::StatusCode;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// 400: the request is malformed or asks for something impossible.
    #[error("{message}")]
    BadRequest { kind: &'static str, message: String },
    /// 403: the policy refused the action.
    #[error("{message}")]
    Forbidden { kind: &'static str, message: String },
    /// 404: no such resource, or one the caller may not see.
    #[error("{message}")]
    NotFound { kind: &'static str, message: String },
    /// 409: the resource is in use, taken, or exhausted.
    #[error("{message}")]
    Conflict { kind: &'static str, message: String },
    /// A unique key was taken under a write (an address, a MAC, a VNI):
    /// the transaction was rolled back and another attempt may succeed.
    #[error("concurrent update: {0}")]
    Retry(&'static str),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

pub type Result<T, E = NetworkError> = std::result::Result<T, E>;

impl NetworkError {
    pub fn bad(kind: &'static str, message: impl Into<String>) -> Self {
        NetworkError::BadRequest {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(kind: &'static str, message: impl Into<String>) -> Self {
        NetworkError::NotFound {
            kind,
            message: message.into(),
        }
    }
    pub fn conflict(kind: &'static str, message: impl Into<String>) -> Self {
        NetworkError::Conflict {
            kind,
            message: message.into(),
        }
    }

    /// webob's 400 with Neutron's attribute-validation text.
    pub fn invalid_attr(attr: &str, reason: impl std::fmt::Display) -> Self {
        Self::bad("HTTPBadRequest", format!("Invalid input for {attr}. Reason: {reason}."))
    }
    /// A plain webob 400.
    pub fn http_bad_request(message: impl Into<String>) -> Self {
        Self::bad("HTTPBadRequest", message)
    }
    /// neutron-lib `InvalidInput`.
    pub fn invalid_input(reason: impl std::fmt::Display) -> Self {
        Self::bad("InvalidInput", format!("Invalid input for operation: {reason}."))
    }
    /// oslo.policy's refusal, as Neutron renders it.
    pub fn policy(rule: &str) -> Self {
        NetworkError::Forbidden {
            kind: "PolicyNotAuthorized",
            message: format!("({rule}) is disallowed by policy"),
        }
    }
    /// What Neutron answers when the caller may not even see the object.
    pub fn hidden() -> Self {
        Self::not_found("HTTPNotFound", "The resource could not be found.")
    }

    pub fn network_not_found(id: &str) -> Self {
        Self::not_found("NetworkNotFound", format!("Network {id} could not be found."))
    }
    pub fn subnet_not_found(id: &str) -> Self {
        Self::not_found("SubnetNotFound", format!("Subnet {id} could not be found."))
    }
    pub fn port_not_found(id: &str) -> Self {
        Self::not_found("PortNotFound", format!("Port {id} could not be found."))
    }
    pub fn security_group_not_found(id: &str) -> Self {
        Self::not_found("SecurityGroupNotFound", format!("Security group {id} does not exist"))
    }
    pub fn security_group_rule_not_found(id: &str) -> Self {
        Self::not_found(
            "SecurityGroupRuleNotFound",
            format!("Security group rule {id} does not exist"),
        )
    }
    pub fn network_in_use(id: &str) -> Self {
        Self::conflict(
            "NetworkInUse",
            format!(
                "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
            ),
        )
    }
    pub fn subnet_in_use(id: &str) -> Self {
        Self::conflict(
            "SubnetInUse",
            format!(
                "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
            ),
        )
    }
    /// neutron-lib `BadRequest`: "Bad router request: …".
    pub fn bad_resource(resource: &str, msg: impl std::fmt::Display) -> Self {
        Self::bad("BadRequest", format!("Bad {resource} request: {msg}."))
    }
    pub fn router_not_found(id: &str) -> Self {
        Self::not_found("RouterNotFound", format!("Router {id} could not be found"))
    }
    pub fn floatingip_not_found(id: &str) -> Self {
        Self::not_found("FloatingIPNotFound", format!("Floating IP {id} could not be found"))
    }
    pub fn over_quota(resource: &str) -> Self {
        Self::conflict("OverQuota", format!("Quota exceeded for resources: ['{resource}']."))
    }

    /// Whether another attempt of the whole transaction may succeed: a lost
    /// race on a unique key, a deadlock, a serialization failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            NetworkError::Retry(_) => true,
            NetworkError::Store(StoreError::Other(store::sqlx::Error::Database(db))) => db
                .code()
                .is_some_and(|c| matches!(c.as_ref(), "40001" | "40P01" | "1213" | "1205")),
            _ => false,
        }
    }
}

impl From<store::sqlx::Error> for NetworkError {
    fn from(e: store::sqlx::Error) -> Self {
        NetworkError::Store(store::classify(e))
    }
}

impl From<NetworkError> for ApiError {
    fn from(e: NetworkError) -> Self {
        let (status, kind, message) = match e {
            NetworkError::BadRequest { kind, message } => (StatusCode::BAD_REQUEST, kind, message),
            NetworkError::Forbidden { kind, message } => (StatusCode::FORBIDDEN, kind, message),
            NetworkError::NotFound { kind, message } => (StatusCode::NOT_FOUND, kind, message),
            NetworkError::Conflict { kind, message } => (StatusCode::CONFLICT, kind, message),
            NetworkError::Store(StoreError::InvalidValue(_)) => (
                StatusCode::BAD_REQUEST,
                "HTTPBadRequest",
                "A value in the request is too long or not valid for the database.".to_owned(),
            ),
            ref other @ (NetworkError::Retry(_) | NetworkError::Store(_)) => {
                return ApiError::internal(other).with_kind("HTTPInternalServerError");
            }
        };
        ApiError::new(status, message).with_kind(kind)
    }
}

impl axum::response::IntoResponse for NetworkError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}
