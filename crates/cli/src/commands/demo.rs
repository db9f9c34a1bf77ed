use chrono::NaiveDate;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Random seed: the same seed and --until always give the same company.
    #[arg(long, default_value_t = kizuna_demo::DEFAULT_SEED)]
    pub seed: u64,
    /// Last day of the simulated history (YYYY-MM-DD); default today.
    #[arg(long)]
    pub until: Option<NaiveDate>,
    /// Number of accounts.
    #[arg(long, default_value_t = 2000)]
    pub accounts: usize,
    /// Start the server when the demo is written.
    #[arg(long)]
    pub serve: bool,
    /// Address for --serve.
    #[arg(long, default_value = "127.0.0.1:8080", env = "KIZUNA_LISTEN")]
    pub listen: String,
}

pub async fn run(db: &str, args: Args, secure_cookies: bool) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    // Written only into an empty database: another --until shifts every date, and writing a
    // second company over the first would mix the two.
    let existing = store.counts().await?.accounts;
    let db = kizuna_store::redact_url(db);
    if existing > 0 {
        eprintln!(
            "{db} already holds {existing} accounts: the demo company is only written into an empty database \
             (choose another with --database sqlite://demo.db); nothing was written"
        );
    } else {
        let until = args.until.unwrap_or_else(|| kizuna_domain::time::today());
        let mut opts = kizuna_demo::Options::new(args.seed, until);
        opts.accounts = args.accounts;
        let data = kizuna_demo::generate_company(&opts);
        kizuna_demo::write(store.as_ref(), &data).await?;
        let usage = kizuna_demo::write_usage(store.as_ref(), &data, &opts).await?;
        let users = kizuna_demo::write_sign_ins(store.as_ref(), &data).await?;
        // Weekly health scores over the last 4 weeks, so trends and history have something to show.
        for week in (0..=4).rev() {
            kizuna_app::health::run(store.as_ref(), until - chrono::Duration::days(7 * week)).await?;
        }
        let ctas = kizuna_app::ctas::demo_month(store.as_ref(), until).await?;
        println!(
            "demo company written to {db} (seed {}, until {until}): {} accounts, {} subscription periods, {} contacts, \
             {} activities, {} churn records, {} funnel leads, {} staff users, {} usage messages",
            args.seed,
            data.accounts.len(),
            data.subscriptions.len(),
            data.contacts.len(),
            data.activities.len(),
            data.churn.len(),
            data.funnel.len(),
            data.staff.len(),
            usage
        );
        println!("health scores kept weekly for the last 4 weeks (default scorecard; see kizuna score explain ID)");
        println!("{ctas} CTAs from a month of daily signals and the team's work on them, and forecast calls on the coming renewals (see kizuna ctas list, /renewals)");
        println!("sign in at http://{}/login with password {:?} as:", args.listen, kizuna_demo::DEMO_PASSWORD);
        for (email, role) in users {
            println!("  {:<8} {email}", role.as_str());
        }
    }
    if args.serve {
        eprintln!("Kizuna on http://{}", args.listen);
        let runner = kizuna_app::jobs::Runner { node: crate::settings::default_node(), backups: None };
        kizuna_server::serve(store, &args.listen, secure_cookies, runner).await?;
    }
    Ok(ExitCode::SUCCESS)
}
