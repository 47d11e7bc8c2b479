//! `migrations!("dir")`: the migration files of a directory, embedded.

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

/// `"dir"`, optionally followed by `, crate = "path"` (where the runtime is,
/// as `#[model(crate = "...")]` says it).
struct Input {
    dir: LitStr,
    krate: syn::Path,
}

impl syn::parse::Parse for Input {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let dir: LitStr = input.parse()?;
        let mut krate = syn::parse_quote!(::orm_core);
        if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            input.parse::<syn::Token![crate]>()?;
            input.parse::<syn::Token![=]>()?;
            let lit: LitStr = input.parse()?;
            krate = lit.parse()?;
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens"));
        }
        Ok(Input { dir, krate })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let Input { dir, krate } = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "expected a directory, as in `orm_core::migrations!(\"migrations\")` \
                 (or `orm::migrations!(\"migrations\", crate = \"::orm\")`)",
            )
            .to_compile_error()
        }
    };
    match files(&dir.value()) {
        Ok(files) => {
            let files = files.iter().map(|(name, path)| {
                quote!(#krate::migrate::Migration::__embedded(#name, ::core::include_str!(#path)))
            });
            quote! {{
                const FILES: &[#krate::migrate::Migration] = &[#(#files),*];
                #krate::migrate::Migrations::__embedded(FILES)
            }}
        }
        Err(message) => syn::Error::new(dir.span(), message).to_compile_error(),
    }
}

/// The `(name, absolute path)` of every `*.migration` file of `dir`, by name.
fn files(dir: &str) -> Result<Vec<(String, String)>, String> {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| "CARGO_MANIFEST_DIR is not set: build with cargo".to_owned())?;
    let path = std::path::Path::new(&root).join(dir);
    let entries = std::fs::read_dir(&path).map_err(|e| {
        format!(
            "cannot read the migrations directory {}: {e}",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file = entry.path();
        if file.extension().and_then(|e| e.to_str()) != Some("migration") {
            continue;
        }
        let (Some(name), Some(full)) = (file.file_stem().and_then(|s| s.to_str()), file.to_str())
        else {
            return Err(format!("{} is not a UTF-8 path", file.display()));
        };
        out.push((name.to_owned(), full.to_owned()));
    }
    out.sort();
    Ok(out)
}
