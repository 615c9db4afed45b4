use clap::Parser;

fn main() {
    let cli = fatelab::cli::Cli::parse();
    std::process::exit(fatelab::app::main(cli));
}
