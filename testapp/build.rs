//! Rebuilds testapp whenever one of its migrations is added or changed: `embed_migrations!`
//! cannot tell cargo about a migration directory added later, so without this line a new
//! migration would be left out of the binary until some source file changes.

fn main() {
    println!("cargo::rerun-if-changed=migrations");
}
