use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kizuna_import::{import_file, ImportKind, Progress};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Kind {
    /// Accounts. Columns: account_id (required), name, segment, touch_model (high|hybrid|tech),
    /// owner_email, partner_id, lifecycle_stage, created_at; any other column becomes a custom attribute.
    Accounts { file: PathBuf },
    /// Subscription periods. Columns: account_id, product, start_date, mrr (required), end_date
    /// (empty = still active; the period covers start_date <= day < end_date), quantity, units,
    /// bill_period_months, discount (0.1 or 10%), currency (default JPY). Dates are YYYY-MM-DD.
    /// Unknown accounts are created.
    Subscriptions {
        file: PathBuf,
        /// end_date is the last day covered (期間 1/1〜1/31), as many billing exports write it;
        /// without this flag it is the first day no longer covered.
        #[arg(long)]
        end_inclusive: bool,
    },
    /// Contacts. Columns: account_id, email (required), name, role
    /// (champion|decision_maker|admin|user), title, phone.
    Contacts { file: PathBuf },
    /// Timeline activities. Columns: account_id, type (meeting|call|email|qbr|note|support_ticket),
    /// occurred_at (required; RFC 3339, YYYY-MM-DD HH:MM:SS UTC or YYYY-MM-DD), activity_id,
    /// author_email, subject, body.
    Activities { file: PathBuf },
    /// Churn records. Columns: account_id, churned_on, reason (required), avoidable (true|false;
    /// default from the reason), mrr_lost, note.
    ChurnReasons { file: PathBuf },
    /// Funnel records, one row per lead with the date it reached each stage. Columns: lead_id
    /// (required), account_id, segment, lead_on, meeting_on, opportunity_on, won_on, onboarded_on,
    /// renewed_on (YYYY-MM-DD; at least one; dates must not go backwards).
    FunnelLeads { file: PathBuf },
    /// Funnel counts per month. Columns: month (YYYY-MM), stage (lead|meeting|opportunity|won|
    /// onboarded|renewed), count (required), segment.
    FunnelCounts { file: PathBuf },
    /// Usage events. CSV columns: account_id, event_time (RFC 3339 or YYYY-MM-DD HH:MM:SS UTC),
    /// event_type (required), user_id, value, properties (a JSON object), message_id (optional;
    /// de-duplicates). A file ending in .ndjson or .jsonl holds one Segment message per line
    /// (track, identify, group, page, screen).
    Events { file: PathBuf },
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn update(&self, bytes: u64) {
        self.0.set_position(bytes);
    }
}

pub async fn run(db: &str, kind: Kind) -> anyhow::Result<ExitCode> {
    let (kind, file) = match kind {
        Kind::Accounts { file } => (ImportKind::Accounts, file),
        Kind::Subscriptions { file, end_inclusive: false } => (ImportKind::Subscriptions, file),
        Kind::Subscriptions { file, end_inclusive: true } => (ImportKind::SubscriptionsEndInclusive, file),
        Kind::Contacts { file } => (ImportKind::Contacts, file),
        Kind::Activities { file } => (ImportKind::Activities, file),
        Kind::ChurnReasons { file } => (ImportKind::ChurnReasons, file),
        Kind::FunnelLeads { file } => (ImportKind::FunnelLeads, file),
        Kind::FunnelCounts { file } => (ImportKind::FunnelCounts, file),
        Kind::Events { file } => (ImportKind::Events, file),
    };
    let store = super::open_alone(db).await?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(format!("importing {}", file.display()));
        bar
    } else {
        ProgressBar::hidden()
    };
    let result = import_file(store.as_ref(), kind, &file, &Bar(bar.clone())).await;
    bar.finish_and_clear();
    match result {
        Ok(summary) => {
            println!("{summary}");
            for w in &summary.warnings {
                eprintln!("warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            eprintln!("{failure}");
            Ok(ExitCode::FAILURE)
        }
    }
}
