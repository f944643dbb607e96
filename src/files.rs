//! Reading the files a config names and the core parses (config, playbooks,
//! scenarios, CA certificates): the size cap applied before a file is read
//! whole, UTF-8 checked, a playbook directory listed with its read errors
//! reported. The core only parses text.

use crate::core::playbook::Playbook;
use crate::core::scenario::Scenario;
use crate::core::yaml::{MAX_YAML_BYTES, YamlError};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;

/// Reads a YAML file as UTF-8 text, refusing a directory or a file over
/// [`MAX_YAML_BYTES`] before reading it.
pub fn read_yaml_text(file: &Path) -> Result<String, YamlError> {
    let meta = std::fs::metadata(file).map_err(|e| io_error(file, &e))?;
    if meta.is_dir() {
        return Err(YamlError::whole_file(
            file,
            "is a directory, not a YAML file",
            None,
        ));
    }
    if meta.len() > MAX_YAML_BYTES as u64 {
        return Err(YamlError::whole_file(
            file,
            format!(
                "file is {} bytes, more than the {} bytes a YAML document may have",
                meta.len(),
                MAX_YAML_BYTES
            ),
            None,
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| io_error(file, &e))?;
    String::from_utf8(bytes).map_err(|e| {
        YamlError::whole_file(
            file,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            Some("save the file as UTF-8".into()),
        )
    })
}

fn io_error(file: &Path, e: &std::io::Error) -> YamlError {
    let hint = match e.kind() {
        std::io::ErrorKind::NotFound => {
            Some("check the path, or run `ic init` to create a config".into())
        }
        std::io::ErrorKind::PermissionDenied => Some("check the file's permissions".into()),
        _ => None,
    };
    YamlError::whole_file(file, format!("cannot read: {e}"), hint)
}

/// Reads, parses and validates a playbook file.
pub fn load_playbook(file: &Path) -> Result<Playbook, YamlError> {
    let text = read_yaml_text(file)?;
    Playbook::parse(file, &text)
}

/// Reads and parses a scenario file.
pub fn load_scenario(file: &Path) -> Result<Scenario, YamlError> {
    let text = read_yaml_text(file)?;
    Scenario::parse(file, &text)
}

/// Every `*.yaml` / `*.yml` playbook in `dir` (sorted by name) and the errors
/// of those that do not load; `Err` when the directory itself cannot be read
/// (an unreadable folder is an error, never zero playbooks in silence).
pub fn load_playbook_dir(dir: &Path) -> Result<(Vec<Playbook>, Vec<YamlError>), YamlError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        YamlError::whole_file(
            dir,
            format!("cannot list the playbook directory: {e}"),
            Some("check the path and its permissions (`playbooks:` in the config)".into()),
        )
    })?;
    let mut files = Vec::new();
    let mut bad = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                    files.push(p);
                }
            }
            Err(e) => bad.push(YamlError::whole_file(
                dir,
                format!("cannot read an entry of the playbook directory: {e}"),
                None,
            )),
        }
    }
    files.sort();
    let mut good = Vec::new();
    for f in files {
        match load_playbook(&f) {
            Ok(p) => good.push(p),
            Err(e) => bad.push(e),
        }
    }
    Ok((good, bad))
}

/// Why a `tls.ca_file` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tls.ca_file {path}: {reason}")]
pub struct CaFileError {
    /// The file.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads the CA certificates of a `tls.ca_file` (PEM), each checked to be
/// usable as a trust anchor: the check the config runs on parsing and the
/// certificates TLS setup trusts.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaFileError> {
    let bad = |reason: String| CaFileError {
        path: path.display().to_string(),
        reason,
    };
    if path.is_dir() {
        return Err(bad("is a directory, not a PEM file".into()));
    }
    let mut certs = Vec::new();
    let mut check = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        let cert = cert.map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
        check
            .add(cert.clone())
            .map_err(|e| bad(format!("unusable certificate: {e}")))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(bad("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_unreadable_playbook_directory_is_an_error_not_zero_playbooks() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = load_playbook_dir(&missing).unwrap_err();
        assert!(
            e.to_string().contains("cannot list the playbook directory"),
            "{e}"
        );
        assert!(e.to_string().contains("nope"), "{e}");

        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        // root reads any directory: the refusal is only observable as another user.
        if std::fs::read_dir(&locked).is_err() {
            assert!(load_playbook_dir(&locked).is_err());
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn oversized_directories_and_non_utf8_files_are_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_yaml_text(dir.path()).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'a'; MAX_YAML_BYTES + 1]).unwrap();
        assert!(
            read_yaml_text(&big)
                .unwrap_err()
                .to_string()
                .contains("more than")
        );
        let bin = dir.path().join("bin.yaml");
        std::fs::write(&bin, [b'a', 0xff, b'b']).unwrap();
        assert!(
            read_yaml_text(&bin)
                .unwrap_err()
                .to_string()
                .contains("not UTF-8")
        );
    }
}
