//! Migrations against an oracle on random histories: random sequences of
//! model changes (tables added, dropped and renamed; columns added, dropped,
//! renamed, loosened and tightened, given defaults and other types; foreign
//! keys and indexes) are turned into migrations by `make`, then applied to
//! an empty database and, step by step, to a database with rows in it. Both
//! must end where the models are (`check`, and the live tables, indexes and
//! foreign keys), every row a step keeps must keep its values, and `make`
//! must have nothing more to write.
//!
//! A change is drawn as data (`Change`, with small numbers choosing among
//! what exists) and interpreted against the models so far, so that only
//! safe changes are made: a unique index leads with a column whose values
//! differ per row, a column becomes NOT NULL only if it never held NULL, a
//! `double` becomes a `bigint` only if it holds whole numbers, a foreign key
//! arrives only with a column the table's rows hold NULL in.

use std::collections::BTreeMap;

#[macro_use]
mod backends;

use backends::Backend;
use orm_core::migrate::{self, ColumnDef, Default, IndexDef, Migration, Reference, TableDef};
use orm_core::{ColumnType, OnDelete};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const TABLES: &[&str] = &["t0", "t1", "order", "t3", "t4"];
const COLUMNS: &[&str] = &["c0", "c1", "group", "c3", "c4", "c5", "c6", "c7"];
const TYPES: &[ColumnType] = &[
    ColumnType::BigInt,
    ColumnType::Double,
    ColumnType::Text,
    ColumnType::Boolean,
];
const ACTIONS: &[OnDelete] = &[
    OnDelete::NoAction,
    OnDelete::Cascade,
    OnDelete::SetNull,
    OnDelete::Restrict,
];

/// A column as drawn: small numbers that choose among what exists.
#[derive(Debug, Clone)]
struct NewColumn {
    name: u8,
    ty: u8,
    nullable: bool,
    default: Option<u8>,
    /// A foreign key into the table this chooses (one past the tables: its own), and its action.
    target: Option<(u8, u8)>,
    distinct: bool,
    no_nulls: bool,
    integral: bool,
}

/// One change to the models, as drawn.
#[derive(Debug, Clone)]
enum Change {
    AddTable {
        name: u8,
        auto_key: bool,
        columns: Vec<NewColumn>,
    },
    /// Columns of other tables that point into it lose their foreign key,
    /// or go with it.
    DropTable {
        table: u8,
        drop_referencing: bool,
    },
    RenameTable {
        table: u8,
        name: u8,
    },
    AddColumn {
        table: u8,
        column: NewColumn,
    },
    DropColumn {
        table: u8,
        column: u8,
    },
    RenameColumn {
        table: u8,
        column: u8,
        name: u8,
    },
    /// NOT NULL becomes nullable; nullable becomes NOT NULL when it may.
    Nullability {
        table: u8,
        column: u8,
    },
    Default {
        table: u8,
        column: u8,
        default: Option<u8>,
    },
    /// `bigint` to `double`, or back when it may.
    Type {
        table: u8,
        column: u8,
    },
    /// A foreign key's new action, or (`None`) no foreign key any more.
    Reference {
        table: u8,
        column: u8,
        action: Option<u8>,
    },
    AddIndex {
        table: u8,
        columns: (u8, Option<u8>),
        unique: bool,
    },
    DropIndex {
        table: u8,
        index: u8,
    },
}

/// A column of the models, with what its rows may hold.
#[derive(Debug, Clone)]
struct Col {
    name: String,
    /// Its name when the step began; `None` when the step adds it.
    origin: Option<String>,
    ty: ColumnType,
    nullable: bool,
    default: Option<Default>,
    references: Option<(String, OnDelete)>,
    /// Every row has a value of its own, or NULL: a unique index may lead with it.
    distinct: bool,
    /// No row ever holds NULL: it may become NOT NULL.
    no_nulls: bool,
    /// As a `double`, whole numbers only: it may become a `bigint`.
    integral: bool,
}

/// A table of the models: an `id` bigint key, then `cols`.
#[derive(Debug, Clone)]
struct Table {
    name: String,
    origin: Option<String>,
    auto_key: bool,
    cols: Vec<Col>,
    /// Declared indexes; a foreign key's own comes with its column.
    indexes: Vec<IndexDef>,
}

type Models = Vec<Table>;

fn default_value(ty: ColumnType, d: u8, integral: bool) -> Default {
    let d = usize::from(d % 4);
    match ty {
        ColumnType::BigInt => Default::Integer([0, 7, -3, 42][d]),
        ColumnType::Double if integral => Default::Real([0.0, 2.0, -3.0, 10.0][d]),
        ColumnType::Double => Default::Real([1.5, -0.25, 2.0, 0.1][d]),
        ColumnType::Text => Default::Text(["", "it's", "naïve", "#x"][d].to_owned()),
        _ => Default::Bool(d % 2 == 0),
    }
}

/// The first name of `pool` from `at` on (cyclically) that `taken` does not hold.
fn free_name(pool: &[&str], at: u8, taken: impl Fn(&str) -> bool) -> Option<String> {
    (0..pool.len())
        .map(|k| pool[(usize::from(at) + k) % pool.len()])
        .find(|n| !taken(n))
        .map(str::to_owned)
}

fn pick(len: usize, at: u8) -> Option<usize> {
    (len > 0).then(|| usize::from(at) % len)
}

/// A new column of `table` (at index `own` of `models`, or about to be
/// pushed there); `new_table`: the table has no rows yet.
fn column(
    models: &Models,
    before: &Models,
    own: usize,
    own_name: &str,
    existing: &[Col],
    spec: &NewColumn,
    new_table: bool,
) -> Option<Col> {
    let origin_columns = models
        .get(own)
        .map(|t| began_with(before, t))
        .unwrap_or_default();
    // A name the table had when the step began would read as a change of
    // that column: `make` cannot tell a new column from it.
    let name = free_name(COLUMNS, spec.name, |n| {
        existing.iter().any(|c| c.name == n) || origin_columns.iter().any(|c| c == n)
    })?;
    if let Some((target, action)) = spec.target {
        // The tables there are, the new one included.
        let tables = models.len().max(own + 1);
        let target = usize::from(target) % tables;
        let target = if target == own {
            own_name.to_owned()
        } else {
            models[target].name.clone()
        };
        // On a table with rows, only NULL can be the rows' value.
        let nullable = spec.nullable || !new_table;
        let mut action = ACTIONS[usize::from(action) % ACTIONS.len()];
        if action == OnDelete::SetNull && !nullable {
            action = OnDelete::NoAction;
        }
        return Some(Col {
            name,
            origin: None,
            ty: ColumnType::BigInt,
            nullable,
            default: None,
            references: Some((target, action)),
            distinct: false,
            no_nulls: false,
            integral: false,
        });
    }
    let ty = TYPES[usize::from(spec.ty) % TYPES.len()];
    let mut default = spec.default.map(|d| default_value(ty, d, spec.integral));
    if !new_table && !spec.nullable && default.is_none() {
        default = Some(default_value(ty, 0, spec.integral));
    }
    Some(Col {
        name,
        origin: None,
        ty,
        nullable: spec.nullable,
        // The rows there are take the default, or NULL.
        distinct: spec.distinct
            && ty != ColumnType::Boolean
            && (new_table || (spec.nullable && default.is_none())),
        no_nulls: spec.no_nulls && (new_table || default.is_some()),
        default,
        references: None,
        integral: spec.integral,
    })
}

/// The names of the columns `table` had when the step began.
fn began_with(before: &Models, table: &Table) -> Vec<String> {
    table
        .origin
        .as_ref()
        .and_then(|o| before.iter().find(|b| b.name == *o))
        .map(|b| b.cols.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default()
}

fn drop_column(table: &mut Table, at: usize) {
    let name = table.cols.remove(at).name;
    table.indexes.retain(|i| !i.columns.contains(&name));
}

/// The models after `changes`, each applied when it may be.
fn interpret(before: &Models, changes: &[Change]) -> Models {
    let mut models: Models = before.clone();
    for t in &mut models {
        t.origin = Some(t.name.clone());
        for c in &mut t.cols {
            c.origin = Some(c.name.clone());
        }
    }
    for change in changes {
        match change {
            Change::AddTable {
                name,
                auto_key,
                columns,
            } => {
                if models.len() >= 3 {
                    continue;
                }
                let Some(name) = free_name(TABLES, *name, |n| {
                    models.iter().any(|t| t.name == n) || before.iter().any(|t| t.name == n)
                }) else {
                    continue;
                };
                let own = models.len();
                let mut cols: Vec<Col> = Vec::new();
                for spec in columns {
                    if let Some(c) = column(&models, before, own, &name, &cols, spec, true) {
                        cols.push(c);
                    }
                }
                models.push(Table {
                    name,
                    origin: None,
                    auto_key: *auto_key,
                    cols,
                    indexes: Vec::new(),
                });
            }
            Change::DropTable {
                table,
                drop_referencing,
            } => {
                if models.len() <= 1 {
                    continue;
                }
                let Some(at) = pick(models.len(), *table) else {
                    continue;
                };
                let gone = models.remove(at).name;
                for t in &mut models {
                    let mut k = 0;
                    while k < t.cols.len() {
                        let into = t.cols[k]
                            .references
                            .as_ref()
                            .is_some_and(|(target, _)| *target == gone);
                        if into && *drop_referencing {
                            drop_column(t, k);
                            continue;
                        }
                        if into {
                            t.cols[k].references = None;
                            // Its own index goes with the foreign key.
                        }
                        k += 1;
                    }
                }
            }
            Change::RenameTable { table, name } => {
                let Some(at) = pick(models.len(), *table) else {
                    continue;
                };
                // `make` refuses a rename onto a name the step began with.
                let Some(name) = free_name(TABLES, *name, |n| {
                    models.iter().any(|t| t.name == n) || before.iter().any(|t| t.name == n)
                }) else {
                    continue;
                };
                let old = std::mem::replace(&mut models[at].name, name.clone());
                for t in &mut models {
                    for c in &mut t.cols {
                        if let Some((target, _)) = &mut c.references {
                            if *target == old {
                                target.clone_from(&name);
                            }
                        }
                    }
                }
            }
            Change::AddColumn {
                table,
                column: spec,
            } => {
                let Some(at) = pick(models.len(), *table) else {
                    continue;
                };
                if models[at].cols.len() >= 6 {
                    continue;
                }
                let new_table = models[at].origin.is_none();
                let own_name = models[at].name.clone();
                let existing = models[at].cols.clone();
                if let Some(c) = column(&models, before, at, &own_name, &existing, spec, new_table)
                {
                    models[at].cols.push(c);
                }
            }
            Change::DropColumn { table, column } => {
                let Some(at) = pick(models.len(), *table) else {
                    continue;
                };
                if let Some(k) = pick(models[at].cols.len(), *column) {
                    drop_column(&mut models[at], k);
                }
            }
            Change::RenameColumn {
                table,
                column,
                name,
            } => {
                let Some(at) = pick(models.len(), *table) else {
                    continue;
                };
                let began = began_with(before, &models[at]);
                let t = &mut models[at];
                let Some(k) = pick(t.cols.len(), *column) else {
                    continue;
                };
                let Some(name) = free_name(COLUMNS, *name, |n| {
                    t.cols.iter().any(|c| c.name == n) || began.iter().any(|c| c == n)
                }) else {
                    continue;
                };
                let old = std::mem::replace(&mut t.cols[k].name, name.clone());
                for i in &mut t.indexes {
                    for c in &mut i.columns {
                        if *c == old {
                            c.clone_from(&name);
                        }
                    }
                }
            }
            Change::Nullability { table, column } => {
                let Some((c, _)) = column_mut(&mut models, *table, *column) else {
                    continue;
                };
                if !c.nullable {
                    c.nullable = true;
                } else if c.no_nulls && c.references.is_none() {
                    c.nullable = false;
                }
            }
            Change::Default {
                table,
                column,
                default,
            } => {
                let Some((c, rows)) = column_mut(&mut models, *table, *column) else {
                    continue;
                };
                // A column this step adds to rows keeps the default they take
                // (`distinct` and `no_nulls` were decided with it).
                if rows && c.origin.is_none() {
                    continue;
                }
                if c.references.is_none() {
                    c.default = default.map(|d| default_value(c.ty, d, c.integral));
                }
            }
            Change::Type { table, column } => {
                let Some((c, _)) = column_mut(&mut models, *table, *column) else {
                    continue;
                };
                if c.references.is_some() {
                    continue;
                }
                match c.ty {
                    ColumnType::BigInt => {
                        c.ty = ColumnType::Double;
                        if let Some(Default::Integer(i)) = c.default {
                            c.default = Some(Default::Real(i as f64));
                        }
                    }
                    ColumnType::Double if c.integral => {
                        c.ty = ColumnType::BigInt;
                        if let Some(Default::Real(r)) = c.default {
                            c.default = Some(Default::Integer(r as i64));
                        }
                    }
                    _ => {}
                }
            }
            Change::Reference {
                table,
                column,
                action,
            } => {
                let Some((c, _)) = column_mut(&mut models, *table, *column) else {
                    continue;
                };
                let Some((_, on_delete)) = &mut c.references else {
                    continue;
                };
                match action {
                    None => c.references = None,
                    Some(a) => {
                        let a = ACTIONS[usize::from(*a) % ACTIONS.len()];
                        if a != OnDelete::SetNull || c.nullable {
                            *on_delete = a;
                        }
                    }
                }
            }
            Change::AddIndex {
                table,
                columns: (first, second),
                unique,
            } => {
                let Some(at) = pick(models.len(), *table) else {
                    continue;
                };
                let t = &mut models[at];
                let Some(a) = pick(t.cols.len(), *first) else {
                    continue;
                };
                let mut columns = vec![t.cols[a].name.clone()];
                if let Some(b) = second.and_then(|s| pick(t.cols.len(), s)) {
                    if b != a {
                        columns.push(t.cols[b].name.clone());
                    }
                }
                if *unique && !t.cols[a].distinct {
                    continue;
                }
                // A foreign key's column has an index of its own already.
                if !unique && columns.len() == 1 && t.cols[a].references.is_some() {
                    continue;
                }
                let index = IndexDef {
                    columns,
                    unique: *unique,
                };
                if !t.indexes.contains(&index) {
                    t.indexes.push(index);
                }
            }
            Change::DropIndex { table, index } => {
                let Some(at) = pick(models.len(), *table) else {
                    continue;
                };
                if let Some(k) = pick(models[at].indexes.len(), *index) {
                    models[at].indexes.remove(k);
                }
            }
        }
    }
    models
}

/// A column, and whether its table may have rows (it began the step).
fn column_mut(models: &mut Models, table: u8, column: u8) -> Option<(&mut Col, bool)> {
    let at = pick(models.len(), table)?;
    let t = &mut models[at];
    let k = pick(t.cols.len(), column)?;
    Some((&mut t.cols[k], t.origin.is_some()))
}

fn own_index(c: &Col) -> IndexDef {
    IndexDef {
        columns: vec![c.name.clone()],
        unique: false,
    }
}

/// The table definitions the models declare, with the step's renames.
fn defs(models: &Models) -> Vec<TableDef> {
    models
        .iter()
        .map(|t| {
            let mut columns = vec![ColumnDef {
                name: "id".into(),
                ty: ColumnType::BigInt,
                nullable: false,
                default: None,
                references: None,
                renamed_from: None,
            }];
            columns.extend(t.cols.iter().map(|c| ColumnDef {
                name: c.name.clone(),
                ty: c.ty,
                nullable: c.nullable,
                default: c.default.clone(),
                references: c.references.as_ref().map(|(table, on_delete)| Reference {
                    table: table.clone(),
                    column: "id".into(),
                    on_delete: *on_delete,
                }),
                renamed_from: c.origin.clone().filter(|o| *o != c.name),
            }));
            let mut indexes: Vec<IndexDef> = t
                .cols
                .iter()
                .filter(|c| c.references.is_some())
                .map(own_index)
                .collect();
            indexes.extend(t.indexes.iter().cloned());
            TableDef {
                name: t.name.clone(),
                columns,
                primary_key: "id".into(),
                auto_key: t.auto_key,
                indexes,
                renamed_from: t.origin.clone().filter(|o| *o != t.name),
            }
        })
        .collect()
}

/// What `make` compares: the tables by name, without the renames.
fn settled(models: &Models) -> BTreeMap<String, TableDef> {
    defs(models)
        .into_iter()
        .map(|mut t| {
            t.renamed_from = None;
            for c in &mut t.columns {
                c.renamed_from = None;
            }
            (t.name.clone(), t)
        })
        .collect()
}

/// A value as read back, by the column's type.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    /// What the column's type does not explain.
    Odd(String),
}

impl V {
    fn of(d: &Default) -> V {
        match d {
            Default::Integer(i) => V::Int(*i),
            Default::Real(r) => V::Real(*r),
            Default::Text(s) => V::Text(s.clone()),
            Default::Bool(b) => V::Bool(*b),
        }
    }

    /// The value after its column became `ty`.
    fn into_type(self, ty: ColumnType) -> V {
        match (self, ty) {
            (V::Int(i), ColumnType::Double) => V::Real(i as f64),
            (V::Real(r), ColumnType::BigInt) => V::Int(r as i64),
            (v, _) => v,
        }
    }

    fn sql(&self) -> String {
        match self {
            V::Null => "NULL".into(),
            V::Int(i) => i.to_string(),
            V::Real(r) => format!("{r:?}"),
            V::Text(s) => format!("'{}'", s.replace('\'', "''")),
            V::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).into(),
            V::Odd(s) => unreachable!("never written: {s}"),
        }
    }
}

/// What the oracle reads of a database, besides `check`.
trait Probe: Backend {
    /// Each row of `sql`, its values read as `types`.
    fn values(&self, sql: &str, types: &[ColumnType]) -> Vec<Vec<V>>;
    /// The first column of each row of `sql`, as text.
    fn strings(&self, sql: &str) -> Vec<String>;
    /// Tables, indexes (not primary keys') and foreign keys (`table.column`).
    const SCHEMA: [&'static str; 3];
}

impl Probe for orm_core::rusqlite::Connection {
    fn values(&self, sql: &str, types: &[ColumnType]) -> Vec<Vec<V>> {
        sqlite_values(self, sql, types)
    }

    fn strings(&self, sql: &str) -> Vec<String> {
        sqlite_strings(self, sql)
    }

    const SCHEMA: [&'static str; 3] = SQLITE_SCHEMA;
}

fn sqlite_values(
    conn: &orm_core::rusqlite::Connection,
    sql: &str,
    types: &[ColumnType],
) -> Vec<Vec<V>> {
    use orm_core::rusqlite::types::Value;
    let mut stmt = conn.prepare(sql).expect("oracle statement");
    let mut rows = stmt.query([]).expect("oracle query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("oracle row") {
        out.push(
            types
                .iter()
                .enumerate()
                .map(
                    |(k, ty)| match (row.get::<_, Value>(k).expect("a value"), ty) {
                        (Value::Null, _) => V::Null,
                        (Value::Integer(i), ColumnType::BigInt) => V::Int(i),
                        (Value::Integer(i @ (0 | 1)), ColumnType::Boolean) => V::Bool(i == 1),
                        (Value::Real(r), ColumnType::Double) => V::Real(r),
                        (Value::Text(s), ColumnType::Text) => V::Text(s),
                        (v, ty) => V::Odd(format!("{v:?} in a {ty:?} column")),
                    },
                )
                .collect(),
        );
    }
    out
}

fn sqlite_strings(conn: &orm_core::rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).expect("oracle statement");
    let rows = stmt.query_map([], |r| r.get(0)).expect("oracle query");
    rows.collect::<Result<_, _>>().expect("oracle rows")
}

const SQLITE_SCHEMA: [&str; 3] = [
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    "SELECT m.name || '.' || f.\"from\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
     WHERE m.type = 'table'",
];

#[cfg(feature = "postgres")]
impl Probe for orm_core::Postgres {
    fn values(&self, sql: &str, types: &[ColumnType]) -> Vec<Vec<V>> {
        pg_values(&self.query(sql, &[]).expect("oracle query"), types)
    }

    fn strings(&self, sql: &str) -> Vec<String> {
        pg_strings(&self.query(sql, &[]).expect("oracle query"))
    }

    const SCHEMA: [&'static str; 3] = PG_SCHEMA;
}

#[cfg(feature = "postgres")]
fn pg_values(rows: &[orm_core::postgres::Row], types: &[ColumnType]) -> Vec<Vec<V>> {
    fn get<'a, T: orm_core::postgres::types::FromSql<'a>>(
        row: &'a orm_core::postgres::Row,
        k: usize,
        v: impl Fn(T) -> V,
    ) -> V {
        match row.try_get::<_, Option<T>>(k) {
            Ok(Some(x)) => v(x),
            Ok(None) => V::Null,
            Err(e) => V::Odd(e.to_string()),
        }
    }
    rows.iter()
        .map(|row| {
            types
                .iter()
                .enumerate()
                .map(|(k, ty)| match ty {
                    ColumnType::BigInt => get(row, k, V::Int),
                    ColumnType::Double => get(row, k, V::Real),
                    ColumnType::Boolean => get(row, k, V::Bool),
                    _ => get(row, k, V::Text),
                })
                .collect()
        })
        .collect()
}

#[cfg(feature = "postgres")]
fn pg_strings(rows: &[orm_core::postgres::Row]) -> Vec<String> {
    rows.iter().map(|row| row.get(0)).collect()
}

#[cfg(feature = "postgres")]
const PG_SCHEMA: [&str; 3] = [
    "SELECT table_name::text FROM information_schema.tables \
     WHERE table_schema = current_schema()",
    "SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
     JOIN pg_namespace n ON n.oid = ic.relnamespace \
     WHERE n.nspname = current_schema() AND NOT i.indisprimary",
    "SELECT c.relname || '.' || a.attname FROM pg_constraint k \
     JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
     WHERE k.contype = 'f' AND n.nspname = current_schema()",
];

/// [`Probe`] on an async connection: the same reads, as futures.
#[cfg(feature = "tokio")]
trait AsyncProbe: backends::AsyncBackend {
    fn values<'a>(
        &'a self,
        sql: &'a str,
        types: &'a [ColumnType],
    ) -> orm_core::BoxFuture<'a, Vec<Vec<V>>>;
    fn strings<'a>(&'a self, sql: &'a str) -> orm_core::BoxFuture<'a, Vec<String>>;
    const SCHEMA: [&'static str; 3];
}

#[cfg(feature = "tokio")]
impl AsyncProbe for orm_core::AsyncSqlite {
    fn values<'a>(
        &'a self,
        sql: &'a str,
        types: &'a [ColumnType],
    ) -> orm_core::BoxFuture<'a, Vec<Vec<V>>> {
        let (sql, types) = (sql.to_owned(), types.to_vec());
        Box::pin(async move {
            self.call(move |conn| Ok(sqlite_values(conn, &sql, &types)))
                .await
                .expect("oracle rows")
        })
    }

    fn strings<'a>(&'a self, sql: &'a str) -> orm_core::BoxFuture<'a, Vec<String>> {
        let sql = sql.to_owned();
        Box::pin(async move {
            self.call(move |conn| Ok(sqlite_strings(conn, &sql)))
                .await
                .expect("oracle rows")
        })
    }

    const SCHEMA: [&'static str; 3] = SQLITE_SCHEMA;
}

#[cfg(all(feature = "tokio", feature = "postgres"))]
impl AsyncProbe for orm_core::AsyncPostgres {
    fn values<'a>(
        &'a self,
        sql: &'a str,
        types: &'a [ColumnType],
    ) -> orm_core::BoxFuture<'a, Vec<Vec<V>>> {
        Box::pin(async move {
            let rows = self.client().query(sql, &[]).await.expect("oracle query");
            pg_values(&rows, types)
        })
    }

    fn strings<'a>(&'a self, sql: &'a str) -> orm_core::BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let rows = self.client().query(sql, &[]).await.expect("oracle query");
            pg_strings(&rows)
        })
    }

    const SCHEMA: [&'static str; 3] = PG_SCHEMA;
}

/// The rows of each table: key, then each column's value by name.
type Data = BTreeMap<String, BTreeMap<i64, BTreeMap<String, V>>>;

/// The rows after a step: those of each table that stays, under its new
/// names, a new column holding its default (or NULL), a changed type's
/// values converted.
fn carry(data: &Data, models: &Models) -> Data {
    models
        .iter()
        .map(|t| {
            let rows = match &t.origin {
                None => BTreeMap::new(),
                Some(origin) => data[origin]
                    .iter()
                    .map(|(id, row)| {
                        let row = t
                            .cols
                            .iter()
                            .map(|c| {
                                let v = match &c.origin {
                                    Some(o) => row[o].clone().into_type(c.ty),
                                    None => c.default.as_ref().map_or(V::Null, V::of),
                                };
                                (c.name.clone(), v)
                            })
                            .collect();
                        (*id, row)
                    })
                    .collect(),
            };
            (t.name.clone(), rows)
        })
        .collect()
}

/// A small deterministic generator for the rows (drawn once per case).
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % below
    }
}

const WORDS: &[&str] = &["", "a", "it's", "é", "x\ny", "%_"];

/// Inserts up to three rows into each table, with values its constraints
/// accept, and records them in `data`.
#[awaited::both(Probe => AsyncProbe)]
fn insert_rows<B: Probe>(
    db: &B,
    models: &Models,
    data: &mut Data,
    rng: &mut Rng,
) -> Result<(), TestCaseError> {
    for t in models {
        for _ in 0..rng.next(4) {
            let id = data[&t.name].keys().next_back().map_or(1, |k| k + 1);
            let mut row = BTreeMap::new();
            let mut possible = true;
            for c in &t.cols {
                let r = rng.next(1000) as i64;
                let v = if let Some((target, _)) = &c.references {
                    let mut keys: Vec<i64> = data[target].keys().copied().collect();
                    if *target == t.name {
                        keys.push(id);
                    }
                    match pick(keys.len(), r as u8) {
                        Some(k) if !c.nullable || rng.next(3) > 0 => V::Int(keys[k]),
                        None if !c.nullable => {
                            possible = false;
                            break;
                        }
                        _ => V::Null,
                    }
                } else if c.nullable && !c.no_nulls && rng.next(4) == 0 {
                    V::Null
                } else {
                    let n = if c.distinct { id * 1000 + r } else { r % 7 - 3 };
                    match c.ty {
                        ColumnType::BigInt => V::Int(n),
                        ColumnType::Double if c.integral => V::Real(n as f64),
                        ColumnType::Double => V::Real(n as f64 + 0.25),
                        ColumnType::Text if c.distinct => {
                            V::Text(format!("{id}:{}", WORDS[r as usize % WORDS.len()]))
                        }
                        ColumnType::Text => V::Text(WORDS[r as usize % WORDS.len()].to_owned()),
                        _ => V::Bool(r % 2 == 0),
                    }
                };
                row.insert(c.name.clone(), v);
            }
            if !possible {
                continue;
            }
            let mut names = vec![ident("id")];
            let mut values = vec![id.to_string()];
            for c in &t.cols {
                names.push(ident(&c.name));
                values.push(row[&c.name].sql());
            }
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({})",
                ident(&t.name),
                names.join(", "),
                values.join(", ")
            );
            db.exec(&sql)
                .map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
            data.get_mut(&t.name).expect("a table").insert(id, row);
        }
    }
    Ok(())
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The database holds the models' tables, indexes and foreign keys and
/// nothing else, and the rows `data` says.
#[awaited::both(Probe => AsyncProbe)]
fn same<B: Probe>(db: &B, models: &Models, data: &Data, when: &str) -> Result<(), TestCaseError> {
    let defs = defs(models);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let mut tables: Vec<String> = defs.iter().map(|t| t.name.clone()).collect();
    tables.push(migrate::TABLE.to_owned());
    let indexes = defs
        .iter()
        .flat_map(|t| t.indexes.iter().map(|i| i.name(&t.name)))
        .collect();
    let foreign_keys = defs
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| c.references.is_some())
                .map(|c| format!("{}.{}", t.name, c.name))
        })
        .collect();
    for (what, sql, expected) in [
        ("tables", B::SCHEMA[0], tables),
        ("indexes", B::SCHEMA[1], indexes),
        ("foreign keys", B::SCHEMA[2], foreign_keys),
    ] {
        prop_assert_eq!(
            sorted(db.strings(sql)),
            sorted(expected),
            "{}: the {} in the database",
            when,
            what
        );
    }
    for t in &defs {
        let columns: Vec<String> = t.columns.iter().map(|c| ident(&c.name)).collect();
        let types: Vec<ColumnType> = t.columns.iter().map(|c| c.ty).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY \"id\"",
            columns.join(", "),
            ident(&t.name)
        );
        let expected: Vec<Vec<V>> = data[&t.name]
            .iter()
            .map(|(id, row)| {
                std::iter::once(V::Int(*id))
                    .chain(t.columns[1..].iter().map(|c| row[&c.name].clone()))
                    .collect()
            })
            .collect();
        prop_assert_eq!(
            db.values(&sql, &types),
            expected,
            "{}: the rows of {}",
            when,
            t.name
        );
    }
    Ok(())
}

/// SQLite checks foreign keys only when asked to.
#[awaited::both]
fn foreign_keys_on<B: Backend>(db: &B) -> Result<(), TestCaseError> {
    if B::NAME == "sqlite" {
        db.exec("PRAGMA foreign_keys = ON")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    Ok(())
}

/// The migrations of the history applied all at once to `db`, an empty
/// database, and step by step, with rows, to `stepped`, another one.
#[awaited::both(Probe => AsyncProbe)]
fn case<B: Probe>(
    db: B,
    stepped: B,
    initial: &[Change],
    steps: &[Vec<Change>],
    seed: u64,
) -> Result<(), TestCaseError> {
    let fail = |what: String| move |e: orm_core::Error| TestCaseError::fail(format!("{what}: {e}"));
    let mut models = vec![interpret(&Vec::new(), initial)];
    for step in steps {
        let next = interpret(models.last().expect("a first state"), step);
        models.push(next);
    }
    // The migrations, as `makemigrations` writes them; `written[i]`: how
    // many files there are once the models are `models[i]`.
    let mut files: Vec<Migration> = Vec::new();
    let mut written = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let text = migrate::make(&files, &defs(m)).map_err(fail(format!("make, step {i}")))?;
        let changed = i == 0 || settled(m) != settled(&models[i - 1]);
        match text {
            Some(text) => {
                prop_assert!(changed, "step {}: nothing changed, yet:\n{}", i, text);
                files.push(Migration::new(format!("{i:04}_step"), text));
            }
            None => prop_assert!(!changed, "step {}: a change and no migration", i),
        }
        written.push(files.len());
        prop_assert_eq!(
            migrate::make(&files, &defs(m)).map_err(fail(format!("make again, step {i}")))?,
            None,
            "step {}: a second migration for the same models",
            i
        );
    }
    let last = models.last().expect("a last state");
    let all = migrate::Migrations::from_files(&files);

    // All at once, on an empty database.
    foreign_keys_on(&db)?;
    let names: Vec<String> = files.iter().map(|f| f.name().to_owned()).collect();
    prop_assert_eq!(
        all.apply(&db)
            .map_err(fail("apply to an empty database".into()))?,
        names
    );
    all.check(&db)
        .map_err(fail("check after applying all".into()))?;
    let empty: Data = last
        .iter()
        .map(|t| (t.name.clone(), BTreeMap::new()))
        .collect();
    same(&db, last, &empty, "all at once")?;

    // Step by step, with rows.
    let db = stepped;
    foreign_keys_on(&db)?;
    let mut rng = Rng(seed | 1);
    let mut data = Data::new();
    for (i, m) in models.iter().enumerate() {
        let migrations = migrate::Migrations::from_files(&files[..written[i]]);
        migrations
            .apply(&db)
            .map_err(fail(format!("apply step {i}")))?;
        migrations
            .check(&db)
            .map_err(fail(format!("check after step {i}")))?;
        data = carry(&data, m);
        same(&db, m, &data, &format!("after step {i}"))?;
        insert_rows(&db, m, &mut data, &mut rng)?;
        same(&db, m, &data, &format!("after the rows of step {i}"))?;
    }
    prop_assert_eq!(
        migrate::make(&files, &defs(last)).map_err(fail("make at the end".into()))?,
        None
    );
    Ok(())
}

fn new_column() -> impl Strategy<Value = NewColumn> {
    (
        0u8..8,
        0u8..4,
        any::<bool>(),
        proptest::option::of(0u8..4),
        proptest::option::weighted(0.3, (0u8..4, 0u8..4)),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, ty, nullable, default, target, distinct, no_nulls, integral)| NewColumn {
                name,
                ty,
                nullable,
                default,
                target,
                distinct,
                no_nulls,
                integral,
            },
        )
}

fn add_table() -> impl Strategy<Value = Change> {
    (
        0u8..5,
        any::<bool>(),
        proptest::collection::vec(new_column(), 0..4),
    )
        .prop_map(|(name, auto_key, columns)| Change::AddTable {
            name,
            auto_key,
            columns,
        })
}

fn change() -> impl Strategy<Value = Change> {
    let at = || 0u8..6;
    prop_oneof![
        1 => add_table(),
        1 => (at(), any::<bool>()).prop_map(|(table, drop_referencing)| Change::DropTable { table, drop_referencing }),
        1 => (at(), 0u8..5).prop_map(|(table, name)| Change::RenameTable { table, name }),
        3 => (at(), new_column()).prop_map(|(table, column)| Change::AddColumn { table, column }),
        2 => (at(), at()).prop_map(|(table, column)| Change::DropColumn { table, column }),
        2 => (at(), at(), 0u8..8).prop_map(|(table, column, name)| Change::RenameColumn { table, column, name }),
        2 => (at(), at()).prop_map(|(table, column)| Change::Nullability { table, column }),
        2 => (at(), at(), proptest::option::of(0u8..4)).prop_map(|(table, column, default)| Change::Default { table, column, default }),
        2 => (at(), at()).prop_map(|(table, column)| Change::Type { table, column }),
        1 => (at(), at(), proptest::option::of(0u8..4)).prop_map(|(table, column, action)| Change::Reference { table, column, action }),
        3 => (at(), (at(), proptest::option::of(at())), any::<bool>()).prop_map(|(table, columns, unique)| Change::AddIndex { table, columns, unique }),
        2 => (at(), at()).prop_map(|(table, index)| Change::DropIndex { table, index }),
    ]
}

fn history() -> impl Strategy<Value = (Vec<Change>, Vec<Vec<Change>>, u64)> {
    (
        proptest::collection::vec(add_table(), 1..=3),
        proptest::collection::vec(proptest::collection::vec(change(), 1..=4), 1..=4),
        any::<u64>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn migrations_build_the_models_and_keep_every_row((initial, steps, seed) in history()) {
        case(backends::sqlite(), backends::sqlite(), &initial, &steps, seed)?;
    }
}

#[cfg(feature = "postgres")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn migrations_build_the_models_and_keep_every_row_on_postgres((initial, steps, seed) in history()) {
        case(backends::postgres(), backends::postgres(), &initial, &steps, seed)?;
    }
}

// The same cases on the async connections, each on fresh ones in a
// runtime of their own; fewer of them, the sync entries above cover the
// migrations, these the async drivers.
#[cfg(feature = "tokio")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn migrations_build_the_models_and_keep_every_row_on_async_sqlite((initial, steps, seed) in history()) {
        awaited::block_on(async {
            let (db, stepped) = (backends::async_sqlite().await, backends::async_sqlite().await);
            case(db, stepped, &initial, &steps, seed).await
        })?;
    }
}

#[cfg(all(feature = "tokio", feature = "postgres"))]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn migrations_build_the_models_and_keep_every_row_on_async_postgres((initial, steps, seed) in history()) {
        awaited::block_on(async {
            let (db, stepped) = (backends::async_postgres().await, backends::async_postgres().await);
            case(db, stepped, &initial, &steps, seed).await
        })?;
    }
}

fn self_referencing(nullable: bool) -> Change {
    Change::AddTable {
        name: 0,
        auto_key: false,
        columns: vec![NewColumn {
            name: 0,
            ty: 0,
            nullable,
            default: None,
            target: Some((0, 0)),
            distinct: false,
            no_nulls: false,
            integral: false,
        }],
    }
}

/// Regressions the property found, each on both backends, sync and async.
mod found {
    use super::*;

    fn on_each(initial: &[Change], steps: &[Vec<Change>]) -> Result<(), TestCaseError> {
        case(backends::sqlite(), backends::sqlite(), initial, steps, 7)?;
        #[cfg(feature = "postgres")]
        case(
            backends::postgres(),
            backends::postgres(),
            initial,
            steps,
            7,
        )?;
        #[cfg(feature = "tokio")]
        awaited::block_on(async {
            let (db, stepped) = (
                backends::async_sqlite().await,
                backends::async_sqlite().await,
            );
            case(db, stepped, initial, steps, 7).await
        })?;
        #[cfg(all(feature = "tokio", feature = "postgres"))]
        awaited::block_on(async {
            let (db, stepped) = (
                backends::async_postgres().await,
                backends::async_postgres().await,
            );
            case(db, stepped, initial, steps, 7).await
        })?;
        Ok(())
    }

    /// PostgreSQL names a foreign key after its table and column; a rename
    /// of either renames it, or a later `alter_column` misses it and the
    /// foreign key stays.
    #[test]
    fn a_foreign_key_follows_its_table_and_column_renames() -> Result<(), TestCaseError> {
        let unreference = Change::Reference {
            table: 0,
            column: 0,
            action: None,
        };
        on_each(
            &[self_referencing(false)],
            &[
                vec![Change::RenameTable { table: 0, name: 0 }],
                vec![unreference.clone()],
            ],
        )?;
        on_each(
            &[self_referencing(true)],
            &[
                vec![Change::RenameColumn {
                    table: 0,
                    column: 0,
                    name: 1,
                }],
                vec![Change::Reference {
                    table: 0,
                    column: 0,
                    action: Some(1),
                }],
                vec![unreference],
            ],
        )
    }

    /// A column that stops being a foreign key loses that key's index; an
    /// index the model declares on it comes back in the same migration.
    #[test]
    fn an_index_on_a_column_that_stops_being_a_foreign_key_stays() -> Result<(), TestCaseError> {
        on_each(
            &[self_referencing(false)],
            &[vec![
                Change::Reference {
                    table: 0,
                    column: 0,
                    action: None,
                },
                Change::AddIndex {
                    table: 0,
                    columns: (0, None),
                    unique: false,
                },
            ]],
        )
    }

    /// On PostgreSQL the foreign key goes before the column's type changes.
    #[test]
    fn a_former_foreign_key_changes_type_in_the_same_migration() -> Result<(), TestCaseError> {
        on_each(
            &[self_referencing(false)],
            &[vec![
                Change::Reference {
                    table: 0,
                    column: 0,
                    action: None,
                },
                Change::Type {
                    table: 0,
                    column: 0,
                },
            ]],
        )
    }

    fn foreign_key(target: u8) -> NewColumn {
        NewColumn {
            name: 0,
            ty: 0,
            nullable: true,
            default: None,
            target: Some((target, 0)),
            distinct: false,
            no_nulls: false,
            integral: false,
        }
    }

    fn add_table(columns: Vec<NewColumn>) -> Change {
        Change::AddTable {
            name: 0,
            auto_key: false,
            columns,
        }
    }

    /// Two new tables that reference each other: PostgreSQL cannot create
    /// the first with a foreign key into the second, so it gains it after.
    #[test]
    fn new_tables_that_reference_each_other_are_created() -> Result<(), TestCaseError> {
        let to_t1 = Change::AddColumn {
            table: 0,
            column: foreign_key(1),
        };
        on_each(
            &[add_table(vec![]), add_table(vec![foreign_key(0)]), to_t1],
            &[],
        )
    }

    /// Two dropped tables that reference each other: PostgreSQL drops
    /// neither while the other's foreign key depends on it.
    #[test]
    fn dropped_tables_that_reference_each_other_are_dropped() -> Result<(), TestCaseError> {
        let drop_first = Change::DropTable {
            table: 0,
            drop_referencing: false,
        };
        on_each(
            &[
                add_table(vec![]),
                add_table(vec![foreign_key(0)]),
                add_table(vec![]),
            ],
            &[
                vec![Change::AddColumn {
                    table: 0,
                    column: foreign_key(1),
                }],
                vec![drop_first.clone(), drop_first],
            ],
        )
    }

    /// `a_b`.`c` and `a`.`b_c` would both have PostgreSQL's foreign key
    /// name `a_b_c_fkey`: left to PostgreSQL, the second got `a_b_c_fkey1`,
    /// and a migration dropping it by name left it in place (and `check`
    /// passed).
    #[test]
    fn foreign_keys_of_lookalike_names_stay_apart() {
        fn on<B: Probe>(open: fn() -> B) {
            let self_referencing = |name: &str, column: &str, references: bool| {
                let mut t = table(name, &[column], None);
                if references {
                    t.columns[1].references = Some(Reference {
                        table: name.into(),
                        column: "id".into(),
                        on_delete: OnDelete::NoAction,
                    });
                    t.indexes.push(IndexDef {
                        columns: vec![column.into()],
                        unique: false,
                    });
                }
                t
            };
            let first = [
                self_referencing("a_b", "c", true),
                self_referencing("a", "b_c", true),
            ];
            let second = [
                self_referencing("a_b", "c", true),
                self_referencing("a", "b_c", false),
            ];
            let mut files = vec![Migration::new(
                "0001",
                migrate::make(&[], &first).unwrap().unwrap(),
            )];
            let next = migrate::make(&files, &second).unwrap().unwrap();
            files.push(Migration::new("0002", next));
            let db = open();
            let migrations = migrate::Migrations::from_files(&files);
            migrations.apply(&db).unwrap();
            migrations.check(&db).unwrap();
            assert_eq!(db.strings(B::SCHEMA[2]), ["a_b.c"], "{}", B::NAME);
        }
        on(backends::sqlite);
        #[cfg(feature = "postgres")]
        on(backends::postgres);
    }

    fn table(name: &str, columns: &[&str], renamed_from: Option<&str>) -> TableDef {
        let column = |name: &str| ColumnDef {
            name: name.to_owned(),
            ty: ColumnType::BigInt,
            nullable: name != "id",
            default: None,
            references: None,
            renamed_from: None,
        };
        TableDef {
            name: name.to_owned(),
            columns: std::iter::once("id")
                .chain(columns.iter().copied())
                .map(column)
                .collect(),
            primary_key: "id".into(),
            auto_key: false,
            indexes: Vec::new(),
            renamed_from: renamed_from.map(str::to_owned),
        }
    }

    fn refused(files: &[Migration], models: &[TableDef]) -> String {
        migrate::make(files, models)
            .expect_err("a refusal")
            .to_string()
    }

    /// A rename onto a name the same migration frees (dropped, renamed
    /// away, swapped) read as a change of the old column or table, and its
    /// rows were lost: it is refused, and takes two migrations.
    #[test]
    fn a_rename_onto_a_name_freed_in_the_same_migration_is_refused() {
        let first = [table("a", &["x", "y"], None), table("b", &[], None)];
        let files = [Migration::new(
            "0001",
            migrate::make(&[], &first).unwrap().unwrap(),
        )];
        // `x` dropped, `y` renamed to `x`.
        let mut dropped = table("a", &["x"], None);
        dropped.columns[1].renamed_from = Some("y".into());
        let message = refused(&files, &[dropped, table("b", &[], None)]);
        assert!(
            message.contains("column `a.x` is renamed from `y`"),
            "{message}"
        );
        // `x` and `y` swapped.
        let mut swapped = table("a", &["x", "y"], None);
        swapped.columns[1].renamed_from = Some("y".into());
        swapped.columns[2].renamed_from = Some("x".into());
        let message = refused(&files, &[swapped, table("b", &[], None)]);
        assert!(message.contains("is renamed from"), "{message}");
        // `a` dropped, `b` renamed to `a`.
        let message = refused(&files, &[table("a", &[], Some("b"))]);
        assert!(
            message.contains("table `a` is renamed from `b`"),
            "{message}"
        );
        // A hint left from an earlier migration is not a rename.
        let mut stale = table("a", &["x", "y"], None);
        stale.columns[2].renamed_from = Some("x".into());
        assert_eq!(
            migrate::make(&files, &[stale, table("b", &[], Some("a"))]).unwrap(),
            None
        );
    }
}
