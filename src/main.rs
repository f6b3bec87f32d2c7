//! The `wxauth` binary: reads `.env`, sets up logging, parses the command
//! line and hands over to [`wxauth::cli`]. No logic lives here.

use clap::Parser as _;

#[actix_web::main]
async fn main() {
    if let Err(message) = wxauth::cli::load_dotenv().and_then(|()| wxauth::cli::init_logging()) {
        eprintln!("wxauth: {message}");
        std::process::exit(1);
    }
    let cli = wxauth::cli::Cli::parse();
    std::process::exit(wxauth::cli::run(cli).await);
}
