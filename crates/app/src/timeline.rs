//! The lines Kizuna writes on an account's timeline by itself (a CTA's changes, a customer's
//! visit to and ticks on a shared plan). They are stored with both languages in the subject
//! (`CTA 起票 / CTA opened: …`), which the API returns as stored; a page shows the reader's half.

/// Fixed phrases of the shared plan's lines, as written by `onboarding`: (Japanese, English).
const PLAN_PHRASES: [(&str, &str); 3] = [
    ("顧客がタスクを完了", "Customer completed"),
    ("顧客がタスクを未完了に戻した", "Customer reopened"),
    ("顧客が共有プランを閲覧", "Customer viewed the shared plan"),
];

/// The subject of a timeline entry in one language (`japanese`, else English): a line Kizuna
/// wrote by itself loses the other language's half; anything else is returned as it is.
pub fn subject_in(activity_id: &str, subject: &str, japanese: bool) -> String {
    if activity_id.starts_with("plan-tick-") || activity_id.starts_with("plan-visit-") {
        for (ja, en) in PLAN_PHRASES {
            if let Some(rest) = subject.strip_prefix(ja).and_then(|r| r.strip_prefix(" / ")).and_then(|r| r.strip_prefix(en)) {
                return format!("{}{rest}", if japanese { ja } else { en });
            }
        }
    }
    if activity_id.starts_with("cta-log-") {
        // `CTA {ja} / CTA {en}: {title}`; the words never hold " / CTA " or ": ".
        let halves = subject.strip_prefix("CTA ").and_then(|r| r.split_once(" / CTA ")).and_then(|(ja, r)| r.split_once(": ").map(|(en, title)| (ja, en, title)));
        if let Some((ja, en, title)) = halves {
            return format!("CTA {}: {title}", if japanese { ja } else { en });
        }
    }
    subject.to_string()
}

#[cfg(test)]
mod tests {
    use super::subject_in;

    #[test]
    fn system_lines_in_the_readers_language() {
        let opened = "CTA 起票 / CTA opened: 更新まで90日 / renewal: ACME";
        assert_eq!(subject_in("cta-log-c1-1", opened, true), "CTA 起票: 更新まで90日 / renewal: ACME");
        assert_eq!(subject_in("cta-log-c1-1", opened, false), "CTA opened: 更新まで90日 / renewal: ACME");
        let moved = "CTA 担当をa@x.jpに変更、期日を2026-12-10に変更 / CTA owner now a@x.jp, due 2026-12-10: 解約リスク";
        assert_eq!(subject_in("cta-log-c1-2", moved, false), "CTA owner now a@x.jp, due 2026-12-10: 解約リスク");
        let tick = "顧客がタスクを完了 / Customer completed 導入計画: SSO設定";
        assert_eq!(subject_in("plan-tick-p1-t1-5", tick, true), "顧客がタスクを完了 導入計画: SSO設定");
        assert_eq!(subject_in("plan-tick-p1-t1-5", tick, false), "Customer completed 導入計画: SSO設定");
        let visit = "顧客が共有プランを閲覧 / Customer viewed the shared plan: 導入計画";
        assert_eq!(subject_in("plan-visit-p1-2026-12-07", visit, false), "Customer viewed the shared plan: 導入計画");
        // A CSM's own note that happens to look like one is theirs, as written.
        assert_eq!(subject_in("n-1", opened, false), opened);
        assert_eq!(subject_in("cta-log-c1-3", "CTA 起票 / CTA open", true), "CTA 起票 / CTA open", "cut at 200 characters");
    }
}
