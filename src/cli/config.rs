//! The configuration file: what a deployment always wants (rule paths,
//! outputs, tuning), so that a cron line or a service unit stays short.
//! Command-line flags win over the file.
//!
//! Looked up in this order, first found wins: `--config FILE`, then
//! `$TRIPLINE_CONFIG`, then the platform config directory from `directories`
//! (`~/.config/tripline/config.toml` on Linux,
//! `~/Library/Application Support/io.tripline.tripline/config.toml` on macOS,
//! `%APPDATA%\tripline\tripline\config\config.toml` on Windows), then
//! `/etc/tripline/config.toml` on unix. The schema is strict: an unknown key is
//! an error naming the file. `packaging/config.toml` is an annotated example.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[rules]`
    #[serde(default)]
    pub rules: RulesConfig,
    /// `[output]`
    #[serde(default)]
    pub output: OutputConfig,
    /// `[tuning]`
    #[serde(default)]
    pub tuning: TuningConfig,
}

/// `[rules]`
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Rule files or directories (like `--rules`).
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Also load the embedded pack when `paths` is set (like `--default-rules`).
    #[serde(default)]
    pub default_rules: bool,
}

/// `[output]`
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Output specifications (like `-o`).
    #[serde(default)]
    pub outputs: Vec<String>,
    /// Syslog facility name.
    pub syslog_facility: Option<String>,
    /// `auto`, `always` or `never`.
    pub color: Option<String>,
}

/// `[tuning]`
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TuningConfig {
    /// Allowlist file (relative paths are relative to the config file).
    pub allowlist: Option<PathBuf>,
    /// Throttle window (`10m`).
    pub throttle: Option<String>,
    /// Throttle key fields.
    #[serde(default)]
    pub throttle_key: Vec<String>,
}

/// Where the configuration file is looked for, in order, when `--config` is not given.
pub fn default_locations() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("TRIPLINE_CONFIG") {
        v.push(PathBuf::from(p));
    }
    if let Some(d) = directories::ProjectDirs::from("io", "tripline", "tripline") {
        v.push(d.config_dir().join("config.toml"));
    }
    if cfg!(unix) {
        v.push(PathBuf::from("/etc/tripline/config.toml"));
    }
    v
}

/// Loads `explicit`, or the first existing default location, or an empty config.
///
/// # Errors
/// The file cannot be read or does not match the schema (the message names it).
pub fn load(explicit: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>)> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => default_locations().into_iter().find(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok((ConfigFile::default(), None));
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut cfg: ConfigFile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    // Relative paths in the file are relative to the file.
    let base = path.parent().unwrap_or(Path::new("."));
    for p in &mut cfg.rules.paths {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    }
    if let Some(a) = &mut cfg.tuning.allowlist
        && a.is_relative()
    {
        *a = base.join(&*a);
    }
    Ok((cfg, Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_example_parses_and_is_strict() {
        let example = include_str!("../../packaging/config.toml");
        let cfg: ConfigFile = toml::from_str(example).expect("packaging/config.toml");
        assert!(!cfg.output.outputs.is_empty());
        let err = toml::from_str::<ConfigFile>("[output]\noutputz = []\n").unwrap_err();
        assert!(err.to_string().contains("outputz"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let dir = std::env::temp_dir().join(format!("tripline-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("config.toml");
        // An absolute path on every platform (`/abs` is relative on Windows: no drive).
        let abs = dir.join("abs");
        std::fs::write(
            &f,
            format!(
                "[rules]\npaths = [\"rules\", {:?}]\n[tuning]\nallowlist = \"allow.toml\"\n",
                abs.display().to_string()
            ),
        )
        .unwrap();
        let (cfg, found) = load(Some(&f)).unwrap();
        assert_eq!(found.as_deref(), Some(f.as_path()));
        assert_eq!(cfg.rules.paths, vec![dir.join("rules"), abs]);
        assert_eq!(cfg.tuning.allowlist, Some(dir.join("allow.toml")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
