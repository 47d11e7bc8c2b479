//! The migration file: operations as text, one per line (a table's
//! definition and a `sql` step span several), the same for every backend.
//!
//! ```text
//! # a comment
//! create_table "issues" auto_key
//!   column "id" bigint primary_key
//!   column "project_id" bigint not_null references "project" ("id") on_delete cascade
//!   column "open" boolean not_null default true
//!   index ("project_id")
//!   unique ("project_id", "number")
//! end
//! add_column "issues" "slug" text not_null default ''
//! rename_column "issues" "title" "title_text"
//! alter_column "issues" "open" boolean default false
//! add_index "issues" unique ("slug")
//! drop_index "issues" ("updated_at")
//! drop_column "issues" "slug"
//! rename_table "issues" "tickets"
//! drop_table "tickets"
//! sql
//! sqlite """
//! UPDATE "issues" SET "open" = 1
//! """
//! postgres """
//! UPDATE "issues" SET "open" = TRUE
//! """
//! end
//! ```

use std::fmt::Write as _;

use super::def::{ColumnDef, Default, IndexDef, Reference, TableDef};
use super::ops::Op;
use crate::constraint::OnDelete;
use crate::ColumnType;

/// The file's text for `ops`.
pub fn write(ops: &[Op]) -> String {
    let mut out = String::new();
    for op in ops {
        match op {
            Op::CreateTable(t) => {
                out.push_str("create_table ");
                quoted(&mut out, &t.name);
                if t.auto_key {
                    out.push_str(" auto_key");
                }
                out.push('\n');
                for c in &t.columns {
                    out.push_str("  column ");
                    column(&mut out, c, c.name == t.primary_key);
                    out.push('\n');
                }
                for i in &t.indexes {
                    out.push_str("  ");
                    index(&mut out, i);
                    out.push('\n');
                }
                out.push_str("end\n");
            }
            Op::DropTable { table } => {
                out.push_str("drop_table ");
                quoted(&mut out, table);
                out.push('\n');
            }
            Op::RenameTable { from, to } => {
                out.push_str("rename_table ");
                quoted(&mut out, from);
                out.push(' ');
                quoted(&mut out, to);
                out.push('\n');
            }
            Op::AddColumn { table, column: c } | Op::AlterColumn { table, column: c } => {
                out.push_str(if matches!(op, Op::AddColumn { .. }) {
                    "add_column "
                } else {
                    "alter_column "
                });
                quoted(&mut out, table);
                out.push(' ');
                column(&mut out, c, false);
                out.push('\n');
            }
            Op::DropColumn { table, column } => {
                out.push_str("drop_column ");
                quoted(&mut out, table);
                out.push(' ');
                quoted(&mut out, column);
                out.push('\n');
            }
            Op::RenameColumn { table, from, to } => {
                out.push_str("rename_column ");
                quoted(&mut out, table);
                out.push(' ');
                quoted(&mut out, from);
                out.push(' ');
                quoted(&mut out, to);
                out.push('\n');
            }
            Op::AddIndex { table, index: i } | Op::DropIndex { table, index: i } => {
                out.push_str(if matches!(op, Op::AddIndex { .. }) {
                    "add_index "
                } else {
                    "drop_index "
                });
                quoted(&mut out, table);
                out.push(' ');
                index(&mut out, i);
                out.push('\n');
            }
            Op::Sql { sqlite, postgres } => {
                out.push_str("sql\n");
                for (dialect, text) in [("sqlite", sqlite), ("postgres", postgres)] {
                    let _ = writeln!(out, "{dialect} \"\"\"");
                    out.push_str(text);
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push_str("\"\"\"\n");
                }
                out.push_str("end\n");
            }
        }
    }
    out
}

fn quoted(out: &mut String, name: &str) {
    crate::render::push_ident(out, name);
}

fn column(out: &mut String, c: &ColumnDef, primary_key: bool) {
    quoted(out, &c.name);
    out.push(' ');
    out.push_str(type_name(c.ty));
    if primary_key {
        out.push_str(" primary_key");
    }
    if !c.nullable {
        out.push_str(" not_null");
    }
    if let Some(d) = &c.default {
        out.push_str(" default ");
        match d {
            Default::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Default::Integer(i) => {
                let _ = write!(out, "{i}");
            }
            Default::Real(r) => {
                let _ = write!(out, "{r:?}");
            }
            // A line break would end the line: such text is written in the
            // escaped form, `e'first\nsecond'`.
            Default::Text(s) if s.contains(['\n', '\r']) => {
                out.push_str("e'");
                for c in s.chars() {
                    match c {
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\\' => out.push_str("\\\\"),
                        '\'' => out.push_str("\\'"),
                        c => out.push(c),
                    }
                }
                out.push('\'');
            }
            Default::Text(s) => {
                out.push('\'');
                out.push_str(&s.replace('\'', "''"));
                out.push('\'');
            }
        }
    }
    if let Some(r) = &c.references {
        out.push_str(" references ");
        quoted(out, &r.table);
        out.push_str(" (");
        quoted(out, &r.column);
        out.push(')');
        if r.on_delete != OnDelete::NoAction {
            out.push_str(" on_delete ");
            out.push_str(on_delete_name(r.on_delete));
        }
    }
}

fn index(out: &mut String, i: &IndexDef) {
    out.push_str(if i.unique { "unique (" } else { "index (" });
    for (n, c) in i.columns.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        quoted(out, c);
    }
    out.push(')');
}

const TYPES: &[(ColumnType, &str)] = &[
    (ColumnType::Boolean, "boolean"),
    (ColumnType::SmallInt, "smallint"),
    (ColumnType::Integer, "integer"),
    (ColumnType::BigInt, "bigint"),
    (ColumnType::Real, "real"),
    (ColumnType::Double, "double"),
    (ColumnType::Text, "text"),
    (ColumnType::Blob, "blob"),
    (ColumnType::Date, "date"),
    (ColumnType::Time, "time"),
    (ColumnType::Timestamp, "timestamp"),
    (ColumnType::TimestampTz, "timestamptz"),
    (ColumnType::Uuid, "uuid"),
    (ColumnType::Json, "json"),
];

fn type_name(ty: ColumnType) -> &'static str {
    TYPES
        .iter()
        .find(|(t, _)| *t == ty)
        .map_or("text", |(_, name)| name)
}

fn on_delete_name(action: OnDelete) -> &'static str {
    match action {
        OnDelete::Cascade => "cascade",
        OnDelete::SetNull => "set_null",
        OnDelete::Restrict => "restrict",
        _ => "no_action",
    }
}

/// A token of a line.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// `"name"`, with `""` for a quote inside.
    Name(String),
    /// `'text'`, with `''` for a quote inside.
    Text(String),
    Open,
    Close,
    Comma,
}

fn tokens(line: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(_, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            '"' | '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c => {
                            if chars.peek().is_some_and(|&(_, n)| n == c) {
                                chars.next();
                                s.push(c);
                            } else {
                                break;
                            }
                        }
                        Some((_, ch)) => s.push(ch),
                        None => return Err(format!("unterminated {c}...{c}")),
                    }
                }
                out.push(if c == '"' {
                    Token::Name(s)
                } else {
                    Token::Text(s)
                });
            }
            _ => {
                let mut s = String::new();
                while let Some(&(_, ch)) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, '(' | ')' | ',' | '"' | '\'') {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                if s == "e" && chars.peek().is_some_and(|&(_, q)| q == '\'') {
                    chars.next();
                    out.push(Token::Text(escaped(&mut chars)?));
                    continue;
                }
                out.push(Token::Word(s));
            }
        }
    }
    Ok(out)
}

/// The rest of an `e'...'` text: `\n`, `\r`, `\\` and `\'` escaped.
fn escaped(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Result<String, String> {
    let mut s = String::new();
    loop {
        match chars.next() {
            Some((_, '\'')) => return Ok(s),
            Some((_, '\\')) => match chars.next() {
                Some((_, 'n')) => s.push('\n'),
                Some((_, 'r')) => s.push('\r'),
                Some((_, c @ ('\\' | '\''))) => s.push(c),
                other => {
                    return Err(format!(
                        "unknown escape \\{:?} in e'...'",
                        other.map(|(_, c)| c)
                    ))
                }
            },
            Some((_, c)) => s.push(c),
            None => return Err("unterminated e'...'".into()),
        }
    }
}

/// The tokens of one line, read from the front.
struct Line {
    tokens: std::collections::VecDeque<Token>,
}

impl Line {
    fn next(&mut self) -> Option<Token> {
        self.tokens.pop_front()
    }

    fn name(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Token::Name(s)) => Ok(s),
            other => Err(format!(
                "expected {what} as a \"quoted\" name, found {other:?}"
            )),
        }
    }

    fn word(&mut self, word: &str) -> bool {
        if self.tokens.front() == Some(&Token::Word(word.to_owned())) {
            self.tokens.pop_front();
            return true;
        }
        false
    }

    fn expect(&mut self, token: &Token) -> Result<(), String> {
        match self.next() {
            Some(t) if t == *token => Ok(()),
            other => Err(format!("expected {token:?}, found {other:?}")),
        }
    }

    fn end(&self) -> Result<(), String> {
        match self.tokens.front() {
            None => Ok(()),
            Some(t) => Err(format!("unexpected {t:?} at the end of the line")),
        }
    }

    /// `"name" type [primary_key] [not_null] [default v] [references "t" ("c") [on_delete a]]`;
    /// whether it said `primary_key`.
    fn column(&mut self) -> Result<(ColumnDef, bool), String> {
        let name = self.name("a column")?;
        let ty = match self.next() {
            Some(Token::Word(w)) => TYPES
                .iter()
                .find(|(_, n)| *n == w)
                .map(|(t, _)| *t)
                .ok_or_else(|| format!("unknown column type `{w}`"))?,
            other => return Err(format!("expected a column type, found {other:?}")),
        };
        let primary_key = self.word("primary_key");
        let nullable = !self.word("not_null");
        let default = if self.word("default") {
            Some(match self.next() {
                Some(Token::Text(s)) => Default::Text(s),
                Some(Token::Word(w)) if w == "true" => Default::Bool(true),
                Some(Token::Word(w)) if w == "false" => Default::Bool(false),
                Some(Token::Word(w)) => match w.parse::<i64>() {
                    Ok(i) => Default::Integer(i),
                    Err(_) => Default::Real(
                        w.parse::<f64>()
                            .map_err(|_| format!("`{w}` is not a default value"))?,
                    ),
                },
                other => return Err(format!("expected a default value, found {other:?}")),
            })
        } else {
            None
        };
        let references = if self.word("references") {
            let table = self.name("the referenced table")?;
            self.expect(&Token::Open)?;
            let column = self.name("the referenced column")?;
            self.expect(&Token::Close)?;
            let on_delete = if self.word("on_delete") {
                match self.next() {
                    Some(Token::Word(w)) => match w.as_str() {
                        "cascade" => OnDelete::Cascade,
                        "set_null" => OnDelete::SetNull,
                        "restrict" => OnDelete::Restrict,
                        "no_action" => OnDelete::NoAction,
                        _ => return Err(format!("unknown on_delete action `{w}`")),
                    },
                    other => return Err(format!("expected an on_delete action, found {other:?}")),
                }
            } else {
                OnDelete::NoAction
            };
            Some(Reference {
                table,
                column,
                on_delete,
            })
        } else {
            None
        };
        Ok((
            ColumnDef {
                name,
                ty,
                nullable,
                default,
                references,
                renamed_from: None,
            },
            primary_key,
        ))
    }

    /// `unique ("a", "b")` or `index ("a")`.
    fn index(&mut self) -> Result<IndexDef, String> {
        let unique = match self.next() {
            Some(Token::Word(w)) if w == "unique" => true,
            Some(Token::Word(w)) if w == "index" => false,
            other => return Err(format!("expected `unique` or `index`, found {other:?}")),
        };
        self.expect(&Token::Open)?;
        let mut columns = vec![self.name("a column")?];
        loop {
            match self.next() {
                Some(Token::Comma) => columns.push(self.name("a column")?),
                Some(Token::Close) => break,
                other => return Err(format!("expected `,` or `)`, found {other:?}")),
            }
        }
        Ok(IndexDef { columns, unique })
    }
}

/// The operations in a file's text; an error says the line and what is wrong.
pub fn parse(text: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, raw)) = lines.next() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut line = Line {
            tokens: tokens(trimmed).map_err(at)?.into(),
        };
        let keyword = match line.next() {
            Some(Token::Word(w)) => w,
            other => return Err(at(format!("expected an operation, found {other:?}"))),
        };
        let op = match keyword.as_str() {
            "create_table" => {
                let name = line.name("a table").map_err(at)?;
                let auto_key = line.word("auto_key");
                line.end().map_err(at)?;
                let mut table = TableDef {
                    name,
                    columns: Vec::new(),
                    primary_key: String::new(),
                    auto_key,
                    indexes: Vec::new(),
                    renamed_from: None,
                };
                loop {
                    let Some((m, raw)) = lines.next() else {
                        return Err(at("`create_table` without `end`".into()));
                    };
                    let at = |e: String| format!("line {}: {e}", m + 1);
                    let trimmed = raw.trim();
                    if trimmed.is_empty() || trimmed.starts_with('#') {
                        continue;
                    }
                    if trimmed == "end" {
                        break;
                    }
                    let mut line = Line {
                        tokens: tokens(trimmed).map_err(at)?.into(),
                    };
                    if line.word("column") {
                        let (column, key) = line.column().map_err(at)?;
                        if key {
                            table.primary_key.clone_from(&column.name);
                        }
                        table.columns.push(column);
                    } else {
                        table.indexes.push(line.index().map_err(at)?);
                    }
                    line.end().map_err(at)?;
                }
                if table.primary_key.is_empty() {
                    return Err(at(format!(
                        "table `{}` has no primary_key column",
                        table.name
                    )));
                }
                Op::CreateTable(table)
            }
            "drop_table" => Op::DropTable {
                table: line.name("a table").map_err(at)?,
            },
            "rename_table" => Op::RenameTable {
                from: line.name("a table").map_err(at)?,
                to: line.name("a table").map_err(at)?,
            },
            "add_column" | "alter_column" => {
                let table = line.name("a table").map_err(at)?;
                let (column, _) = line.column().map_err(at)?;
                if keyword == "add_column" {
                    Op::AddColumn { table, column }
                } else {
                    Op::AlterColumn { table, column }
                }
            }
            "drop_column" => Op::DropColumn {
                table: line.name("a table").map_err(at)?,
                column: line.name("a column").map_err(at)?,
            },
            "rename_column" => Op::RenameColumn {
                table: line.name("a table").map_err(at)?,
                from: line.name("a column").map_err(at)?,
                to: line.name("a column").map_err(at)?,
            },
            "add_index" | "drop_index" => {
                let table = line.name("a table").map_err(at)?;
                let index = line.index().map_err(at)?;
                if keyword == "add_index" {
                    Op::AddIndex { table, index }
                } else {
                    Op::DropIndex { table, index }
                }
            }
            "sql" => {
                line.end().map_err(at)?;
                let (mut sqlite, mut postgres) = (None, None);
                loop {
                    let Some((m, raw)) = lines.next() else {
                        return Err(at("`sql` without `end`".into()));
                    };
                    let trimmed = raw.trim();
                    if trimmed.is_empty() {
                        continue;
                    }
                    if trimmed == "end" {
                        break;
                    }
                    let slot = match trimmed {
                        "sqlite \"\"\"" => &mut sqlite,
                        "postgres \"\"\"" => &mut postgres,
                        _ => {
                            return Err(format!(
                                "line {}: expected `sqlite \"\"\"`, `postgres \"\"\"` or `end`",
                                m + 1
                            ))
                        }
                    };
                    let mut body = String::new();
                    loop {
                        let Some((_, raw)) = lines.next() else {
                            return Err(format!("line {}: `\"\"\"` without its end", m + 1));
                        };
                        if raw.trim() == "\"\"\"" {
                            break;
                        }
                        body.push_str(raw);
                        body.push('\n');
                    }
                    *slot = Some(body);
                }
                match (sqlite, postgres) {
                    (Some(sqlite), Some(postgres)) => Op::Sql { sqlite, postgres },
                    _ => {
                        return Err(at(
                            "a `sql` step needs both a `sqlite` and a `postgres` text".into(),
                        ))
                    }
                }
            }
            other => return Err(at(format!("unknown operation `{other}`"))),
        };
        line.end().map_err(at)?;
        ops.push(op);
    }
    Ok(ops)
}
