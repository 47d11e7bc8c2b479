//! The `manage` command's arguments and work.

use std::path::Path;

use super::{make, state, Migration, TableDef};

const USAGE: &str = "usage: manage makemigrations [--check] [--name NAME]\n       \
                     manage showmigrations\n       \
                     manage migrate URL   (sqlite://file.db, sqlite::memory:, postgres://...)";

/// The migration files of `dir`, in name order.
pub(crate) fn read(dir: &Path) -> Result<Vec<Migration>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("migration") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{} is not a UTF-8 name", path.display()))?
            .to_owned();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        files.push(Migration::new(name, text));
    }
    files.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(files)
}

/// The next file's name: one more than the largest number so far.
fn next_name(files: &[Migration], name: &str) -> String {
    let last = files
        .iter()
        .filter_map(|f| f.name().split('_').next()?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("{:04}_{name}", last + 1)
}

pub(crate) fn run(dir: &Path, models: &[TableDef], args: Vec<String>) -> Result<String, String> {
    let mut args = args.into_iter();
    let command = args.next().ok_or_else(|| USAGE.to_owned())?;
    let rest: Vec<String> = args.collect();
    match command.as_str() {
        "makemigrations" => {
            let mut check = false;
            let mut name = None;
            let mut it = rest.into_iter();
            while let Some(arg) = it.next() {
                match arg.as_str() {
                    "--check" => check = true,
                    "--name" => name = Some(it.next().ok_or("--name needs a value")?),
                    other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
                }
            }
            let files = read(dir)?;
            let next = make(&files, models).map_err(|e| e.to_string())?;
            let Some(text) = next else {
                return Ok("No changes: the migrations match the models.".into());
            };
            let default_name = if files.is_empty() { "initial" } else { "auto" };
            let name = next_name(&files, name.as_deref().unwrap_or(default_name));
            if check {
                return Err(format!(
                    "The models differ from the migrations: `makemigrations` would write \
                     {name}.migration:\n{text}"
                ));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let path = dir.join(format!("{name}.migration"));
            let header = format!(
                "# {name}: written by `manage makemigrations`. Review it like code; once \
                 applied, do not edit it (it is checksummed): write a new migration.\n"
            );
            std::fs::write(&path, header + &text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(format!("Wrote {}:\n{text}", path.display()))
        }
        "showmigrations" => {
            let files = read(dir)?;
            state(&files).map_err(|e| e.to_string())?;
            let mut out = String::new();
            for file in &files {
                out.push_str(file.name());
                out.push('\n');
            }
            if out.is_empty() {
                out.push_str("No migrations.");
            }
            Ok(out.trim_end().to_owned())
        }
        "migrate" => {
            let [url] = &rest[..] else {
                return Err(USAGE.to_owned());
            };
            let files = read(dir)?;
            let migrations = super::Migrations::from_files(&files);
            let applied = migrate(url, |conn| migrations.apply(&conn))?;
            Ok(if applied.is_empty() {
                "No migrations to apply.".into()
            } else {
                format!("Applied {}", applied.join(", "))
            })
        }
        _ => Err(USAGE.to_owned()),
    }
}

/// Runs `f` on a connection to `url`.
fn migrate(
    url: &str,
    f: impl Fn(crate::backend::Conn<'_>) -> crate::Result<Vec<String>>,
) -> Result<Vec<String>, String> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        let conn = if path == ":memory:" {
            rusqlite::Connection::open_in_memory()
        } else {
            rusqlite::Connection::open(path)
        }
        .map_err(|e| format!("cannot open {url}: {e}"))?;
        return f(crate::Db::__conn(&conn)).map_err(|e| e.to_string());
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pg =
            crate::Postgres::connect(url).map_err(|e| format!("cannot connect to {url}: {e}"))?;
        return f(crate::Db::__conn(&pg)).map_err(|e| e.to_string());
    }
    Err(format!(
        "unknown database URL `{url}`: sqlite://path, sqlite::memory:{}",
        if cfg!(feature = "postgres") {
            " or postgres://..."
        } else {
            " (postgres:// needs the `postgres` feature)"
        }
    ))
}
