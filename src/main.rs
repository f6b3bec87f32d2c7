//! The `wxauth` binary: reads `.env`, sets up logging, parses the command
//! line and hands over to [`wxauth::cli`]. No logic lives here.

#[actix_web::main]
async fn main() {
    if let Err(message) = wxauth::cli::load_dotenv().and_then(|()| wxauth::cli::init_logging()) {
        eprintln!("wxauth: {message}");
        std::process::exit(1);
    }
    let lookup = |name: &str| std::env::var(name).ok();
    let cli = match wxauth::cli::parse(std::env::args().collect(), &lookup) {
        Ok(cli) => cli,
        Err(wxauth::config::EnvError::Usage(error)) => error.exit(),
        Err(wxauth::config::EnvError::Config(error)) => {
            log::error!("{error}");
            eprintln!("wxauth: {error}");
            std::process::exit(1);
        }
    };
    std::process::exit(wxauth::cli::run(cli).await);
}
