//! Reports over the daily rollup: totals and breakdowns by day, project, model and session for a
//! period; the seed client's `UsageStats`; and the CSV export.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use opcode_store::{UsageDay, UsageSessionInfo};
use serde::Serialize;
use time::{Date, Duration};

use crate::period::{day_string, Period};

/// Sessions listed in a report at most (by cost); the CSV export has them all.
pub const MAX_SESSIONS: usize = 500;

/// Tokens by kind, messages and cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Sums {
    /// Cost in USD (list prices; see [`crate::pricing`]).
    pub cost: f64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Tokens written to the prompt cache.
    pub cache_creation_tokens: u64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// The four kinds together.
    pub total_tokens: u64,
    /// Assistant messages counted.
    pub messages: u64,
}

impl Sums {
    fn add(&mut self, d: &UsageDay) {
        self.cost += d.cost;
        self.input_tokens += d.input_tokens;
        self.output_tokens += d.output_tokens;
        self.cache_creation_tokens += d.cache_creation_tokens;
        self.cache_read_tokens += d.cache_read_tokens;
        self.total_tokens += d.input_tokens + d.output_tokens + d.cache_creation_tokens + d.cache_read_tokens;
        self.messages += d.messages;
    }
}

/// The whole period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Sums.
    #[serde(flatten)]
    pub sums: Sums,
    /// Sessions with a message in the period.
    pub sessions: u64,
    /// Projects with a message in the period.
    pub projects: u64,
    /// The CLI's own cost totals (`totalCostUSD`) of those sessions that reported one, added up;
    /// `None` when none did. Whole sessions: not cut to the period.
    pub cli_reported_cost: Option<f64>,
}

/// One day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayUsage {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Sums.
    #[serde(flatten)]
    pub sums: Sums,
    /// Models used that day.
    pub models: Vec<String>,
}

/// One project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectUsage {
    /// Claude's folder name of the project.
    pub project_id: String,
    /// The project directory (from the transcripts' `cwd`, else the folder name).
    pub project_path: String,
    /// Its last path component.
    pub project_name: String,
    /// Sums.
    #[serde(flatten)]
    pub sums: Sums,
    /// Sessions.
    pub sessions: u64,
    /// Unix ms of the last message in the period.
    pub last_used_ms: i64,
}

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelUsage {
    /// The model name as the API gave it.
    pub model: String,
    /// Sums.
    #[serde(flatten)]
    pub sums: Sums,
    /// Sessions that used it.
    pub sessions: u64,
    /// Whether the price table knows it (else its cost here is 0).
    pub priced: bool,
}

/// One session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionUsage {
    /// The session id.
    pub session_id: String,
    /// Its project folder name.
    pub project_id: String,
    /// The project directory.
    pub project_path: String,
    /// Sums.
    #[serde(flatten)]
    pub sums: Sums,
    /// The CLI's own total cost of the whole session, if it reported one.
    pub cli_cost: Option<f64>,
    /// Models used.
    pub models: Vec<String>,
    /// Unix ms of the first message in the period.
    pub first_used_ms: i64,
    /// Unix ms of the last message in the period.
    pub last_used_ms: i64,
}

/// A report for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageReport {
    /// First day (`YYYY-MM-DD`), `None` when open.
    pub from: Option<String>,
    /// Last day, `None` when open.
    pub to: Option<String>,
    /// Totals.
    pub totals: Totals,
    /// Every day of the period from its first to its last day with usage (or the period's bounds),
    /// oldest first, days without usage as zeros.
    pub by_day: Vec<DayUsage>,
    /// Projects, costliest first.
    pub by_project: Vec<ProjectUsage>,
    /// Models, costliest first.
    pub by_model: Vec<ModelUsage>,
    /// Sessions, costliest first, at most [`MAX_SESSIONS`].
    pub by_session: Vec<SessionUsage>,
    /// Whether sessions were left out of `by_session` (see `totals.sessions`).
    pub sessions_truncated: bool,
    /// Models used in the period that the price table does not know.
    pub unpriced_models: Vec<String>,
}

fn project_path(info: Option<&UsageSessionInfo>, project_id: &str) -> String {
    info.and_then(|i| i.project_path.clone()).unwrap_or_else(|| project_id.to_owned())
}

fn by_cost<T>(list: &mut [T], key: impl Fn(&T) -> (f64, u64)) {
    list.sort_by(|a, b| {
        let (ca, ta) = key(a);
        let (cb, tb) = key(b);
        cb.total_cmp(&ca).then(tb.cmp(&ta))
    });
}

/// Builds the report of `period` from its rollup rows and what the index knows of sessions.
pub(crate) fn report(period: Period, days: &[UsageDay], sessions: &[UsageSessionInfo]) -> UsageReport {
    let info: HashMap<&str, &UsageSessionInfo> = sessions.iter().map(|s| (s.session_id.as_str(), s)).collect();
    let mut totals = Totals::default();
    let mut day_map: BTreeMap<&str, (Sums, BTreeSet<&str>)> = BTreeMap::new();
    let mut project_map: HashMap<&str, (Sums, BTreeSet<&str>, i64)> = HashMap::new();
    let mut model_map: HashMap<&str, (Sums, BTreeSet<&str>)> = HashMap::new();
    let mut session_map: HashMap<&str, (Sums, &str, BTreeSet<&str>, i64, i64)> = HashMap::new();
    for d in days {
        totals.sums.add(d);
        let day = day_map.entry(&d.day).or_default();
        day.0.add(d);
        day.1.insert(&d.model);
        let project = project_map.entry(&d.project_id).or_insert_with(|| (Sums::default(), BTreeSet::new(), 0));
        project.0.add(d);
        project.1.insert(&d.session_id);
        project.2 = project.2.max(d.last_ts);
        let model = model_map.entry(&d.model).or_default();
        model.0.add(d);
        model.1.insert(&d.session_id);
        let session = session_map
            .entry(&d.session_id)
            .or_insert_with(|| (Sums::default(), &d.project_id, BTreeSet::new(), i64::MAX, i64::MIN));
        session.0.add(d);
        session.2.insert(&d.model);
        session.3 = session.3.min(d.first_ts);
        session.4 = session.4.max(d.last_ts);
    }
    totals.sessions = session_map.len() as u64;
    totals.projects = project_map.len() as u64;
    let cli: Vec<f64> = session_map.keys().filter_map(|s| info.get(s).and_then(|i| i.cli_cost)).collect();
    totals.cli_reported_cost = (!cli.is_empty()).then(|| cli.iter().sum());

    let by_day = fill_days(period, day_map);
    let mut by_project: Vec<ProjectUsage> = project_map
        .into_iter()
        .map(|(id, (sums, sessions, last))| {
            let path = project_path(sessions.iter().next().and_then(|s| info.get(s)).copied(), id);
            ProjectUsage {
                project_id: id.to_owned(),
                project_name: path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(&path).to_owned(),
                project_path: path,
                sums,
                sessions: sessions.len() as u64,
                last_used_ms: last,
            }
        })
        .collect();
    by_cost(&mut by_project, |p| (p.sums.cost, p.sums.total_tokens));
    let mut by_model: Vec<ModelUsage> = model_map
        .into_iter()
        .map(|(model, (sums, sessions))| ModelUsage {
            model: model.to_owned(),
            sums,
            sessions: sessions.len() as u64,
            priced: crate::pricing::price_of(model).is_some(),
        })
        .collect();
    by_cost(&mut by_model, |m| (m.sums.cost, m.sums.total_tokens));
    let mut unpriced_models: Vec<String> = by_model.iter().filter(|m| !m.priced).map(|m| m.model.clone()).collect();
    unpriced_models.sort();
    let mut by_session: Vec<SessionUsage> = session_map
        .into_iter()
        .map(|(id, (sums, project, models, first, last))| {
            let known = info.get(id).copied();
            SessionUsage {
                session_id: id.to_owned(),
                project_id: project.to_owned(),
                project_path: project_path(known, project),
                sums,
                cli_cost: known.and_then(|i| i.cli_cost),
                models: models.into_iter().map(str::to_owned).collect(),
                first_used_ms: first,
                last_used_ms: last,
            }
        })
        .collect();
    by_cost(&mut by_session, |s| (s.sums.cost, s.sums.total_tokens));
    let sessions_truncated = by_session.len() > MAX_SESSIONS;
    by_session.truncate(MAX_SESSIONS);
    UsageReport {
        from: period.from.map(day_string),
        to: period.to.map(day_string),
        totals,
        by_day,
        by_project,
        by_model,
        by_session,
        sessions_truncated,
        unpriced_models,
    }
}

/// Days from the period's start (or the first day with usage) to its end (or the last), zeros included.
fn fill_days(period: Period, used: BTreeMap<&str, (Sums, BTreeSet<&str>)>) -> Vec<DayUsage> {
    let parse = |s: &str| Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok();
    let first = period.from.or_else(|| used.keys().next().and_then(|d| parse(d)));
    let last = period.to.or_else(|| used.keys().next_back().and_then(|d| parse(d)));
    let (Some(first), Some(last)) = (first, last) else { return Vec::new() };
    let mut out = Vec::new();
    let mut day = first;
    // bounded: a period of more than 20 years lists its used days only
    let dense = (last - first).whole_days() <= 366 * 20;
    if !dense {
        return used
            .into_iter()
            .map(|(date, (sums, models))| DayUsage {
                date: date.to_owned(),
                sums,
                models: models.into_iter().map(str::to_owned).collect(),
            })
            .collect();
    }
    while day <= last {
        let date = day_string(day);
        let (sums, models) = used.get(date.as_str()).cloned().unwrap_or_default();
        out.push(DayUsage { date, sums, models: models.into_iter().map(str::to_owned).collect() });
        day += Duration::days(1);
    }
    out
}

/// The seed client's `UsageStats` (Opcode's `get_usage_stats`): totals and `by_model`, `by_date`
/// (newest first) and `by_project`, with real session counts.
pub fn seed_stats(report: &UsageReport) -> serde_json::Value {
    use serde_json::json;
    let t = &report.totals;
    json!({
        "total_cost": t.sums.cost,
        "total_tokens": t.sums.total_tokens,
        "total_input_tokens": t.sums.input_tokens,
        "total_output_tokens": t.sums.output_tokens,
        "total_cache_creation_tokens": t.sums.cache_creation_tokens,
        "total_cache_read_tokens": t.sums.cache_read_tokens,
        "total_sessions": t.sessions,
        "by_model": report.by_model.iter().map(|m| json!({
            "model": m.model, "total_cost": m.sums.cost, "total_tokens": m.sums.total_tokens,
            "input_tokens": m.sums.input_tokens, "output_tokens": m.sums.output_tokens,
            "cache_creation_tokens": m.sums.cache_creation_tokens, "cache_read_tokens": m.sums.cache_read_tokens,
            "session_count": m.sessions,
        })).collect::<Vec<_>>(),
        "by_date": report.by_day.iter().rev().filter(|d| d.sums.messages > 0).map(|d| json!({
            "date": d.date, "total_cost": d.sums.cost, "total_tokens": d.sums.total_tokens, "models_used": d.models,
        })).collect::<Vec<_>>(),
        "by_project": report.by_project.iter().map(|p| json!({
            "project_path": p.project_path, "project_name": p.project_name, "total_cost": p.sums.cost,
            "total_tokens": p.sums.total_tokens, "session_count": p.sessions,
            "last_used": rfc3339(p.last_used_ms),
        })).collect::<Vec<_>>(),
    })
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The CSV export: one row per day, project, session and model, oldest day first, with a header.
pub(crate) fn csv(days: &[UsageDay], sessions: &[UsageSessionInfo]) -> Result<Vec<u8>, csv::Error> {
    let info: HashMap<&str, &UsageSessionInfo> = sessions.iter().map(|s| (s.session_id.as_str(), s)).collect();
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(64 + days.len() * 160));
    writer.write_record([
        "date",
        "project_path",
        "session_id",
        "model",
        "messages",
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_read_tokens",
        "total_tokens",
        "cost_usd",
    ])?;
    for d in days {
        let total = d.input_tokens + d.output_tokens + d.cache_creation_tokens + d.cache_read_tokens;
        writer.write_record([
            d.day.clone(),
            project_path(info.get(d.session_id.as_str()).copied(), &d.project_id),
            d.session_id.clone(),
            d.model.clone(),
            d.messages.to_string(),
            d.input_tokens.to_string(),
            d.output_tokens.to_string(),
            d.cache_creation_tokens.to_string(),
            d.cache_read_tokens.to_string(),
            total.to_string(),
            format!("{:.6}", d.cost),
        ])?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}
