//! Raw mail and attachments on disk, named by the SHA-256 of their bytes — never by a name
//! taken from the mail, so a hostile filename cannot choose a path, and the same bytes are
//! stored once however often they arrive.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The hex SHA-256 of some bytes: the blob's name and the database's reference to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobHash(pub String);

impl BlobHash {
    pub fn of(bytes: &[u8]) -> Self {
        BlobHash(hex::encode(Sha256::digest(bytes)))
    }
}

/// A blob written under a temporary name, waiting for [`BlobStore::publish`].
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
}

impl Staged {
    /// The bytes of a staged blob named `hash`, for a reader in the same batch.
    pub fn read_if(&self, hash: &str) -> Option<io::Result<Vec<u8>>> {
        (self.path.file_name()? == hash).then(|| fs::read(&self.tmp))
    }
}

/// Run `f` on every item, on up to 8 threads when there are several: fsyncs issued together
/// let the disk and the kernel merge their flushes.
fn in_parallel<T: Sync>(items: &[T], f: impl Fn(&T) -> io::Result<()> + Sync) -> io::Result<()> {
    if items.len() < 2 {
        return items.iter().try_for_each(&f);
    }
    let chunk = items.len().div_ceil(8);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().try_for_each(&f)))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(io::Error::other("fsync thread panicked")))
        })
    })
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
    fsync: bool,
}

impl BlobStore {
    pub fn new(root: impl Into<PathBuf>, fsync: bool) -> Self {
        BlobStore {
            root: root.into(),
            fsync,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, hash: &str) -> io::Result<PathBuf> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{hash}' is not a blob hash"),
            ));
        }
        Ok(self.root.join(&hash[..2]).join(hash))
    }

    /// Where stores written before the one-level layout kept a blob: `ab/cd/abcd…`. Two
    /// levels made most new blobs create a directory, which costs more than the file.
    fn two_level_path(&self, hash: &str) -> io::Result<PathBuf> {
        let path = self.path_of(hash)?;
        Ok(self
            .root
            .join(&hash[..2])
            .join(&hash[2..4])
            .join(path.file_name().unwrap_or_default()))
    }

    /// Store the bytes (once) and return their hash. With fsync on, the file and its
    /// directory are on disk before this returns, so a database row may name it safely.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobHash> {
        let (hash, staged) = self.stage(bytes)?;
        self.publish(staged.into_iter().collect())?;
        Ok(hash)
    }

    /// Write the bytes under a temporary name, not yet visible by their hash: a batch stages
    /// all its blobs and [`publish`](Self::publish)es them together before it commits, so
    /// their fsyncs overlap instead of queueing one after another. `None` when the blob
    /// exists already.
    pub fn stage(&self, bytes: &[u8]) -> io::Result<(BlobHash, Option<Staged>)> {
        let hash = BlobHash::of(bytes);
        let path = self.path_of(&hash.0)?;
        if path.exists() {
            return Ok((hash, None));
        }
        let dir = path.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.{}",
            &hash.0[..16],
            std::process::id(),
            fastrand::u64(..)
        ));
        File::create(&tmp)?.write_all(bytes)?;
        Ok((hash, Some(Staged { tmp, path })))
    }

    /// Make staged blobs visible under their hash. With fsync on, each file's bytes are on
    /// disk before it takes its name (a blob is never there half written), and each
    /// directory before this returns (so a database row may name the blob).
    pub fn publish(&self, staged: Vec<Staged>) -> io::Result<()> {
        if self.fsync {
            in_parallel(&staged, |s| File::open(&s.tmp)?.sync_all())?;
        }
        for s in &staged {
            fs::rename(&s.tmp, &s.path)?;
        }
        if self.fsync {
            let mut dirs: Vec<&Path> = staged.iter().filter_map(|s| s.path.parent()).collect();
            dirs.sort();
            dirs.dedup();
            in_parallel(&dirs, |d| File::open(d)?.sync_all())?;
        }
        Ok(())
    }

    /// Forget staged blobs (their batch rolled back).
    pub fn discard(&self, staged: Vec<Staged>) {
        for s in staged {
            let _ = fs::remove_file(&s.tmp);
        }
    }

    pub fn get(&self, hash: &str) -> io::Result<Vec<u8>> {
        match fs::read(self.path_of(hash)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::read(self.two_level_path(hash)?),
            read => read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path(), true);
        let a = store.put(b"hola").unwrap();
        let b = store.put(b"hola").unwrap();
        assert_eq!(a, b);
        assert_eq!(store.get(&a.0).unwrap(), b"hola");
        assert_eq!(
            a.0,
            "b221d9dbb083a7f33428d7c2a3c3198ae925614d70210e28716ccaa7cd4ddb79"
        );
    }

    #[test]
    fn names_that_are_not_hashes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path(), false);
        assert!(store.get("../../etc/passwd").is_err());
    }
}
