//! Command-line arguments (clap derive). Validation into runtime types happens in the modes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub mod config;
pub mod doc;

const AFTER_HELP: &str = "\
Examples:
  tripline scan /var/log/audit/audit.log          scan with the embedded IMDS rule pack
  tripline scan evidence/ -o alerts.ndjson        scan a directory, alerts to a file
  tripline scan --rules my-rules/ --default-rules audit.log
  tripline convert audit.log > events.ndjson      auditd -> ECS events, no rules
  tripline rules check rules/                     load and compile rules, print diagnostics

Exit status: 0 ran and no alerts, 1 alerts fired (or rule findings for `rules check`),
2 usage error, unreadable input or unparsable rule file.";

/// tripline: audit logs -> ECS events -> Sigma rules -> ECS alerts.
#[derive(Debug, Parser)]
#[command(name = "tripline", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan logs with rules; alerts as NDJSON on stdout (or -o), a summary on stderr.
    Scan(ScanArgs),
    /// Convert logs to ECS events as NDJSON (no rules).
    Convert(ConvertArgs),
    /// Follow growing logs (rotation-aware, checkpointed) and alert as events arrive.
    Tail(TailArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) for tripline and its subcommands.
    Man,
    /// Rule utilities.
    Rules {
        /// Rules subcommand.
        #[command(subcommand)]
        command: RulesCommand,
    },
}

/// `tripline rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load and compile rules; print per-rule diagnostics and a coverage summary.
    Check(CheckArgs),
}

/// Input options shared by `scan` and `convert`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Files or directories (recursive) to read; `-` or nothing reads stdin.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Input format, instead of detecting it per input.
    #[arg(long, value_name = "FORMAT", help_heading = "Input", value_parser = format_names())]
    pub format: Option<String>,

    /// Lines longer than this many bytes are reported and skipped.
    #[arg(long, value_name = "BYTES", default_value_t = tripline::source::DEFAULT_MAX_LINE, help_heading = "Input")]
    pub max_line: usize,

    /// Only events at or after TIME: RFC 3339 (2024-05-06T07:08:09Z), a date (2024-05-06), or a duration before now (90s, 30m, 1h, 2d, 1w).
    #[arg(long, value_name = "TIME", help_heading = "Filter")]
    pub since: Option<String>,

    /// Only events before TIME (same forms as --since).
    #[arg(long, value_name = "TIME", help_heading = "Filter")]
    pub until: Option<String>,

    /// Only events of this host.name (repeatable; case-insensitive; events without a host name are dropped).
    #[arg(long = "host", value_name = "NAME", help_heading = "Filter")]
    pub hosts: Vec<String>,

    /// Do not print bad-record messages, progress or the summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The `--format` names, from the parsers' own list.
fn format_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(tripline_parsers::Format::ALL.iter().map(|f| f.name()))
}

impl InputArgs {
    /// The event filter from --since/--until/--host.
    pub fn filter(&self) -> anyhow::Result<tripline::filter::EventFilter> {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let t = |s: &Option<String>| -> anyhow::Result<Option<i64>> {
            s.as_deref()
                .map(|v| tripline::filter::parse_time(v, now).map_err(anyhow::Error::msg))
                .transpose()
        };
        Ok(tripline::filter::EventFilter {
            since_ns: t(&self.since)?,
            until_ns: t(&self.until)?,
            hosts: self.hosts.clone(),
        })
    }
}

/// Checks an `-o SPEC` given on the command line: an Elasticsearch URL
/// carrying credentials (`user:pass@`, `api_key=`) is refused, since every
/// local user can read a process's arguments (`ps`, /proc/PID/cmdline) and
/// they end up in shell history. The same URL is accepted from the config
/// file. Other errors in the spec are left to the sink's own parser.
///
/// # Errors
/// The spec carries credentials.
pub fn output_arg(spec: &str) -> Result<String, String> {
    if let Ok(tripline::sink::OutputSpec::Elastic(t)) = tripline::sink::OutputSpec::parse(spec)
        && t.has_credentials()
    {
        return Err(format!(
            "{}: credentials on the command line are visible to every user (ps); \
             set TRIPLINE_ES_API_KEY, or TRIPLINE_ES_USERNAME and TRIPLINE_ES_PASSWORD, \
             or put the URL in the config file",
            tripline::sink::elastic::redact(spec)
        ));
    }
    Ok(spec.to_string())
}

/// `tripline scan`
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,

    /// Rule file or directory (repeatable). Replaces the embedded pack unless --default-rules is given.
    #[arg(long = "rules", value_name = "PATH", help_heading = "Rules")]
    pub rules: Vec<PathBuf>,

    /// Also load the embedded default rules when --rules is given.
    #[arg(long, help_heading = "Rules")]
    pub default_rules: bool,

    /// Mapping options.
    #[command(flatten)]
    pub mapping: MappingArgs,

    /// Evaluate every rule on every event instead of the Aho-Corasick
    /// prefilter's candidates (same alerts, slower; for comparison and debugging).
    #[arg(long, help_heading = "Rules")]
    pub no_prefilter: bool,

    /// Inputs read and matched in parallel by this many threads (multi-file
    /// scans; alerts come out in the same order as with 1) [default: the number of cores].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), help_heading = "Performance")]
    pub jobs: Option<u16>,

    /// Where alerts go (repeatable): `-` (NDJSON on stdout), a file path (NDJSON),
    /// `pretty` or `pretty:PATH` (human view), `syslog+udp://HOST:PORT`,
    /// `syslog+tcp://HOST:PORT`, `syslog+unix:///dev/log`,
    /// `es+http://HOST:PORT/INDEX` or `es+https://HOST:PORT/INDEX[?ca=FILE]`
    /// (Elasticsearch; credentials from TRIPLINE_ES_API_KEY or
    /// TRIPLINE_ES_USERNAME/TRIPLINE_ES_PASSWORD, or the config file). Default: the
    /// human view when stdout is a terminal, NDJSON otherwise.
    #[arg(short, long = "output", value_name = "SPEC", help_heading = "Output", value_parser = output_arg)]
    pub outputs: Vec<String>,

    /// Syslog facility for syslog outputs (auth, authpriv, daemon, local0..local7, ...) [default: auth].
    #[arg(long, value_name = "NAME", help_heading = "Output")]
    pub syslog_facility: Option<String>,

    /// Colours in the human view: auto (when stdout is a terminal and NO_COLOR is unset), always, never [default: auto].
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "always", "never"], help_heading = "Output")]
    pub color: Option<String>,

    /// Allowlist file (TOML): known-good activity by rule id and field globs, with a reason and an expiry.
    #[arg(long, value_name = "FILE", help_heading = "Tuning")]
    pub allowlist: Option<PathBuf>,

    /// Suppress repeats of an alert (same rule and --throttle-key values) within this much event time (e.g. 10m).
    #[arg(long, value_name = "DURATION", help_heading = "Tuning")]
    pub throttle: Option<String>,

    /// Fields that tell alerts apart for --throttle (repeatable) [default: host.name, process.executable].
    #[arg(long, value_name = "FIELD", help_heading = "Tuning")]
    pub throttle_key: Vec<String>,

    /// Configuration file (default: $TRIPLINE_CONFIG, the user's config directory, /etc/tripline/config.toml); flags win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ScanArgs {
    /// Fills what the command line left unset from the configuration file, then the defaults.
    pub fn merge_config(&mut self, cfg: config::ConfigFile) {
        if self.rules.is_empty() && !cfg.rules.paths.is_empty() {
            self.rules = cfg.rules.paths;
            self.default_rules |= cfg.rules.default_rules;
        }
        if self.outputs.is_empty() {
            self.outputs = cfg.output.outputs;
        }
        self.syslog_facility = self
            .syslog_facility
            .take()
            .or(cfg.output.syslog_facility)
            .or(Some("auth".into()));
        self.color = self
            .color
            .take()
            .or(cfg.output.color)
            .or(Some("auto".into()));
        self.allowlist = self.allowlist.take().or(cfg.tuning.allowlist);
        self.throttle = self.throttle.take().or(cfg.tuning.throttle);
        if self.throttle_key.is_empty() {
            self.throttle_key = if cfg.tuning.throttle_key.is_empty() {
                vec!["host.name".into(), "process.executable".into()]
            } else {
                cfg.tuning.throttle_key
            };
        }
    }
}

/// `tripline tail`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tripline tail /var/log/audit/audit.log -o /var/log/tripline/alerts.ndjson
  tripline tail --from-start --state-dir /tmp/st audit.log
  tripline tail --audisp                  as an auditd plugin (packaging/auditd/tripline.conf)

Signals: SIGTERM/SIGINT checkpoint and exit 0; SIGHUP reloads the rules (an invalid
new rule set keeps the old one). A restart resumes from the checkpoint: no alert is
lost and, with -o FILE, none is repeated.")]
pub struct TailArgs {
    /// Files to follow (need not exist yet); `-` reads stdin.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Input format (default: detected from the first line, else auditd).
    #[arg(long, value_name = "FORMAT", help_heading = "Input")]
    pub format: Option<String>,

    /// Lines longer than this many bytes are reported and skipped.
    #[arg(long, value_name = "BYTES", default_value_t = tripline::source::DEFAULT_MAX_LINE, help_heading = "Input")]
    pub max_line: usize,

    /// Read files without a checkpoint from their start instead of their end.
    #[arg(long, help_heading = "Input")]
    pub from_start: bool,

    /// Poll instead of using file-system notifications (inotify, FSEvents, ReadDirectoryChangesW).
    #[arg(long, help_heading = "Input")]
    pub poll: bool,

    /// Polling interval in milliseconds (with --poll; also the re-check interval with notifications).
    #[arg(long, value_name = "MS", default_value_t = 250, help_heading = "Input")]
    pub poll_interval: u64,

    /// Run as an auditd plugin: read the dispatcher's records on stdin (`format = string`).
    #[arg(long, conflicts_with = "paths", help_heading = "Input")]
    pub audisp: bool,

    /// Rule file or directory (repeatable). Replaces the embedded pack unless --default-rules is given.
    #[arg(long = "rules", value_name = "PATH", help_heading = "Rules")]
    pub rules: Vec<PathBuf>,

    /// Also load the embedded default rules when --rules is given.
    #[arg(long, help_heading = "Rules")]
    pub default_rules: bool,

    /// Where alerts go (repeatable), as for `scan`: a file path (NDJSON, appended; exactly
    /// once across restarts; at most one), `-` (NDJSON on stdout, the default), `pretty` or
    /// `pretty:PATH`, `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT`,
    /// `syslog+unix:///dev/log`, `elasticsearch+http://HOST:PORT/INDEX`. Every output is
    /// flushed before the checkpoint that covers its alerts.
    #[arg(short, long = "output", value_name = "SPEC", help_heading = "Output")]
    pub outputs: Vec<String>,

    /// Syslog facility for syslog outputs (auth, authpriv, daemon, local0..local7, ...).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "auth",
        help_heading = "Output"
    )]
    pub syslog_facility: String,

    /// Directory for checkpoints (default: /var/lib/tripline as root, else the user's state directory).
    #[arg(long, value_name = "DIR", help_heading = "State")]
    pub state_dir: Option<PathBuf>,

    /// Checkpoint (and fsync the output) at most this often, in milliseconds, while input flows.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        help_heading = "State"
    )]
    pub checkpoint_interval: u64,

    /// Complete events still being assembled after this long without input (milliseconds).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        help_heading = "State"
    )]
    pub idle_flush: u64,

    /// An auditd event that has received no record for this long is complete
    /// (milliseconds). Syscall events complete at once on their PROCTITLE;
    /// this bounds the wait for events without one (audit.log has no EOE).
    #[arg(long, value_name = "MS", default_value_t = 200, help_heading = "Input")]
    pub event_timeout: u64,

    /// On restart, re-read this many bytes before the checkpoint to rebuild
    /// process lineage (their alerts were already emitted and are not repeated).
    #[arg(long, value_name = "BYTES", default_value_t = tripline::source::follow::WARM_BYTES, help_heading = "State")]
    pub warm_up: u64,

    /// Print a stats line (lag, drops, counts) on stderr every SECS seconds; 0 = never.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub stats_interval: u64,

    /// Do not print bad-record messages on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `tripline convert`
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,

    /// Write events to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,
}

/// `tripline rules check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files or directories.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Print `{"total":N,"compiled":M,"failed":[{"path":..,"reason":..}],"by_logsource":{..}}` instead of text.
    #[arg(long)]
    pub json: bool,

    /// Mapping options.
    #[command(flatten)]
    pub mapping: MappingArgs,

    /// Print the compiled form of the rule with this id (or title) and the
    /// literal fragments the prefilter looks for (repeatable).
    #[arg(long, value_name = "RULE_ID")]
    pub explain: Vec<String>,
}

/// Logsource mapping and placeholder options shared by `scan` and `rules check`.
#[derive(Debug, Args)]
pub struct MappingArgs {
    /// An extra logsource mapping file (the schema of rules/mappings/*.yml);
    /// its entries take precedence over the shipped ones (repeatable).
    #[arg(long = "mapping", value_name = "FILE", help_heading = "Rules")]
    pub mappings: Vec<PathBuf>,

    /// A value for the Sigma `|expand` placeholder %NAME% (repeatable; several
    /// values for one name are alternatives).
    #[arg(
        long = "placeholder",
        value_name = "NAME=VALUE",
        help_heading = "Rules"
    )]
    pub placeholders: Vec<String>,
}

impl MappingArgs {
    /// The loader options these arguments ask for.
    ///
    /// # Errors
    /// An unreadable mapping file or a placeholder without `=`.
    pub fn load_options(&self) -> anyhow::Result<tripline::rule::LoadOptions> {
        let mut o = tripline::rule::LoadOptions::default();
        for p in &self.mappings {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read mapping {}: {e}", p.display()))?;
            o.mappings.push((p.display().to_string(), text));
        }
        for kv in &self.placeholders {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--placeholder {kv:?}: expected NAME=VALUE"))?;
            o.placeholders
                .push((k.trim().trim_matches('%').to_string(), v.to_string()));
        }
        Ok(o)
    }
}
