use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Project {
    id: i64,
}

#[derive(Model)]
#[model(indx(name))]
struct Issue {
    id: i64,
    #[foreign_key(on_delet = "cascade")]
    project: ForeignKey<Project>,
    #[foreign_key(related_name = "others", on_delete = "nullify")]
    other: Option<ForeignKey<Project>>,
    #[column(uniqe)]
    name: String,
    #[column(nme = "x")]
    title: String,
}

fn main() {}
