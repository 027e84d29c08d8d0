//! A folder as a zip archive, written to any `Write` as it is read (the zip's streaming mode: data
//! descriptors, no seeking), so a download of a big folder never sits in memory.

use std::io::{self, Write};

use serde::Serialize;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::{FilesError, ProjectRoot, RelPath};

/// What went into an archive.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ArchiveSummary {
    /// Files written.
    pub files: usize,
    /// Their bytes before compression.
    pub bytes: u64,
}

fn zip_error(path: &str, e: zip::result::ZipError) -> FilesError {
    match e {
        zip::result::ZipError::Io(source) => FilesError::io("archive", path, source),
        other => FilesError::Io { action: "archive", path: path.to_owned(), source: io::Error::other(other) },
    }
}

impl ProjectRoot {
    /// The name a download of `folder` gets (`<name>.zip`): the folder's name, or the project's.
    pub fn archive_name(&self, folder: &RelPath) -> String {
        let name = match folder.split() {
            Some((_, name)) => name.to_owned(),
            None => self.path().file_name().map_or("project".to_owned(), |n| n.to_string_lossy().into_owned()),
        };
        format!("{name}.zip")
    }

    /// Writes the folder `folder` as a zip to `out`: its files and folders under one top folder, ignored
    /// files only when `include_ignored`, `.git` never, symbolic links left out. Every file is opened
    /// beneath the project's handle.
    pub fn write_zip<W: Write>(
        &self,
        folder: &RelPath,
        include_ignored: bool,
        out: W,
    ) -> Result<ArchiveSummary, FilesError> {
        self.folder(folder)?;
        let top = self.archive_name(folder).trim_end_matches(".zip").to_owned();
        let base = folder.under(self.path());
        let mut zip = ZipWriter::new_stream(out);
        let mut summary = ArchiveSummary { files: 0, bytes: 0 };
        zip.add_directory(format!("{top}/"), SimpleFileOptions::default())
            .map_err(|e| zip_error(folder.as_str(), e))?;
        for entry in crate::search::walker(&base, include_ignored).sort_by_file_name(|a, b| a.cmp(b)).build() {
            let Ok(entry) = entry else { continue };
            let Some(inner) = entry.path().strip_prefix(&base).ok().and_then(|p| p.to_str()) else { continue };
            let Some(kind) = entry.file_type().filter(|_| !inner.is_empty()) else { continue };
            let joined = if folder.is_root() { inner.to_owned() } else { format!("{}/{inner}", folder.as_str()) };
            let Ok(rel) = RelPath::new(&joined) else { continue };
            let name = format!("{top}/{inner}");
            if kind.is_dir() {
                zip.add_directory(format!("{name}/"), SimpleFileOptions::default())
                    .map_err(|e| zip_error(rel.as_str(), e))?;
            } else if kind.is_file() {
                let Ok((mut file, size)) = self.open_file(&rel) else { continue };
                let options = SimpleFileOptions::default()
                    .compression_method(CompressionMethod::Deflated)
                    .compression_level(Some(1))
                    .large_file(size >= u64::from(u32::MAX));
                zip.start_file(name, options).map_err(|e| zip_error(rel.as_str(), e))?;
                summary.bytes +=
                    io::copy(&mut file, &mut zip).map_err(|e| FilesError::io("archive", rel.as_str(), e))?;
                summary.files += 1;
            }
        }
        zip.finish().map_err(|e| zip_error(folder.as_str(), e))?;
        Ok(summary)
    }
}
