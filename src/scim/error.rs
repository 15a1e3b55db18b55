//! SCIM protocol errors (RFC 7644 §3.12): an HTTP status, an optional `scimType` and a human detail.
//! Pure data; the HTTP layer renders it as `urn:ietf:params:scim:api:messages:2.0:Error`.

use std::fmt;

use serde_json::{Value, json};

pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` keywords of RFC 7644 §3.12 table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// A SCIM error as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type, detail: detail.into() }
    }
}

/// One constructor per line: `name => status, scimType`, so the whole table of errors the
/// protocol code can raise reads at a glance.
macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $status:literal, $scim_type:expr;)*) => {
        impl ScimError {
            $(
                $(#[$doc])*
                pub fn $name(detail: impl Into<String>) -> Self {
                    Self::new($status, $scim_type, detail)
                }
            )*
        }
    };
}

constructors! {
    invalid_filter => 400, Some(ScimType::InvalidFilter);
    invalid_syntax => 400, Some(ScimType::InvalidSyntax);
    invalid_path => 400, Some(ScimType::InvalidPath);
    invalid_value => 400, Some(ScimType::InvalidValue);
    no_target => 400, Some(ScimType::NoTarget);
    mutability => 400, Some(ScimType::Mutability);
    too_many => 400, Some(ScimType::TooMany);
    uniqueness => 409, Some(ScimType::Uniqueness);
    /// 400 without a `scimType`, for malformed query parameters that no keyword covers.
    bad_request => 400, None;
    not_found => 404, None;
    unauthorized => 401, None;
    forbidden => 403, None;
    method_not_allowed => 405, None;
    /// 409 without a `scimType`: e.g. a Bulk `bulkId` that names no created resource.
    conflict => 409, None;
    precondition_failed => 412, None;
    /// 408: the request body did not arrive within the server's read timeout.
    request_timeout => 408, None;
    payload_too_large => 413, None;
    unsupported_media_type => 415, None;
    too_many_requests => 429, None;
    /// 503: a dependency (the database) is unavailable for now; the request may be retried.
    unavailable => 503, None;
    internal => 500, None;
    not_implemented => 501, None;
}

impl ScimError {
    /// The error in the SCIM error schema; `status` is a string, as RFC 7644 §3.12 shows it.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), Value::String(t.as_str().to_owned()));
        }
        body
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "{} {}: {}", self.status, t.as_str(), self.detail),
            None => write!(f, "{}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

pub type ScimResult<T> = Result<T, ScimError>;
