//! The Files routes over real sockets: browse, read, save with a version, create, rename, delete, upload,
//! download, archive; and every bad input answered with a clear 4xx JSON error and nothing written.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::{enc, TestServer, TOKEN};
use serde_json::{json, Value};

fn q(server: &TestServer, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![("project_path".to_owned(), server.project_path())];
    pairs.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    pairs.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
}

async fn call(server: &TestServer, method: &str, route: &str, query: &str, body: Option<Value>) -> (u16, Value) {
    let url = server.url(&format!("/api/files/{route}?{query}"));
    let mut request = server.http().request(method.parse().unwrap(), url).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn save(server: &TestServer, query: &str, content: impl Into<reqwest::Body>) -> (u16, Value) {
    let url = server.url(&format!("/api/files/save?{query}"));
    let response = server.http().put(url).bearer_auth(TOKEN).body(content).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn upload(server: &TestServer, query: &str, files: &[(&str, Vec<u8>)]) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes) in files {
        form = form.part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name((*name).to_owned()));
    }
    let url = server.url(&format!("/api/files/upload?{query}"));
    let response = server.http().post(url).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// Every file under `dir` with its content, to show nothing was written.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if kind.is_dir() {
                stack.push(path);
                out.push((name, Vec::new()));
            } else if kind.is_symlink() {
                out.push((name, fs::read_link(&path).unwrap().display().to_string().into_bytes()));
            } else {
                out.push((name, fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A project with code, ignored files, a symlink out, and a folder outside it with a secret.
fn populate(server: &TestServer) -> tempfile::TempDir {
    let p = server.project.path();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    fs::create_dir_all(p.join("src")).unwrap();
    fs::create_dir_all(p.join("node_modules/pkg")).unwrap();
    fs::write(p.join(".gitignore"), "node_modules/\n").unwrap();
    fs::write(p.join("src/main.rs"), "fn main() {}\n").unwrap();
    fs::write(p.join("node_modules/pkg/index.js"), "x").unwrap();
    fs::write(p.join("logo.png"), [0x89, b'P', b'N', b'G', 0, 0, 1]).unwrap();
    symlink(outside.path(), p.join("escape")).unwrap();
    outside
}

fn error_of(body: &Value) -> &str {
    assert_eq!(body["success"], false, "{body}");
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn browse_read_edit_and_a_conflicting_save_is_refused() {
    let server = TestServer::start().await;
    let _outside = populate(&server);

    let (status, body) = call(&server, "GET", "list", &q(&server, &[]), None).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<_> =
        body["data"]["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["src", ".gitignore", "escape", "logo.png"]);
    assert_eq!(body["data"]["hidden_ignored"], 1);
    let (_, body) = call(&server, "GET", "list", &q(&server, &[("ignored", "true")]), None).await;
    let node =
        body["data"]["entries"].as_array().unwrap().iter().find(|e| e["name"] == "node_modules").cloned().unwrap();
    assert_eq!((node["kind"].as_str(), node["ignored"].as_bool()), (Some("folder"), Some(true)));

    let (status, body) = call(&server, "GET", "search", &q(&server, &[("q", "mainrs")]), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["hits"][0]["path"], "src/main.rs");

    let (status, body) = call(&server, "GET", "read", &q(&server, &[("path", "logo.png")]), None).await;
    assert_eq!((status, body["data"]["binary"].as_bool(), body["data"]["size"].as_u64()), (200, Some(true), Some(7)));

    let (_, opened) = call(&server, "GET", "read", &q(&server, &[("path", "src/main.rs")]), None).await;
    assert_eq!(opened["data"]["text"], "fn main() {}\n");
    let version = opened["data"]["version"].as_str().unwrap().to_owned();
    let (status, saved) =
        save(&server, &q(&server, &[("path", "src/main.rs"), ("version", &version)]), "fn main() { go() }\n").await;
    assert_eq!(status, 200, "{saved}");
    let main = server.project.path().join("src/main.rs");
    assert_eq!(fs::read_to_string(&main).unwrap(), "fn main() { go() }\n");

    // the file changes on disk; a save based on what was opened before is refused and writes nothing
    fs::write(&main, "changed by claude\n").unwrap();
    let new_version = saved["data"]["version"].as_str().unwrap();
    let (status, body) = save(&server, &q(&server, &[("path", "src/main.rs"), ("version", new_version)]), "mine").await;
    assert_eq!(status, 409);
    assert!(error_of(&body).contains("changed on disk since it was opened"), "{body}");
    assert_eq!(fs::read_to_string(&main).unwrap(), "changed by claude\n");
    server.stop().await;
}

#[tokio::test]
async fn create_rename_delete_upload_download_and_archive() {
    let server = TestServer::start().await;
    let _outside = populate(&server);
    let p = server.project.path().to_path_buf();

    assert_eq!(
        call(&server, "POST", "create", &q(&server, &[]), Some(json!({"path": "docs", "kind": "folder"}))).await.0,
        200
    );
    assert_eq!(
        call(&server, "POST", "create", &q(&server, &[]), Some(json!({"path": "docs/a.md", "kind": "file"}))).await.0,
        200
    );
    assert!(p.join("docs/a.md").is_file());
    let (status, body) =
        call(&server, "POST", "create", &q(&server, &[]), Some(json!({"path": "docs/a.md", "kind": "file"}))).await;
    assert_eq!(status, 409);
    assert!(error_of(&body).contains("already exists"));
    let (status, _) =
        call(&server, "POST", "rename", &q(&server, &[]), Some(json!({"from": "docs/a.md", "to": "docs/b.md"}))).await;
    assert_eq!(status, 200);
    assert!(p.join("docs/b.md").is_file() && !p.join("docs/a.md").exists());

    let (status, body) = upload(
        &server,
        &q(&server, &[("path", "docs")]),
        &[("photo.jpg", vec![0xff, 0xd8, 0]), ("notes.txt", b"hello".to_vec())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["written"], json!(["docs/photo.jpg", "docs/notes.txt"]));
    assert_eq!(fs::read(p.join("docs/notes.txt")).unwrap(), b"hello");

    let response = server
        .http()
        .get(server.url(&format!("/api/files/download?{}", q(&server, &[("path", "docs/notes.txt")]))))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"hello");

    let response = server
        .http()
        .get(server.url(&format!("/api/files/archive?{}", q(&server, &[("path", "docs")]))))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<_> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["docs/", "docs/b.md", "docs/notes.txt", "docs/photo.jpg"]);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("docs/notes.txt").unwrap(), &mut text).unwrap();
    assert_eq!(text, "hello");

    let (status, _) = call(&server, "POST", "delete", &q(&server, &[]), Some(json!({"path": "docs"}))).await;
    assert_eq!(status, 200);
    assert!(!p.join("docs").exists());
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    let server = TestServer::start_with_state(|s| s.max_upload_bytes = 64 * 1024).await;
    let outside = populate(&server);
    let project = server.project.path().to_path_buf();
    let before = (snapshot(&project), snapshot(outside.path()));
    let (_, opened) = call(&server, "GET", "read", &q(&server, &[("path", "src/main.rs")]), None).await;
    let version = opened["data"]["version"].as_str().unwrap().to_owned();

    // paths that leave the project, in every path parameter
    let secret = outside.path().join("secret.txt").display().to_string();
    for (path, status) in [
        ("../x", 400),
        ("src/../../x", 400),
        (secret.as_str(), 400),
        ("a\0b", 400),
        ("escape/secret.txt", 403),
        ("escape", 403),
    ] {
        for route in ["list", "read", "download", "archive"] {
            let (got, body) = call(&server, "GET", route, &q(&server, &[("path", path)]), None).await;
            assert_eq!(got, status, "{route} {path:?}: {body}");
            assert!(!error_of(&body).is_empty());
        }
        let (got, body) = save(&server, &q(&server, &[("path", path), ("version", &version)]), "pwned").await;
        assert!(got == status || (path == "escape" && got == 403), "save {path:?}: {got} {body}");
        let (got, _) = upload(&server, &q(&server, &[("path", path)]), &[("x.txt", b"pwned".to_vec())]).await;
        assert_eq!(got, status, "upload into {path:?}");
        let target = format!("{path}/new");
        for (route, body) in [
            ("create", json!({"path": target, "kind": "file"})),
            ("create", json!({"path": target, "kind": "folder"})),
            ("rename", json!({"from": "src/main.rs", "to": target})),
            ("rename", json!({"from": path, "to": "stolen"})),
            ("delete", json!({"path": path})),
        ] {
            let (got, reply) = call(&server, "POST", route, &q(&server, &[]), Some(body.clone())).await;
            // the link itself may be deleted or renamed (what it points to is untouched and stays refused)
            let on_the_link = path == "escape" && (route == "delete" || body["from"] == "escape");
            let allowed = if on_the_link { 200 } else { status };
            assert!(got == status || got == allowed, "{route} {body}: {got} {reply}");
            if got == 200 {
                // put the link back for the next rounds
                let _ = std::fs::remove_file(project.join("stolen"));
                symlink(outside.path(), project.join("escape")).unwrap();
            }
        }
    }
    // names that are not names
    let long = "x".repeat(300);
    let (got, body) =
        call(&server, "POST", "create", &q(&server, &[]), Some(json!({"path": long, "kind": "file"}))).await;
    assert_eq!(got, 400);
    assert!(error_of(&body).contains("longer than 255 bytes"));
    let (got, _) = upload(&server, &q(&server, &[]), &[("../evil.txt", b"x".to_vec())]).await;
    assert!(got == 400 || got == 200, "multer strips directories from file names: {got}");
    // the project folder itself
    assert_eq!(call(&server, "POST", "delete", &q(&server, &[]), Some(json!({"path": ""}))).await.0, 400);
    assert_eq!(call(&server, "POST", "delete", &q(&server, &[]), Some(json!({"path": "."}))).await.0, 400);
    // unknown or forbidden projects
    let (got, body) = call(&server, "GET", "list", "project_path=%2Fno%2Fsuch%2Fdir", None).await;
    assert_eq!(got, 400, "{body}");
    let (got, _) = call(&server, "GET", "list", "project_path=relative%2Fdir", None).await;
    assert_eq!(got, 400);
    let (got, body) = call(&server, "GET", "list", "path=src", None).await;
    assert_eq!(got, 400);
    assert!(error_of(&body).contains("project_path"));
    let (got, _) = call(&server, "GET", "list", &q(&server, &[("bogus", "1")]), None).await;
    assert_eq!(got, 400);
    // malformed JSON, wrong shapes
    let url = server.url(&format!("/api/files/create?{}", q(&server, &[])));
    let response = server
        .http()
        .post(url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["success"], false);
    let (got, _) =
        call(&server, "POST", "create", &q(&server, &[]), Some(json!({"path": "a", "kind": "socket"}))).await;
    assert_eq!(got, 400);
    // a save without a version, over the size limit, onto a folder
    let (got, body) = save(&server, &q(&server, &[("path", "src/main.rs")]), "x").await;
    assert_eq!(got, 400);
    assert!(error_of(&body).contains("version"));
    let (got, body) =
        save(&server, &q(&server, &[("path", "src/main.rs"), ("version", &version)]), vec![b'a'; 3 * 1024 * 1024])
            .await;
    assert_eq!(got, 413, "{body}");
    assert!(error_of(&body).contains("MiB"));
    assert_eq!(save(&server, &q(&server, &[("path", "src"), ("version", &version)]), "x").await.0, 400);
    // an upload over the limit; one over an existing file; one with no files
    let (got, body) =
        upload(&server, &q(&server, &[]), &[("small.txt", b"ok".to_vec()), ("big.bin", vec![0; 100 * 1024])]).await;
    assert_eq!(got, 413, "{body}");
    assert!(error_of(&body).contains("--max-upload-mb"));
    let (got, body) =
        upload(&server, &q(&server, &[("path", "src")]), &[("new.txt", b"ok".to_vec()), ("main.rs", b"x".to_vec())])
            .await;
    assert_eq!(got, 409, "{body}");
    let (got, _) = upload(&server, &q(&server, &[]), &[]).await;
    assert_eq!(got, 400);
    // reading a missing file, or a folder
    assert_eq!(call(&server, "GET", "read", &q(&server, &[("path", "nope.txt")]), None).await.0, 404);
    assert_eq!(call(&server, "GET", "read", &q(&server, &[("path", "src")]), None).await.0, 400);
    // a search without a query
    assert_eq!(call(&server, "GET", "search", &q(&server, &[]), None).await.0, 400);

    let after = (snapshot(&project), snapshot(outside.path()));
    let evil = project.join("evil.txt");
    let written_by_stripped_upload = evil.exists();
    if written_by_stripped_upload {
        fs::remove_file(evil).unwrap();
    }
    assert_eq!((snapshot(&project), snapshot(outside.path())), before, "nothing was written (besides {after:?})");
    server.stop().await;
}

#[tokio::test]
async fn project_roots_confine_the_files_routes_and_a_token_is_needed() {
    let allowed = tempfile::tempdir().unwrap();
    let root = allowed.path().canonicalize().unwrap();
    let server = TestServer::start_with(|c| c.project_roots = vec![root]).await;
    let (status, body) = call(&server, "GET", "list", &q(&server, &[]), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(error_of(&body).contains("outside"), "{body}");
    let response = server.http().get(server.url(&format!("/api/files/list?{}", q(&server, &[])))).send().await.unwrap();
    assert_eq!(response.status(), 401);
    server.stop().await;
}

/// The audit trail, newest first: `(action, target)`.
async fn audit_entries(server: &TestServer) -> Vec<(String, String)> {
    let (status, body) = server.get_json("/api/audit").await;
    assert_eq!(status, 200, "{body}");
    let entries = body["data"].as_array().unwrap();
    entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["target"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn writes_are_in_the_audit_trail_by_path_never_by_content() {
    let server = TestServer::start().await;
    let _outside = populate(&server);
    let project = server.project_path();
    let (_, opened) = call(&server, "GET", "read", &q(&server, &[("path", "src/main.rs")]), None).await;
    let version = opened["data"]["version"].as_str().unwrap().to_owned();
    let (status, _) =
        save(&server, &q(&server, &[("path", "src/main.rs"), ("version", &version)]), "secret-body").await;
    assert_eq!(status, 200);
    // a refused save is not a write
    let (status, _) = save(&server, &q(&server, &[("path", "src/main.rs"), ("version", &version)]), "again").await;
    assert_eq!(status, 409);
    let create = json!({"path": "notes.txt", "kind": "file"});
    assert_eq!(call(&server, "POST", "create", &q(&server, &[]), Some(create)).await.0, 200);
    let rename = json!({"from": "notes.txt", "to": "todo.txt"});
    assert_eq!(call(&server, "POST", "rename", &q(&server, &[]), Some(rename)).await.0, 200);
    assert_eq!(upload(&server, &q(&server, &[("path", "src")]), &[("up.txt", b"uploaded-body".to_vec())]).await.0, 200);
    assert_eq!(call(&server, "POST", "delete", &q(&server, &[]), Some(json!({"path": "todo.txt"}))).await.0, 200);

    let mut entries = audit_entries(&server).await;
    entries.reverse();
    let expected = [
        ("file_written", format!("{project}: src/main.rs")),
        ("file_written", format!("{project}: notes.txt")),
        ("file_renamed", format!("{project}: notes.txt → todo.txt")),
        ("file_written", format!("{project}: src/up.txt")),
        ("file_deleted", format!("{project}: todo.txt")),
    ];
    let expected: Vec<(String, String)> = expected.into_iter().map(|(a, t)| (a.to_owned(), t)).collect();
    assert_eq!(entries, expected);
    assert!(!format!("{entries:?}").contains("-body"), "no content in the trail: {entries:?}");
    server.stop().await;
}
