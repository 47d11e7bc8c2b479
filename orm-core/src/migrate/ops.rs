//! Migration operations: what a migration file says, the schema state they
//! build, and the difference between a state and the models.

use std::collections::BTreeMap;

use super::def::{ColumnDef, IndexDef, TableDef};

/// One step of a migration, the same for every backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `CREATE TABLE`, with its indexes.
    CreateTable(TableDef),
    /// `DROP TABLE`.
    DropTable {
        /// The table.
        table: String,
    },
    /// A table's new name (its indexes are renamed with it).
    RenameTable {
        /// The name before.
        from: String,
        /// The name after.
        to: String,
    },
    /// A new column (with the index of a foreign key).
    AddColumn {
        /// The table.
        table: String,
        /// The column.
        column: ColumnDef,
    },
    /// A column removed, with the indexes on it.
    DropColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A column's new name (its indexes are renamed with it).
    RenameColumn {
        /// The table.
        table: String,
        /// The name before.
        from: String,
        /// The name after.
        to: String,
    },
    /// A column's new type, nullability, default or foreign key.
    AlterColumn {
        /// The table.
        table: String,
        /// The column as it becomes.
        column: ColumnDef,
    },
    /// A new unique constraint or index.
    AddIndex {
        /// The table.
        table: String,
        /// The index.
        index: IndexDef,
    },
    /// A unique constraint or index removed.
    DropIndex {
        /// The table.
        table: String,
        /// The index.
        index: IndexDef,
    },
    /// Statements the operations cannot say (a data migration), one text per
    /// backend; the schema state does not change.
    Sql {
        /// For SQLite.
        sqlite: String,
        /// For PostgreSQL.
        postgres: String,
    },
}

/// The tables a sequence of migrations has built, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// The tables.
    pub tables: BTreeMap<String, TableDef>,
}

impl State {
    fn table_mut(&mut self, name: &str) -> Result<&mut TableDef, String> {
        self.tables
            .get_mut(name)
            .ok_or_else(|| format!("table `{name}` does not exist at this point"))
    }

    /// The state after `op`, or why `op` does not apply to it.
    pub fn apply(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::CreateTable(table) => {
                if self.tables.contains_key(&table.name) {
                    return Err(format!("table `{}` exists already", table.name));
                }
                if table.column(&table.primary_key).is_none() {
                    return Err(format!(
                        "table `{}`: its primary key `{}` is not one of its columns",
                        table.name, table.primary_key
                    ));
                }
                self.tables.insert(table.name.clone(), table.settled());
            }
            Op::DropTable { table } => {
                self.tables
                    .remove(table)
                    .ok_or_else(|| format!("table `{table}` does not exist at this point"))?;
            }
            Op::RenameTable { from, to } => {
                if self.tables.contains_key(to) {
                    return Err(format!("table `{to}` exists already"));
                }
                let mut table = self
                    .tables
                    .remove(from)
                    .ok_or_else(|| format!("table `{from}` does not exist at this point"))?;
                table.name.clone_from(to);
                self.tables.insert(to.clone(), table);
                // Foreign keys into it follow it.
                for other in self.tables.values_mut() {
                    for column in &mut other.columns {
                        if let Some(r) = &mut column.references {
                            if r.table == *from {
                                r.table.clone_from(to);
                            }
                        }
                    }
                }
            }
            Op::AddColumn { table, column } => {
                let t = self.table_mut(table)?;
                if t.column(&column.name).is_some() {
                    return Err(format!("column `{table}.{}` exists already", column.name));
                }
                let mut column = column.clone();
                column.renamed_from = None;
                if column.references.is_some() {
                    t.indexes.push(IndexDef {
                        columns: vec![column.name.clone()],
                        unique: false,
                    });
                }
                t.columns.push(column);
            }
            Op::DropColumn { table, column } => {
                let t = self.table_mut(table)?;
                if t.primary_key == *column {
                    return Err(format!("`{table}.{column}` is the primary key"));
                }
                let before = t.columns.len();
                t.columns.retain(|c| c.name != *column);
                if t.columns.len() == before {
                    return Err(format!("column `{table}.{column}` does not exist"));
                }
                t.indexes.retain(|i| !i.columns.contains(column));
            }
            Op::RenameColumn { table, from, to } => {
                let t = self.table_mut(table)?;
                if t.column(to).is_some() {
                    return Err(format!("column `{table}.{to}` exists already"));
                }
                let column = t
                    .columns
                    .iter_mut()
                    .find(|c| c.name == *from)
                    .ok_or_else(|| format!("column `{table}.{from}` does not exist"))?;
                column.name.clone_from(to);
                if t.primary_key == *from {
                    t.primary_key.clone_from(to);
                }
                for index in &mut t.indexes {
                    for c in &mut index.columns {
                        if c == from {
                            c.clone_from(to);
                        }
                    }
                }
                let name = table.clone();
                for other in self.tables.values_mut() {
                    for column in &mut other.columns {
                        if let Some(r) = &mut column.references {
                            if r.table == name && r.column == *from {
                                r.column.clone_from(to);
                            }
                        }
                    }
                }
            }
            Op::AlterColumn { table, column } => {
                let t = self.table_mut(table)?;
                let slot = t
                    .columns
                    .iter_mut()
                    .find(|c| c.name == column.name)
                    .ok_or_else(|| format!("column `{table}.{}` does not exist", column.name))?;
                let had_reference = slot.references.is_some();
                *slot = ColumnDef {
                    renamed_from: None,
                    ..column.clone()
                };
                let own = IndexDef {
                    columns: vec![column.name.clone()],
                    unique: false,
                };
                match (had_reference, column.references.is_some()) {
                    (false, true) if !t.indexes.contains(&own) => t.indexes.insert(0, own),
                    (true, false) => t.indexes.retain(|i| *i != own),
                    _ => {}
                }
            }
            Op::AddIndex { table, index } => {
                let t = self.table_mut(table)?;
                if t.indexes.contains(index) {
                    return Err(format!("table `{table}` has that index already"));
                }
                if let Some(c) = index.columns.iter().find(|c| t.column(c).is_none()) {
                    return Err(format!("column `{table}.{c}` does not exist"));
                }
                t.indexes.push(index.clone());
            }
            Op::DropIndex { table, index } => {
                let t = self.table_mut(table)?;
                let before = t.indexes.len();
                t.indexes.retain(|i| i != index);
                if t.indexes.len() == before {
                    return Err(format!("table `{table}` has no such index"));
                }
            }
            Op::Sql { .. } => {}
        }
        Ok(())
    }
}

/// A change `makemigrations` will not write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// The operations that turn `old` into `models`, in an order each applies:
/// renames, then new tables (a table before those that reference it), then
/// each table's column and index changes, then dropped tables.
pub fn diff(old: &State, models: &[TableDef]) -> Result<Vec<Op>, Refusal> {
    let mut ops = Vec::new();
    let mut state = old.clone();
    let mut seen = Vec::new();
    for model in models {
        if let Some(from) = &model.renamed_from {
            let kept = |name: &str| {
                models.iter().any(|m| {
                    m.name == name
                        && m.renamed_from
                            .as_ref()
                            .is_none_or(|f| f == name || !old.tables.contains_key(f))
                })
            };
            if onto_a_name_in_use(
                from,
                &model.name,
                |name| old.tables.contains_key(name),
                kept,
            ) {
                return Err(Refusal(format!(
                    "table `{}` is renamed from `{from}` while the table `{}` it replaces \
                     is dropped or renamed in the same migration: drop or rename the old `{}` \
                     in one migration (without this rename), then rename `{from}` in the next",
                    model.name, model.name, model.name
                )));
            }
        }
    }
    // Renamed tables first: the rest of the diff sees them by their new name.
    for model in models {
        if let Some(from) = &model.renamed_from {
            if state.tables.contains_key(from) && !state.tables.contains_key(&model.name) {
                let op = Op::RenameTable {
                    from: from.clone(),
                    to: model.name.clone(),
                };
                state.apply(&op).map_err(Refusal)?;
                ops.push(op);
            }
        }
    }
    let mut created = Vec::new();
    let mut kept = Vec::new();
    for model in models {
        if seen.contains(&model.name) {
            return Err(Refusal(format!("two models use table `{}`", model.name)));
        }
        seen.push(model.name.clone());
        match state.tables.get(&model.name) {
            None => created.push(model.settled()),
            Some(_) => kept.push(model),
        }
    }
    // New tables first (a column a kept table gains may reference one of
    // them, and PostgreSQL checks that its table exists), each after the
    // tables it references. In a cycle, one is made without its foreign keys
    // into the others (PostgreSQL cannot reference a table that does not
    // exist yet) and gains them at the end.
    let mut deferred = Vec::new();
    while !created.is_empty() {
        let ready = created.iter().position(|t| {
            t.columns.iter().all(|c| {
                c.references
                    .as_ref()
                    .is_none_or(|r| r.table == t.name || !created.iter().any(|o| o.name == r.table))
            })
        });
        let mut table = created.remove(ready.unwrap_or(0));
        if ready.is_none() {
            let name = table.name.clone();
            for column in &mut table.columns {
                let later = column
                    .references
                    .as_ref()
                    .is_some_and(|r| r.table != name && created.iter().any(|o| o.name == r.table));
                if later {
                    deferred.push(Op::AlterColumn {
                        table: name.clone(),
                        column: column.clone(),
                    });
                    column.references = None;
                    let own = IndexDef {
                        columns: vec![column.name.clone()],
                        unique: false,
                    };
                    table.indexes.retain(|i| *i != own);
                }
            }
        }
        let op = Op::CreateTable(table);
        state.apply(&op).map_err(Refusal)?;
        ops.push(op);
    }
    for op in deferred {
        state.apply(&op).map_err(Refusal)?;
        ops.push(op);
    }
    for model in kept {
        let table = state.tables[&model.name].clone();
        for op in table_diff(&table, model)? {
            state.apply(&op).map_err(Refusal)?;
            ops.push(op);
        }
    }
    // Dropped tables, those that reference others first. In a cycle, the
    // other dropped tables' foreign keys into one go before it does
    // (PostgreSQL drops no table a foreign key depends on).
    let mut dropped: Vec<String> = state
        .tables
        .keys()
        .filter(|name| !seen.contains(name))
        .cloned()
        .collect();
    while !dropped.is_empty() {
        let ready = dropped.iter().position(|name| {
            !dropped.iter().any(|other| {
                other != name
                    && state.tables[other]
                        .columns
                        .iter()
                        .any(|c| c.references.as_ref().is_some_and(|r| r.table == *name))
            })
        });
        let table = dropped.remove(ready.unwrap_or(0));
        if ready.is_none() {
            for other in &dropped {
                let into: Vec<ColumnDef> = state.tables[other]
                    .columns
                    .iter()
                    .filter(|c| c.references.as_ref().is_some_and(|r| r.table == table))
                    .cloned()
                    .collect();
                for mut column in into {
                    column.references = None;
                    let op = Op::AlterColumn {
                        table: other.clone(),
                        column,
                    };
                    state.apply(&op).map_err(Refusal)?;
                    ops.push(op);
                }
            }
        }
        let op = Op::DropTable { table };
        state.apply(&op).map_err(Refusal)?;
        ops.push(op);
    }
    Ok(ops)
}

/// Whether a rename `from` → `to` lands on a name the old schema still has
/// for something the models no longer keep under it (dropped, renamed away,
/// or swapped with `from`). Read as the rest of a diff reads names, it would
/// change the old `to` in place and drop `from`, rows and all; so it is
/// refused. `exists`: the old schema has the name; `kept`: the models keep
/// the old one of that name under it (a stale hint is not a rename).
fn onto_a_name_in_use(
    from: &str,
    to: &str,
    exists: impl Fn(&str) -> bool,
    kept: impl Fn(&str) -> bool,
) -> bool {
    from != to && exists(from) && exists(to) && !kept(from)
}

/// The changes to one table that exists in the state and in the models.
fn table_diff(old: &TableDef, model: &TableDef) -> Result<Vec<Op>, Refusal> {
    let table = &model.name;
    let mut ops = Vec::new();
    let mut columns: Vec<ColumnDef> = old.columns.clone();
    for column in &model.columns {
        if let Some(from) = &column.renamed_from {
            let kept = |name: &str| {
                model.columns.iter().any(|c| {
                    c.name == name
                        && c.renamed_from
                            .as_ref()
                            .is_none_or(|f| f == name || old.column(f).is_none())
                })
            };
            if onto_a_name_in_use(from, &column.name, |name| old.column(name).is_some(), kept) {
                return Err(Refusal(format!(
                    "column `{table}.{}` is renamed from `{from}` while the column `{}` it \
                     replaces is dropped or renamed in the same migration: drop or rename the \
                     old `{}` in one migration (without this rename), then rename `{from}` in \
                     the next",
                    column.name, column.name, column.name
                )));
            }
        }
    }
    // Renamed columns.
    for column in &model.columns {
        if let Some(from) = &column.renamed_from {
            if old.column(from).is_some() && old.column(&column.name).is_none() {
                ops.push(Op::RenameColumn {
                    table: table.clone(),
                    from: from.clone(),
                    to: column.name.clone(),
                });
                if let Some(c) = columns.iter_mut().find(|c| c.name == *from) {
                    c.name.clone_from(&column.name);
                }
            }
        }
    }
    let renamed_key = ops.iter().find_map(|op| match op {
        Op::RenameColumn { from, to, .. } if *from == old.primary_key => Some(to.clone()),
        _ => None,
    });
    let old_key = renamed_key.unwrap_or_else(|| old.primary_key.clone());
    if old_key != model.primary_key || old.auto_key != model.auto_key {
        return Err(Refusal(format!(
            "table `{table}`: the primary key changes (`{}`{} to `{}`{}); \
             a migration cannot change a primary key: create a new table, copy the rows \
             with a `sql` step, and drop the old one",
            old_key,
            if old.auto_key { ", automatic" } else { "" },
            model.primary_key,
            if model.auto_key { ", automatic" } else { "" },
        )));
    }
    // Index names follow the renames: compare by the new column names.
    let renames: Vec<(String, String)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::RenameColumn { from, to, .. } => Some((from.clone(), to.clone())),
            _ => None,
        })
        .collect();
    let old_indexes: Vec<IndexDef> = old
        .indexes
        .iter()
        .map(|i| IndexDef {
            columns: i
                .columns
                .iter()
                .map(|c| {
                    renames
                        .iter()
                        .find(|(from, _)| from == c)
                        .map_or_else(|| c.clone(), |(_, to)| to.clone())
                })
                .collect(),
            unique: i.unique,
        })
        .collect();
    let dropped_columns: Vec<&ColumnDef> = columns
        .iter()
        .filter(|c| model.column(&c.name).is_none())
        .collect();
    // Indexes that go (before their columns do; a dropped column takes its own).
    for index in &old_indexes {
        let own_fk = index.columns.len() == 1
            && !index.unique
            && columns
                .iter()
                .any(|c| c.name == index.columns[0] && c.references.is_some());
        if model.indexes.contains(index) || own_fk {
            continue;
        }
        if index
            .columns
            .iter()
            .any(|c| dropped_columns.iter().any(|d| d.name == *c))
        {
            continue;
        }
        ops.push(Op::DropIndex {
            table: table.clone(),
            index: index.clone(),
        });
    }
    for column in &dropped_columns {
        ops.push(Op::DropColumn {
            table: table.clone(),
            column: column.name.clone(),
        });
    }
    for column in &model.columns {
        let settled = ColumnDef {
            renamed_from: None,
            ..column.clone()
        };
        match columns.iter().find(|c| c.name == column.name) {
            None => {
                if !column.nullable && column.default.is_none() {
                    return Err(Refusal(format!(
                        "column `{table}.{}` is new and NOT NULL without a default: the rows \
                         the table already has would have no value for it. Give the field a \
                         default (`#[column(default = ...)]`), or make it an `Option`, add the \
                         column, fill it with a `sql` step and make it required in a later \
                         migration",
                        column.name
                    )));
                }
                ops.push(Op::AddColumn {
                    table: table.clone(),
                    column: settled,
                });
            }
            Some(before) if *before != settled => {
                if column.name == model.primary_key && before.ty != column.ty {
                    return Err(Refusal(format!(
                        "table `{table}`: the primary key `{}` changes type; a migration \
                         cannot change a primary key",
                        column.name
                    )));
                }
                ops.push(Op::AlterColumn {
                    table: table.clone(),
                    column: settled,
                });
            }
            Some(_) => {}
        }
    }
    // Indexes that come, the foreign keys' own excepted (they come with
    // their column). A column that stops being a foreign key loses its own
    // index with it: an index the model still declares on it comes again.
    for index in &model.indexes {
        let single = index.columns.len() == 1 && !index.unique;
        let references = |c: Option<&ColumnDef>| c.is_some_and(|c| c.references.is_some());
        let own_fk = single && references(model.column(&index.columns[0]));
        let lost =
            single && !own_fk && references(columns.iter().find(|c| c.name == index.columns[0]));
        if (!old_indexes.contains(index) || lost) && !own_fk {
            ops.push(Op::AddIndex {
                table: table.clone(),
                index: index.clone(),
            });
        }
    }
    Ok(ops)
}
