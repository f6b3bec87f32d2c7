//! The `wxauth` binary: reads `.env`, sets up logging, parses the command
//! line and hands over to [`wxauth::cli`]. No logic lives here.

use clap::Parser as _;

#[actix_web::main]
async fn main() {
    // A missing .env is normal; a broken one is reported once logging is up.
    let dotenv = dotenvy::dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    if let Err(e) = dotenv
        && !e.not_found()
    {
        log::warn!(".env could not be read: {e}");
    }
    let cli = wxauth::cli::Cli::parse();
    std::process::exit(wxauth::cli::run(cli).await);
}
