//! `migrations!("dir")`: the migration files of a directory, embedded.

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let dir: LitStr = match syn::parse2(input) {
        Ok(dir) => dir,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "expected a directory, as in `orm_core::migrations!(\"migrations\")`",
            )
            .to_compile_error()
        }
    };
    match files(&dir.value()) {
        Ok(files) => {
            let files = files.iter().map(|(name, path)| {
                quote!(::orm_core::migrate::Migration::__embedded(#name, ::core::include_str!(#path)))
            });
            quote! {{
                const FILES: &[::orm_core::migrate::Migration] = &[#(#files),*];
                ::orm_core::migrate::Migrations::__embedded(FILES)
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
