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
        Ok(self.root.join(&hash[..2]).join(&hash[2..4]).join(hash))
    }

    /// Store the bytes (once) and return their hash. With fsync on, the file and its
    /// directory are on disk before this returns, so a database row may name it safely.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobHash> {
        let hash = BlobHash::of(bytes);
        let path = self.path_of(&hash.0)?;
        if path.exists() {
            return Ok(hash);
        }
        let dir = path.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.{}",
            &hash.0[..16],
            std::process::id(),
            fastrand::u64(..)
        ));
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if self.fsync {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&tmp, &path)?;
        if self.fsync {
            File::open(dir)?.sync_all()?;
        }
        Ok(hash)
    }

    pub fn get(&self, hash: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path_of(hash)?)
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
