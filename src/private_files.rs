//! The database, raw mails and attachments are customers' private mail: only buzon's own
//! user may read them. Files are created 0600 and directories 0700 whatever the umask
//! (which only removes bits), and ones an older buzon left wider are tightened on start.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// `create_dir_all`, each directory it creates 0700.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

/// `File::create`, the file 0600.
pub fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
}

/// The storage directory: created 0700, or made 0700 if it exists wider; nothing under
/// it can then be reached by others, whatever older files' modes.
pub fn storage_dir(path: &Path) -> io::Result<()> {
    create_dir_all(path)?;
    tighten(path, DIR_MODE)
}

/// Before SQLite opens the file at `url`: create it 0600 if missing (SQLite gives its
/// -wal and -shm files the database file's mode), and tighten it and those files if an
/// older buzon left them wider. A file owned by someone else is left alone, with a warning.
pub fn sqlite_database(url: &str) {
    let Some(path) = sqlite_path(url) else {
        return;
    };
    if !path.exists() {
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&path);
        if let Err(e) = created {
            tracing::debug!(path = %path.display(), error = %e, "not created ahead of SQLite");
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        match tighten(Path::new(&file), FILE_MODE) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                tracing::warn!(file, error = %e, "cannot make the database file private");
            }
            _ => {}
        }
    }
}

/// The file path of a `sqlite:` URL; `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.into())
}

/// Remove group and other permissions from an existing file or directory.
fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_path("sqlite://buzon.db"), Some("buzon.db".into()));
        assert_eq!(
            sqlite_path("sqlite:///var/b.db?mode=rwc"),
            Some("/var/b.db".into())
        );
        assert_eq!(sqlite_path("sqlite:b.db"), Some("b.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x@h/db"), None);
    }

    #[test]
    fn created_files_and_directories_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_dir_all(&deep).unwrap();
        create(&deep.join("f")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(&deep.join("f")), 0o600);
        let db = dir.path().join("old.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        sqlite_database(&format!("sqlite://{}", db.display()));
        assert_eq!(mode(&db), 0o600);
        let new = dir.path().join("new.db");
        sqlite_database(&format!("sqlite://{}?mode=rwc", new.display()));
        assert_eq!(mode(&new), 0o600);
    }
}
