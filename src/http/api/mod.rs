//! `/api/v1`: the vendor's application API (JSON for application developers, not SCIM),
//! authenticated by API keys (`auth`), with its OpenAPI document checked into the repository.

mod auth;
mod catalog;
mod directory;
mod events;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

pub use auth::ApiRequest;

use super::error::V1Error;

/// The OpenAPI 3.1 document of every `/api/v1` endpoint, served as it is checked in.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Mounts `/api/v1`; other parts of the API add their routes inside `configure`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi))
            .configure(directory::routes)
            .configure(catalog::routes)
            .configure(events::routes)
            .default_service(web::to(unknown_endpoint)),
    );
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(OPENAPI)
}

/// A read-only resource: GET answers, any other method is a 405 naming GET.
pub(super) fn get(path: &str) -> GetOnly {
    GetOnly(path.to_owned())
}

pub(super) struct GetOnly(String);

impl GetOnly {
    pub(super) fn to<F, Args>(self, handler: F) -> actix_web::Resource
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        web::resource(self.0)
            .route(web::get().to(handler))
            .default_service(web::to(method_not_allowed))
    }
}

/// A method a read-only endpoint does not have: 405 with `Allow: GET`.
pub(super) async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    refuse_method(&req, "GET")
}

/// 405 naming the methods the endpoint has, in `Allow` too.
pub(super) fn refuse_method(req: &HttpRequest, allowed: &'static str) -> HttpResponse {
    let mut response = V1Error::method_not_allowed(req.method().as_str(), allowed).error_response();
    response.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allowed),
    );
    response
}

async fn unknown_endpoint(req: HttpRequest) -> Result<HttpResponse, V1Error> {
    let path: String = req.path().chars().take(200).collect();
    Err(V1Error::not_found(format!("no endpoint {} {path}", req.method())))
}
