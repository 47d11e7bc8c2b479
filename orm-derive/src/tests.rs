//! The derive run on token streams, without a compiler session.

use quote::quote;

use crate::case::snake_case;
use crate::derive;

fn expand(input: proc_macro2::TokenStream) -> String {
    derive(input).to_string()
}

#[test]
fn snake_case_splits_words_and_acronyms() {
    assert_eq!(snake_case("Book"), "book");
    assert_eq!(snake_case("InvoiceLine"), "invoice_line");
    assert_eq!(snake_case("HTTPRequest"), "http_request");
    assert_eq!(snake_case("Item2Tag"), "item2_tag");
}

#[test]
fn default_reverse_name_is_child_snake_case_set() {
    let out = expand(quote! {
        struct InvoiceLine { id: i64, #[foreign_key] invoice: ForeignKey<Invoice> }
    });
    assert!(out.contains("prefetch_invoice_line_set"), "{out}");
    assert!(out.contains("\"invoice_id\""), "{out}");
    assert!(out.contains("\"invoice_line\""), "{out}");
}

#[test]
fn all_errors_of_one_derive_are_reported_together() {
    let out = expand(quote! {
        struct Product {
            name: String,
            #[foreign_key(realted_name = "x")] a: ForeignKey<Category>,
            #[foreign_key(related_name = "my-products")] b: ForeignKey<Category>,
            #[foreign_key] c: i64,
        }
    });
    assert_eq!(out.matches("compile_error").count(), 4, "{out}");
    assert!(out.contains("unknown key `realted_name`"), "{out}");
    assert!(out.contains("no primary key"), "{out}");
    // The fallback impl keeps the type usable as a `Model`.
    assert!(
        out.contains("impl :: orm_core :: Model for Product"),
        "{out}"
    );
}

#[test]
fn non_structs_are_rejected_without_panicking() {
    for input in [
        quote!(
            enum E {
                A,
            }
        ),
        quote!(union U { a: u8 }),
        quote!(
            struct T(i64);
        ),
        quote!(
            struct G<T> {
                id: T,
            }
        ),
    ] {
        let out = expand(input);
        assert!(out.contains("compile_error"), "{out}");
    }
}

#[test]
fn malformed_schema_attributes_are_errors_not_panics() {
    let out = expand(quote! {
        #[model(unique, index(), unique("a"), index(a = 1), unique(nope, nope))]
        struct Issue {
            id: i64,
            #[column]
            a: i64,
            #[column = "x"]
            b: i64,
            #[column(unique = 1, index(x), default = 1e999, name = "")]
            c: f64,
            #[column(default = -true)]
            d: bool,
            #[column(default = 99999999999999999999999)]
            e: i64,
            #[column(default = f())]
            g: i64,
            #[column(name = "a")]
            h: i64,
            #[foreign_key(on_delete = 3)]
            p: ForeignKey<Project>,
        }
    });
    // Every mistake once, the rest of each attribute still read.
    assert_eq!(out.matches("compile_error").count(), 17, "{out}");
    assert!(
        out.contains("`index(...)` needs at least one field"),
        "{out}"
    );
    assert!(
        out.contains("expected a field name in `unique(...)`"),
        "{out}"
    );
    assert!(out.contains("`Issue` has no field `nope`"), "{out}");
    assert!(out.contains("impl :: orm_core :: Model for Issue"), "{out}");
}

#[test]
fn schema_attributes_expand_into_the_metadata() {
    let out = expand(quote! {
        #[model(unique(project, number))]
        struct Issue {
            id: i64,
            #[foreign_key(on_delete = "cascade")]
            #[column(name = "proj")]
            project: ForeignKey<Project>,
            #[column(index, default = -3)]
            number: i64,
        }
    });
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("\"proj\""), "{out}");
    assert!(out.contains("OnDelete :: Cascade"), "{out}");
    assert!(out.contains("Literal :: Integer (- 3i64)"), "{out}");
    assert!(
        out.contains("Index :: __new (& [\"proj\" , \"number\"] , true)"),
        "{out}"
    );
    assert!(
        out.contains("Index :: __new (& [\"number\"] , false)"),
        "{out}"
    );
}
