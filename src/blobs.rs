//! Raw mail and attachments, named by the SHA-256 of their bytes — never by a name taken
//! from the mail, so a hostile filename cannot choose a path, and the same bytes are stored
//! once however often they arrive.
//!
//! Two tiers. Blobs up to [`INLINE_MAX`] (most mails, every acknowledgement) live in the
//! database, written in the same transaction as the rows that name them: no file, no
//! fsync, and a commit makes them durable together. Creating a file per small blob was
//! the largest single cost of a backlog drain (ext4 inode allocation, measured with perf).
//! Larger blobs are, on SQLite, files under `storage.dir`, fsync'd before the row that names
//! them commits; on PostgreSQL they live in the database too, in parts of 1 MiB
//! (src/store/large_blobs.rs), so that processes on different machines share nothing but
//! the database. A store of files from before moves in with `buzon migrate` (`move_in.rs`);
//! until then a blob missing from the database is read from its file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::private_files;
use crate::store::{Backend, Store};

mod move_in;
pub use move_in::Moved;

/// Blobs up to this size are kept in the database.
pub const INLINE_MAX: usize = 64 * 1024;

/// The hex SHA-256 of some bytes: the blob's name and the database's reference to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobHash(pub String);

impl BlobHash {
    pub fn of(bytes: &[u8]) -> Self {
        BlobHash(hex::encode(Sha256::digest(bytes)))
    }
}

/// A blob on its way in: a file under a temporary name waiting for
/// [`BlobStore::publish`], or bytes the database keeps, waiting for their transaction.
#[derive(Debug)]
pub enum Staged {
    File { tmp: PathBuf, path: PathBuf },
    Inline { hash: String, bytes: Vec<u8> },
}

impl Staged {
    /// The bytes of a staged blob named `hash`, for a reader in the same batch.
    pub fn read_if(&self, hash: &str) -> Option<io::Result<Vec<u8>>> {
        match self {
            Staged::File { tmp, path } => (path.file_name()? == hash).then(|| fs::read(tmp)),
            Staged::Inline { hash: h, bytes } => (h == hash).then(|| Ok(bytes.clone())),
        }
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

/// A large blob being written; its name is known once the last piece is in.
pub struct BlobWriter {
    sink: Sink,
    hasher: Sha256,
    root: BlobStore,
}

/// Where a [`BlobWriter`] puts the pieces.
enum Sink {
    /// A temporary file (SQLite): the blob is never whole in memory.
    File { file: File, tmp: PathBuf },
    /// One buffer of the announced size, for the database (PostgreSQL).
    Memory(Vec<u8>),
}

impl BlobWriter {
    pub fn write(&mut self, piece: &[u8]) -> io::Result<()> {
        self.hasher.update(piece);
        match &mut self.sink {
            Sink::File { file, .. } => file.write_all(piece),
            Sink::Memory(bytes) => {
                bytes.extend_from_slice(piece);
                Ok(())
            }
        }
    }

    pub fn finish(self) -> io::Result<(BlobHash, Staged)> {
        let hash = BlobHash(hex::encode(self.hasher.finalize()));
        let tmp = match self.sink {
            Sink::Memory(bytes) => {
                let staged = Staged::Inline {
                    hash: hash.0.clone(),
                    bytes,
                };
                return Ok((hash, staged));
            }
            Sink::File { tmp, .. } => tmp,
        };
        let path = self.root.path_of(&hash.0)?;
        private_files::create_dir_all(path.parent().expect("blob paths have a parent"))?;
        Ok((hash, Staged::File { tmp, path }))
    }
}

#[derive(Clone)]
pub struct BlobStore {
    root: PathBuf,
    fsync: bool,
    /// Where small blobs live; without it (unit tests) every blob is a file.
    store: Option<Store>,
}

impl BlobStore {
    pub fn new(root: impl Into<PathBuf>, fsync: bool) -> Self {
        BlobStore {
            root: root.into(),
            fsync,
            store: None,
        }
    }

    /// Keep small blobs in this database.
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
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
        self.path_of(hash)?;
        Ok(self.root.join(&hash[..2]).join(&hash[2..4]).join(hash))
    }

    /// Prepare the bytes for storing: small ones are kept for their transaction, large ones
    /// written under a temporary name, not yet visible by their hash. A batch stages all
    /// its blobs and [`publish`](Self::publish)es them together before it commits, so their
    /// fsyncs overlap instead of queueing one after another. `None` when the file exists.
    pub fn stage(&self, bytes: &[u8]) -> io::Result<(BlobHash, Option<Staged>)> {
        if self.in_database(bytes.len()) {
            let (hash, staged) = self.stage_row(bytes.to_vec());
            return Ok((hash, Some(staged)));
        }
        let hash = BlobHash::of(bytes);
        let path = self.path_of(&hash.0)?;
        if path.exists() {
            return Ok((hash, None));
        }
        let dir = path.parent().expect("blob paths have a parent");
        private_files::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.{}",
            &hash.0[..16],
            std::process::id(),
            fastrand::u64(..)
        ));
        private_files::create(&tmp)?.write_all(bytes)?;
        Ok((hash, Some(Staged::File { tmp, path })))
    }

    /// Whether a blob of `len` bytes lives in the database: the small ones, and on
    /// PostgreSQL every one.
    pub fn in_database(&self, len: usize) -> bool {
        (len <= INLINE_MAX && self.store.is_some()) || self.all_in_database()
    }

    /// Every blob lives in the database (PostgreSQL): nothing is written under `storage.dir`.
    pub fn all_in_database(&self) -> bool {
        self.store
            .as_ref()
            .is_some_and(|s| s.backend() == Backend::Postgres)
    }

    /// Stage bytes [`in_database`](Self::in_database) for their transaction: taken, not
    /// copied, and no I/O, so callers need not leave the async runtime.
    pub fn stage_row(&self, bytes: Vec<u8>) -> (BlobHash, Staged) {
        let hash = BlobHash::of(&bytes);
        let staged = Staged::Inline {
            hash: hash.0.clone(),
            bytes,
        };
        (hash, staged)
    }

    /// A blob written piece by piece as it arrives (a large mail fetched in parts), of about
    /// `size` bytes; [`BlobWriter::finish`] stages it like [`stage`](Self::stage). On SQLite
    /// it goes to a file and is never whole in memory; on PostgreSQL it is gathered in one
    /// buffer for the database, which writes it a part at a time.
    pub fn writer(&self, size: usize) -> io::Result<BlobWriter> {
        let sink = if self.all_in_database() {
            Sink::Memory(Vec::with_capacity(size))
        } else {
            private_files::create_dir_all(&self.root)?;
            let tmp = self.root.join(format!(
                ".incoming.{}.{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            Sink::File {
                file: private_files::create(&tmp)?,
                tmp,
            }
        };
        Ok(BlobWriter {
            sink,
            hasher: Sha256::new(),
            root: self.clone(),
        })
    }

    /// Make staged files visible under their hash. With fsync on, each file's bytes are on
    /// disk before it takes its name (a blob is never there half written), and each
    /// directory before this returns (so a database row may name the blob). Returns the
    /// small blobs, which the caller writes in the transaction that names them.
    pub fn publish(&self, staged: Vec<Staged>) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        let mut inline = Vec::new();
        for s in staged {
            match s {
                Staged::File { tmp, path } => files.push((tmp, path)),
                Staged::Inline { hash, bytes } => inline.push((hash, bytes)),
            }
        }
        if self.fsync {
            in_parallel(&files, |(tmp, _)| File::open(tmp)?.sync_all())?;
        }
        for (tmp, path) in &files {
            fs::rename(tmp, path)?;
        }
        if self.fsync {
            let mut dirs: Vec<&Path> = files.iter().filter_map(|(_, p)| p.parent()).collect();
            dirs.sort();
            dirs.dedup();
            in_parallel(&dirs, |d| File::open(d)?.sync_all())?;
        }
        Ok(inline)
    }

    /// Forget staged blobs (their batch rolled back).
    pub fn discard(&self, staged: Vec<Staged>) {
        for s in staged {
            if let Staged::File { tmp, .. } = s {
                let _ = fs::remove_file(&tmp);
            }
        }
    }

    /// Store the bytes now, outside any batch (a file, or rows of its own).
    pub async fn put(&self, bytes: &[u8]) -> io::Result<BlobHash> {
        let (hash, staged) = self.stage(bytes)?;
        let inline = self.publish(staged.into_iter().collect())?;
        if let Some(store) = &self.store {
            store
                .put_blob_rows(&inline)
                .await
                .map_err(io::Error::other)?;
        }
        Ok(hash)
    }

    /// A blob's bytes, from the database or from its file (on PostgreSQL, a store whose
    /// files `buzon migrate` has not moved in yet).
    pub async fn get(&self, hash: &str) -> io::Result<Vec<u8>> {
        if let Some(store) = &self.store {
            if let Some(bytes) = store.small_blob(hash).await.map_err(io::Error::other)? {
                return Ok(bytes);
            }
            if self.all_in_database() {
                if let Some(bytes) = store.large_blob(hash).await.map_err(io::Error::other)? {
                    return Ok(bytes);
                }
            }
        }
        let this = self.clone();
        let hash = hash.to_string();
        tokio::task::spawn_blocking(move || this.read_file(&hash))
            .await
            .map_err(io::Error::other)?
    }

    fn read_file(&self, hash: &str) -> io::Result<Vec<u8>> {
        match fs::read(self.path_of(hash)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::read(self.two_level_path(hash)?),
            read => read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_bytes_same_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path(), true);
        let a = store.put(b"hola").await.unwrap();
        let b = store.put(b"hola").await.unwrap();
        assert_eq!(a, b);
        assert_eq!(store.get(&a.0).await.unwrap(), b"hola");
        assert_eq!(
            a.0,
            "b221d9dbb083a7f33428d7c2a3c3198ae925614d70210e28716ccaa7cd4ddb79"
        );
    }

    #[tokio::test]
    async fn names_that_are_not_hashes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path(), false);
        assert!(store.get("../../etc/passwd").await.is_err());
    }

    #[tokio::test]
    async fn staged_files_are_invisible_until_published_and_gone_when_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path(), true);
        let (kept, staged) = store.stage(b"kept").unwrap();
        let staged = staged.unwrap();
        assert_eq!(staged.read_if(&kept.0).unwrap().unwrap(), b"kept");
        assert!(
            store.get(&kept.0).await.is_err(),
            "not visible before publish"
        );
        assert!(store.publish(vec![staged]).unwrap().is_empty());
        assert_eq!(store.get(&kept.0).await.unwrap(), b"kept");
        let (dropped, staged) = store.stage(b"dropped").unwrap();
        store.discard(staged.into_iter().collect());
        assert!(store.get(&dropped.0).await.is_err());
        let leftovers: Vec<_> = fs::read_dir(dir.path().join(&dropped.0[..2]))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "temporary file removed");
    }
}
