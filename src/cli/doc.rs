//! Shell completions and the man page, generated from the clap definitions so
//! they never drift from the real options.

use std::io::Write;

use clap::CommandFactory;

use super::Cli;

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "tripline", out);
}

/// Sections of the top-level page that clap does not know: signals, state,
/// files. Plain roff; the options themselves all come from clap.
const MAN_EXTRA: &str = r#".SH SIGNALS
SIGTERM and SIGINT make \fBtail\fR write a checkpoint and exit 0. SIGHUP reloads the rules;
an invalid new rule set keeps the old one and the reason is logged.
.SH STATE
\fBtail\fR checkpoints, per followed file, its identity, offset, the auditd events still being
assembled, the process table and the sequence joiner's open state, so a restart after SIGTERM,
a crash or \fBkill \-9\fR emits every alert not yet emitted and, with \fB\-o\fR \fIFILE\fR,
none twice. \fBtail \-\-audisp\fR runs as an auditd plugin, reading the dispatcher's records
on stdin (see /etc/audit/plugins.d/tripline.conf).
.SH EXIT STATUS
0 ran and no alerts; 1 alerts fired (or rule findings for \fBrules check\fR); 2 usage error,
unreadable input or unparsable rule file.
.SH FILES
/var/lib/tripline (checkpoints when run as root), /var/log/tripline (alerts of the packaged
service), /lib/systemd/system/tripline.service, /etc/audit/plugins.d/tripline.conf
.SH SEE ALSO
\fBauditd\fR(8), \fBausearch\fR(8), \fBauditctl\fR(8)
"#;

/// Writes the man page (roff) for tripline, then one page per subcommand, to
/// `out`. packaging/man/tripline.1 is this output (a test keeps it so).
///
/// # Errors
/// Writing failed.
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    let cmd = Cli::command();
    let top = clap_mangen::Man::new(cmd.clone());
    top.render_title(out)?;
    top.render_name_section(out)?;
    top.render_synopsis_section(out)?;
    top.render_description_section(out)?;
    top.render_options_section(out)?;
    top.render_subcommands_section(out)?;
    top.render_extra_section(out)?;
    out.write_all(MAN_EXTRA.as_bytes())?;
    top.render_version_section(out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub = sub.clone().name(format!("tripline-{}", sub.get_name()));
        writeln!(out)?;
        clap_mangen::Man::new(sub).render(out)?;
    }
    Ok(())
}
