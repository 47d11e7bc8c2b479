//! A blog: posts with their comments, posts and tags many-to-many,
//! comments' authors nested under the posts, and the front page: the newest
//! posts, each with its latest approved comments and how many it has.
//!
//! Run with `cargo run --example blog`.

use orm_core::rusqlite::Connection;
use orm_core::{count_queries, ForeignKey, Model, Nested};

#[derive(Model, Debug, Clone)]
struct Person {
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone)]
struct Post {
    id: i64,
    title: String,
    /// Publication time, seconds since the epoch.
    published: i64,
}

#[derive(Model, Debug, Clone)]
struct Comment {
    id: i64,
    body: String,
    approved: bool,
    /// Seconds since the epoch.
    created: i64,
    #[foreign_key(related_name = "comments")]
    post: ForeignKey<Post>,
    #[foreign_key(related_name = "comments_written")]
    author: ForeignKey<Person>,
}

#[derive(Model, Debug, Clone)]
struct Tag {
    id: i64,
    name: String,
}

/// The junction: `many_to_many` names the relation on each side.
#[derive(Model, Debug, Clone)]
struct PostTag {
    id: i64,
    #[foreign_key(related_name = "post_tags", many_to_many = "tags")]
    post: ForeignKey<Post>,
    #[foreign_key(related_name = "tag_posts", many_to_many = "posts")]
    tag: ForeignKey<Tag>,
}

fn seed(conn: &Connection) -> orm_core::Result<()> {
    Person::create_table(conn)?;
    Post::create_table(conn)?;
    Comment::create_table(conn)?;
    Tag::create_table(conn)?;
    PostTag::create_table(conn)?;
    for (id, name) in [(1, "ada"), (2, "brian"), (3, "grace")] {
        Person {
            id,
            name: name.into(),
        }
        .insert(conn)?;
    }
    for (id, title, published) in [
        (1, "Prefetch, explained", 1_700_000_000),
        (2, "Why N+1 hurts", 1_700_100_000),
        (3, "Draft", 1_700_200_000),
    ] {
        Post {
            id,
            title: title.into(),
            published,
        }
        .insert(conn)?;
    }
    for (id, name) in [(1, "rust"), (2, "sqlite"), (3, "orm")] {
        Tag {
            id,
            name: name.into(),
        }
        .insert(conn)?;
    }
    for (id, post, tag) in [(1, 1, 1), (2, 1, 3), (3, 2, 2), (4, 2, 3)] {
        PostTag {
            id,
            post: ForeignKey::new(post),
            tag: ForeignKey::new(tag),
        }
        .insert(conn)?;
    }
    // (id, body, post, author, approved, minutes after the post)
    let comments = [
        (1, "Clear!", 1, 2, true, 5),
        (2, "What about nesting?", 1, 3, true, 9),
        (3, "Measured it", 2, 1, true, 3),
        (4, "Buy cheap watches", 1, 2, false, 12),
        (5, "And many-to-many?", 1, 1, true, 20),
        (6, "Typo in the second paragraph", 1, 3, true, 31),
        (7, "Agreed", 2, 2, true, 8),
    ];
    for (id, body, post, author, approved, minutes) in comments {
        let (post, author) = (ForeignKey::new(post), ForeignKey::new(author));
        Comment {
            id,
            body: body.into(),
            approved,
            created: 1_700_000_000 + minutes * 60,
            post,
            author,
        }
        .insert(conn)?;
    }
    Ok(())
}

fn main() -> orm_core::Result<()> {
    let mut conn = Connection::open_in_memory()?;
    seed(&conn)?;

    // The same page the N+1 way: a query per post for its tags and its
    // comments, and one per comment for its author.
    let (walked, n_plus_one) = count_queries(&mut conn, |conn| -> orm_core::Result<()> {
        for post in Post::all(conn)? {
            post.tags(conn)?;
            for comment in post.comments(conn)? {
                comment.author(conn)?;
            }
        }
        Ok(())
    });
    walked?;

    // Posts, their tags, their comments, and each comment's author: 4 statements
    // for any number of posts.
    let (page, n) = count_queries(&mut conn, |conn| -> orm_core::Result<_> {
        let posts = Post::all(conn)?;
        let tags = Post::load_tags(conn, &posts)?;
        let comments =
            Post::prefetch_comments(conn, posts)?.nested(conn, Comment::prefetch_author)?;
        Ok((comments, tags))
    });
    let (comments, tags) = page?;
    for ((post, comments), tags) in comments.iter().zip(&tags) {
        let tags: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        println!("{} [{}]", post.title, tags.join(", "));
        for (comment, author) in comments {
            println!("    {}: {}", author.name, comment.body);
        }
    }
    println!("posts + tags + comments + authors: {n} statements (the N+1 way: {n_plus_one})");

    // The other side of the many-to-many.
    let (by_tag, n) = count_queries(&mut conn, |conn| Tag::prefetch_posts(conn, Tag::all(conn)?));
    for (tag, posts) in by_tag? {
        let titles: Vec<&str> = posts.iter().map(|p| p.title.as_str()).collect();
        println!("#{:<7} {}", tag.name, titles.join(" | "));
    }
    println!("tags with their posts: {n} statements");

    // The front page: the 20 newest posts, each with its 3 latest approved
    // comments and how many approved comments it has. The limit of 3 applies
    // to each post; 3 statements for any number of posts.
    let p = Post::fields();
    let c = Comment::fields();
    let approved = Comment::query().filter(c.approved.eq(true));
    let (front, n) = count_queries(&mut conn, |conn| -> orm_core::Result<_> {
        let posts = Post::query()
            .order_by(p.published.desc())
            .limit(20)
            .all(conn)?;
        let counts = Post::count_comments_with(conn, &posts, approved.clone())?;
        let latest = approved.clone().order_by(c.created.desc()).limit(3);
        let posts = Post::prefetch_comments_with(conn, posts, latest)?;
        Ok(posts.into_iter().zip(counts).collect::<Vec<_>>())
    });
    println!();
    for ((post, comments), count) in front? {
        println!("{} ({count} approved comments)", post.title);
        for comment in comments {
            println!("    {}", comment.body);
        }
    }
    println!("front page: {n} statements");
    Ok(())
}
