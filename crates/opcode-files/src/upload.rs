//! Uploads: several files into one folder, each written to a hidden temporary file beside its target and
//! renamed into place only when every file of the upload arrived, so a failed or refused upload leaves
//! nothing behind and no reader ever sees half a file.

use cap_std::fs::{Dir, OpenOptions};

use crate::root::temp_name;
use crate::{FilesError, ProjectRoot, RelPath};

/// An upload in progress into one folder. Dropping it without [`Upload::commit`] removes what it staged.
#[derive(Debug)]
pub struct Upload {
    dir: Dir,
    folder: RelPath,
    /// (temporary name, final name)
    staged: Vec<(String, String)>,
}

/// A file being uploaded: write its bytes to `file`, then stage the next or commit.
#[derive(Debug)]
pub struct StagedFile {
    /// The temporary file (opened for writing, beneath the project).
    pub file: std::fs::File,
    /// Where it will be, relative to the project.
    pub path: String,
}

impl ProjectRoot {
    /// Starts an upload into the folder `folder`.
    pub fn upload_into(&self, folder: &RelPath) -> Result<Upload, FilesError> {
        Ok(Upload { dir: self.folder(folder)?, folder: folder.clone(), staged: Vec::new() })
    }
}

impl Upload {
    /// Stages the file `name` (one name, no `/`): refused when the folder already has it or this upload
    /// already staged it.
    pub fn stage(&mut self, name: &str) -> Result<StagedFile, FilesError> {
        let name = RelPath::name(name)?;
        let path = self.folder.join(name).as_str().to_owned();
        if self.dir.symlink_metadata(name).is_ok() || self.staged.iter().any(|(_, n)| n == name) {
            return Err(FilesError::AlreadyExists(path));
        }
        let tmp = temp_name(name);
        let file = self
            .dir
            .open_with(&tmp, OpenOptions::new().write(true).create_new(true))
            .map_err(|e| FilesError::io("upload", &path, e))?;
        self.staged.push((tmp, name.to_owned()));
        Ok(StagedFile { file: file.into_std(), path })
    }

    /// Moves every staged file into place; refused (and nothing moved) when one of the names appeared in
    /// the folder meanwhile. Returns the paths written, relative to the project.
    pub fn commit(mut self) -> Result<Vec<String>, FilesError> {
        if let Some((_, name)) = self.staged.iter().find(|(_, name)| self.dir.symlink_metadata(name).is_ok()) {
            return Err(FilesError::AlreadyExists(self.folder.join(name).as_str().to_owned()));
        }
        let mut written = Vec::new();
        while let Some((tmp, name)) = self.staged.pop() {
            let path = self.folder.join(&name).as_str().to_owned();
            if let Err(e) = self.dir.rename(&tmp, &self.dir, &name) {
                let _ = self.dir.remove_file(&tmp);
                return Err(FilesError::io("upload", &path, e));
            }
            written.push(path);
        }
        written.reverse();
        Ok(written)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        for (tmp, _) in self.staged.drain(..) {
            let _ = self.dir.remove_file(&tmp);
        }
    }
}
