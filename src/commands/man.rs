//! `jcdiag man`.

use serde_json::json;

use crate::cli::Cli;
use crate::exit::CommandError;
use crate::output::Report;

/// `jcdiag man`: prints one page (jcdiag's own, or a command's), or writes them all to `--out`.
pub(crate) fn man_command(args: crate::cli::ManArgs) -> Result<Option<Report>, CommandError> {
    let pages = Cli::man_pages()
        .map_err(|e| CommandError::Internal(format!("cannot render the man pages: {e}")))?;
    let Some(dir) = args.out else {
        let wanted = ["jcdiag"]
            .into_iter()
            .chain(args.command.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-")
            + ".1";
        let Some((_, roff)) = pages.iter().find(|(name, _)| *name == wanted) else {
            return Err(CommandError::Usage(format!(
                "man: no command `{}`; see `jcdiag --help` for the commands",
                args.command.join(" ")
            )));
        };
        std::io::Write::write_all(&mut std::io::stdout(), roff)
            .map_err(|e| CommandError::Internal(format!("cannot print the man page: {e}")))?;
        return Ok(None);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| CommandError::Usage(format!("--out {}: {e}", dir.display())))?;
    let mut written = Vec::new();
    for (name, roff) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, roff)
            .map_err(|e| CommandError::Usage(format!("--out {}: {e}", path.display())))?;
        written.push(path.display().to_string());
    }
    Ok(Some(Report::ok(
        json!({ "written": written }),
        format!("man pages={} dir={}", written.len(), dir.display()),
        format!(
            "Wrote {} man pages to {}: {}\n",
            written.len(),
            dir.display(),
            pages
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )))
}
