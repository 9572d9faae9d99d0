//! Fernet key repository and token encryption, compatible with Keystone.
//!
//! Keystone keeps its Fernet token keys in a directory (`[fernet_tokens]
//! key_repository`, usually `/etc/keystone/fernet-keys`), one key per file,
//! each file named by an integer and holding a 32-byte key in urlsafe base64
//! (44 characters with `=` padding, no newline). `keystone-manage
//! fernet_setup` creates it and `keystone-manage fernet_rotate` rotates it:
//!
//! * key `0` is the *staged* key: not used to encrypt yet, but already
//!   accepted, so that every node of a cluster knows it before any node
//!   promotes it;
//! * the key with the highest number is the *primary* key, which encrypts;
//! * the other keys are *secondary* keys, kept so that tokens issued before
//!   a rotation still validate until they expire.
//!
//! [`KeyRepository`] reproduces that layout and algorithm (including the
//! file modes: directory 0700, key files 0600, written through a `0.tmp` file
//! renamed into place) so that a repository can be shared with, or copied
//! from, a Keystone deployment. [`TokenKeys`] is the loaded key set: it
//! encrypts with the primary key and strips the `=` padding as Keystone's
//! `TokenFormatter.pack` does, and decrypts with every key, returning the
//! token's Fernet timestamp (Keystone's `issued_at`).
//!
//! The repository is not locked: like `keystone-manage`, `setup` and
//! `rotate` must not run concurrently on the same directory.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Keystone's default for `[fernet_tokens] max_active_keys`.
pub const DEFAULT_MAX_ACTIVE_KEYS: usize = 3;

/// The number of the staged key.
const STAGED_KEY_ID: u64 = 0;
/// Name of the temporary file a new key is written to (as Keystone).
const TMP_KEY_FILE: &str = "0.tmp";

/// A Fernet key repository directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRepository {
    dir: PathBuf,
}

/// The keys of a repository, loaded: the primary key first, then the
/// secondary keys from newest to oldest, then the staged key `0` last (the
/// order of Keystone's `FernetUtils.load_keys`).
#[derive(Clone)]
pub struct TokenKeys {
    /// Encrypts with the primary key.
    multi: fernet::MultiFernet,
    /// Key numbers, in the same order as `keys`.
    ids: Vec<u64>,
    keys: Vec<fernet::Fernet>,
}

/// Errors of the key repository.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("fernet key repository: cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no fernet keys found in {0}")]
    NoKeys(PathBuf),
    #[error("no staged fernet key 0 in {0} (run setup to create one)")]
    NoStagedKey(PathBuf),
    #[error("{0} is not a fernet key (expected 32 bytes in urlsafe base64)")]
    BadKey(PathBuf),
    #[error("max_active_keys must be at least 1")]
    InvalidMaxActiveKeys,
}

/// A token that no key of the repository can decrypt, or that is not a
/// Fernet token at all. Deliberately carries no detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid fernet token")]
pub struct InvalidToken;

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> KeyError + 'a {
    move |source| KeyError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A key file found in the repository.
struct KeyFile {
    path: PathBuf,
    /// The file's content, surrounding whitespace trimmed.
    key: String,
}

impl KeyRepository {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The repository directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the directory (mode 0700) with key 0 (staged) and key 1
    /// (primary) if it holds no keys; idempotent.
    ///
    /// As Keystone's `fernet_setup`, a repository that already has a staged
    /// key 0 is left alone. A repository that holds keys but no key 0 (which
    /// `rotate` needs) only gets a new staged key 0: unlike Keystone, which
    /// would also rotate then, this never promotes or purges a key.
    pub fn setup(&self) -> Result<(), KeyError> {
        create_dir_0700(&self.dir).map_err(io_err("create directory", &self.dir))?;
        let files = self.key_files()?;
        if files.contains_key(&STAGED_KEY_ID) {
            return Ok(());
        }
        self.write_staged_key()?;
        if files.is_empty() {
            self.rotate(DEFAULT_MAX_ACTIVE_KEYS)?;
        }
        Ok(())
    }

    /// Keystone's rotation: staged key 0 becomes the new primary (renamed to
    /// max+1), a new staged 0 is created, and the oldest secondary keys are
    /// removed so at most `max_active_keys` remain (keystone's default 3,
    /// [`DEFAULT_MAX_ACTIVE_KEYS`]). Files written atomically (temp +
    /// rename), mode 0600.
    ///
    /// The count includes the staged key and the new primary, so with
    /// `max_active_keys == 1` only the staged key 0 is left, which is then
    /// the primary (Keystone allows that too, but tokens issued before the
    /// rotation stop validating at once).
    pub fn rotate(&self, max_active_keys: usize) -> Result<(), KeyError> {
        if max_active_keys == 0 {
            return Err(KeyError::InvalidMaxActiveKeys);
        }
        let mut files: BTreeMap<u64, PathBuf> = self.key_files()?.into_iter().map(|(id, f)| (id, f.path)).collect();
        let Some(&current_primary) = files.keys().next_back() else {
            return Err(KeyError::NoKeys(self.dir.clone()));
        };
        let Some(staged) = files.remove(&STAGED_KEY_ID) else {
            return Err(KeyError::NoStagedKey(self.dir.clone()));
        };

        // The next staged key is written before anything is renamed, so a
        // failure here leaves the repository as it was.
        let tmp = self.write_tmp_key()?;

        let new_primary_id = current_primary + 1;
        let new_primary = self.dir.join(new_primary_id.to_string());
        fs::rename(&staged, &new_primary).map_err(io_err("promote staged key to", &new_primary))?;
        files.insert(new_primary_id, new_primary);

        let staged_path = self.dir.join(STAGED_KEY_ID.to_string());
        fs::rename(&tmp, &staged_path).map_err(io_err("create staged key", &staged_path))?;
        self.sync_dir()?;

        // `files` now holds every key but the new staged one: keep the
        // newest `max_active_keys - 1` of them.
        let excess = files.len().saturating_sub(max_active_keys - 1);
        for path in files.values().take(excess) {
            fs::remove_file(path).map_err(io_err("remove excess key", path))?;
        }
        if excess > 0 {
            self.sync_dir()?;
        }
        Ok(())
    }

    /// Loads every key, primary first (see [`TokenKeys`]).
    pub fn load(&self) -> Result<TokenKeys, KeyError> {
        let files = self.key_files()?;
        if files.is_empty() {
            return Err(KeyError::NoKeys(self.dir.clone()));
        }
        let mut ids = Vec::with_capacity(files.len());
        let mut keys = Vec::with_capacity(files.len());
        for (id, file) in files.into_iter().rev() {
            let key = fernet::Fernet::new(&file.key).ok_or(KeyError::BadKey(file.path))?;
            ids.push(id);
            keys.push(key);
        }
        Ok(TokenKeys {
            multi: fernet::MultiFernet::new(keys.clone()),
            ids,
            keys,
        })
    }

    /// The key files, by number: regular files (or links to them) named by
    /// a decimal integer and not empty, as Keystone's `_get_key_files`.
    /// Anything else (`0.tmp`, editor backups, ...) is ignored.
    fn key_files(&self) -> Result<BTreeMap<u64, KeyFile>, KeyError> {
        let entries = fs::read_dir(&self.dir).map_err(io_err("read directory", &self.dir))?;
        let mut files = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(io_err("read directory", &self.dir))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(parse_key_id) else {
                continue;
            };
            let path = entry.path();
            // `metadata` follows symbolic links, as Python's os.path.isfile.
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {}
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("inspect", &path)(e)),
            }
            let content = fs::read(&path).map_err(io_err("read", &path))?;
            let Ok(content) = String::from_utf8(content) else {
                return Err(KeyError::BadKey(path));
            };
            let key = content.trim();
            if key.is_empty() {
                // Keystone ignores empty key files (with a warning).
                continue;
            }
            files.insert(
                id,
                KeyFile {
                    key: key.to_owned(),
                    path,
                },
            );
        }
        Ok(files)
    }

    /// Writes a new random key to `0.tmp` (mode 0600, synced) and returns
    /// its path.
    fn write_tmp_key(&self) -> Result<PathBuf, KeyError> {
        let tmp = self.dir.join(TMP_KEY_FILE);
        let key = fernet::Fernet::generate_key();
        write_0600(&tmp, key.as_bytes()).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("write", &tmp)(e)
        })?;
        Ok(tmp)
    }

    /// Creates a new staged key 0 (temp file + rename).
    fn write_staged_key(&self) -> Result<(), KeyError> {
        let tmp = self.write_tmp_key()?;
        let staged = self.dir.join(STAGED_KEY_ID.to_string());
        fs::rename(&tmp, &staged).map_err(io_err("create staged key", &staged))?;
        self.sync_dir()
    }

    /// Makes the renames durable.
    fn sync_dir(&self) -> Result<(), KeyError> {
        #[cfg(unix)]
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync directory", &self.dir))?;
        Ok(())
    }
}

/// A key file name: a decimal integer (leading zeros allowed, as Python's
/// `int()`).
fn parse_key_id(name: &str) -> Option<u64> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

fn create_dir_0700(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `data` to `path` (created or truncated), mode 0600, and syncs it.
fn write_0600(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // `mode` applies only to a file that did not exist: a stale `0.tmp`
    // keeps its mode, so set it explicitly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(data)?;
    file.sync_all()
}

impl TokenKeys {
    /// Encrypt with the primary key; returns the token with Keystone's '='
    /// padding stripped.
    pub fn encrypt(&self, payload: &[u8]) -> String {
        let mut token = self.multi.encrypt(payload);
        let unpadded = token.trim_end_matches('=').len();
        token.truncate(unpadded);
        token
    }

    /// Accepts tokens with or without padding; tries every key (primary,
    /// secondaries, staged). Returns payload and the Fernet timestamp
    /// (issued_at, seconds since epoch). No TTL check here (expiry lives in
    /// the payload).
    ///
    /// The `fernet` crate does reject a token whose timestamp is more than
    /// 60 seconds in the future (clock skew between nodes beyond that makes
    /// fresh tokens fail until the clocks agree); Keystone does not.
    pub fn decrypt(&self, token: &str) -> Result<(Vec<u8>, u64), InvalidToken> {
        let token = token.trim_end_matches('=');
        let payload = self
            .keys
            .iter()
            .find_map(|key| key.decrypt(token).ok())
            .ok_or(InvalidToken)?;
        Ok((payload, fernet_timestamp(token)?))
    }

    /// The key numbers, in the order keys are tried: primary first, staged
    /// (`0`) last.
    pub fn key_ids(&self) -> &[u64] {
        &self.ids
    }

    /// The number of the primary (encrypting) key.
    pub fn primary_key_id(&self) -> u64 {
        self.ids[0]
    }
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("TokenKeys")
            .field("key_ids", &self.ids)
            .finish_non_exhaustive()
    }
}

/// The timestamp of a Fernet token (unpadded): bytes 1..9, big-endian
/// seconds since the epoch (Keystone's `TokenFormatter.creation_time`).
fn fernet_timestamp(token: &str) -> Result<u64, InvalidToken> {
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| InvalidToken)?;
    let bytes: [u8; 8] = raw.get(1..9).and_then(|b| b.try_into().ok()).ok_or(InvalidToken)?;
    Ok(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "oxistack-fernet-test-{}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                rand::random::<u32>()
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        /// A path inside the directory that does not exist yet.
        fn sub(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn set_up() -> (TempDir, KeyRepository) {
        let tmp = TempDir::new();
        let repo = KeyRepository::new(tmp.sub("fernet-keys"));
        repo.setup().unwrap();
        (tmp, repo)
    }

    /// The names of the files in the repository, sorted.
    fn file_names(repo: &KeyRepository) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(repo.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn read_key(repo: &KeyRepository, id: u64) -> String {
        fs::read_to_string(repo.dir().join(id.to_string())).unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn setup_creates_staged_and_primary_keys() {
        let (_tmp, repo) = set_up();
        assert_eq!(file_names(&repo), ["0", "1"]);
        for id in [0, 1] {
            let key = read_key(&repo, id);
            assert_eq!(key.len(), 44, "urlsafe base64 of 32 bytes, padded");
            assert!(fernet::Fernet::new(&key).is_some());
        }
        assert_ne!(read_key(&repo, 0), read_key(&repo, 1));
        #[cfg(unix)]
        {
            assert_eq!(mode(repo.dir()), 0o700);
            assert_eq!(mode(&repo.dir().join("0")), 0o600);
            assert_eq!(mode(&repo.dir().join("1")), 0o600);
        }
        let keys = repo.load().unwrap();
        assert_eq!(keys.key_ids(), [1, 0]);
        assert_eq!(keys.primary_key_id(), 1);
    }

    #[test]
    fn setup_is_idempotent() {
        let (_tmp, repo) = set_up();
        let before = (read_key(&repo, 0), read_key(&repo, 1));
        repo.setup().unwrap();
        assert_eq!(file_names(&repo), ["0", "1"]);
        assert_eq!((read_key(&repo, 0), read_key(&repo, 1)), before);
    }

    #[test]
    fn setup_restores_a_missing_staged_key_without_rotating() {
        let (_tmp, repo) = set_up();
        repo.rotate(3).unwrap();
        let primary = read_key(&repo, 2);
        fs::remove_file(repo.dir().join("0")).unwrap();
        assert!(matches!(repo.rotate(3), Err(KeyError::NoStagedKey(_))));
        repo.setup().unwrap();
        assert_eq!(file_names(&repo), ["0", "1", "2"]);
        assert_eq!(read_key(&repo, 2), primary);
        repo.rotate(3).unwrap();
        assert_eq!(file_names(&repo), ["0", "2", "3"]);
    }

    #[test]
    fn encrypt_strips_padding_and_decrypt_accepts_both() {
        let (_tmp, repo) = set_up();
        let keys = repo.load().unwrap();
        let mut needed_padding = 0;
        for len in 0..64 {
            let payload: Vec<u8> = (0..len as u8).collect();
            let token = keys.encrypt(&payload);
            assert!(!token.contains('='), "{token}");
            assert!(token.starts_with("gAAAAA"), "Fernet version byte 0x80");
            let (plain, _) = keys.decrypt(&token).unwrap();
            assert_eq!(plain, payload);
            if token.len() % 4 != 0 {
                needed_padding += 1;
                // Keystone's restore_padding.
                let padded = format!("{token}{}", "=".repeat(4 - token.len() % 4));
                assert_eq!(keys.decrypt(&padded).unwrap().0, payload);
            }
        }
        assert!(needed_padding > 0, "some token lengths need padding");
    }

    #[test]
    fn decrypt_returns_the_issue_time() {
        let (_tmp, repo) = set_up();
        let keys = repo.load().unwrap();
        let before = now();
        let token = keys.encrypt(b"payload");
        let after = now();
        let (_, issued_at) = keys.decrypt(&token).unwrap();
        assert!(before <= issued_at && issued_at <= after);
    }

    #[test]
    fn rotation_promotes_the_staged_key() {
        let (_tmp, repo) = set_up();
        let staged = read_key(&repo, 0);
        repo.rotate(DEFAULT_MAX_ACTIVE_KEYS).unwrap();
        assert_eq!(file_names(&repo), ["0", "1", "2"]);
        assert_eq!(read_key(&repo, 2), staged);
        assert_ne!(read_key(&repo, 0), staged);
        #[cfg(unix)]
        for name in file_names(&repo) {
            assert_eq!(mode(&repo.dir().join(name)), 0o600);
        }
        // The new primary encrypts: the token decrypts with it alone.
        let keys = repo.load().unwrap();
        assert_eq!(keys.key_ids(), [2, 1, 0]);
        let token = keys.encrypt(b"x");
        let primary = fernet::Fernet::new(&staged).unwrap();
        assert_eq!(primary.decrypt(&token).unwrap(), b"x");
    }

    #[test]
    fn rotation_keeps_max_active_keys() {
        let (_tmp, repo) = set_up();
        for _ in 0..5 {
            repo.rotate(3).unwrap();
        }
        assert_eq!(file_names(&repo), ["0", "5", "6"]);
        assert_eq!(repo.load().unwrap().key_ids(), [6, 5, 0]);

        for _ in 0..3 {
            repo.rotate(5).unwrap();
        }
        assert_eq!(file_names(&repo), ["0", "6", "7", "8", "9"]);
        repo.rotate(5).unwrap();
        assert_eq!(file_names(&repo), ["0", "10", "7", "8", "9"]);

        // Lowering the limit purges down to it in one rotation.
        repo.rotate(2).unwrap();
        assert_eq!(file_names(&repo), ["0", "11"]);
        // One active key: only the staged key is left, and it is primary.
        repo.rotate(1).unwrap();
        assert_eq!(file_names(&repo), ["0"]);
        let keys = repo.load().unwrap();
        assert_eq!(keys.key_ids(), [0]);
        let token = keys.encrypt(b"y");
        assert_eq!(keys.decrypt(&token).unwrap().0, b"y");
    }

    #[test]
    fn token_from_a_key_rotated_out_fails() {
        let (_tmp, repo) = set_up();
        let token = repo.load().unwrap().encrypt(b"old");
        // Key 1 becomes a secondary key: still valid.
        repo.rotate(3).unwrap();
        assert_eq!(repo.load().unwrap().decrypt(&token).unwrap().0, b"old");
        // Key 1 is purged.
        repo.rotate(3).unwrap();
        assert_eq!(file_names(&repo), ["0", "2", "3"]);
        assert_eq!(repo.load().unwrap().decrypt(&token), Err(InvalidToken));
    }

    #[test]
    fn staged_key_decrypts() {
        // Another node has already promoted the staged key and encrypts
        // with it: this node must accept its tokens before it rotates.
        let (_tmp, repo) = set_up();
        let staged = fernet::Fernet::new(&read_key(&repo, 0)).unwrap();
        let token = staged.encrypt(b"from another node");
        let keys = repo.load().unwrap();
        assert_eq!(keys.decrypt(&token).unwrap().0, b"from another node");
    }

    #[test]
    fn foreign_key_fails() {
        let (_tmp, repo) = set_up();
        let other = fernet::Fernet::new(&fernet::Fernet::generate_key()).unwrap();
        let token = other.encrypt(b"elsewhere");
        assert_eq!(repo.load().unwrap().decrypt(&token), Err(InvalidToken));
    }

    #[test]
    fn tampered_truncated_and_garbage_tokens_fail() {
        let (_tmp, repo) = set_up();
        let keys = repo.load().unwrap();
        let token = keys.encrypt(b"some payload bytes");
        assert!(keys.decrypt(&token).is_ok());

        // Every single-character change.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = token.as_bytes();
        for i in 0..bytes.len() {
            for &c in [b'A', b'z', b'-', b'!', b'='].iter() {
                if c == bytes[i] {
                    continue;
                }
                let mut t = bytes.to_vec();
                t[i] = c;
                let t = String::from_utf8(t).unwrap();
                // Changing only the unused low bits of the last character
                // decodes to the same bytes: base64 rejects that, too.
                assert_eq!(keys.decrypt(&t), Err(InvalidToken), "{i} {}", c as char);
            }
            let next = alphabet[(alphabet.iter().position(|&a| a == bytes[i]).unwrap() + 1) % 64];
            let mut t = bytes.to_vec();
            t[i] = next;
            assert!(keys.decrypt(std::str::from_utf8(&t).unwrap()).is_err());
        }
        // Every truncation, and extensions.
        for end in 0..token.len() {
            assert_eq!(keys.decrypt(&token[..end]), Err(InvalidToken), "{end}");
        }
        for suffix in ["A", "AA", "AAAA", "AAAAAAAA", "x=", " ", "\n"] {
            assert_eq!(keys.decrypt(&format!("{token}{suffix}")), Err(InvalidToken));
        }
        // Garbage.
        let long = "A".repeat(100_000);
        for garbage in [
            "",
            "=",
            "====",
            "gAAAAA",
            "gAAAAABrAmfU",
            "not a token",
            "!!!!",
            "ééééé",
            "\0\0\0\0",
            "gAAAAABrAmfUmsHTloBUUTQLTYklDYDLDvcKDSIbFep916XvuBr9pfR8",
            long.as_str(),
        ] {
            assert_eq!(keys.decrypt(garbage), Err(InvalidToken), "{garbage:?}");
        }
        // Well-formed Fernet framing with a wrong MAC, of several lengths.
        for n in [0usize, 15, 16, 31, 32, 48, 64, 100] {
            let mut raw = vec![0x80u8];
            raw.extend_from_slice(&1_700_000_000u64.to_be_bytes());
            raw.extend(std::iter::repeat_n(7u8, 16 + n));
            assert_eq!(keys.decrypt(&URL_SAFE_NO_PAD.encode(&raw)), Err(InvalidToken));
        }
    }

    /// A repository made by Keystone 30.0.0's `FernetUtils`
    /// (`initialize_key_repository`, as `keystone-manage fernet_setup`) and
    /// a project-scoped token that Keystone's `TokenFormatter.create_token`
    /// made with it (user 0ca8f6ab0ea342d2b4b4bd6f6a5b8b80, project
    /// 5bd8ebf2a6aa4e9aa6c0f7a5c0d3fa7e, methods password+token, expires
    /// 2026-11-22T04:05:06Z, audit id QDqE3H1ZSmKbD0AfoaBxRg); Keystone
    /// validated it with issued_at 2026-11-22T03:56:04.000000Z.
    const KEYSTONE_KEY_0: &str = "3L0KKWckQhRLjlRt-MeOPKA_08OU-EwH-jgEv1QjGfs=";
    const KEYSTONE_KEY_1: &str = "XFfcSAWdHU09VENOSNVlia_RGzuDU6xUSx98qEwH4Og=";
    const KEYSTONE_TOKEN: &str = "gAAAAABrAmfUmsHTloBUUTQLTYklDYDLDvcKDSIbFep916XvuBr9pfR8-nEXkfju8AdOjjfLHfvdxmMNf5jb1MsVFdednyj56bfK1hbmEUSA5DDDQdtsVL1tEnnGT0Bkoi_4HK312JgJOnMudGXNti2gw4F5He5taQ2qsiVljiT_zL8KNNms4FA";
    const KEYSTONE_PAYLOAD_HEX: &str = "960292c3c4100ca8f6ab0ea342d2b4b4bd6f6a5b8b800692c3c4105bd8ebf2a6aa4e9aa6c0f7a5c0d3fa7ecb41dac09a7c80000091c410403a84dc7d594a629b0f401fa1a07146";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn reads_a_keystone_repository_and_token() {
        let tmp = TempDir::new();
        let repo = KeyRepository::new(tmp.sub("keystone-keys"));
        fs::create_dir(repo.dir()).unwrap();
        fs::write(repo.dir().join("0"), KEYSTONE_KEY_0).unwrap();
        // Keystone's key files have no newline; tolerate one anyway.
        fs::write(repo.dir().join("1"), format!("{KEYSTONE_KEY_1}\n")).unwrap();
        let keys = repo.load().unwrap();
        assert_eq!(keys.key_ids(), [1, 0]);
        let (payload, issued_at) = keys.decrypt(KEYSTONE_TOKEN).unwrap();
        assert_eq!(hex(&payload), KEYSTONE_PAYLOAD_HEX);
        // 2026-11-22T03:56:04Z
        assert_eq!(issued_at, 1_795_319_764);

        // setup leaves it alone; the second rotation purges key 1.
        repo.setup().unwrap();
        assert_eq!(read_key(&repo, 0), KEYSTONE_KEY_0);
        repo.rotate(3).unwrap();
        assert!(repo.load().unwrap().decrypt(KEYSTONE_TOKEN).is_ok());
        repo.rotate(3).unwrap();
        assert_eq!(repo.load().unwrap().decrypt(KEYSTONE_TOKEN), Err(InvalidToken));
    }

    #[test]
    fn load_ignores_other_files() {
        let (_tmp, repo) = set_up();
        fs::write(repo.dir().join("0.tmp"), "garbage").unwrap();
        fs::write(repo.dir().join("README"), "garbage").unwrap();
        fs::write(repo.dir().join("-1"), "garbage").unwrap();
        fs::write(repo.dir().join("7"), "").unwrap();
        fs::write(repo.dir().join("8"), " \n").unwrap();
        fs::create_dir(repo.dir().join("9")).unwrap();
        assert_eq!(repo.load().unwrap().key_ids(), [1, 0]);
        // Empty key files do not count as the current primary either.
        repo.rotate(3).unwrap();
        assert_eq!(repo.load().unwrap().key_ids(), [2, 1, 0]);
    }

    #[test]
    fn load_errors() {
        let tmp = TempDir::new();
        let missing = KeyRepository::new(tmp.sub("missing"));
        match missing.load() {
            Err(KeyError::Io { path, source, .. }) => {
                assert_eq!(path, tmp.sub("missing"));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        assert!(missing.load().unwrap_err().to_string().contains("missing"));

        let empty = KeyRepository::new(tmp.sub("empty"));
        fs::create_dir(empty.dir()).unwrap();
        assert!(matches!(empty.load(), Err(KeyError::NoKeys(p)) if p == tmp.sub("empty")));
        assert!(matches!(empty.rotate(3), Err(KeyError::NoKeys(_))));

        let (_tmp2, repo) = set_up();
        for bad in ["not base64!", "QUJD", "\u{fffd}"] {
            fs::write(repo.dir().join("5"), bad).unwrap();
            match repo.load() {
                Err(KeyError::BadKey(p)) => assert_eq!(p, repo.dir().join("5")),
                other => panic!("{other:?}"),
            }
        }
        fs::write(repo.dir().join("5"), [0xff, 0xfe]).unwrap();
        assert!(matches!(repo.load(), Err(KeyError::BadKey(_))));
    }

    #[test]
    fn rotate_rejects_zero_max_active_keys() {
        let (_tmp, repo) = set_up();
        assert!(matches!(repo.rotate(0), Err(KeyError::InvalidMaxActiveKeys)));
        assert_eq!(file_names(&repo), ["0", "1"]);
    }

    #[test]
    fn setup_creates_parent_directories() {
        let tmp = TempDir::new();
        let repo = KeyRepository::new(tmp.sub("a/b/fernet-keys"));
        repo.setup().unwrap();
        assert_eq!(file_names(&repo), ["0", "1"]);
    }

    #[test]
    fn setup_rewrites_a_stale_tmp_file() {
        let tmp = TempDir::new();
        let repo = KeyRepository::new(tmp.sub("keys"));
        fs::create_dir(repo.dir()).unwrap();
        fs::write(
            repo.dir().join("0.tmp"),
            "left over from a crash, much longer than a key",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(repo.dir().join("0.tmp"), fs::Permissions::from_mode(0o644)).unwrap();
        }
        repo.setup().unwrap();
        assert_eq!(file_names(&repo), ["0", "1"]);
        assert!(fernet::Fernet::new(&read_key(&repo, 0)).is_some());
        #[cfg(unix)]
        assert_eq!(mode(&repo.dir().join("0")), 0o600);
    }

    #[test]
    fn debug_does_not_print_keys() {
        let (_tmp, repo) = set_up();
        let keys = repo.load().unwrap();
        let debug = format!("{keys:?}");
        assert!(debug.contains("[1, 0]"), "{debug}");
        assert!(!debug.contains(&read_key(&repo, 1)[..10]));
    }
}
