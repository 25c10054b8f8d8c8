//! Request handlers, grouped by what they serve.

pub mod catalog;
pub mod probes;
pub mod tasks;

use serde::Deserialize;

use crate::error::ApiError;

/// The 404 for a path that no route serves.
pub async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route {}", uri.path()))
}

/// The 405 for a route that exists with other methods.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}", uri.path()),
    )
}

/// Largest page a client may ask for.
pub const MAX_PAGE: u32 = 1_000;
/// Page size when the client does not say.
pub const DEFAULT_PAGE: u32 = 100;

/// Keyset paging: the rows with `id > after`, at most `limit` of them. The response's
/// `next_after` is the value for the next page (absent on the last one), so a page never skips
/// or repeats rows that are inserted meanwhile, unlike offsets.
#[derive(Debug, Default, Deserialize)]
pub struct Page {
    /// Row id the page starts after (0: from the beginning).
    #[serde(default)]
    pub after: i64,
    /// Rows per page (1..=1000, default 100).
    pub limit: Option<u32>,
}

impl Page {
    /// The checked limit.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_PAGE}, got {n}"
            ))),
        }
    }

    /// `next_after` for a page whose last row has id `last` and that holds `len` rows: absent
    /// when the page was not full (nothing more to read).
    pub fn next_after(&self, len: usize, last: Option<i64>) -> Option<i64> {
        let limit = self.limit().unwrap_or(DEFAULT_PAGE) as usize;
        if len >= limit { last } else { None }
    }
}
