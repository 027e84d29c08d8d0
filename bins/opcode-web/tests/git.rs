//! The Git routes and per-turn diffs over real sockets, with real git repositories in temp dirs and the
//! fake claude writing files on demand (`@write=PATH`).
mod common;

use common::*;
use serde_json::{json, Value};

fn q(server: &TestServer) -> String {
    format!("project_path={}", server.project_path())
}

async fn post(server: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let response = server.http().post(server.url(path)).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_raw(server: &TestServer, path: &str, body: Vec<u8>) -> (u16, Value) {
    let response = server
        .http()
        .post(server.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn status(server: &TestServer) -> Value {
    let (code, body) = server.get_json(&format!("/api/git/status?{}", q(server))).await;
    assert_eq!(code, 200, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn status_diff_stage_unstage_commit_discard() {
    let server = TestServer::start().await;
    make_repo(&server).await;
    let d = server.project.path();
    std::fs::write(d.join("a.txt"), "two\n").unwrap();
    std::fs::write(d.join("new.txt"), "fresh\n").unwrap();

    let s = status(&server).await;
    assert_eq!(s["repository"], true);
    assert_eq!(s["branch"], "main");
    assert_eq!(s["unstaged"][0]["path"], "a.txt");
    assert_eq!(s["unstaged"][0]["kind"], "modified");
    assert_eq!(s["untracked"], json!(["new.txt"]));

    let (code, diff) = server.get_json(&format!("/api/git/diff?{}&path=a.txt&staged=false", q(&server))).await;
    assert_eq!(code, 200, "{diff}");
    assert!(diff["data"]["diff"].as_str().unwrap().contains("-one\n+two"), "{diff}");

    let (code, body) =
        post(&server, &format!("/api/git/stage?{}", q(&server)), json!({"paths": ["a.txt", "new.txt"]})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&server).await["staged"].as_array().unwrap().len(), 2);
    let (code, body) = post(&server, &format!("/api/git/unstage?{}", q(&server)), json!({"paths": ["new.txt"]})).await;
    assert_eq!(code, 200, "{body}");
    let s = status(&server).await;
    assert_eq!(s["staged"].as_array().unwrap().len(), 1);
    assert_eq!(s["untracked"], json!(["new.txt"]));

    let (code, body) = post(&server, &format!("/api/git/commit?{}", q(&server)), json!({"message": "second"})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(sh_git(d, &["log", "-1", "--format=%s"]).await.trim(), "second");
    let (code, body) = post(&server, &format!("/api/git/commit?{}", q(&server)), json!({"message": "again"})).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nothing is staged"), "{body}");

    let (code, body) = post(&server, &format!("/api/git/discard?{}", q(&server)), json!({"path": "new.txt"})).await;
    assert_eq!(code, 200, "{body}");
    assert!(!d.join("new.txt").exists());
    assert_eq!(status(&server).await["untracked"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn branches_and_a_refused_switch() {
    let server = TestServer::start().await;
    make_repo(&server).await;
    let d = server.project.path();
    sh_git(d, &["switch", "-q", "-c", "other"]).await;
    std::fs::write(d.join("a.txt"), "other\n").unwrap();
    sh_git(d, &["commit", "-q", "-am", "other"]).await;
    sh_git(d, &["switch", "-q", "main"]).await;
    let (code, body) = server.get_json(&format!("/api/git/branches?{}", q(&server))).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"][0]["name"], "main");
    assert_eq!(body["data"][0]["current"], true);
    std::fs::write(d.join("a.txt"), "dirty\n").unwrap();
    let (code, body) = post(&server, &format!("/api/git/switch?{}", q(&server)), json!({"branch": "other"})).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("local changes"), "{body}");
    assert_eq!(std::fs::read_to_string(d.join("a.txt")).unwrap(), "dirty\n", "nothing was touched");
    let (code, _) = post(&server, &format!("/api/git/switch?{}", q(&server)), json!({"branch": "-f"})).await;
    assert_eq!(code, 400);
    sh_git(d, &["checkout", "-q", "--", "a.txt"]).await;
    let (code, body) = post(&server, &format!("/api/git/switch?{}", q(&server)), json!({"branch": "other"})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&server).await["branch"], "other");
    server.stop().await;
}

#[tokio::test]
async fn a_folder_that_is_not_a_repository_is_offered_init() {
    let server = TestServer::start().await;
    assert_eq!(status(&server).await, json!({"repository": false}));
    let (code, body) = post(&server, &format!("/api/git/stage?{}", q(&server)), json!({"paths": ["x"]})).await;
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not a git repository"), "{body}");
    let (code, body) = post(&server, &format!("/api/git/init?{}", q(&server)), json!({})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&server).await["repository"], true);
    let (code, _) = post(&server, &format!("/api/git/init?{}", q(&server)), json!({})).await;
    assert_eq!(code, 409);
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_4xx_json_error_and_writes_nothing() {
    let server = TestServer::start().await;
    make_repo(&server).await;
    let d = server.project.path();
    std::fs::write(d.join("a.txt"), "two\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let before = status(&server).await;

    let stage = format!("/api/git/stage?{}", q(&server));
    for path in ["../x", "/etc/passwd", "-A", "--all", "a/../../x", ".git/config", ":(glob)*", "a\u{0}b", ""] {
        let (code, body) = post(&server, &stage, json!({"paths": [path]})).await;
        assert_eq!(code, 400, "{path:?}: {body}");
        assert_eq!(body["success"], false);
        let (code, body) = post(&server, &format!("/api/git/discard?{}", q(&server)), json!({"path": path})).await;
        assert_eq!(code, 400, "{path:?}: {body}");
    }
    let (code, _) = server.get_json(&format!("/api/git/diff?{}&path=../../etc/passwd", q(&server))).await;
    assert_eq!(code, 400);
    let (code, body) = post(&server, &stage, json!({"paths": []})).await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = post_raw(&server, &stage, b"{not json".to_vec()).await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["success"], false);
    let (code, body) = post(&server, &stage, json!({"paths": ["a.txt"], "force": true})).await;
    assert_eq!(code, 400, "unknown fields are refused: {body}");
    let big = json!({"message": "x".repeat(300 * 1024)}).to_string().into_bytes();
    let (code, body) = post_raw(&server, &format!("/api/git/commit?{}", q(&server)), big).await;
    assert_eq!(code, 413, "{body}");
    let (code, body) = post(&server, &format!("/api/git/commit?{}", q(&server)), json!({"message": " \n "})).await;
    assert_eq!(code, 400, "{body}");

    // unknown or unacceptable projects
    for project in ["relative/dir", "/nonexistent/opcode-git-test"] {
        let (code, body) = server.get_json(&format!("/api/git/status?project_path={project}")).await;
        assert!(code == 400 || code == 403 || code == 404, "{project}: {code} {body}");
        assert_eq!(body["success"], false);
    }
    let (code, _) = server.get_json("/api/git/status").await;
    assert_eq!(code, 400);
    let (code, _) = server.get_json(&format!("/api/git/status?{}&extra=1", q(&server))).await;
    assert_eq!(code, 400);

    // unknown sessions and turns
    let (code, _) = server.get_json("/api/sessions/not-a-uuid/turns").await;
    assert_eq!(code, 400);
    let unknown = uuid::Uuid::new_v4();
    let (code, body) = server.get_json(&format!("/api/sessions/{unknown}/turns")).await;
    assert_eq!((code, body["data"].clone()), (200, json!([])));
    let (code, _) = server.get_json(&format!("/api/sessions/{unknown}/turns/1/diff")).await;
    assert_eq!(code, 404);
    let (code, _) = server.get_json(&format!("/api/sessions/{unknown}/turns/x/diff")).await;
    assert_eq!(code, 400);

    assert_eq!(status(&server).await, before, "nothing was staged, committed or discarded");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_one_shot_run_that_writes_a_file_has_a_turn_diff_with_it() {
    let server = TestServer::start().await;
    make_repo(&server).await;
    let d = server.project.path();
    std::fs::write(d.join("dirty-before.txt"), "the user's own uncommitted file\n").unwrap();
    let index_before = std::fs::read(d.join(".git/index")).unwrap();
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("execute", "change it @write=src/made.txt", Some(&id))).await;
    until_completion(&mut ws).await;

    let turns = finished_turns(&server, &id, 1).await;
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0]["turn"], 1);
    assert_eq!(turns[0]["files"], json!([{"path": "src/made.txt", "kind": "added"}]));
    let (code, body) = server.get_json(&format!("/api/sessions/{id}/turns/1/diff")).await;
    assert_eq!(code, 200, "{body}");
    let diff = body["data"]["diff"].as_str().unwrap();
    assert!(diff.contains("+fake claude wrote src/made.txt"), "{diff}");
    assert!(!diff.contains("dirty-before"), "what was there before the turn is not its change: {diff}");
    assert_eq!(std::fs::read(d.join(".git/index")).unwrap(), index_before, "the user's index is untouched");
    let s = status(&server).await;
    assert_eq!(s["staged"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn each_live_turn_has_its_own_diff() {
    let server = TestServer::start().await;
    make_repo(&server).await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("first @write=one.txt", &id)).await;
    until(&mut ws, is_result).await;
    finished_turns(&server, &id, 1).await;
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"second @write=two.txt"}).to_string()).await;
    until(&mut ws, is_result).await;
    let turns = finished_turns(&server, &id, 2).await;
    assert_eq!(turns[0]["files"], json!([{"path": "one.txt", "kind": "added"}]));
    assert_eq!(turns[1]["files"], json!([{"path": "two.txt", "kind": "added"}]));
    server.stop().await;
}

#[tokio::test]
async fn a_project_that_is_not_a_repository_has_no_turns() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.request("execute", "hello @write=x.txt", Some(&id))).await;
    until_completion(&mut ws).await;
    let (code, body) = server.get_json(&format!("/api/sessions/{id}/turns")).await;
    assert_eq!((code, body["data"].clone()), (200, json!([])));
    assert!(!server.project.path().join(".git").exists(), "no repository was made");
    server.stop().await;
}
