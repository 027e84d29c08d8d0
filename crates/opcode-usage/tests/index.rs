//! The usage index over real files: totals, de-duplication, appends, rewrites and half-written lines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opcode_store::Store;
use opcode_testkit::transcripts;
use opcode_usage::{Period, UsageIndex, UsageReport};

fn assistant(session: &str, id: &str, req: &str, ts: &str, model: &str, tokens: [u64; 4]) -> String {
    transcripts::assistant_line(session, id, req, ts, model, tokens)
}

fn user(session: &str, cwd: &str) -> String {
    transcripts::user_line(session, cwd, "2026-03-01T10:00:00.000Z")
}

struct Fixture {
    _dir: tempfile::TempDir,
    claude: PathBuf,
    index: UsageIndex,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let claude = dir.path().join("claude");
        std::fs::create_dir_all(claude.join("projects")).unwrap();
        let store = Arc::new(Store::open(&dir.path().join("data/opcode.db")).unwrap());
        let index = UsageIndex::new(store, &claude);
        Fixture { _dir: dir, claude, index }
    }

    fn path(&self, project: &str, session: &str) -> PathBuf {
        let dir = self.claude.join("projects").join(project);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(format!("{session}.jsonl"))
    }

    fn append(&self, path: &Path, text: &str) {
        std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
    }

    fn report(&self) -> UsageReport {
        self.index.refresh().unwrap();
        self.index.report(Period::ALL).unwrap()
    }
}

const S1: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const S2: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const SONNET: &str = "claude-sonnet-4-5-20250929";

#[test]
fn the_genuine_transcript_counts_three_answers_and_the_clis_own_cost() {
    let f = Fixture::new();
    let path = f.path("-home-dev-project", "11111111-2222-4333-8444-555555555555");
    std::fs::copy(transcripts::genuine_transcript(), &path).unwrap();
    let r = f.report();
    let t = &r.totals;
    // msg_mock1 three times, each answering another request: three messages
    assert_eq!((t.sums.messages, t.sums.input_tokens, t.sums.output_tokens, t.sums.total_tokens), (3, 30, 18, 48));
    assert_eq!((t.sessions, t.projects), (1, 1));
    assert_eq!(t.cli_reported_cost, Some(0.00048000000000000007));
    assert_eq!(r.unpriced_models, ["claude-opus-5-5"]);
    assert_eq!(r.by_project[0].project_path, "/home/dev/project");
    assert_eq!(r.by_project[0].project_name, "project");
    assert_eq!(r.by_day.len(), 1);
    assert_eq!(r.by_day[0].date, "2026-11-28");
    assert_eq!(r.by_session[0].session_id, "11111111-2222-4333-8444-555555555555");
}

#[test]
fn totals_and_breakdowns_add_up_with_list_prices() {
    let f = Fixture::new();
    let a = f.path("-home-dev-a", S1);
    f.append(&a, &user(S1, "/home/dev/a"));
    f.append(&a, &assistant(S1, "m1", "r1", "2026-03-01T10:00:01.000Z", SONNET, [1000, 2000, 3000, 4000]));
    f.append(&a, &assistant(S1, "m2", "r2", "2026-03-03T10:00:01.000Z", "claude-opus-4-1-20250805", [100, 10, 0, 0]));
    let b = f.path("-home-dev-b", S2);
    f.append(&b, &assistant(S2, "m3", "r3", "2026-03-03T23:59:59.000Z", SONNET, [0, 1_000_000, 0, 0]));
    let r = f.report();
    let sonnet_m1 = (1000.0 * 3.0 + 2000.0 * 15.0 + 3000.0 * 3.75 + 4000.0 * 0.3) / 1e6;
    let opus_m2 = (100.0 * 15.0 + 10.0 * 75.0) / 1e6;
    let sonnet_m3 = 15.0;
    assert!((r.totals.sums.cost - (sonnet_m1 + opus_m2 + sonnet_m3)).abs() < 1e-9, "{}", r.totals.sums.cost);
    assert_eq!(r.totals.sums.total_tokens, 10_000 + 110 + 1_000_000);
    assert_eq!((r.totals.sessions, r.totals.projects, r.totals.cli_reported_cost), (2, 2, None));
    // every day from the first to the last, the empty one as zeros
    let days: Vec<(&str, u64)> = r.by_day.iter().map(|d| (d.date.as_str(), d.sums.messages)).collect();
    assert_eq!(days, [("2026-03-01", 1), ("2026-03-02", 0), ("2026-03-03", 2)]);
    assert_eq!(r.by_model[0].model, SONNET);
    assert_eq!((r.by_model[0].sums.messages, r.by_model[0].sessions), (2, 2));
    assert_eq!(r.by_project[0].project_path, "-home-dev-b", "no cwd seen: the folder name");
    assert_eq!(r.by_project[1].project_path, "/home/dev/a");
    assert_eq!(r.by_session[1].models, ["claude-opus-4-1-20250805", SONNET]);

    // a period: the third only
    let third = Period::parse(None, Some("2026-03-03"), Some("2026-03-03"), opcode_usage::today()).unwrap();
    let r3 = f.index.report(third).unwrap();
    assert_eq!((r3.totals.sums.messages, r3.totals.sessions), (2, 2));
    assert_eq!(r3.by_day.len(), 1);
    let csv = String::from_utf8(f.index.csv(third).unwrap()).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("date,project_path,session_id,model,messages,input_tokens"), "{csv}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with(&format!("2026-03-03,-home-dev-b,{S2},{SONNET},1,0,1000000,0,0,1000000,15.000000"))),
        "{csv}"
    );
}

#[test]
fn a_message_the_cli_repeats_counts_once_in_a_file_and_across_files() {
    let f = Fixture::new();
    let a = f.path("-p", S1);
    let line = assistant(S1, "m1", "r1", "2026-03-01T10:00:00.000Z", SONNET, [10, 20, 0, 0]);
    // one line per content block, same message and request: one message
    f.append(&a, &line);
    f.append(&a, &line);
    // same message id, another request: another message (the mock API's msg_mock1 case)
    f.append(&a, &assistant(S1, "m1", "r2", "2026-03-01T10:00:05.000Z", SONNET, [10, 20, 0, 0]));
    assert_eq!(f.report().totals.sums.messages, 2);
    // a fork copies the session's messages into its own file, then adds its own
    let b = f.path("-p", S2);
    f.append(&b, &line.replace(S1, S2));
    f.append(&b, &assistant(S2, "m9", "r9", "2026-03-02T10:00:00.000Z", SONNET, [1, 1, 0, 0]));
    let r = f.report();
    assert_eq!((r.totals.sums.messages, r.totals.sums.output_tokens), (3, 41));
    // the original goes away: its copy in the fork is counted now
    std::fs::remove_file(&a).unwrap();
    let r = f.report();
    assert_eq!((r.totals.sums.messages, r.totals.sums.output_tokens), (2, 21));
    assert_eq!(r.totals.sessions, 1);
}

#[test]
fn refresh_reads_only_what_was_appended_and_leaves_a_half_line_for_later() {
    let f = Fixture::new();
    let a = f.path("-p", S1);
    f.append(&a, &user(S1, "/p"));
    f.append(&a, &assistant(S1, "m1", "r1", "2026-03-01T10:00:00.000Z", SONNET, [10, 20, 0, 0]));
    let first = f.index.refresh().unwrap();
    assert_eq!((first.files, first.files_read, first.messages), (1, 1, 1));
    let unchanged = f.index.refresh().unwrap();
    assert_eq!((unchanged.files_read, unchanged.bytes_read), (0, 0), "an unchanged file is not opened");

    // a new run appends; the CLI is still writing its last line
    let run = assistant(S1, "m2", "r2", "2026-03-02T10:00:00.000Z", SONNET, [1, 2, 0, 0]);
    let half = assistant(S1, "m3", "r3", "2026-03-02T10:00:01.000Z", SONNET, [100, 200, 0, 0]);
    let (written, rest) = half.split_at(half.len() / 2);
    f.append(&a, &run);
    f.append(&a, written);
    let stats = f.index.refresh().unwrap();
    assert_eq!(stats.bytes_read, (run.len() + written.len()) as u64, "only the appended bytes");
    assert_eq!(stats.files_reset, 0);
    let r = f.index.report(Period::ALL).unwrap();
    assert_eq!((r.totals.sums.messages, r.totals.sums.output_tokens), (2, 22), "the half line is not counted");

    f.append(&a, rest);
    let stats = f.index.refresh().unwrap();
    assert_eq!(stats.bytes_read, half.len() as u64, "the half line is read again, whole");
    let r = f.index.report(Period::ALL).unwrap();
    assert_eq!((r.totals.sums.messages, r.totals.sums.output_tokens), (3, 222));
}

#[test]
fn a_file_that_shrank_or_was_rewritten_or_replaced_is_read_again_from_the_start() {
    let f = Fixture::new();
    let a = f.path("-p", S1);
    let one = assistant(S1, "m1", "r1", "2026-03-01T10:00:00.000Z", SONNET, [10, 20, 0, 0]);
    let two = assistant(S1, "m2", "r2", "2026-03-01T11:00:00.000Z", SONNET, [10, 30, 0, 0]);
    std::fs::write(&a, format!("{one}{two}")).unwrap();
    assert_eq!(f.report().totals.sums.output_tokens, 50);

    // truncated to its first line
    std::fs::OpenOptions::new().write(true).open(&a).unwrap().set_len(one.len() as u64).unwrap();
    let stats = f.index.refresh().unwrap();
    assert_eq!(stats.files_reset, 1);
    assert_eq!(f.index.report(Period::ALL).unwrap().totals.sums.output_tokens, 20);

    // rewritten in place: same inode, longer, another first line
    let other = assistant(S1, "m7", "r7", "2026-03-01T10:00:00.000Z", SONNET, [10, 70, 0, 0]);
    let mut file = std::fs::OpenOptions::new().write(true).open(&a).unwrap();
    file.write_all(format!("{other}{two}").as_bytes()).unwrap();
    drop(file);
    let stats = f.index.refresh().unwrap();
    assert_eq!(stats.files_reset, 1);
    assert_eq!(f.index.report(Period::ALL).unwrap().totals.sums.output_tokens, 100);

    // replaced by another file (a new inode), as an editor or a rename does
    let tmp = a.with_extension("tmp");
    std::fs::write(&tmp, &one).unwrap();
    std::fs::rename(&tmp, &a).unwrap();
    let stats = f.index.refresh().unwrap();
    assert_eq!(stats.files_reset, 1);
    assert_eq!(f.index.report(Period::ALL).unwrap().totals.sums.output_tokens, 20);
}

#[test]
fn a_line_longer_than_the_buffer_is_read_whole_and_lines_that_are_not_json_are_skipped() {
    let f = Fixture::new();
    let a = f.path("-p", S1);
    let big = transcripts::with_text(
        &assistant(S1, "m1", "r1", "2026-03-01T10:00:00.000Z", SONNET, [0, 5, 0, 0]),
        3 * 256 * 1024,
    );
    f.append(&a, "not json at all\n\n");
    f.append(&a, &big);
    let r = f.report();
    assert_eq!((r.totals.sums.messages, r.totals.sums.output_tokens), (1, 5));
}
