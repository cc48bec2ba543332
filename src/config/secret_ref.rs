//! Secret references: where the config file takes a secret (an account's `api_key`, a key's
//! `key`) it also takes `{ env = "VAR" }` or `{ file = "/run/secrets/x" }`, so the file itself
//! can live in git. They are resolved while loading, before the typed config exists; a missing
//! variable or an unreadable file is a load error naming it and the entry, never its value.

use std::path::Path;

use toml::{Table, Value};

use super::ConfigError;

/// The secret fields: `(array of tables, field)`.
const SECRET_FIELDS: &[(&str, &str)] = &[("accounts", "api_key"), ("keys", "key")];

/// Replaces every secret reference in `table` by the secret it names. `env` is the process
/// environment; a relative `file` is taken relative to the config file's directory.
pub(super) fn resolve(
    table: &mut Table,
    env: &[(String, String)],
    config_file: Option<&Path>,
) -> Result<(), ConfigError> {
    for (section, field) in SECRET_FIELDS {
        let Some(Value::Array(entries)) = table.get_mut(*section) else { continue };
        for (i, entry) in entries.iter_mut().enumerate() {
            let Value::Table(entry) = entry else { continue };
            let what = describe(section, entry);
            let Some(Value::Table(reference)) = entry.get(*field) else { continue };
            let key = format!("{section}[{i}].{field}");
            let secret = lookup(reference, env, config_file).map_err(|message| {
                let file = match config_file {
                    Some(f) => format!(", config file {}", f.display()),
                    None => String::new(),
                };
                ConfigError::Key { key: key.clone(), message: format!("{message} ({what}{file})") }
            })?;
            entry.insert((*field).to_string(), Value::String(secret));
        }
    }
    Ok(())
}

/// How an entry is named in an error: `account openai/team-a`, `key ci`.
fn describe(section: &str, entry: &Table) -> String {
    let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("?");
    match section {
        "accounts" => format!("account `{}/{}`", text("provider"), text("name")),
        _ => format!("key `{}`", text("name")),
    }
}

/// The secret a reference names, or what is wrong (without the secret).
fn lookup(reference: &Table, env: &[(String, String)], config_file: Option<&Path>) -> Result<String, String> {
    const EXPECTED: &str = "expected a string, `{ env = \"VAR\" }` or `{ file = \"/path\" }`";
    if reference.len() != 1 {
        return Err(EXPECTED.into());
    }
    match (reference.get("env"), reference.get("file")) {
        (Some(Value::String(var)), None) => match env.iter().rev().find(|(k, _)| k == var) {
            Some((_, v)) if !v.is_empty() => Ok(v.clone()),
            Some(_) => Err(format!("environment variable {var} is empty")),
            None => Err(format!("environment variable {var} is not set")),
        },
        (None, Some(Value::String(path))) => {
            let path = match config_file.and_then(Path::parent) {
                Some(dir) if Path::new(path).is_relative() => dir.join(path),
                Some(_) | None => Path::new(path).to_path_buf(),
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?;
            let secret = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
            if secret.is_empty() {
                return Err(format!("secret file {} is empty", path.display()));
            }
            Ok(secret.to_string())
        }
        _ => Err(EXPECTED.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(text: &str, env: &[(&str, &str)], file: Option<&Path>) -> Result<Table, String> {
        let mut t: Table = text.parse().map_err(|e| format!("{e}"))?;
        let env: Vec<(String, String)> = env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        resolve(&mut t, &env, file).map_err(|e| e.to_string())?;
        Ok(t)
    }

    fn api_key(t: &Table) -> Option<&str> {
        t["accounts"].as_array()?.first()?.get("api_key")?.as_str()
    }

    #[test]
    fn env_and_file_references_become_the_secret() -> Result<(), String> {
        let acc = "[[accounts]]\nprovider = \"openai\"\nname = \"a\"\napi_key = ";
        let t = resolved(&format!("{acc}{{ env = \"OG_T_KEY\" }}\n"), &[("OG_T_KEY", "sk-env")], None)?;
        assert_eq!(api_key(&t), Some("sk-env"));
        let t = resolved(&format!("{acc}\"plain\"\n"), &[], None)?;
        assert_eq!(api_key(&t), Some("plain"));
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("s"), "sk-file\r\n").map_err(|e| e.to_string())?;
        let cfg = dir.path().join("og.toml");
        let t = resolved(&format!("{acc}{{ file = \"s\" }}\n"), &[], Some(&cfg))?;
        assert_eq!(api_key(&t), Some("sk-file"), "relative to the config file, newline trimmed");
        let keys = "[[keys]]\nname = \"ci\"\nkey = { env = \"OG_T_GW\" }\n";
        let t = resolved(keys, &[("OG_T_GW", "sk-og-x")], None)?;
        assert_eq!(t["keys"][0]["key"].as_str(), Some("sk-og-x"));
        Ok(())
    }

    #[test]
    fn a_missing_secret_names_the_variable_file_and_entry() {
        let acc = "[[accounts]]\nprovider = \"openai\"\nname = \"a\"\napi_key = ";
        let cfg = Path::new("/etc/og/og.toml");
        let e = resolved(&format!("{acc}{{ env = \"OG_T_NOPE\" }}\n"), &[], Some(cfg)).err().unwrap_or_default();
        assert!(
            e.contains("OG_T_NOPE")
                && e.contains("accounts[0].api_key")
                && e.contains("openai/a")
                && e.contains("/etc/og"),
            "{e}"
        );
        let e = resolved(&format!("{acc}{{ file = \"/nonexistent/og-x\" }}\n"), &[], None).err().unwrap_or_default();
        assert!(e.contains("/nonexistent/og-x"), "{e}");
        let e = resolved(&format!("{acc}{{ vault = \"x\" }}\n"), &[], None).err().unwrap_or_default();
        assert!(e.contains("accounts[0].api_key") && e.contains("env ="), "{e}");
    }
}
