//! `/api/usage*`: usage analytics over `opcode-usage`. Each request first refreshes the index (reading
//! only what Claude appended since the last one), then answers from the store's daily rollup; both run
//! on the blocking pool.
//!
//! - `GET /api/usage`: the seed client's `UsageStats` over every day (no parameters);
//! - `GET /api/usage/report?period=7d|30d|90d|all` or `?from=YYYY-MM-DD&to=YYYY-MM-DD`: totals and
//!   breakdowns by day, project, model and session;
//! - `GET /api/usage/export.csv` (same parameters): the CSV, as an attachment.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use opcode_usage::{Period, UsageError, UsageIndex};
use serde::Deserialize;

use crate::api::{blocking, query, NoQuery};
use crate::error::{ok, ApiError};
use crate::state::AppState;

/// The usage routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/usage", get(seed_stats))
        .route("/api/usage/report", get(report))
        .route("/api/usage/export.csv", get(export))
}

impl From<UsageError> for ApiError {
    fn from(err: UsageError) -> Self {
        ApiError::Internal(format!("{err}: {:?}", std::error::Error::source(&err)))
    }
}

/// The period of a report or an export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

const TAKES: &str = "period=7d|30d|90d|all, or from=YYYY-MM-DD and/or to=YYYY-MM-DD";

fn period(q: Result<Query<PeriodQuery>, QueryRejection>) -> Result<Period, ApiError> {
    let q = query(q, TAKES)?;
    Period::parse(q.period.as_deref(), q.from.as_deref(), q.to.as_deref(), opcode_usage::today())
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Refreshes the index, then runs `then` on it, off the async threads.
async fn fresh<T: Send + 'static>(
    index: UsageIndex,
    then: impl FnOnce(&UsageIndex) -> Result<T, UsageError> + Send + 'static,
) -> Result<T, ApiError> {
    blocking(move || {
        index.refresh()?;
        Ok(then(&index)?)
    })
    .await
}

/// `GET /api/usage`: the seed's `UsageStats` over every day.
async fn seed_stats(
    State(state): State<AppState>,
    q: Result<Query<NoQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    query(q, "no parameters (see /api/usage/report for periods)")?;
    let report = fresh(state.usage.clone(), |index| index.report(Period::ALL)).await?;
    Ok(ok(opcode_usage::seed_stats(&report)))
}

/// `GET /api/usage/report`: the report of a period.
async fn report(
    State(state): State<AppState>,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let period = period(q)?;
    Ok(ok(fresh(state.usage.clone(), move |index| index.report(period)).await?))
}

/// `GET /api/usage/export.csv`: the CSV of a period, as a download.
async fn export(
    State(state): State<AppState>,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let period = period(q)?;
    let name = format!(
        "claude-usage-{}-to-{}.csv",
        period.from.map_or_else(|| "start".to_owned(), opcode_usage::day_string),
        period.to.map_or_else(|| "now".to_owned(), opcode_usage::day_string)
    );
    let body = fresh(state.usage.clone(), move |index| index.csv(period)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}
