//! opcode-web as replicas of a cluster (`--nats-url`), on a real nats-server, with a worker running the fake
//! claude: a run started on one replica is watched from another; two viewers on two replicas answer one
//! permission request at once and one wins; a viewer whose replica dies mid-run carries on from another
//! replica with `since=` and sees no gap and no duplicate; every replica serves a session's events so far
//! (`/output`); bad requests are refused as a server on its own refuses them. A replica pushes the workers'
//! permission requests and ends of turns to the devices subscribed through it, snapshots each turn of
//! the (shared) project, and forks a session on a worker.

mod common;

use std::time::Duration;

use common::*;
use opcode_bus::{Bus, BusConfig};
use opcode_cluster::{ClusterClient, Worker};
use opcode_sessions::claude_store::ClaudeStore;
use opcode_sessions::RegistryConfig;
use opcode_testkit::nats::NatsServer;
use serde_json::{json, Value};

fn bus_config() -> BusConfig {
    BusConfig { lease_ttl: Duration::from_secs(2), ..BusConfig::default() }
}

/// A worker with its own data dir, running claude in the replicas' project folders (one machine here).
async fn worker(server: &NatsServer, id: &str) -> (Worker, tempfile::TempDir, tempfile::TempDir) {
    worker_with(server, id, |_| {}).await
}

/// A worker whose registry `adjust` changes (another claude, its environment).
async fn worker_with(
    server: &NatsServer,
    id: &str,
    adjust: impl FnOnce(&mut RegistryConfig),
) -> (Worker, tempfile::TempDir, tempfile::TempDir) {
    common::cluster::worker_on(&server.url(), bus_config(), id, adjust).await
}

/// An opcode-web replica of the cluster.
async fn replica(server: &NatsServer) -> TestServer {
    replica_with(server, false).await
}

/// An opcode-web replica of the cluster, with Web Push on when `push`.
async fn replica_with(server: &NatsServer, push: bool) -> TestServer {
    let bus = Bus::connect(&server.url(), bus_config()).await.unwrap();
    TestServer::start_replica(ClusterClient::new(bus), push).await
}

/// The `seq` of an event frame.
fn seq(e: &Value) -> u64 {
    e["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn a_run_started_on_one_replica_is_watched_and_answered_from_another() {
    let nats = NatsServer::start().await;
    let (w, _d, _c) = worker(&nats, "w-1").await;
    let (one, two) = (replica(&nats).await, replica(&nats).await);

    let id = uuid::Uuid::new_v4().to_string();
    let mut owner = one.ws("/ws/claude").await;
    send(&mut owner, one.live_request("please @tool", &id)).await;
    let seen = until(&mut owner, |e| e["type"] == "permission_request").await;
    assert_eq!(seen[0]["type"], "start");
    assert_contiguous(&seen, &id, 0);
    let request_id = seen.last().unwrap()["request_id"].as_str().unwrap().to_owned();

    // a viewer on the other replica sees the same events, then both answer at once: one wins
    let mut phone = two.ws(&format!("/ws/sessions/{id}")).await;
    let replayed = until(&mut phone, |e| e["type"] == "permission_request").await;
    assert_eq!(replayed, seen, "the same events, the same seqs, from either replica");
    let answer = |behavior: &str| {
        json!({"type":"permission_response","session_id":id,"request_id":request_id,"behavior":behavior}).to_string()
    };
    send(&mut owner, answer("allow")).await;
    send(&mut phone, answer("deny")).await;
    let phone_saw = until(&mut phone, |e| e["type"] == "permission_resolved").await;
    let owner_saw = until(&mut owner, is_result).await;
    assert_eq!(owner_saw.iter().filter(|e| e["type"] == "permission_resolved").count(), 1, "one answer won");
    let winner = phone_saw.last().unwrap()["behavior"].as_str().unwrap().to_owned();
    // the loser was told, as on a server on its own (its refusal may have come before the resolution)
    let (loser, saw) = if winner == "allow" { (&mut phone, phone_saw) } else { (&mut owner, owner_saw) };
    let refusal = match saw.into_iter().find(|e| e.get("seq").is_none()) {
        Some(refusal) => refusal,
        None => until(loser, |e| e.get("seq").is_none()).await.pop().unwrap(),
    };
    assert!(refusal["message"].as_str().unwrap().contains("not pending"), "{winner} won; the loser got {refusal}");

    // either replica lists the run, in progress, as a server on its own does
    for replica in [&one, &two] {
        let (status, body) = replica.get_json("/api/sessions/running").await;
        assert_eq!(status, 200, "{body}");
        let run = body["data"].as_array().unwrap().iter().find(|r| r["session_id"] == id.as_str()).cloned();
        let run = run.unwrap_or_else(|| panic!("the run is listed: {body}"));
        assert_eq!(run["status"], "running", "{run}");
        assert_eq!(run["live"], true);
        assert_eq!(run["process_type"]["ClaudeSession"]["session_id"], id.as_str());
    }

    // REST on the other replica steers the run too: end it; both viewers see its completion
    let response =
        two.http().post(two.url(&format!("/api/sessions/{id}/end"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let done = until_completion(&mut owner).await;
    assert_eq!(done.last().unwrap()["status"], "success");
    let (tail, code) = until_close(&mut phone).await;
    assert!(tail.iter().any(|e| e["type"] == "completion"), "{tail:?}");
    assert_eq!(code, Some(1000), "the attach socket closes once the run is over");

    // commands for a session with no run are refused as usual
    let response =
        one.http().post(one.url(&format!("/api/sessions/{id}/cancel"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let unknown = uuid::Uuid::new_v4();
    let mut nobody = one.ws(&format!("/ws/sessions/{unknown}")).await;
    assert_eq!(until_close(&mut nobody).await.1, Some(opcode_web::ws::CLOSE_UNKNOWN_SESSION), "an unknown session");
    one.stop().await;
    two.stop().await;
    w.shutdown().await;
}

#[tokio::test]
async fn a_viewer_whose_replica_dies_carries_on_from_another_with_no_gap_and_no_duplicate() {
    let nats = NatsServer::start().await;
    let (w, _d, _c) = worker(&nats, "w-1").await;
    let (one, two) = (replica(&nats).await, replica(&nats).await);

    // a run that writes 400 lines, 5 ms apart
    let mut ws = one.ws("/ws/claude").await;
    send(&mut ws, one.request("execute", "count @lines=400 @delay=5", None)).await;
    let first = until(&mut ws, |e| e["type"] == "output").await;
    let id = first[0]["session_id"].as_str().unwrap().to_owned();
    let last = seq(first.last().unwrap());

    // replica one dies with the viewer on it
    one.stop().await;
    let mut rest = two.ws(&format!("/ws/sessions/{id}?since={last}")).await;
    let (after, code) = until_close(&mut rest).await;
    assert_eq!(code, Some(1000));
    assert_contiguous(&after, &id, last + 1);
    let mut all = first;
    all.extend(after);
    assert_contiguous(&all, &id, 0);
    assert_eq!(all.iter().filter(|e| e["type"] == "completion").count(), 1);
    assert!(all.iter().filter(|e| e["type"] == "output").count() >= 400);
    two.stop().await;
    w.shutdown().await;
}

/// `GET /api/sessions/{id}/output` of `server`.
async fn output(server: &TestServer, id: &str) -> (u16, Value) {
    server.get_json(&format!("/api/sessions/{id}/output")).await
}

#[tokio::test]
async fn every_replica_serves_a_sessions_events_so_far_during_and_after_its_run() {
    let nats = NatsServer::start().await;
    let (w, _d, _c) = worker(&nats, "w-1").await;
    let (one, two) = (replica(&nats).await, replica(&nats).await);

    // a live session started on replica one, idle after its first turn: replica two has its events so far
    let id = uuid::Uuid::new_v4().to_string();
    let mut owner = one.ws("/ws/claude").await;
    send(&mut owner, one.live_request("hello", &id)).await;
    let seen = until(&mut owner, is_result).await;
    let (status, body) = output(&two, &id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap()[..seen.len()], seen[..], "what the owner saw, from the other replica");

    // ended: the events up to the completion, the same from either replica
    let response =
        two.http().post(two.url(&format!("/api/sessions/{id}/end"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let done = until_completion(&mut owner).await;
    let (status, first) = output(&one, &id).await;
    assert_eq!(status, 200, "{first}");
    let events = first["data"].as_array().unwrap().clone();
    assert_contiguous(&events, &id, 0);
    assert_eq!(events.last(), done.last(), "up to the completion");
    assert_eq!(output(&two, &id).await, (200, first));

    // an unknown session, or an id that is not one, is not found, as on a server on its own
    for bad in [uuid::Uuid::new_v4().to_string(), "not-a-session".to_owned()] {
        let (status, body) = output(&two, &bad).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["success"], false);
    }
    one.stop().await;
    two.stop().await;
    w.shutdown().await;
}

#[tokio::test]
async fn with_no_worker_a_start_is_refused_with_what_to_do() {
    let nats = NatsServer::start().await;
    let one = replica(&nats).await;
    let mut ws = one.ws("/ws/claude").await;
    send(&mut ws, one.request("execute", "hello", None)).await;
    let refusal = until(&mut ws, |e| e["type"] == "error" || e.get("seq").is_none()).await.pop().unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("no opcode-worker answered"), "{refusal}");
    // and bad input is refused before anything is sent anywhere
    send(&mut ws, json!({"command_type":"execute","project_path":"","prompt":"x"}).to_string()).await;
    let refusal = until(&mut ws, |e| e.get("seq").is_none()).await.pop().unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("project_path"), "{refusal}");
    one.stop().await;
}

#[tokio::test]
async fn the_genuine_cli_runs_on_a_worker_and_resumes_there_through_a_replica() {
    let Some(claude) = common::genuine::real_claude() else { return };
    let mock = opcode_testkit::mock_api::MockApi::start().await.unwrap();
    let nats = NatsServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let (home_path, url) = (home.path().to_path_buf(), mock.url.clone());
    let (w, _d, _c) = worker_with(&nats, "w-genuine", move |c| {
        c.child_env.retain(|(key, _)| key != "CLAUDE_CONFIG_DIR");
        common::genuine::use_genuine(c, claude, url, &home_path);
    })
    .await;
    let one = replica(&nats).await;
    let mut ws = one.ws("/ws/claude").await;
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, one.request("execute", "first turn alpha", Some(&id))).await;
    let first = until_completion(&mut ws).await;
    assert_contiguous(&first, &id, 0);
    assert_eq!(first.last().unwrap()["status"], "success", "{first:#?}");
    assert!(first.iter().any(|e| e["content"].to_string().contains("Mock reply to: first turn alpha")), "{first:#?}");

    send(&mut ws, one.request("resume", "second turn beta", Some(&id))).await;
    let second = until_completion(&mut ws).await;
    assert_contiguous(&second, &id, first.len() as u64);
    assert_eq!(second.last().unwrap()["status"], "success", "{second:#?}");
    let saw_first = mock.requests().iter().any(|r| {
        let body = r.to_string();
        body.contains("second turn beta") && body.contains("first turn alpha")
    });
    assert!(saw_first, "the resumed run on the worker sent the first turn to the API");
    one.stop().await;
    w.shutdown().await;
}

#[tokio::test]
async fn a_replica_pushes_a_workers_permission_request_and_its_answer_route_allows_it() {
    let nats = NatsServer::start().await;
    let (w, _d, _c) = worker(&nats, "w-1").await;
    let one = replica_with(&nats, true).await;
    let mut phone = one.endpoint().await;
    one.subscribe(&phone, "phone-1").await;

    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = one.ws("/ws/claude").await;
    send(&mut ws, one.live_request("please @tool", &id)).await;
    let request = until(&mut ws, |e| e["type"] == "permission_request").await.pop().unwrap();
    let pushed = phone.next_of("permission_request").await;
    assert_eq!(pushed.payload["session_id"], id.as_str());
    let permission = &pushed.payload["permission"];
    assert_eq!(permission["request_id"], request["request_id"]);
    assert_eq!(permission["tool_name"], "Bash");

    // the notification's Allow goes to the replica, which routes it to the worker: the tool runs
    let answer_url = permission["answer_url"].as_str().unwrap();
    let (status, body) = one.call(reqwest::Method::POST, answer_url, &json!({ "behavior": "allow" })).await;
    assert_eq!(status, 200, "{body}");
    let resolved = until(&mut ws, |e| e["type"] == "permission_resolved").await.pop().unwrap();
    assert_eq!(resolved["behavior"], "allow");
    until(&mut ws, is_result).await;
    let done = phone.next_of("finished").await;
    assert_eq!(done.payload["session_id"], id.as_str());
    assert!(one.project.path().join("tool-ran.txt").exists());
    // a second answer is refused as on a server on its own
    let (status, body) = one.call(reqwest::Method::POST, answer_url, &json!({ "behavior": "deny" })).await;
    assert_eq!(status, 409, "{body}");
    one.stop().await;
    w.shutdown().await;
}

#[tokio::test]
async fn a_replica_snapshots_each_turn_and_forks_a_session_on_a_worker_with_shared_folders() {
    let nats = NatsServer::start().await;
    let one = replica(&nats).await;
    // the worker and the replica share the project folder and Claude's files (here: one machine)
    let shared_claude = one.claude_dir.path().to_path_buf();
    let (w, _d, _c) = worker_with(&nats, "w-1", move |c| {
        c.claude_store = ClaudeStore::new(&shared_claude);
        c.child_env.retain(|(key, _)| key != "CLAUDE_CONFIG_DIR");
        c.child_env.push(("CLAUDE_CONFIG_DIR".into(), shared_claude.into()));
    })
    .await;
    make_repo(&one).await;
    let project = std::fs::canonicalize(one.project.path()).unwrap().display().to_string();

    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = one.ws("/ws/claude").await;
    // `continue` with no session yet: refused by the replica, which reads the project's transcripts
    send(&mut ws, one.request("continue", "nothing yet", None)).await;
    let refused = next_json(&mut ws).await.expect("a request error");
    assert_eq!(refused["type"], "error", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("no earlier session to continue"), "{refused}");
    send(&mut ws, one.request("execute", "first alpha @write=one.txt", Some(&id))).await;
    assert_eq!(until_completion(&mut ws).await.last().unwrap()["status"], "success");
    send(&mut ws, one.request("resume", "second beta", Some(&id))).await;
    assert_eq!(until_completion(&mut ws).await.last().unwrap()["status"], "success");
    // `continue` without an id: the latest session of the project, continued on its worker
    send(&mut ws, one.request("continue", "third delta", None)).await;
    let third = until_completion(&mut ws).await;
    assert_eq!(third[0]["session_id"], id.as_str(), "{third:#?}");
    assert_eq!(third.last().unwrap()["status"], "success", "{third:#?}");
    // the first turn's change, snapshotted by the replica when the worker announced the run's end
    let turns = finished_turns(&one, &id, 1).await;
    assert_eq!(turns[0]["files"], json!([{"path": "one.txt", "kind": "added"}]));

    let (status, timeline) = one.get_json(&format!("/api/sessions/{id}/timeline?project_path={project}")).await;
    assert_eq!(status, 200, "{timeline}");
    let at = timeline["data"]["turns"][0]["last_message_id"].as_str().unwrap().to_owned();
    let body = json!({"project_path": project, "message_id": at, "prompt": "forked gamma"});
    let (status, forked) = one.call(reqwest::Method::POST, &format!("/api/sessions/{id}/fork"), &body).await;
    assert_eq!(status, 200, "{forked}");
    let new_id = forked["data"]["session_id"].as_str().unwrap().to_owned();
    let mut fork = one.ws(&format!("/ws/sessions/{new_id}")).await;
    let events = until_completion(&mut fork).await;
    assert_eq!(events.last().unwrap()["status"], "success", "{events:#?}");
    assert_contiguous(&events, &new_id, 0);
    // the fork ran on the worker: its events are on the bus, its transcript in the shared folder
    let bus = Bus::connect(&nats.url(), bus_config()).await.unwrap();
    assert_eq!(bus.session_len(&new_id).await.unwrap(), events.len() as u64);
    let folder =
        one.claude_dir.path().join("projects").join(opcode_testkit::project_dir_name(std::path::Path::new(&project)));
    assert!(folder.join(format!("{new_id}.jsonl")).exists(), "the fork keeps a transcript of its own");
    one.stop().await;
    w.shutdown().await;
}

#[tokio::test]
async fn an_agent_run_on_a_replica_runs_on_a_worker_and_its_history_has_the_figures() {
    let nats = NatsServer::start().await;
    let (w, _d, _c) = worker(&nats, "w-1").await;
    let one = replica(&nats).await;
    let agent =
        json!({"name": "Counter", "system_prompt": "Count.", "default_task": "count @lines=2", "model": "opus"});
    let (status, agent) = one.call(reqwest::Method::POST, "/api/agents", &agent).await;
    assert_eq!(status, 201, "{agent}");
    let agent_id = agent["data"]["id"].as_i64().unwrap();
    let run = json!({"project_path": one.project_path()});
    let (status, run) = one.call(reqwest::Method::POST, &format!("/api/agents/{agent_id}/run"), &run).await;
    assert_eq!(status, 201, "{run}");
    let session_id = run["data"]["session_id"].as_str().unwrap().to_owned();
    let done = agent_run_until(&one, agent_id, |r| r["status"] == "success").await;
    assert_eq!(done["session_id"], session_id.as_str());
    assert_eq!(done["total_tokens"].as_u64(), Some(15), "the figures of the run's result line: {done}");
    // it ran on the worker: its events are on the bus
    let bus = Bus::connect(&nats.url(), bus_config()).await.unwrap();
    assert!(bus.session_len(&session_id).await.unwrap() > 0);
    one.stop().await;
    w.shutdown().await;
}

#[tokio::test]
async fn the_cluster_route_shows_the_workers_their_runs_and_the_stream_and_a_503_once_nats_is_gone() {
    let alone = TestServer::start().await;
    let (status, body) = alone.get_json("/api/cluster").await;
    assert_eq!((status, &body["data"]), (200, &json!({"mode": "single"})), "a server on its own");
    alone.stop().await;

    let mut nats = NatsServer::start().await;
    let (w, _d, _c) = worker(&nats, "w-status").await;
    let one = replica(&nats).await;
    let id = uuid::Uuid::new_v4().to_string();
    let mut ws = one.ws("/ws/claude").await;
    send(&mut ws, one.live_request("hello", &id)).await;
    until(&mut ws, is_result).await;
    let (status, body) = one.get_json("/api/cluster").await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!((data["mode"].as_str(), data["connected"].as_bool()), (Some("replica"), Some(true)), "{body}");
    assert_eq!(data["cluster"]["workers"], json!([{"id": "w-status", "runs": 1, "project_roots": []}]), "{body}");
    assert_eq!(data["cluster"]["runs"], 1);
    let stream = &data["cluster"]["stream"];
    assert!(stream["messages"].as_u64().unwrap() > 0, "{stream}");
    assert_eq!(stream["configured_replicas"], 1);
    assert_eq!(stream["consumers"], 1, "one consumer: the tail of the open socket's session; {stream}");

    let end = one.http().post(one.url(&format!("/api/sessions/{id}/end"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(end.status(), 200);
    until_completion(&mut ws).await;
    nats.stop().await;
    let (status, body) = one.get_json("/api/cluster").await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("NATS server does not answer"), "{body}");
    one.stop().await;
    w.shutdown().await;
}
