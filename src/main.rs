//! The `wxauth` binary: reads `.env`, sets up logging, parses the command
//! line and hands over to [`wxauth::cli`]. No logic lives here.

/// jemalloc, not glibc's malloc: glibc keeps the heap that thousands of slow
/// connections grew after they close (in the middle of each worker's heap,
/// where its automatic trim never reaches), so repeated waves ratchet RSS
/// up. Its settings are compiled in (`.cargo/config.toml`): a background
/// thread hands freed pages back within about a second.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
            wxauth::cli::report(&error.to_string());
            std::process::exit(1);
        }
    };
    std::process::exit(wxauth::cli::run(cli, &lookup).await);
}
