//! Finding plugins by name.
//!
//! A plugin argument that contains a `/` or ends in `.wasm` is a path. Any
//! other argument is a name, looked up as `<name>.wasm` (or the cargo output
//! name `wacme_plugin_<name>.wasm`) in, first match wins:
//! 1. each `--plugin-dir`, then each directory in `WACME_PLUGIN_DIR`
//!    (`:`-separated);
//! 2. `plugins/` beside the `wacme` executable (where `scripts/build.sh`
//!    installs the first-party plugins);
//! 3. the user's data directory (`~/.local/share/wacme/plugins`).

use super::Error;
use std::path::{Path, PathBuf};

/// The directories searched for plugins, in order.
pub fn search_dirs(plugin_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = plugin_dirs.to_vec();
    if let Some(env) = std::env::var_os("WACME_PLUGIN_DIR") {
        dirs.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("plugins"));
    }
    if let Some(d) = directories::ProjectDirs::from("", "", "wacme") {
        dirs.push(d.data_dir().join("plugins"));
    }
    let mut unique = Vec::new();
    for d in dirs {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    unique
}

/// Whether a plugin argument is a path rather than a name.
pub fn is_path(arg: &str) -> bool {
    arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || arg.ends_with(".wasm")
}

/// Resolves a plugin name or path to a file.
pub fn find(arg: &str, dirs: &[PathBuf]) -> Result<PathBuf, Error> {
    if is_path(arg) {
        let path = PathBuf::from(arg);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Load {
                origin: arg.to_string(),
                reason: "no such file".into(),
            })
        };
    }
    let file_names = [
        format!("{arg}.wasm"),
        format!("wacme_plugin_{}.wasm", arg.replace('-', "_")),
    ];
    for dir in dirs {
        for name in &file_names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(Error::NotFound {
        name: arg.to_string(),
        searched: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Every `.wasm` file in `dirs`, in search order.
pub fn list(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        files.sort();
        found.extend(files);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(is_path("./x.wasm") && is_path("x.wasm") && is_path("/a/b"));
        assert!(!is_path("pdns") && !is_path("cloud-flare"));
    }

    #[test]
    fn finds_in_order_and_by_cargo_name() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join("pdns.wasm"), b"x").unwrap();
        std::fs::write(a.path().join("wacme_plugin_my_dns.wasm"), b"x").unwrap();
        std::fs::write(a.path().join("pdns.wasm"), b"x").unwrap();
        let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        assert_eq!(find("pdns", &dirs).unwrap(), a.path().join("pdns.wasm"));
        assert_eq!(
            find("my-dns", &dirs).unwrap(),
            a.path().join("wacme_plugin_my_dns.wasm")
        );
        let err = find("nope", &dirs).unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains(&a.path().display().to_string()),
            "{err}"
        );
        assert_eq!(list(&dirs).len(), 3);
    }
}
