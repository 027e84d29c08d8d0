//! Images in prompts against the real server (fake claude): a one-shot run with an image takes it on stdin
//! as a content block; a live session's follow-up with images; bad images (wrong type, too large, not
//! base64, bytes of another type, too many) get a clear error and start or send nothing.

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use serde_json::{json, Value};

/// A 1×1 PNG, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

fn png() -> Value {
    json!({"media_type":"image/png","data":PNG})
}

/// Images that must be refused, and what the error names.
fn bad_images() -> Vec<(Value, &'static str)> {
    let mut too_large = b"\x89PNG\r\n\x1a\n".to_vec();
    too_large.resize(5 * 1024 * 1024 + 1, 0);
    vec![
        (json!([{"media_type":"image/svg+xml","data":PNG}]), "PNG, JPEG, GIF or WebP"),
        (json!([{"media_type":"image/png","data":"%%% not base64 %%%"}]), "not base64"),
        (json!([{"media_type":"image/png","data":format!("data:image/png;base64,{PNG}")}]), "not base64"),
        (json!([{"media_type":"image/jpeg","data":PNG}]), "not a image/jpeg image"),
        (json!([{"media_type":"image/png","data":Base64::encode_string(&too_large)}]), "5 MiB"),
        (json!([png(), png(), png(), png(), png()]), "at most 4"),
        (json!([{"media_type":"image/png"}]), "data"),
    ]
}

/// A refusal frame (`error` without a `seq`: no session event).
fn is_request_error(e: &Value) -> bool {
    e["type"] == "error" && e.get("seq").is_none()
}

#[tokio::test]
async fn a_one_shot_run_with_an_image_gets_it_as_a_content_block_and_logs_it() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    let mut request: Value = serde_json::from_str(&server.request("execute", "look at this", None)).unwrap();
    request["images"] = json!([png()]);
    send(&mut ws, request.to_string()).await;
    let run = until_completion(&mut ws).await;
    assert_eq!(run.last().unwrap()["status"], "success", "{run:#?}");
    let prompt = run.iter().find(|e| e["type"] == "user_prompt").expect("user_prompt");
    assert_eq!(prompt["prompt"], "look at this");
    assert_eq!(prompt["images"], json!([png()]));
    let said = run.iter().any(|e| e["content"].to_string().contains("Echo: look at this [images: image/png]"));
    assert!(said, "the fake claude saw the image block: {run:#?}");
    // without images: the prompt stays in argv, and no user_prompt is logged (as before)
    send(&mut ws, server.request("execute", "plain words", None)).await;
    let plain = until_completion(&mut ws).await;
    assert_eq!(plain.last().unwrap()["status"], "success");
    assert!(!plain.iter().any(|e| e["type"] == "user_prompt"));
    server.stop().await;
}

#[tokio::test]
async fn bad_images_start_nothing_and_send_nothing() {
    let server = TestServer::start().await;
    let mut ws = server.ws("/ws/claude").await;
    for (images, says) in bad_images() {
        let mut request: Value = serde_json::from_str(&server.request("execute", "look", None)).unwrap();
        request["images"] = images;
        send(&mut ws, request.to_string()).await;
        let error = next_json(&mut ws).await.unwrap();
        assert!(is_request_error(&error), "{error}");
        assert!(error["message"].as_str().unwrap().contains(says), "{says}: {error}");
    }
    let (_, running) = server.get_json("/api/sessions/running").await;
    assert_eq!(running["data"], json!([]), "no run started");

    // a live session: a bad follow-up (socket and REST) is refused and nothing reaches claude
    let id = uuid::Uuid::new_v4().to_string();
    send(&mut ws, server.live_request("first", &id)).await;
    until(&mut ws, is_result).await;
    let http = server.http();
    for (images, says) in bad_images() {
        send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"bad","images":images.clone()}).to_string())
            .await;
        let error = until(&mut ws, is_request_error).await;
        assert_eq!(error.len(), 1, "nothing but the error: {error:#?}");
        assert!(error[0]["message"].as_str().unwrap().contains(says), "{says}: {error:#?}");
        let response = http
            .post(server.url(&format!("/api/sessions/{id}/prompt")))
            .bearer_auth(TOKEN)
            .json(&json!({"prompt":"bad","images":images}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains(says), "{says}: {body}");
    }
    // a good one still goes: the next turn is the first the session sees after the refusals
    send(&mut ws, json!({"type":"prompt","session_id":id,"prompt":"now this","images":[png()]}).to_string()).await;
    let turn = until(&mut ws, is_result).await;
    let prompts: Vec<&Value> = turn.iter().filter(|e| e["type"] == "user_prompt").collect();
    assert_eq!(prompts.len(), 1, "{turn:#?}");
    assert_eq!(prompts[0]["prompt"], "now this");
    assert!(turn.iter().any(|e| e["content"].to_string().contains("Echo: now this [images: image/png] (turn 2)")));
    send(&mut ws, json!({"type":"end","session_id":id}).to_string()).await;
    until_completion(&mut ws).await;
    server.stop().await;
}
