//! `/api/usage*` against a real server over a real socket, with transcripts in the server's Claude folder.

mod common;

use std::io::Write;

use common::{TestServer, TOKEN};
use opcode_testkit::transcripts::{assistant_line, genuine_transcript, user_line};

const S1: &str = "bbbbbbbb-0000-4000-8000-000000000001";
const S2: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const SONNET: &str = "claude-sonnet-4-5-20250929";
const HAIKU: &str = "claude-haiku-4-5-20251001";

fn transcript(server: &TestServer, project: &str, session: &str) -> std::path::PathBuf {
    let dir = server.claude_dir.path().join("projects").join(project);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{session}.jsonl"))
}

fn append(path: &std::path::Path, text: &str) {
    std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

/// A timestamp `days` days before now, at the same time of day (UTC).
fn days_ago(days: i64) -> (String, String) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let t = now - days * 86_400;
    let day = t.div_euclid(86_400);
    // civil date from days since the epoch (Howard Hinnant's algorithm)
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let secs = t.rem_euclid(86_400);
    let date = format!("{y:04}-{m:02}-{d:02}");
    (format!("{date}T{:02}:{:02}:{:02}.000Z", secs / 3600, secs / 60 % 60, secs % 60), date)
}

#[tokio::test]
async fn the_seed_shape_has_real_figures_from_the_genuine_clis_transcript() {
    let server = TestServer::start().await;
    std::fs::copy(
        genuine_transcript(),
        transcript(&server, "-home-dev-project", "11111111-2222-4333-8444-555555555555"),
    )
    .unwrap();
    let (status, body) = server.get_json("/api/usage").await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["total_sessions"], 1, "{data}");
    assert_eq!((data["total_input_tokens"].as_u64(), data["total_output_tokens"].as_u64()), (Some(30), Some(18)));
    assert_eq!(data["total_tokens"], 48);
    assert_eq!(data["by_model"][0]["model"], "claude-opus-5-5");
    assert_eq!(data["by_date"][0]["date"], "2026-11-28");
    assert_eq!(data["by_project"][0]["project_path"], "/home/dev/project");
    assert_eq!(data["by_project"][0]["last_used"], "2026-11-28T23:32:41.963Z");

    let (_, body) = server.get_json("/api/usage/report?period=all").await;
    let report = &body["data"];
    assert_eq!(report["totals"]["cli_reported_cost"], 0.00048000000000000007, "{report}");
    assert_eq!(report["unpriced_models"][0], "claude-opus-5-5");
    assert_eq!(report["by_session"][0]["cli_cost"], 0.00048000000000000007);
    server.stop().await;
}

#[tokio::test]
async fn a_period_has_totals_and_breakdowns_and_a_new_run_shows_up_at_the_next_query() {
    let server = TestServer::start().await;
    let (today_ts, today) = days_ago(0);
    let (old_ts, old_day) = days_ago(10);
    let a = transcript(&server, "-work-app", S1);
    append(&a, &user_line(S1, "/work/app", &old_ts));
    append(&a, &assistant_line(S1, "m1", "r1", &old_ts, SONNET, [1000, 2000, 0, 0]));
    // the CLI repeats a message once per content block: counted once
    append(&a, &assistant_line(S1, "m2", "r2", &today_ts, SONNET, [0, 1000, 0, 10_000]));
    append(&a, &assistant_line(S1, "m2", "r2", &today_ts, SONNET, [0, 1000, 0, 10_000]));
    let b = transcript(&server, "-work-lib", S2);
    append(&b, &user_line(S2, "/work/lib", &today_ts));
    append(&b, &assistant_line(S2, "m3", "r3", &today_ts, HAIKU, [100, 100, 0, 0]));

    let (status, body) = server.get_json("/api/usage/report?period=7d").await;
    assert_eq!(status, 200, "{body}");
    let r = &body["data"];
    assert_eq!(r["to"], today.as_str());
    assert_eq!(r["by_day"].as_array().unwrap().len(), 7, "every day of the period: {r}");
    assert_eq!(r["by_day"][6]["date"], today.as_str());
    assert_eq!(r["by_day"][6]["messages"], 2);
    let t = &r["totals"];
    assert_eq!((t["messages"].as_u64(), t["sessions"].as_u64(), t["projects"].as_u64()), (Some(2), Some(2), Some(2)));
    assert_eq!(t["output_tokens"], 1100);
    assert_eq!(t["cache_read_tokens"], 10_000);
    let cost = (1000.0 * 15.0 + 10_000.0 * 0.3 + 100.0 * 1.0 + 100.0 * 5.0) / 1e6;
    assert!((t["cost"].as_f64().unwrap() - cost).abs() < 1e-12, "{t}");
    assert_eq!(r["by_model"][0]["model"], SONNET);
    assert_eq!(r["by_project"][0]["project_path"], "/work/app");
    assert_eq!(r["by_project"][0]["project_name"], "app");
    assert_eq!(r["by_session"][1]["session_id"], S2);

    // dates: the old day alone
    let (_, body) = server.get_json(&format!("/api/usage/report?from={old_day}&to={old_day}")).await;
    assert_eq!(body["data"]["totals"]["messages"], 1, "{body}");
    assert_eq!(body["data"]["totals"]["input_tokens"], 1000);

    // a new run appends to the session: the next query counts it
    append(&a, &assistant_line(S1, "m4", "r4", &today_ts, SONNET, [5, 5, 0, 0]));
    let (_, body) = server.get_json("/api/usage/report?period=30d").await;
    assert_eq!(body["data"]["totals"]["messages"], 4, "{body}");
    let (_, body) = server.get_json("/api/usage").await;
    assert_eq!(body["data"]["total_sessions"], 2);
    server.stop().await;
}

#[tokio::test]
async fn the_csv_export_is_a_download_of_the_period() {
    let server = TestServer::start().await;
    let a = transcript(&server, "-work-app", S1);
    append(&a, &user_line(S1, "/work/app, with a comma", "2026-02-01T09:00:00.000Z"));
    append(&a, &assistant_line(S1, "m1", "r1", "2026-02-01T09:00:00.000Z", SONNET, [1, 2, 3, 4]));
    append(&a, &assistant_line(S1, "m2", "r2", "2026-02-03T09:00:00.000Z", HAIKU, [1, 1, 0, 0]));
    let response = server
        .http()
        .get(server.url("/api/usage/export.csv?from=2026-02-01&to=2026-02-02"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(header("content-disposition"), "attachment; filename=\"claude-usage-2026-02-01-to-2026-02-02.csv\"");
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0],
        "date,project_path,session_id,model,messages,input_tokens,output_tokens,cache_creation_tokens,cache_read_tokens,total_tokens,cost_usd"
    );
    let cost = (3.0 + 2.0 * 15.0 + 3.0 * 3.75 + 4.0 * 0.3) / 1e6;
    assert_eq!(lines[1], format!("2026-02-01,\"/work/app, with a comma\",{S1},{SONNET},1,1,2,3,4,10,{cost:.6}"));
    server.stop().await;
}

#[tokio::test]
async fn bad_periods_and_unknown_parameters_are_a_clear_400() {
    let server = TestServer::start().await;
    let cases = [
        ("/api/usage/report?from=2026-13-01", "from=\"2026-13-01\" is not a date"),
        ("/api/usage/report?to=yesterday", "to=\"yesterday\" is not a date"),
        ("/api/usage/report?from=2026-03-02&to=2026-03-01", "is after to=2026-03-01"),
        ("/api/usage/report?period=1w", "use 7d, 30d, 90d or all"),
        ("/api/usage/report?period=7d&from=2026-01-01", "not both"),
        ("/api/usage/report?days=7", "unknown field `days`"),
        ("/api/usage/export.csv?from=2026-1-1", "is not a date"),
        ("/api/usage/export.csv?format=xlsx", "unknown field `format`"),
        ("/api/usage?period=7d", "unknown field `period`"),
        ("/api/usage?limit=10", "unknown field `limit`"),
    ];
    for (path, says) in cases {
        let (status, body) = server.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["success"], false, "{path}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(says), "{path}: {error:?} does not say {says:?}");
    }
    let response = server.http().get(server.url("/api/usage/report")).send().await.unwrap();
    assert_eq!(response.status(), 401, "no token, no usage");
    server.stop().await;
}
