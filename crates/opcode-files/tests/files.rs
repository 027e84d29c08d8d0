//! The crate's behaviour on real folders: confinement, ignore rules, versions, uploads, archives, search.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use opcode_files::{EntryKind, FilesError, ProjectRoot, RelPath, MAX_EDIT_BYTES};

/// A project folder inside a temp folder that also holds a `secret` outside the project.
struct Fixture {
    _tmp: tempfile::TempDir,
    project: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("proj");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(project.join("src/deep")).unwrap();
    fs::create_dir_all(project.join("target/debug")).unwrap();
    fs::create_dir_all(project.join(".git")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret.txt"), "secret").unwrap();
    fs::write(project.join(".gitignore"), "target/\n*.log\n").unwrap();
    fs::write(project.join("README.md"), "# hi\n").unwrap();
    fs::write(project.join("app.log"), "log\n").unwrap();
    fs::write(project.join("src/main.rs"), "fn main() {}\n").unwrap();
    fs::write(project.join("src/deep/lib.rs"), "pub fn f() {}\n").unwrap();
    fs::write(project.join("target/debug/out.bin"), [0u8, 1, 2]).unwrap();
    fs::write(project.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    symlink(&outside, project.join("out")).unwrap();
    symlink(outside.join("secret.txt"), project.join("secret-link")).unwrap();
    symlink("src/main.rs", project.join("main-link")).unwrap();
    Fixture { _tmp: tmp, project, outside }
}

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn names(root: &ProjectRoot, folder: &str, ignored: bool) -> Vec<String> {
    root.list(&rel(folder), ignored).unwrap().entries.into_iter().map(|e| e.name).collect()
}

#[test]
fn listing_hides_ignored_entries_unless_asked_and_folders_come_first() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    assert_eq!(names(&root, "", false), ["src", ".gitignore", "README.md", "main-link", "out", "secret-link"]);
    let all = root.list(&rel(""), true).unwrap();
    let shown: Vec<_> = all.entries.iter().map(|e| (e.name.as_str(), e.ignored)).collect();
    assert!(shown.contains(&("target", true)) && shown.contains(&(".git", true)) && shown.contains(&("app.log", true)));
    assert!(shown.contains(&("src", false)));
    assert_eq!(root.list(&rel(""), false).unwrap().hidden_ignored, 3);
    assert_eq!(names(&root, "src", false), ["deep", "main.rs"]);
}

#[test]
fn symlinks_are_described_by_what_they_reach_inside_the_project() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    let listing = root.list(&rel(""), false).unwrap();
    let kind = |n: &str| listing.entries.iter().find(|e| e.name == n).map(|e| (e.kind, e.symlink)).unwrap();
    assert_eq!(kind("main-link"), (EntryKind::File, true));
    assert_eq!(kind("out"), (EntryKind::BrokenLink, true));
    assert_eq!(kind("secret-link"), (EntryKind::BrokenLink, true));
    assert_eq!(root.read(&rel("main-link"), MAX_EDIT_BYTES).unwrap().text.as_deref(), Some("fn main() {}\n"));
}

#[test]
fn nothing_outside_the_project_can_be_read_or_written() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    for path in ["secret-link", "out/secret.txt"] {
        let err = root.read(&rel(path), MAX_EDIT_BYTES).unwrap_err();
        assert!(matches!(err, FilesError::OutsideProject(_)), "{path}: {err}");
    }
    assert!(matches!(root.list(&rel("out"), false), Err(FilesError::OutsideProject(_))));
    assert!(matches!(root.create_file(&rel("out/new.txt")), Err(FilesError::OutsideProject(_))));
    assert!(matches!(root.create_folder(&rel("out/dir")), Err(FilesError::OutsideProject(_))));
    assert!(matches!(root.upload_into(&rel("out")), Err(FilesError::OutsideProject(_))));
    assert!(matches!(root.rename(&rel("README.md"), &rel("out/README.md")), Err(FilesError::OutsideProject(_))));
    assert!(matches!(root.delete(&rel("out/secret.txt")), Err(FilesError::OutsideProject(_))));
    assert!(matches!(root.open_file(&rel("out/secret.txt")), Err(FilesError::OutsideProject(_))));
    // a save over a link out of the project is refused as outside, not as "a link: open its target"
    let err = root.save(&rel("secret-link"), b"pwned", "x", MAX_EDIT_BYTES).unwrap_err();
    assert!(matches!(err, FilesError::OutsideProject(_)), "{err}");
    // one inside the project is refused too, naming the way: open the file it points to
    std::os::unix::fs::symlink("README.md", f.project.join("inner-link")).unwrap();
    let err = root.save(&rel("inner-link"), b"edited", "x", MAX_EDIT_BYTES).unwrap_err();
    assert!(matches!(err, FilesError::NotPossible { .. }), "{err}");
    // the link itself can be deleted; what it points to stays
    root.delete(&rel("secret-link")).unwrap();
    assert_eq!(fs::read_to_string(f.outside.join("secret.txt")).unwrap(), "secret");
    assert_eq!(fs::read_dir(&f.outside).unwrap().count(), 1, "nothing was written outside");
    assert!(RelPath::new("../outside/secret.txt").is_err());
    assert!(RelPath::new(&f.outside.join("secret.txt").display().to_string()).is_err());
}

#[test]
fn the_project_folder_itself_cannot_be_deleted_renamed_or_saved() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    assert!(matches!(root.delete(&rel("")), Err(FilesError::Root(_))));
    assert!(matches!(root.rename(&rel("."), &rel("x")), Err(FilesError::Root(_))));
    assert!(matches!(root.save(&rel(""), b"", "", 10), Err(FilesError::Root(_))));
    assert!(f.project.join("README.md").exists());
}

#[test]
fn text_and_binary_and_size_limits() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    let text = root.read(&rel("README.md"), MAX_EDIT_BYTES).unwrap();
    assert!(!text.binary && text.size == 5 && text.text.as_deref() == Some("# hi\n"));
    let bin = root.read(&rel("target/debug/out.bin"), MAX_EDIT_BYTES).unwrap();
    assert!(bin.binary && bin.text.is_none() && bin.size == 3);
    fs::write(f.project.join("big.txt"), "a".repeat(100)).unwrap();
    let err = root.read(&rel("big.txt"), 50).unwrap_err();
    assert!(matches!(err, FilesError::TooLarge { size: 100, limit: 50, .. }), "{err}");
    assert!(err.to_string().contains("download it instead"));
    fs::write(f.project.join("big.bin"), [0u8; 100]).unwrap();
    assert!(root.read(&rel("big.bin"), 50).unwrap().binary);
    fs::write(f.project.join("latin1.txt"), [b'c', b'a', b'f', 0xe9]).unwrap();
    assert!(root.read(&rel("latin1.txt"), 50).unwrap().binary);
    assert!(matches!(root.read(&rel("src"), 50), Err(FilesError::IsFolder(_))));
    assert!(matches!(root.read(&rel("nope.txt"), 50), Err(FilesError::NotFound(_))));
}

#[test]
fn a_save_needs_the_version_that_is_on_disk_and_keeps_permissions() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    let path = f.project.join("src/main.rs");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o750)).unwrap();
    let opened = root.read(&rel("src/main.rs"), MAX_EDIT_BYTES).unwrap();
    let saved = root.save(&rel("src/main.rs"), b"fn main() { run() }\n", &opened.version, MAX_EDIT_BYTES).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "fn main() { run() }\n");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o750);
    assert_ne!(saved.version, opened.version);
    // a save based on the old version is refused, and the file keeps the newer content
    let err = root.save(&rel("src/main.rs"), b"stale", &opened.version, MAX_EDIT_BYTES).unwrap_err();
    assert!(matches!(err, FilesError::Changed(_)), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "fn main() { run() }\n");
    // changed on disk by someone else
    fs::write(&path, "edited elsewhere").unwrap();
    assert!(matches!(
        root.save(&rel("src/main.rs"), b"mine", &saved.version, MAX_EDIT_BYTES),
        Err(FilesError::Changed(_))
    ));
    let err = root.save(&rel("src/main.rs"), &[b'x'; 20], &saved.version, 10).unwrap_err();
    assert!(matches!(err, FilesError::TooLarge { .. }));
    // no temporary file is left behind
    assert_eq!(names(&root, "src", true), ["deep", "main.rs"]);
}

#[test]
fn create_rename_delete() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    root.create_folder(&rel("docs")).unwrap();
    root.create_file(&rel("docs/a.md")).unwrap();
    assert!(matches!(root.create_file(&rel("docs/a.md")), Err(FilesError::AlreadyExists(_))));
    assert!(matches!(root.create_folder(&rel("docs")), Err(FilesError::AlreadyExists(_))));
    assert!(matches!(root.create_file(&rel("missing/a.md")), Err(FilesError::NotFound(_))));
    root.rename(&rel("docs/a.md"), &rel("docs/b.md")).unwrap();
    assert!(matches!(root.rename(&rel("docs/b.md"), &rel("README.md")), Err(FilesError::AlreadyExists(_))));
    assert!(matches!(root.rename(&rel("docs"), &rel("docs/inner")), Err(FilesError::NotPossible { .. })));
    root.rename(&rel("docs"), &rel("src/docs")).unwrap();
    assert!(f.project.join("src/docs/b.md").is_file());
    root.delete(&rel("src")).unwrap();
    assert!(!f.project.join("src").exists());
    assert!(matches!(root.delete(&rel("src")), Err(FilesError::NotFound(_))));
}

#[test]
fn uploads_appear_all_at_once_and_leave_nothing_when_dropped() {
    use std::io::Write;
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    let mut upload = root.upload_into(&rel("src")).unwrap();
    let mut a = upload.stage("photo.jpg").unwrap();
    a.file.write_all(b"jpeg").unwrap();
    assert!(matches!(upload.stage("photo.jpg"), Err(FilesError::AlreadyExists(_))));
    assert!(matches!(upload.stage("main.rs"), Err(FilesError::AlreadyExists(_))));
    assert!(matches!(upload.stage("../x"), Err(FilesError::BadPath { .. })));
    upload.stage("notes.txt").unwrap().file.write_all(b"notes").unwrap();
    assert!(!f.project.join("src/photo.jpg").exists(), "nothing appears before the commit");
    assert_eq!(upload.commit().unwrap(), ["src/photo.jpg", "src/notes.txt"]);
    assert_eq!(fs::read(f.project.join("src/photo.jpg")).unwrap(), b"jpeg");

    let mut dropped = root.upload_into(&rel("")).unwrap();
    dropped.stage("half.bin").unwrap().file.write_all(b"half").unwrap();
    drop(dropped);
    assert!(!f.project.join("half.bin").exists());
    assert!(names(&root, "", true).iter().all(|n| !n.contains("opcode-")), "temporary files are removed");
}

#[test]
fn a_folder_streams_as_a_zip_without_ignored_files_or_links() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    let mut out = Vec::new();
    let summary = root.write_zip(&rel(""), false, &mut out).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(out)).unwrap();
    let mut names: Vec<_> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "proj/",
            "proj/.gitignore",
            "proj/README.md",
            "proj/src/",
            "proj/src/deep/",
            "proj/src/deep/lib.rs",
            "proj/src/main.rs"
        ]
    );
    assert_eq!(summary.files, 4);
    let mut text = String::new();
    zip.by_name("proj/src/main.rs").unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, "fn main() {}\n");
    assert_eq!(root.archive_name(&rel("src/deep")), "deep.zip");
    let mut all = Vec::new();
    root.write_zip(&rel("src"), true, &mut all).unwrap();
    assert!(zip::ZipArchive::new(std::io::Cursor::new(all))
        .unwrap()
        .file_names()
        .any(|n| n.unwrap() == "src/deep/lib.rs"));
    assert!(matches!(root.write_zip(&rel("out"), true, Vec::new()), Err(FilesError::OutsideProject(_))));
}

#[test]
fn fuzzy_search_ranks_paths_and_skips_ignored_files() {
    let f = fixture();
    let root = ProjectRoot::open(&f.project).unwrap();
    let found = root.search("mainrs", 10, false).unwrap();
    assert_eq!(found.hits.first().map(|h| h.path.as_str()), Some("src/main.rs"));
    assert!(root.search("out.bin", 10, false).unwrap().hits.is_empty());
    assert_eq!(root.search("out.bin", 10, true).unwrap().hits[0].path, "target/debug/out.bin");
    assert!(root.search("HEAD", 10, true).unwrap().hits.is_empty(), ".git is never searched");
    assert!(root.search("dplib", 10, false).unwrap().hits.iter().any(|h| h.path == "src/deep/lib.rs"));
    assert!(Path::new(&f.project).join("src/main.rs").exists());
}
