//! The `cpm` binary: a thin clap front end over `cpm-node`.

fn main() {
    println!("cpm: under construction");
}
