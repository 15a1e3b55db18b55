//! Failures of HTML pages (console, account, consent flow): a page with the status and what to
//! do, or a redirect (to sign in).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError, web};

use super::UNAVAILABLE_RETRY_AFTER_SECS;
use crate::db::StoreError;
use crate::http::ui::{self, see_other};
use crate::service::OperatorError;

/// What a page handler returns instead of a page.
#[derive(Debug)]
pub enum PageError {
    /// 303 to this location.
    Redirect(String),
    Page(StatusCode, String),
}

impl PageError {
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::Page(StatusCode::BAD_REQUEST, message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError::Page(StatusCode::FORBIDDEN, message.into())
    }
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::Page(StatusCode::NOT_FOUND, message.into())
    }
    /// The database is out of reach for now; the page says to retry, with `Retry-After`.
    pub fn unavailable(detail: impl std::fmt::Display) -> PageError {
        tracing::warn!(error = %detail, "page unavailable: database out of reach");
        PageError::Page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is briefly unavailable. Try again in a moment.".into(),
        )
    }
    pub fn internal(detail: impl std::fmt::Display) -> PageError {
        tracing::error!(error = %detail, "page failed");
        PageError::Page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error occurred; see the server log.".into(),
        )
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Redirect(to) => write!(f, "redirect to {to}"),
            PageError::Page(status, message) => write!(f, "{status}: {message}"),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Redirect(_) => StatusCode::SEE_OTHER,
            PageError::Page(status, _) => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Redirect(to) => see_other(to),
            PageError::Page(status, message) => {
                let title = status.canonical_reason().unwrap_or("Error");
                let mut response = ui::error_page(*status, title, message);
                if *status == StatusCode::SERVICE_UNAVAILABLE {
                    response.headers_mut().insert(
                        header::RETRY_AFTER,
                        header::HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
                    );
                }
                response
            }
        }
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() { PageError::unavailable(err) } else { PageError::internal(err) }
    }
}

impl From<actix_web::error::BlockingError> for PageError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        PageError::internal(err)
    }
}

impl From<OperatorError> for PageError {
    fn from(err: OperatorError) -> Self {
        match err {
            OperatorError::Invalid(message) => PageError::bad_request(message),
            OperatorError::NotFound(what) => PageError::not_found(format!("{what} not found")),
            OperatorError::Conflict(what) => {
                PageError::Page(StatusCode::CONFLICT, format!("{what} already exists"))
            }
            OperatorError::Store(err) => PageError::from(err),
        }
    }
}

/// Runs storage work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OperatorError> + Send + 'static,
) -> Result<T, PageError> {
    Ok(web::block(f).await??)
}
