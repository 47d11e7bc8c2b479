//! A chain four models deep, for nested prefetch: the shop is two deep.
//!
//! ```text
//! Artist 1─n Album 1─n Track 1─n Take
//! ```

use orm_core::{ForeignKey, Model};

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Artist {
    #[primary_key]
    pub id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Album {
    #[primary_key]
    pub id: i64,
    #[foreign_key(related_name = "albums")]
    pub artist: ForeignKey<Artist>,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Track {
    #[primary_key]
    pub id: i64,
    #[foreign_key(related_name = "tracks")]
    pub album: ForeignKey<Album>,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Take {
    #[primary_key]
    pub id: i64,
    #[foreign_key(related_name = "takes")]
    pub track: ForeignKey<Track>,
}

/// The four tables, parents first.
#[awaited::both]
pub fn create_tables(conn: &impl orm_core::Db) -> orm_core::Result<()> {
    Artist::create_table(conn)?;
    Album::create_table(conn)?;
    Track::create_table(conn)?;
    Take::create_table(conn)?;
    Ok(())
}
