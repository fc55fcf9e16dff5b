//! Crash-safe file writes: a file is either its old content or its complete
//! new content, never half-written, and private files are never readable by
//! others, not even for an instant.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Who may read a file written by [`write_atomic`] or [`write_new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0644: certificates, metadata.
    Public,
    /// 0600: keys, anything holding a secret.
    Private,
}

#[cfg(unix)]
impl Mode {
    /// The permission bits.
    fn bits(self) -> u32 {
        match self {
            Mode::Public => 0o644,
            Mode::Private => 0o600,
        }
    }
}

/// Writes `data` to `path` atomically: a temporary file in the same
/// directory, created with the final permissions, written and synced, then
/// renamed over `path`; the directory is synced too. Missing parent
/// directories are created with mode 0700.
pub fn write_atomic(path: &Path, data: &[u8], mode: Mode) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".wacme-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode.bits()));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Writes `data` to a new file `path` (which must not exist) with the
/// final permissions from the start, and syncs it. For files in a directory
/// nothing refers to yet: the caller syncs the directory once and then
/// publishes it in one step (a rename), so no file needs its own
/// temporary name.
pub fn write_new(path: &Path, data: &[u8], mode: Mode) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode.bits());
    }
    let mut file = options.open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

/// Creates `dir` and its missing parents with mode 0700 (existing ones are
/// left as they are).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Syncs a directory after a rename or removal in it (best effort: makes it
/// durable on filesystems that need it).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_have_their_mode_from_the_start_and_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_new(&path, b"one", Mode::Private).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let bits = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(bits, 0o600);
        }
        let err = write_new(&path, b"two", Mode::Private).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"one");
    }

    #[test]
    fn writes_with_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/key.pem");
        write_atomic(&path, b"one", Mode::Private).unwrap();
        write_atomic(&path, b"two", Mode::Private).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dmode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dmode, 0o700);
        }
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
