fn main() {
    println!("testapp: an example bot on pagebot (see README)");
}
