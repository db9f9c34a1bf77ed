//! `kizuna ctas ...`: calls to action from the command line: list, open, change, close, run
//! the daily signals now, and read or save the CTA configuration (types, reasons, playbooks,
//! thresholds). The same use cases as the API and the pages, as the operator (`cli`).

use kizuna_app::ctas::{CtaChange, NewCta, TaskChange};
use kizuna_app::{render, Actor, App, Format};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Ctas {
    /// CTAs, soonest due first: cta_id, account_id, type, reason, priority, status, owner_email,
    /// due_on, snoozed_until, source, evidence, created_at, closed_at, outcome, tasks.
    List {
        /// open (open, in progress and snoozed: the default), closed or all; or one status:
        /// in_progress, snoozed.
        #[arg(long, default_value = "open", value_parser = ["open", "closed", "all", "in_progress", "snoozed"])]
        status: String,
        /// Only this owner's (e-mail).
        #[arg(long)]
        owner: Option<String>,
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
        /// Only this type (risk, opportunity, renewal, onboarding, lifecycle, ...).
        #[arg(long = "type")]
        cta_type: Option<String>,
        /// At most this many (1 to 500).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
    /// Open a CTA by hand on an account: it gets its playbook's tasks.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long = "type")]
        cta_type: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        title: Option<String>,
        /// low, medium, high or critical (default: the reason's).
        #[arg(long)]
        priority: Option<String>,
        /// Default: the account's owner.
        #[arg(long)]
        owner: Option<String>,
        /// YYYY-MM-DD (default: the reason's business days from today).
        #[arg(long)]
        due: Option<String>,        /// Print the CTA as it now is: json, csv or table (default: its id only).
        #[arg(long, value_parser = ["json", "csv", "table"])]
        format: Option<String>,
    },
    /// Change a CTA: status, priority, owner (with --move-tasks), due date (with
    /// --shift-tasks), snooze, tasks done.
    Update {
        id: String,
        /// open, in_progress or snoozed (closing: `kizuna ctas close`).
        #[arg(long, value_parser = ["open", "in_progress", "snoozed"])]
        status: Option<String>,
        #[arg(long)]
        snooze_until: Option<String>,
        #[arg(long)]
        snooze_reason: Option<String>,
        #[arg(long)]
        priority: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        /// With --owner: the previous owner's open tasks go to the new one.
        #[arg(long)]
        move_tasks: bool,
        #[arg(long)]
        due: Option<String>,
        /// With --due: open tasks move by as many business days.
        #[arg(long)]
        shift_tasks: bool,
        /// Mark this task done (repeatable).
        #[arg(long = "done")]
        done: Vec<i64>,
        /// Open this task again (repeatable).
        #[arg(long = "undone")]
        undone: Vec<i64>,
        /// Add this comment.
        #[arg(long)]
        comment: Option<String>,
        /// The revision the change was made to (from `ctas list --format json`): refused when
        /// the CTA has changed since.
        #[arg(long)]
        revision: Option<i64>,        /// Print the CTA as it now is: json, csv or table (default: its id only).
        #[arg(long, value_parser = ["json", "csv", "table"])]
        format: Option<String>,
    },
    /// Close a CTA with its outcome.
    Close {
        id: String,
        #[arg(long, value_parser = ["success", "lost", "not_needed"])]
        outcome: String,
        #[arg(long)]
        note: Option<String>,        /// Print the CTA as it now is: json, csv or table (default: its id only).
        #[arg(long, value_parser = ["json", "csv", "table"])]
        format: Option<String>,
    },
    /// Run the daily signals now as of a day (the server's `signals.daily` job does it every
    /// day): score the day if needed, record usage anomalies, open or update CTAs. Running
    /// twice opens nothing new.
    RunSignals {
        /// YYYY-MM-DD (default today, business time zone).
        #[arg(long)]
        at: Option<String>,
        #[arg(long, default_value = "table", value_parser = ["json", "csv", "table"])]
        format: String,
    },
    /// Print the CTA configuration (TOML), or save one from FILE after checking it.
    Playbooks {
        #[arg(long)]
        save: Option<PathBuf>,
    },
}

pub async fn run(db: &str, cmd: Ctas) -> anyhow::Result<ExitCode> {
    let store = super::open(db).await?;
    let operator = Actor::operator();
    let app = App::new(store.as_ref(), &operator);
    match cmd {
        Ctas::List { status, owner, account, cta_type, limit, format } => {
            let status = if status == "open" { "active".to_string() } else { status };
            let mut q: HashMap<String, String> = [("status".to_string(), status), ("per_page".to_string(), limit.to_string())].into();
            q.extend(owner.map(|v| ("owner".to_string(), v)));
            q.extend(account.map(|v| ("account".to_string(), v)));
            q.extend(cta_type.map(|v| ("type".to_string(), v)));
            let page = app.ctas(&q).await?;
            let format = Format::parse(&format).expect("clap checked the format");
            if format == Format::Json {
                super::emit(&render(&page.ctas, format))?;
            } else {
                let rows: Vec<serde_json::Value> = page.ctas.iter().map(row).collect();
                super::emit(&render(&rows, format))?;
            }
        }
        Ctas::Create { account, cta_type, reason, title, priority, owner, due, format } => {
            let n = NewCta { account_id: account, cta_type, reason, title, priority, owner_email: owner, due_on: due };
            let cta = app.create_cta(n).await?;
            show(&cta, format.as_deref())?;
            eprintln!("opened {} on {} with {} task(s), due {}", cta.cta_id, cta.account_id, cta.tasks.len(), cta.due_on.map(|d| d.to_string()).unwrap_or_default());
        }
        Ctas::Update { id, status, snooze_until, snooze_reason, priority, owner, move_tasks, due, shift_tasks, done, undone, comment, revision, format } => {
            let tasks = done.iter().map(|&task_id| TaskChange { task_id, done: true }).chain(undone.iter().map(|&task_id| TaskChange { task_id, done: false })).collect();
            let change = CtaChange {
                status,
                snoozed_until: snooze_until,
                snooze_reason,
                priority,
                owner_email: owner,
                move_tasks,
                due_on: due,
                shift_tasks,
                tasks,
                revision,
                ..Default::default()
            };
            let mut cta = app.update_cta(&id, change).await?;
            if let Some(c) = comment {
                app.comment_cta(&id, &c, None).await?;
                if format.is_some() {
                    cta = app.cta(&id).await?.cta;
                }
            }
            if format.is_some() {
                show(&cta, format.as_deref())?;
            }
            eprintln!("{}: {}", cta.cta_id, cta.status);
        }
        Ctas::Close { id, outcome, note, format } => {
            let change = CtaChange { status: Some("closed".into()), outcome: Some(outcome), close_note: note, ..Default::default() };
            let cta = app.update_cta(&id, change).await?;
            if format.is_some() {
                show(&cta, format.as_deref())?;
            }
            eprintln!("{}: closed ({})", cta.cta_id, cta.outcome.map(|o| o.as_str()).unwrap_or_default());
        }
        Ctas::RunSignals { at, format } => {
            let at = match at {
                Some(d) => kizuna_app::Params(&HashMap::from([("at".to_string(), d)])).date("at")?.expect("given"),
                None => kizuna_app::today(),
            };
            let v = app.run_signals(at).await?;
            let format = Format::parse(&format).expect("clap checked the format");
            super::emit(&render(&v, format))?;
        }
        Ctas::Playbooks { save: None } => super::emit(&app.playbooks_text().await?)?,
        Ctas::Playbooks { save: Some(file) } => {
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let saved = app.save_playbooks(&text).await.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            eprintln!("saved {} type(s) and {} playbook(s) from {}", saved.types.len(), saved.playbooks.len(), file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One CTA on standard output: in `format` (JSON: the whole CTA, as `list` gives it), or its id.
fn show(cta: &kizuna_store::Cta, format: Option<&str>) -> anyhow::Result<()> {
    match format.map(|f| Format::parse(f).expect("clap checked the format")) {
        None => println!("{}", cta.cta_id),
        Some(Format::Json) => super::emit(&render(cta, Format::Json))?,
        Some(f) => super::emit(&render(&[row(cta)], f))?,
    }
    Ok(())
}

/// A CTA as a CSV or table row: evidence as JSON text, tasks as "done/total".
fn row(c: &kizuna_store::Cta) -> serde_json::Value {
    let done = c.tasks.iter().filter(|t| t.done).count();
    serde_json::json!({
        "cta_id": c.cta_id,
        "account_id": c.account_id,
        "type": c.cta_type,
        "reason": c.reason,
        "priority": c.priority.as_str(),
        "status": c.status.as_str(),
        "owner_email": c.owner_email,
        "due_on": c.due_on,
        "snoozed_until": c.snoozed_until,
        "source": c.source.as_str(),
        "evidence": c.evidence.to_string(),
        "created_at": kizuna_domain::time::rfc3339(c.created_at),
        "closed_at": c.closed_at.map(kizuna_domain::time::rfc3339),
        "outcome": c.outcome.map(|o| o.as_str()),
        "tasks": format!("{done}/{}", c.tasks.len()),
        "title": c.title,
    })
}
