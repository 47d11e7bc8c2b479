//! Nested prefetch: the next level over all children of the level above.

use crate::db::{Database, Mode, Out};
use crate::error::Error;

/// Prefetch one level deeper over *all* children at once.
///
/// Implemented for the output of every `prefetch_*` function,
/// `Vec<(P, Vec<C>)>`: `.nested(&conn, f)` gathers every `C` into one `Vec`,
/// calls `f` once on it (a generated `prefetch_*`, or a closure that nests
/// further), and puts the results back under their parents. Every order is
/// kept and no statement runs when there are no children. Each level is one
/// query, whatever the number of parents.
///
/// ```
/// use orm_core::{ForeignKey, Model, Nested};
/// #[derive(Model)] struct Artist { id: i64 }
/// #[derive(Model)] struct Album {
///     id: i64,
///     #[foreign_key(related_name = "albums")] artist: ForeignKey<Artist>,
/// }
/// #[derive(Model)] struct Track {
///     id: i64,
///     #[foreign_key(related_name = "tracks")] album: ForeignKey<Album>,
/// }
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// # Artist::create_table(&conn)?; Album::create_table(&conn)?; Track::create_table(&conn)?;
/// let artists = Artist::all(&conn)?;
/// let tree: Vec<(Artist, Vec<(Album, Vec<Track>)>)> =
///     Artist::prefetch_albums(&conn, artists)?.nested(&conn, Album::prefetch_tracks)?;
/// # Ok::<(), orm_core::Error>(())
/// ```
pub trait Nested<P, C> {
    /// Runs `f` once over every child and regroups its output under the
    /// parents. On an async connection, `f` is a generated function there
    /// too, and the result is a future.
    #[allow(clippy::type_complexity)] // the nesting is the point
    fn nested<'a, D, X, F>(self, conn: &'a D, f: F) -> Out<'a, D, Vec<(P, Vec<(C, X)>)>>
    where
        D: Database + ?Sized + 'a,
        P: Send + 'a,
        C: Send + 'a,
        X: Send + 'a,
        F: FnOnce(&'a D, Vec<C>) -> Out<'a, D, Vec<(C, X)>>;
}

impl<P, C> Nested<P, C> for Vec<(P, Vec<C>)> {
    #[allow(clippy::type_complexity)]
    fn nested<'a, D, X, F>(self, conn: &'a D, f: F) -> Out<'a, D, Vec<(P, Vec<(C, X)>)>>
    where
        D: Database + ?Sized + 'a,
        P: Send + 'a,
        C: Send + 'a,
        X: Send + 'a,
        F: FnOnce(&'a D, Vec<C>) -> Out<'a, D, Vec<(C, X)>>,
    {
        let total = self.iter().map(|(_, children)| children.len()).sum();
        let mut parents = Vec::with_capacity(self.len());
        let mut counts = Vec::with_capacity(self.len());
        let mut children = Vec::with_capacity(total);
        for (parent, mut group) in self {
            parents.push(parent);
            counts.push(group.len());
            children.append(&mut group);
        }
        let loaded = if total == 0 {
            D::Mode::__ready(Ok(Vec::new()))
        } else {
            f(conn, children)
        };
        D::Mode::__then(loaded, move |loaded| {
            if loaded.len() != total {
                return Err(Error::NestedLength {
                    expected: total,
                    got: loaded.len(),
                });
            }
            let mut loaded = loaded.into_iter();
            Ok(parents
                .into_iter()
                .zip(counts)
                .map(|(parent, n)| (parent, loaded.by_ref().take(n).collect()))
                .collect())
        })
    }
}
