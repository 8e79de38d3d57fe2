//! `buzon migrate` on PostgreSQL: the blob files of a store from before issue 18 move into
//! the database (files → rows), so that processes on other machines can read them.
//!
//! Safe to interrupt at any instant and to run again, also while `buzon run` works:
//! - a file goes in part by part, in one transaction, and its bytes must match its name
//!   (their SHA-256) before that transaction commits: a damaged file is kept and named;
//! - the file is deleted only after that commit. Killed in between, the next run finds the
//!   blob in the database and only deletes the file: nothing is lost, nothing stored twice;
//! - readers look in the database first and in the file until it is gone (`get`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{BlobStore, INLINE_MAX};
use crate::store::{Store, PART};

/// What a run of [`BlobStore::move_files_in`] did.
#[derive(Debug, Default)]
pub struct Moved {
    /// Files now in the database and deleted.
    pub files: u64,
    pub bytes: u64,
    /// Files left where they were, with the reason (damaged, unreadable).
    pub kept: Vec<(PathBuf, String)>,
}

/// Why one file stayed.
enum Refused {
    /// Its bytes are not the ones its name promises.
    Damaged,
    Io(io::Error),
    Store(crate::store::StoreError),
}

impl From<io::Error> for Refused {
    fn from(e: io::Error) -> Self {
        Refused::Io(e)
    }
}

impl From<crate::store::StoreError> for Refused {
    fn from(e: crate::store::StoreError) -> Self {
        Refused::Store(e)
    }
}

impl BlobStore {
    /// Move every blob file under `storage.dir` into the database, one file at a time,
    /// calling `progress` after each. Temporary files (a staged blob of a killed process)
    /// are left alone. A database that stops answering ends the run with the error.
    pub async fn move_files_in(&self, mut progress: impl FnMut(&Moved)) -> io::Result<Moved> {
        let store = match &self.store {
            Some(store) if self.all_in_database() => store.clone(),
            _ => return Ok(Moved::default()),
        };
        let root = self.root.clone();
        let files = tokio::task::spawn_blocking(move || blob_files(&root))
            .await
            .map_err(io::Error::other)??;
        let mut moved = Moved::default();
        for (path, hash) in files {
            match move_one(&store, &path, &hash).await {
                Ok(size) => {
                    moved.files += 1;
                    moved.bytes += size;
                }
                Err(Refused::Damaged) => moved
                    .kept
                    .push((path, "its bytes do not match its name: damaged".into())),
                Err(Refused::Io(e)) => moved.kept.push((path, e.to_string())),
                Err(Refused::Store(e)) => return Err(io::Error::other(e)),
            }
            progress(&moved);
        }
        remove_empty_dirs(&self.root);
        Ok(moved)
    }
}

/// One file into the database, then deleted. Returns its size.
async fn move_one(store: &Store, path: &Path, hash: &str) -> Result<u64, Refused> {
    if store.has_blob(hash).await? {
        // Moved by a run killed before it could delete the file.
        fs::remove_file(path)?;
        return Ok(0);
    }
    let mut file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    let mut hasher = Sha256::new();
    let mut part = Vec::with_capacity(PART);
    if size as usize <= INLINE_MAX {
        file.read_to_end(&mut part).await?;
        hasher.update(&part);
        matches_name(hasher, hash)?;
        store.put_blob_rows(&[(hash.to_string(), part)]).await?;
    } else {
        let mut writer = store.parts_writer(hash).await?;
        while read_part(&mut file, &mut part).await? > 0 {
            hasher.update(&part);
            writer.write(&part).await?;
        }
        // Dropped uncommitted when the bytes are not the blob's: nothing of it is kept.
        matches_name(hasher, hash)?;
        writer.commit().await?;
    }
    crate::crash::point(crate::crash::MIGRATE_BEFORE_DELETE);
    fs::remove_file(path)?;
    Ok(size)
}

fn matches_name(hasher: Sha256, hash: &str) -> Result<(), Refused> {
    match hex::encode(hasher.finalize()) == hash {
        true => Ok(()),
        false => Err(Refused::Damaged),
    }
}

/// Fill `part` with the next [`PART`] bytes of the file (fewer at its end).
async fn read_part(file: &mut tokio::fs::File, part: &mut Vec<u8>) -> io::Result<usize> {
    part.clear();
    while part.len() < PART {
        let want = PART - part.len();
        if (&mut *file).take(want as u64).read_to_end(part).await? == 0 {
            break;
        }
    }
    Ok(part.len())
}

/// The blob files under `root` with their hashes: `ab/<hash>`, and `ab/cd/<hash>` as
/// stores before the one-level layout kept them. Names that are not hashes are not blobs.
fn blob_files(root: &Path) -> io::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let entries = match fs::read_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            entries => entries?,
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type()?;
            if kind.is_dir() && depth < 2 && name.len() == 2 {
                dirs.push((entry.path(), depth + 1));
            } else if kind.is_file() && depth > 0 && is_hash(&name) {
                files.push((entry.path(), name));
            }
        }
    }
    files.sort();
    Ok(files)
}

fn is_hash(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The `ab/` and `ab/cd/` folders the move emptied (a folder still holding anything stays).
fn remove_empty_dirs(root: &Path) {
    let Ok(top) = fs::read_dir(root) else { return };
    for entry in top.flatten() {
        if let Ok(inner) = fs::read_dir(entry.path()) {
            for sub in inner.flatten() {
                let _ = fs::remove_dir(sub.path());
            }
        }
        let _ = fs::remove_dir(entry.path());
    }
}
