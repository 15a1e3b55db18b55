//! SCIM endpoint names match without regard to case, as attribute names do: Microsoft's
//! reference collection asks for `/scim/v2/users`, some clients for `/ROLES`. A request whose
//! first segment after `/scim/v2` names a known endpoint in another case is routed as if it had
//! been spelled the server's way, before routing; ids and everything after keep their case.

use std::sync::Arc;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::middleware::Next;

use crate::scim::schema::Registry;

/// Where SCIM lives.
const SCIM_BASE: &str = "/scim/v2/";

/// The endpoint names this server serves under `/scim/v2`, in their canonical case.
#[derive(Debug, Clone)]
pub struct Endpoints(Arc<Vec<String>>);

impl Endpoints {
    pub fn of(registry: &Registry) -> Endpoints {
        let builtin =
            ["Users", "Groups", "Bulk", "Schemas", "ResourceTypes", "ServiceProviderConfig"];
        let mut names: Vec<String> = builtin.iter().map(|s| (*s).to_owned()).collect();
        names.extend(
            registry.catalog().iter().map(|t| t.endpoint.trim_start_matches('/').to_owned()),
        );
        Endpoints(Arc::new(names))
    }

    /// The path with its endpoint segment in canonical case, when it differs.
    pub fn canonical(&self, path: &str) -> Option<String> {
        let rest = path.strip_prefix(SCIM_BASE)?;
        let (segment, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let name = self.0.iter().find(|n| n.eq_ignore_ascii_case(segment) && *n != segment)?;
        Some(format!("{SCIM_BASE}{name}{tail}"))
    }
}

/// Middleware: rewrites the path of a request that names an endpoint in another case.
pub async fn canonical_case(
    mut req: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let endpoints = req.app_data::<actix_web::web::Data<Endpoints>>().cloned();
    if let Some(path) = endpoints.and_then(|e| e.canonical(req.path())) {
        let with_query = match req.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        if let Ok(uri) = with_query.parse::<Uri>() {
            req.match_info_mut().get_mut().update(&uri);
            req.head_mut().uri = uri;
        }
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_endpoint_segment_changes_case() {
        let endpoints = Endpoints::of(&Registry::builtin());
        let cases = [
            ("/scim/v2/users", Some("/scim/v2/Users")),
            ("/scim/v2/USERS/AbC-1", Some("/scim/v2/Users/AbC-1")),
            ("/scim/v2/groups/.search", Some("/scim/v2/Groups/.search")),
            ("/scim/v2/serviceproviderconfig", Some("/scim/v2/ServiceProviderConfig")),
            ("/scim/v2/Users", None),
            ("/scim/v2/Users/x", None),
            ("/scim/v2/Userz", None),
            ("/scim/v2/", None),
            ("/api/v1/users", None),
            ("/scim/v2/roles", None),
        ];
        for (path, expected) in cases {
            assert_eq!(endpoints.canonical(path).as_deref(), expected, "{path}");
        }
        let roles = crate::scim::catalog::CatalogConfig { roles: true, entitlement_types: vec![] };
        let registry = Registry::configured(&[], &roles).unwrap();
        let endpoints = Endpoints::of(&registry);
        assert_eq!(
            endpoints.canonical("/scim/v2/roles/Admin").as_deref(),
            Some("/scim/v2/Roles/Admin")
        );
    }
}
