//! The Files pane's routes (`/api/files/*?project_path=DIR&…`), a thin adapter over `opcode_files`: the
//! project is checked like a run's (`--project-root`), every path inside it is confined by
//! `opcode_files::ProjectRoot`, and all file I/O runs on the blocking pool. Downloads are always
//! attachments with `nosniff` and a sandboxing CSP, so no project file is ever rendered on our origin.

use std::io::{self, Write};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Extension, Multipart, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use opcode_files::{FilesError, ProjectRoot, RelPath, MAX_EDIT_BYTES};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::api::{blocking, checked_project};
use crate::error::{ok, ApiError};
use crate::state::{AppState, Caller};
use opcode_access::AuditAction;

/// Largest upload request by default (all its files together; `--max-upload-mb`).
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;
/// Most search results returned.
const MAX_HITS: usize = 200;
/// Bytes per chunk of a streamed archive.
const CHUNK: usize = 64 * 1024;

/// The `/api/files/*` routes; an upload carries at most `max_upload` bytes.
pub fn routes(max_upload: usize) -> Router<AppState> {
    Router::new()
        .route("/api/files/list", get(list))
        .route("/api/files/search", get(search))
        .route("/api/files/read", get(read))
        .route("/api/files/save", put(save).layer(DefaultBodyLimit::max(MAX_EDIT_BYTES as usize)))
        .route("/api/files/create", post(create))
        .route("/api/files/rename", post(rename))
        .route("/api/files/delete", post(delete))
        .route("/api/files/upload", post(upload).layer(DefaultBodyLimit::max(max_upload)))
        .route("/api/files/download", get(download))
        .route("/api/files/archive", get(archive))
}

impl From<FilesError> for ApiError {
    fn from(err: FilesError) -> Self {
        match err {
            FilesError::BadPath { .. }
            | FilesError::IsFolder(_)
            | FilesError::NotFolder(_)
            | FilesError::Root(_)
            | FilesError::NotPossible { .. } => ApiError::BadRequest(err.to_string()),
            FilesError::OutsideProject(_) => ApiError::Forbidden(err.to_string()),
            FilesError::NotFound(_) => ApiError::NotFound(err.to_string()),
            FilesError::AlreadyExists(_) | FilesError::Changed(_) => ApiError::Conflict(err.to_string()),
            FilesError::TooLarge { .. } => ApiError::TooLarge(err.to_string()),
            other => ApiError::Internal(format!("{other}: {:?}", std::error::Error::source(&other))),
        }
    }
}

/// The query of every files route: the project, and a path inside it (and the options some routes take).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesQuery {
    project_path: String,
    #[serde(default)]
    path: String,
    /// List, search or archive ignored files too.
    #[serde(default)]
    ignored: bool,
    /// The version a save edits.
    version: Option<String>,
    /// A search's query.
    q: Option<String>,
    /// Most search results.
    limit: Option<usize>,
}

/// The checked project as an open root, and the checked path.
async fn open(
    state: &AppState,
    q: Result<Query<FilesQuery>, QueryRejection>,
) -> Result<(ProjectRoot, RelPath, FilesQuery), ApiError> {
    let Query(q) = q.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "{}; this route takes project_path=<project directory> and path=<path inside it>",
            rejection.body_text()
        ))
    })?;
    let project = checked_project(state, q.project_path.clone()).await?;
    let rel = RelPath::new(&q.path)?;
    let root = blocking(move || Ok(ProjectRoot::open(&project)?)).await?;
    Ok((root, rel, q))
}

/// An audit target: a path in a project (never the file's content).
fn in_project(project_path: &str, path: &str) -> String {
    format!("{project_path}: {path}")
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|rejection| ApiError::BadRequest(format!("{}; see docs/protocol.md", rejection.body_text())))
}

async fn list(
    State(state): State<AppState>,
    q: Result<Query<FilesQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (root, rel, q) = open(&state, q).await?;
    Ok(ok(blocking(move || Ok(root.list(&rel, q.ignored)?)).await?))
}

async fn search(
    State(state): State<AppState>,
    q: Result<Query<FilesQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (root, _, q) = open(&state, q).await?;
    let text = q.q.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest("the search needs q=<part of a file name>".into()));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_HITS);
    Ok(ok(blocking(move || Ok(root.search(&text, limit, q.ignored)?)).await?))
}

async fn read(
    State(state): State<AppState>,
    q: Result<Query<FilesQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (root, rel, _) = open(&state, q).await?;
    Ok(ok(blocking(move || Ok(root.read(&rel, MAX_EDIT_BYTES)?)).await?))
}

/// `PUT /api/files/save?…&path=F&version=V`: the body is the file's new content, raw.
async fn save(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<FilesQuery>, QueryRejection>,
    content: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let content = content.map_err(|rejection| match rejection.status().as_u16() {
        413 => ApiError::TooLarge(format!(
            "the edited file is over the {} MiB the editor saves; save it in smaller files or edit it elsewhere",
            MAX_EDIT_BYTES / (1024 * 1024)
        )),
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;
    let (root, rel, q) = open(&state, q).await?;
    let version = q.version.ok_or_else(|| {
        ApiError::BadRequest(
            "a save needs version=<the version read with the file>, so a newer file on disk is never overwritten"
                .into(),
        )
    })?;
    let saved = blocking(move || Ok(root.save(&rel, &content, &version, MAX_EDIT_BYTES)?)).await?;
    tracing::info!(path = %saved.path, size = saved.size, "file saved");
    state.audit(&caller, AuditAction::FileWritten, &in_project(&q.project_path, &saved.path)).await;
    Ok(ok(saved))
}

/// What to create.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NewKind {
    /// An empty file.
    File,
    /// A folder.
    Folder,
}

/// The body of a create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    path: String,
    kind: NewKind,
}

async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<FilesQuery>, QueryRejection>,
    b: Result<Json<CreateBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let b = body(b)?;
    let (root, _, q) = open(&state, q).await?;
    let rel = RelPath::new(&b.path)?;
    let path = rel.as_str().to_owned();
    blocking(move || match b.kind {
        NewKind::File => Ok(root.create_file(&rel)?),
        NewKind::Folder => Ok(root.create_folder(&rel)?),
    })
    .await?;
    state.audit(&caller, AuditAction::FileWritten, &in_project(&q.project_path, &path)).await;
    Ok(ok(serde_json::json!({ "path": path })))
}

/// The body of a rename or move.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    from: String,
    to: String,
}

async fn rename(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<FilesQuery>, QueryRejection>,
    b: Result<Json<RenameBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let b = body(b)?;
    let (root, _, q) = open(&state, q).await?;
    let (from, to) = (RelPath::new(&b.from)?, RelPath::new(&b.to)?);
    let (path, moved) = (to.as_str().to_owned(), format!("{} → {}", from.as_str(), to.as_str()));
    blocking(move || Ok(root.rename(&from, &to)?)).await?;
    state.audit(&caller, AuditAction::FileRenamed, &in_project(&q.project_path, &moved)).await;
    Ok(ok(serde_json::json!({ "path": path })))
}

/// The body of a delete.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    path: String,
}

async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<FilesQuery>, QueryRejection>,
    b: Result<Json<DeleteBody>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let b = body(b)?;
    let (root, _, q) = open(&state, q).await?;
    let rel = RelPath::new(&b.path)?;
    let path = rel.as_str().to_owned();
    blocking(move || Ok(root.delete(&rel)?)).await?;
    tracing::info!(%path, "deleted");
    state.audit(&caller, AuditAction::FileDeleted, &in_project(&q.project_path, &path)).await;
    Ok(ok(serde_json::json!({ "deleted": path })))
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> ApiError {
    match err.status().as_u16() {
        413 => ApiError::TooLarge(
            "the upload is over the size one upload may carry on this server (--max-upload-mb); send fewer or smaller files at a time".into(),
        ),
        _ => ApiError::BadRequest(format!("{}; send multipart/form-data with one part per file", err.body_text())),
    }
}

/// `POST /api/files/upload?…&path=FOLDER`: multipart, one part per file (its file name is used). Every
/// file is staged beside its target and the upload is committed only once all arrived: a refused or
/// broken upload writes nothing.
async fn upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<FilesQuery>, QueryRejection>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let mut multipart =
        multipart.map_err(|r| ApiError::BadRequest(format!("{}; send multipart/form-data", r.body_text())))?;
    let (root, folder, q) = open(&state, q).await?;
    let mut upload = blocking(move || Ok(root.upload_into(&folder)?)).await?;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let Some(name) = field.file_name().map(str::to_owned) else { continue };
        let (back, staged) = blocking(move || {
            let staged = upload.stage(&name);
            Ok((upload, staged))
        })
        .await?;
        upload = back;
        let staged = staged?;
        let mut file = tokio::fs::File::from_std(staged.file);
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            file.write_all(&chunk).await.map_err(|e| ApiError::Internal(format!("upload {}: {e}", staged.path)))?;
        }
        file.sync_all().await.map_err(|e| ApiError::Internal(format!("upload {}: {e}", staged.path)))?;
    }
    let written = blocking(move || Ok(upload.commit()?)).await?;
    if written.is_empty() {
        return Err(ApiError::BadRequest("the upload had no file parts (parts need a file name)".into()));
    }
    tracing::info!(files = written.len(), "uploaded");
    for path in &written {
        state.audit(&caller, AuditAction::FileWritten, &in_project(&q.project_path, path)).await;
    }
    Ok(ok(serde_json::json!({ "written": written })))
}

/// Headers of a download: always an attachment, never sniffed or run.
fn attachment(name: &str, content_type: &str) -> [(header::HeaderName, HeaderValue); 4] {
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    [
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
        ),
        (
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'")),
    ]
}

/// `GET /api/files/download?…&path=F`: the file, streamed.
async fn download(
    State(state): State<AppState>,
    q: Result<Query<FilesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (root, rel, _) = open(&state, q).await?;
    let name = rel.as_str().rsplit('/').next().unwrap_or_default().to_owned();
    if name.is_empty() {
        return Err(ApiError::BadRequest("name a file to download; a folder downloads from /api/files/archive".into()));
    }
    let (file, size) = blocking(move || Ok(root.open_file(&rel)?)).await?;
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut response = (attachment(&name, mime.essence_str()), Body::from_stream(stream)).into_response();
    response.headers_mut().insert(header::CONTENT_LENGTH, size.into());
    Ok(response)
}

/// Hands what a blocking writer produces to the response body, 64 KiB at a time, through a bounded
/// channel: the writer waits while the client reads slowly; a gone client fails the next write.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// `GET /api/files/archive?…&path=FOLDER`: the folder as a zip, streamed while it is written.
async fn archive(
    State(state): State<AppState>,
    q: Result<Query<FilesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (root, rel, q) = open(&state, q).await?;
    let (root, rel, name) = blocking(move || {
        root.check_folder(&rel)?;
        let name = root.archive_name(&rel);
        Ok((root, rel, name))
    })
    .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
        let written = root.write_zip(&rel, q.ignored, &mut writer).map_err(io::Error::other).and_then(|summary| {
            writer.flush()?;
            Ok(summary)
        });
        match written {
            Ok(summary) => {
                tracing::info!(folder = rel.as_str(), files = summary.files, bytes = summary.bytes, "archive sent")
            }
            Err(err) => {
                tracing::warn!(folder = rel.as_str(), %err, "archive cut short");
                // the body ends with an error: the client sees a broken download, not a short zip
                let _ = tx.blocking_send(Err(err));
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((attachment(&name, "application/zip"), Body::from_stream(stream)).into_response())
}
